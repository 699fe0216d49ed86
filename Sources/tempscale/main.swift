import ArgumentParser
import TempScaleKit

struct TempScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tempscale",
        abstract: "Fix length collapse in embedding models: read checkpoints safely, bake a temperature, convert and inspect.",
        discussion: """
            Examples:
              tempscale inspect models/all-MiniLM-L6-v2
              tempscale convert models/all-MiniLM-L6-v2 -o minilm.tsm --dtype f16
            """,
        version: TempScale.version,
        subcommands: [Inspect.self, Convert.self]
    )
}

ensureFastBLASKernels()
TempScaleCommand.main()

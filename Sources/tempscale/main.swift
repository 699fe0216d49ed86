import ArgumentParser
import TempScaleKit

struct TempScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tempscale",
        abstract: "Fix length collapse in embedding models: measure it, choose τ on your data, bake it in exactly, export.",
        discussion: """
            Examples:
              tempscale inspect models/all-MiniLM-L6-v2
              tempscale patch models/all-MiniLM-L6-v2 --temperature 0.8 -o minilm-t08.tsm
              tempscale convert models/all-MiniLM-L6-v2 -o minilm.tsm --dtype f16
              echo "A sentence." | tempscale embed minilm.tsm --temperature 0.8
              tempscale verify minilm.tsm --golden golden/minilm.json.gz
              tempscale collapse minilm.tsm --texts docs.jsonl --plot collapse.svg
              tempscale tune minilm.tsm --task similarity --data pairs.jsonl --bake -o tuned.tsm
            """,
        version: TempScale.version,
        subcommands: [Inspect.self, Convert.self, Patch.self, Export.self, Embed.self, Tokenize.self, Verify.self,
                      CollapseCommand.self, SpectrumCommand.self, TuneCommand.self]
    )
}

ensureFastBLASKernels()
TempScaleCommand.main()

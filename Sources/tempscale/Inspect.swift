import ArgumentParser
import TempScaleKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, dimensions, parameters, dtypes, pooling, tokenizer, temperature.",
        discussion: """
            PATH is an HF model folder, a .safetensors/.bin file with config.json beside it, or a .tsm file.

            Examples:
              tempscale inspect models/all-MiniLM-L6-v2
              tempscale inspect minilm.tsm --tensors
              tempscale inspect minilm.tsm --json
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var path: String
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Also list every tensor (name, dtype, shape, bytes).") var tensors = false

    func run() throws {
        try runReportingErrors {
            let model = try ModelLoader.open(path)
            let report = ModelReport(model)
            print(json ? report.json(tensors: tensors).serialized(pretty: true) : report.text(tensors: tensors))
        }
    }
}

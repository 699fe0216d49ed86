import ArgumentParser
import TempScaleKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, dimensions, parameters, dtypes, pooling, tokenizer, temperature.",
        discussion: """
            PATH is an HF model folder, a .safetensors/.bin file with config.json beside it, a .tsm file,
            or a .gguf file (its llama.cpp architecture, tensor types, τ history and what patch would scale).

            Examples:
              tempscale inspect models/all-MiniLM-L6-v2
              tempscale inspect minilm.tsm --tensors
              tempscale inspect minilm.tsm --json
              tempscale inspect minilm-q8_0.gguf
            """
    )

    @Argument(help: "Model folder, weight file, .tsm or .gguf file.") var path: String
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Also list every tensor (name, dtype, shape, bytes).") var tensors = false

    func run() throws {
        try runReportingErrors {
            if GGUFFile.isGGUF(path: path) {
                let report = GGUFReport(try GGUFFile(path: path))
                print(json ? report.json(tensors: tensors).serialized(pretty: true) : report.text(tensors: tensors), terminator: json ? "\n" : "")
                return
            }
            let model = try ModelLoader.open(path)
            let report = ModelReport(model)
            print(json ? report.json(tensors: tensors).serialized(pretty: true) : report.text(tensors: tensors))
        }
    }
}

import ArgumentParser
import TempScaleKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, dimensions, parameters, dtypes, pooling, tokenizer, temperature.",
        discussion: """
            PATH is an HF model folder, a .safetensors/.bin file with config.json beside it, a .tsm file,
            a .gguf file (its llama.cpp architecture, tensor types, τ history and what patch would scale),
            or an .onnx file (opsets, inputs and outputs, operators, τ history, and each attention layer
            found with how patch would scale it — or why it would refuse).

            Examples:
              tempscale inspect models/all-MiniLM-L6-v2
              tempscale inspect minilm.tsm --tensors
              tempscale inspect minilm.tsm --json
              tempscale inspect minilm-q8_0.gguf
              tempscale inspect model.onnx
            """
    )

    @Argument(help: "Model folder, weight file, .tsm, .gguf or .onnx file.") var path: String
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Also list every tensor (name, dtype, shape, bytes).") var tensors = false

    func run() throws {
        try runReportingErrors {
            if ONNXFile.isONNX(path: path) {
                let report = ONNXReport(try ONNXFile.read(path))
                print(json ? report.json().serialized(pretty: true) : report.text(), terminator: json ? "\n" : "")
                return
            }
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

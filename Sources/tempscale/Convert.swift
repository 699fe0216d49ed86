import ArgumentParser
import TempScaleKit

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model to tempscale's native single-file format (.tsm).",
        discussion: """
            Weights, config, tokenizer, pooling and provenance go into one checksummed, mmap-able file.
            The output is written to a temp file and renamed into place; an existing output is kept
            unless --force is given, and the input is never overwritten.

            Examples:
              tempscale convert models/all-MiniLM-L6-v2 -o minilm.tsm
              tempscale convert models/all-MiniLM-L6-v2 -o minilm-f16.tsm --dtype f16
              tempscale convert model/pytorch_model.bin -o model-q8.tsm --dtype q8 --force
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var source: String
    @Option(name: .shortAndLong, help: "Output .tsm file.") var output: String
    @Option(help: "Storage type of floating-point tensors: f32, f16, bf16 or q8 (int8, f32 scale per 32 values).")
    var dtype: DType = .f32
    @Flag(help: "Replace the output if it exists.") var force = false

    func run() throws {
        try runReportingErrors {
            let model = try ModelLoader.open(source)
            let bar = ProgressBar("convert")
            let report = try NativeFormat.write(model, to: output,
                                                options: .init(dtype: dtype, force: force, progress: bar.update))
            let kinds = report.dtypes.keys.sorted().map { "\($0) \(report.dtypes[$0]!)" }.joined(separator: ", ")
            print("wrote \(report.path): \(formatBytes(report.bytes)), \(report.tensors) tensors (\(kinds))")
        }
    }
}

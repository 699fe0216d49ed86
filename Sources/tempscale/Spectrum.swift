import ArgumentParser
import TempScaleKit

struct SpectrumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrum",
        abstract: "Read the attention spectrum: σ_a per layer and head against token length, per τ.",
        discussion: """
            For every text (run alone, no padding), every layer and head: σ_a = the largest singular value
            of A − (1/n)·11ᵀ for the attention matrix A (the paper's Theorem-2 quantity; smaller σ_a =
            stronger low-pass filtering), and ‖HC[X]‖/‖X‖ of every layer's hidden states. The table gives
            the means per length bucket and τ; --json gives every text, layer and head.
            Cost grows as n³ per head: sample with --per-bucket and pick --layers on long inputs.

            Examples:
              tempscale spectrum models/all-MiniLM-L6-v2 --texts docs.jsonl --per-bucket 8
              tempscale spectrum minilm.tsm --texts docs.txt --temperatures 1,0.7 --layers 0,5 --plot sigma.svg
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @OptionGroup var study: StudyOptions
    @Option(help: "Encoder layers to measure: all, or indices and ranges like 0-2,5.") var layers = "all"
    @Option(help: "Measure at most N texts per bucket, spread evenly over the input.") var perBucket: Int = 16

    func validate() throws {
        guard perBucket > 0 else { throw ValidationError("--per-bucket must be positive") }
    }

    func run() throws {
        try runReportingErrors {
            let input = try readTexts(study.texts)
            let source = try ModelLoader.open(model, checksums: false)
            let count = source.architecture.dims.layers
            let selection: LayerSelection
            do { selection = try LayerSelection(parsing: layers, layerCount: count) } catch let e as BakeError { throw FileError(model, e) }
            let embedder = try study.embedder(source)
            let bar = ProgressBar("spectrum", unit: "texts", minimum: 8)
            let result = try SpectrumStudy.run(embedder, texts: input, temperatures: try study.taus(default: "1,0.8,0.6"),
                                               buckets: try study.lengthBuckets(), perBucket: perBucket,
                                               layers: (0..<count).filter(selection.contains), threads: study.threads,
                                               prompt: study.prompt.choice, progress: bar.update)
            let report = SpectrumReport(result, model: embedder.model.displayName)
            try study.emit(text: report.text(), json: report.json(), chart: report.chart, model: model)
        }
    }
}

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
    @Option(help: "Texts: one per line, or JSONL with \"text\"; - for stdin.") var texts: String
    @Option(help: "Temperatures τ to compare, comma-separated.") var temperatures = "1,0.8,0.6"
    @Option(help: "Encoder layers to measure: all, or indices and ranges like 0-2,5.") var layers = "all"
    @Option(help: "Bucket edges in tokens, ascending.") var buckets = "0,16,32,64,128,256,512"
    @Option(help: "Measure at most N texts per bucket, spread evenly over the input.") var perBucket: Int = 16
    @Option(help: "Write the plot (x = length bucket, y = mean σ_a, a line per τ): .svg or .png.") var plot: String?
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Option(help: "Worker threads.") var threads = 1
    @Option(help: "Also write the JSON report to this file.") var jsonFile: String?
    @Flag(help: "Print the report as JSON (every text, layer and head).") var json = false

    func validate() throws {
        _ = try parseTemperatures(temperatures, option: "--temperatures")
        _ = try parseIntegers(buckets, option: "--buckets")
        guard perBucket > 0 else { throw ValidationError("--per-bucket must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        try checkPlotPath(plot)
    }

    func run() throws {
        try runReportingErrors {
            let taus = try parseTemperatures(temperatures, option: "--temperatures")
            let edges: LengthBuckets
            do { edges = try LengthBuckets(edges: try parseIntegers(buckets, option: "--buckets")) } catch let e as LengthBuckets.Error {
                throw ValidationError(e.description)
            }
            let input = try readTexts(texts)
            let source = try ModelLoader.open(model)
            let count = source.architecture.dims.layers
            let selection: LayerSelection
            do { selection = try LayerSelection(parsing: layers, layerCount: count) } catch let e as BakeError { throw FileError(model, e) }
            let embedder = try TextEmbedder(model: source, maxLength: maxLength, options: .init(threads: threads))
            let bar = ProgressBar("spectrum", unit: "texts", minimum: 8)
            let study = try SpectrumStudy.run(embedder, texts: input, temperatures: taus, buckets: edges, perBucket: perBucket,
                                              layers: (0..<count).filter(selection.contains), threads: threads, progress: bar.update)
            let report = SpectrumReport(study, model: embedder.model.displayName)
            if let plot {
                do { try report.chart().write(to: plot) } catch let e as LineChart.Error { throw FileError(plot, e) }
            }
            try printReport(text: report.text(), json: report.json(), asJSON: json, jsonFile: jsonFile, inputs: [model])
        }
    }
}

import ArgumentParser
import TempScaleKit

/// The options collapse and spectrum share: the texts, τ list, length buckets, plot and report files.
struct StudyOptions: ParsableArguments {
    @Option(help: "Texts: one per line, or JSONL with \"text\"; - for stdin.") var texts: String
    @Option(help: "Temperatures τ to compare, comma-separated (default: collapse 1,0.9,0.8,0.7,0.6,0.5; spectrum 1,0.8,0.6).")
    var temperatures: String?
    @Option(help: "Bucket edges in tokens, ascending: [e0,e1), [e1,e2), …, [last, ∞).") var buckets = "0,16,32,64,128,256,512"
    @Option(help: "Write the plot (x = length bucket, a line per τ): .svg or .png.") var plot: String?
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Option(help: "Worker threads.") var threads = 1
    @OptionGroup var precision: PrecisionOption
    @OptionGroup var prompt: PromptOptions
    @Option(help: "Also write the JSON report to this file.") var jsonFile: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if let temperatures { _ = try parseTemperatures(temperatures, option: "--temperatures") }
        _ = try lengthBuckets()
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        try checkPlotPath(plot)
    }

    func taus(default fallback: String) throws -> [Double] { try parseTemperatures(temperatures ?? fallback, option: "--temperatures") }

    func lengthBuckets() throws -> LengthBuckets {
        do { return try LengthBuckets(edges: try parseIntegers(buckets, option: "--buckets")) } catch let e as LengthBuckets.Error {
            throw ValidationError("--buckets: " + e.description)
        }
    }

    func embedder(_ model: Model) throws -> TextEmbedder {
        let e = try TextEmbedder(model: model, maxLength: maxLength, options: precision.options(threads: threads))
        announcePrecision(e.encoder)
        return e
    }

    /// The plot (if asked for), then the report on stdout (and the JSON file).
    func emit(text: String, json report: JSONValue, chart: () throws -> LineChart, model: String) throws {
        if let plot {
            do { try chart().write(to: plot) } catch let e as LineChart.Error { throw FileError(plot, e) }
        }
        try printReport(text: text, json: report, asJSON: json, jsonFile: jsonFile, inputs: [model])
    }
}

import ArgumentParser
import TempScaleKit

struct CollapseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Measure length collapse: how close together the embeddings of each length bucket sit, per τ.",
        discussion: """
            Tokenises once, buckets the texts by token length (after truncation, special tokens included),
            embeds every text at every τ and reports per bucket and τ: the mean pairwise cosine within the
            bucket, the mean cosine to the bucket's centroid and the mean distance to the global centroid,
            and the long–short gap (longest bucket's mean pairwise cosine minus the shortest's). Length
            collapse shows as a pairwise cosine that grows with length; τ < 1 should shrink the gap.

            Examples:
              tempscale collapse models/all-MiniLM-L6-v2 --texts docs.jsonl
              tempscale collapse minilm.tsm --texts docs.txt --temperatures 1,0.8,0.6 --per-bucket 200 --plot collapse.svg
              tempscale collapse minilm.tsm --texts docs.jsonl --buckets 0,32,64,128,256 --json > collapse.json
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @Option(help: "Texts: one per line, or JSONL with \"text\"; - for stdin.") var texts: String
    @Option(help: "Temperatures τ to compare, comma-separated.") var temperatures = "1,0.9,0.8,0.7,0.6,0.5"
    @Option(help: "Bucket edges in tokens, ascending: [e0,e1), [e1,e2), …, [last, ∞).") var buckets = "0,16,32,64,128,256,512"
    @Option(help: "Embed at most N texts per bucket, spread evenly over the input (default: all).") var perBucket: Int?
    @Option(help: "Write the plot (x = length bucket, y = mean pairwise cosine, a line per τ): .svg or .png.") var plot: String?
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Option(help: "Worker threads.") var threads = 1
    @Option(help: "Also write the JSON report to this file.") var jsonFile: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        _ = try parseTemperatures(temperatures, option: "--temperatures")
        _ = try parseIntegers(buckets, option: "--buckets")
        if let perBucket, perBucket < 2 { throw ValidationError("--per-bucket must be at least 2 (pairs need two texts)") }
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
            let embedder = try TextEmbedder(model: try ModelLoader.open(model), maxLength: maxLength, options: .init(threads: threads))
            let bar = ProgressBar("collapse", unit: "embeddings", minimum: 64)
            let study = try CollapseStudy.run(embedder, texts: input, temperatures: taus, buckets: edges, perBucket: perBucket,
                                              progress: bar.update)
            let report = CollapseReport(study, model: embedder.model.displayName)
            if let plot {
                do { try report.chart().write(to: plot) } catch let e as LineChart.Error { throw FileError(plot, e) }
            }
            try printReport(text: report.text(), json: report.json(), asJSON: json, jsonFile: jsonFile, inputs: [model])
        }
    }
}

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
    @OptionGroup var study: StudyOptions
    @Option(help: "Embed at most N texts per bucket, spread evenly over the input (default: all).") var perBucket: Int?

    func validate() throws {
        if let perBucket, perBucket < 2 { throw ValidationError("--per-bucket must be at least 2 (pairs need two texts)") }
    }

    func run() throws {
        try runReportingErrors {
            let input = try readTexts(study.texts)
            let embedder = try study.embedder(try ModelLoader.open(model, checksums: false))
            let bar = ProgressBar("collapse", unit: "embeddings", minimum: 64)
            let result = try CollapseStudy.run(embedder, texts: input, temperatures: try study.taus(default: "1,0.9,0.8,0.7,0.6,0.5"),
                                               buckets: try study.lengthBuckets(), perBucket: perBucket, prompt: study.prompt.choice,
                                               progress: bar.update)
            let report = CollapseReport(result, model: embedder.model.displayName)
            try study.emit(text: report.text(), json: report.json(), chart: report.chart, model: model)
        }
    }
}

import ArgumentParser
import TempScaleKit

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the built-in encoder on a model against golden embeddings from the reference stack.",
        discussion: """
            Tokenises every golden text (ids must equal the reference's), embeds it at each τ and
            compares. Exits 0 when every text passes, 1 otherwise. Default tolerances follow the
            model's storage and the precision it runs at: f32 atol 2e-5 / cosine 0.99999; f16, bf16
            storage or --precision bf16 cosine 0.9999; q8 storage or --precision int8 cosine 0.995.

            Examples:
              tempscale verify models/all-MiniLM-L6-v2 --golden golden/minilm.json.gz
              tempscale verify minilm-f16.tsm --golden golden/minilm.json.gz --temperature 0.8
              tempscale verify minilm.tsm --golden golden/minilm.json.gz --json
              tempscale verify minilm.tsm --golden golden/minilm.json.gz --precision int8
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @Option(help: "Golden file (golden/*.json.gz).") var golden: String
    @Option(help: "Check only this τ (it must be in the golden file).") var temperature: Double?
    @Flag(help: "Check every τ in the golden file (the default).") var all = false
    @Option(help: "Largest allowed absolute difference of any embedding value.") var atol: Float?
    @Option(help: "Smallest allowed cosine similarity per text.") var minCosine: Float?
    @Option(help: "How many of the worst texts to list.") var show = 5
    @Option(help: "Worker threads.") var threads = 1
    @OptionGroup var precision: PrecisionOption
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        var passed = false
        try runReportingErrors {
            let g = try GoldenFile.read(path: golden)
            let m = try ModelLoader.open(model)
            let taus: [String]?
            if let temperature, !all {
                let key = GoldenFile.tauKey(temperature)
                guard g.temperatures.contains(key) else {
                    throw FileError(golden, GoldenFile.Error.badField("temperatures (no τ = \(key); it has \(g.temperatures.joined(separator: ", ")))"))
                }
                taus = [key]
            } else {
                taus = nil
            }
            let embedder = try TextEmbedder(model: m, maxLength: g.maxSeqLength, options: precision.options(batchSize: 16, threads: threads))
            announcePrecision(embedder.encoder)
            let (defaultAtol, defaultCos) = tolerances(for: m, running: embedder.encoder.precision)
            if let note = TokenizerSummary(embedder.tokenizer, model: m).pipelineNote { printWarning(note) }
            let bar = ProgressBar("verify", unit: "texts", minimum: 0)
            let v = Verifier.run(encoder: embedder.encoder, golden: g, temperatures: taus, atol: atol ?? defaultAtol,
                                 minCosine: minCosine ?? defaultCos, padId: embedder.tokenizer.padId,
                                 promptLength: embedder.promptLength(g.prompt),
                                 tokenize: { embedder.tokenizer.encode($0, maxLength: g.maxSeqLength).ids }, progress: bar.update)
            print(json ? VerificationReport(v).json(show: show).serialized(pretty: true) : VerificationReport(v).text(show: show))
            passed = v.passed
        }
        if !passed { throw ExitCode(1) }
    }

    /// Tolerances by the model's weakest floating-point storage and the precision the encoder runs at.
    func tolerances(for m: Model, running p: Precision) -> (Float, Float) {
        let types = Set(m.tensors.map(\.dtype))
        if types.contains(.q8) || p == .int8 { return (0.05, 0.995) }
        if types.contains(.f16) || types.contains(.bf16) || p == .bf16 { return (0.01, 0.9999) }
        return (2e-5, 0.99999)
    }
}

/// Compares our encoder with a golden file: token ids text by text, then embeddings per τ.
public struct Verification: Sendable {
    public struct Row: Sendable {
        public let id: String
        public let text: String
        public let tokens: Int
        public let cosine: Float
        public let maxAbsDiff: Float
    }
    public struct PerTemperature: Sendable {
        public let tau: String
        public let rows: [Row]
        public var worstCosine: Float { rows.map(\.cosine).min() ?? 1 }
        public var maxAbsDiff: Float { rows.map(\.maxAbsDiff).max() ?? 0 }
        public func passes(atol: Float, minCosine: Float) -> Bool { worstCosine >= minCosine && maxAbsDiff <= atol }
    }
    public struct TokenMismatch: Sendable {
        public let id: String
        public let text: String
        public let expected: [Int32]
        public let got: [Int32]
    }

    public let golden: GoldenFile
    public let temperatures: [PerTemperature]
    public let tokenMismatches: [TokenMismatch]
    public let atol: Float
    public let minCosine: Float
    public let bakedTemperature: Double

    public var passed: Bool { tokenMismatches.isEmpty && temperatures.allSatisfy { $0.passes(atol: atol, minCosine: minCosine) } }
}

public enum Verifier {
    /// Tokenises every golden text with `tokenize` (our tokenizer), embeds with our ids at each τ in
    /// `temperatures` (golden keys; nil = all), and compares. For a patched model the encoder applies
    /// only what the weights lack: τ / τ_baked.
    public static func run(encoder: Encoder, golden: GoldenFile, temperatures: [String]?, atol: Float, minCosine: Float,
                           padId: Int32, promptLength: Int = 0, tokenize: (String) -> [Int32],
                           progress: (@Sendable (Int, Int) -> Void)? = nil) -> Verification {
        var mismatches: [Verification.TokenMismatch] = []
        var ids: [[Int32]] = []
        for t in golden.texts {
            let ours = tokenize(golden.prompt + t.text)
            if ours != t.ids { mismatches.append(.init(id: t.id, text: t.text, expected: t.ids, got: ours)) }
            ids.append(ours)
        }
        let taus = temperatures ?? golden.temperatures
        var results: [Verification.PerTemperature] = []
        for (k, tau) in taus.enumerated() {
            // A patched model already has τ_baked in its weights: the run-time part is τ / τ_baked.
            let runtime = (Double(tau) ?? 1) / encoder.model.temperature.total
            let got = encoder.embed(ids: ids, temperature: Float(runtime), padId: padId,
                                    promptLengths: promptLength > 0 ? [Int](repeating: promptLength, count: ids.count) : nil) { done, total in
                progress?(k * total + done, taus.count * total)
            }
            var rows: [Verification.Row] = []
            for (i, t) in golden.texts.enumerated() {
                guard let want = t.embeddings[tau] else { continue }
                rows.append(.init(id: t.id, text: t.text, tokens: ids[i].count, cosine: cosine(got[i], want),
                                  maxAbsDiff: zip(got[i], want).map { abs($0 - $1) }.max() ?? 0))
            }
            results.append(.init(tau: tau, rows: rows))
        }
        return Verification(golden: golden, temperatures: results, tokenMismatches: mismatches, atol: atol, minCosine: minCosine,
                            bakedTemperature: encoder.model.temperature.total)
    }

    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot: Double = 0, na: Double = 0, nb: Double = 0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
        guard na > 0, nb > 0 else { return na == nb ? 1 : 0 }
        return Float(dot / (na.squareRoot() * nb.squareRoot()))
    }
}

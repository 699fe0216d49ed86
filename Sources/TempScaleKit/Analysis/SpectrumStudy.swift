import Dispatch

/// `tempscale spectrum`: σ_a per layer and head and the hidden states' high-frequency share, per text and τ,
/// summarised against token length.
public struct SpectrumStudy: Sendable {
    public let temperatures: [Double]
    public let buckets: LengthBuckets
    public let layers: [Int]
    /// The model's encoder layers (hidden-state index of the last layer's output).
    public let modelLayers: Int
    public let maxLength: Int
    /// The prompt text put in front of every text ("" none).
    public let prompt: String
    public let textCount: Int
    public let truncatedCount: Int
    public let members: [[Int]]
    /// measurements[τ index][bucket][member]
    public let measurements: [[[Spectrum.TextSpectrum]]]

    public enum Error: ReasonError, Equatable {
        case badLayer(Int, layers: Int)
        public var description: String {
            switch self {
            case .badLayer(let l, let n): return "--layers: layer \(l) does not exist (the model has layers 0–\(n - 1))"
            }
        }
    }

    /// Mean σ_a over the bucket's texts, the measured layers and every head.
    public func meanSigma(tau k: Int, bucket b: Int) -> Double? {
        let rows = measurements[k][b]
        guard !rows.isEmpty else { return nil }
        return rows.map { m in m.sigma.flatMap { $0 }.reduce(0, +) / Double(m.sigma.count * (m.sigma.first?.count ?? 1)) }
            .reduce(0, +) / Double(rows.count)
    }

    /// Median of σ_a/√n over the bucket's texts, layers and heads. √n bounds σ_a (‖A‖₂ ≤ √n for a row-stochastic
    /// n×n A, reached by a head that puts all weight on one token), so this is σ_a against its ceiling at that length.
    public func medianScaledSigma(tau k: Int, bucket b: Int) -> Double? {
        let v = measurements[k][b].flatMap { m in m.sigma.flatMap { $0 }.map { $0 / Double(m.tokens).squareRoot() } }.sorted()
        guard !v.isEmpty else { return nil }
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// Mean σ_a per measured layer (over the bucket's texts and heads).
    public func meanSigmaPerLayer(tau k: Int, bucket b: Int) -> [Double]? {
        let rows = measurements[k][b]
        guard !rows.isEmpty else { return nil }
        return layers.indices.map { l in
            rows.map { $0.sigma[l].reduce(0, +) / Double($0.sigma[l].count) }.reduce(0, +) / Double(rows.count)
        }
    }

    /// Mean ‖HC[X]‖/‖X‖ of layer `layer` (0 = embeddings) over the bucket's texts.
    public func meanShare(tau k: Int, bucket b: Int, layer: Int) -> Double? {
        let rows = measurements[k][b]
        guard !rows.isEmpty else { return nil }
        return rows.map { $0.highFrequencyShare[layer] }.reduce(0, +) / Double(rows.count)
    }

    public static func run(_ embedder: TextEmbedder, texts: [String], temperatures: [Double], buckets: LengthBuckets,
                           perBucket: Int?, layers: [Int]?, threads: Int, prompt: TextEmbedder.Prompt = .modelDefault,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> SpectrumStudy {
        for t in temperatures { try TextEmbedder.checkTemperature(t) }
        let count = embedder.model.architecture.dims.layers
        if let bad = layers?.first(where: { $0 < 0 || $0 >= count }) {
            throw FileError(embedder.model.path, Error.badLayer(bad, layers: count))
        }
        let chosenLayers = layers ?? Array(0..<count)
        let promptText = try embedder.promptText(prompt)
        let encodings = embedder.tokenize(texts, prompt: promptText)
        let lengths = encodings.map(\.ids.count)
        let members = buckets.sample(lengths: lengths, perBucket: perBucket)
        let jobs = temperatures.indices.flatMap { k in members.indices.flatMap { b in members[b].indices.map { (k, b, $0) } } }
        let box = SpectrumBox(temperatures.count, members.map(\.count))
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, jobs.count))) { _ in
            while let j = next.take(below: jobs.count) {
                let (k, b, m) = jobs[j]
                let s = Spectrum.measure(embedder.encoder, ids: encodings[members[b][m]].ids, temperature: temperatures[k],
                                         layers: chosenLayers)
                let done = box.store(k, b, m, s)
                progress?(done, jobs.count)
            }
        }
        return SpectrumStudy(temperatures: temperatures, buckets: buckets, layers: chosenLayers, modelLayers: count,
                             maxLength: embedder.maxLength, prompt: promptText,
                             textCount: texts.count, truncatedCount: encodings.filter(\.truncated).count,
                             members: members, measurements: box.rows)
    }
}

final class SpectrumBox: @unchecked Sendable {
    private(set) var rows: [[[Spectrum.TextSpectrum]]]
    private var done = 0
    private let lock = Lock()
    init(_ taus: Int, _ sizes: [Int]) {
        let empty = Spectrum.TextSpectrum(tokens: 0, sigma: [], highFrequencyShare: [])
        rows = [[[Spectrum.TextSpectrum]]](repeating: sizes.map { [Spectrum.TextSpectrum](repeating: empty, count: $0) }, count: taus)
    }
    func store(_ k: Int, _ b: Int, _ m: Int, _ s: Spectrum.TextSpectrum) -> Int {
        lock.withLock { rows[k][b][m] = s; done += 1; return done }
    }
}

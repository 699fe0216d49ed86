/// `tempscale collapse`: tokenise once, bucket by token length (after truncation), embed every sampled text
/// at every τ, and measure each bucket.
public struct CollapseStudy: Sendable {
    public let temperatures: [Double]
    public let buckets: LengthBuckets
    public let maxLength: Int
    /// The prompt text put in front of every text ("" none).
    public let prompt: String
    public let textCount: Int
    /// Texts cut at `maxLength`, among all the input (before sampling).
    public let truncatedCount: Int
    /// Texts below the first edge (not measured).
    public let belowFirstEdge: Int
    /// Members of each bucket that were embedded (input indices).
    public let members: [[Int]]
    /// Members of each bucket before sampling.
    public let available: [Int]
    /// statistics[τ index][bucket]
    public let statistics: [[Collapse.BucketStatistics]]

    public var gaps: [Double?] { statistics.map(Collapse.gap) }

    public static func run(_ embedder: TextEmbedder, texts: [String], temperatures: [Double], buckets: LengthBuckets,
                           perBucket: Int?, prompt: TextEmbedder.Prompt = .modelDefault,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> CollapseStudy {
        for t in temperatures { try TextEmbedder.checkTemperature(t) }
        let promptText = try embedder.promptText(prompt)
        let encodings = embedder.tokenize(texts, prompt: promptText)
        let skip = embedder.promptLength(promptText)
        let lengths = encodings.map(\.ids.count)
        let members = buckets.sample(lengths: lengths, perBucket: perBucket)
        let available = buckets.sample(lengths: lengths, perBucket: nil).map(\.count)
        let chosen = members.flatMap { $0 }
        let ids = chosen.map { encodings[$0].ids }
        // Rows of the embedded subset, per bucket.
        var row = [Int: Int]()
        for (r, i) in chosen.enumerated() { row[i] = r }
        let local = members.map { $0.map { row[$0]! } }
        let total = ids.count * temperatures.count
        var stats: [[Collapse.BucketStatistics]] = []
        for (k, t) in temperatures.enumerated() {
            let e = embedder.embed(ids: ids, temperature: Float(t), promptLength: skip,
                                   progress: stageProgress(progress, from: k * ids.count, of: total))
            stats.append(Collapse.statistics(e, buckets: local))
        }
        return CollapseStudy(temperatures: temperatures, buckets: buckets, maxLength: embedder.maxLength, prompt: promptText, textCount: texts.count,
                             truncatedCount: encodings.filter(\.truncated).count,
                             belowFirstEdge: lengths.filter { buckets.index(of: $0) == nil }.count,
                             members: members, available: available, statistics: stats)
    }
}

/// Progress of one stage of a longer job: the stage's count continues from `offset` out of `total`.
func stageProgress(_ progress: (@Sendable (Int, Int) -> Void)?, from offset: Int, of total: Int) -> (@Sendable (Int, Int) -> Void)? {
    guard let progress else { return nil }
    return { done, _ in progress(min(total, offset + done), total) }
}

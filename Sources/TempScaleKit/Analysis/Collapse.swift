/// Length collapse, measured: how close together the embeddings of each length bucket sit, per τ.
public enum Collapse {
    /// One bucket's statistics at one τ. nil where the bucket has too few members to define it.
    public struct BucketStatistics: Sendable, Equatable {
        public let count: Int
        /// Mean of cos(eᵢ, eⱼ) over the bucket's pairs i < j.
        public let meanPairwiseCosine: Double?
        /// Mean of cos(eᵢ, c) with c the mean of the bucket's embeddings.
        public let meanCosineToCentroid: Double?
        /// Mean Euclidean distance ‖eᵢ − g‖ with g the mean of every embedding at this τ.
        public let meanDistanceToGlobalCentroid: Double?
    }

    /// Statistics of `embeddings` grouped by `buckets` (lists of row indices).
    public static func statistics(_ embeddings: [[Float]], buckets: [[Int]]) -> [BucketStatistics] {
        let dim = embeddings.first?.count ?? 0
        let everyone = buckets.flatMap { $0 }
        let global = mean(embeddings, everyone, dim)
        return buckets.map { members in
            let n = members.count
            guard n > 0 else {
                return BucketStatistics(count: 0, meanPairwiseCosine: nil, meanCosineToCentroid: nil, meanDistanceToGlobalCentroid: nil)
            }
            // Σᵢ<ⱼ uᵢ·uⱼ = (‖Σ uᵢ‖² − Σ ‖uᵢ‖²) / 2 for unit vectors uᵢ: O(n·d), not O(n²·d).
            let units = members.map { unit(embeddings[$0]) }
            var sum = [Double](repeating: 0, count: dim)
            for u in units { for k in 0..<u.count { sum[k] += u[k] } }
            let defined = Double(units.filter { !$0.isEmpty }.count)
            let pairwise: Double? = n >= 2 && defined == Double(n)
                ? cosine((Cosine.dot(sum, sum) - defined) / (defined * (defined - 1))) : nil
            let cu = unit(mean(embeddings, members, dim))
            let toCentroid: Double? = cu.isEmpty ? nil
                : units.map { $0.isEmpty ? 0 : cosine(Cosine.dot($0, cu)) }.reduce(0, +) / Double(n)
            let distance = members.map { i -> Double in
                var s = 0.0
                for k in 0..<dim { let d = Double(embeddings[i][k]) - global[k]; s += d * d }
                return s.squareRoot()
            }.reduce(0, +) / Double(n)
            return BucketStatistics(count: n, meanPairwiseCosine: pairwise, meanCosineToCentroid: toCentroid,
                                    meanDistanceToGlobalCentroid: distance)
        }
    }

    /// The long–short gap: the mean pairwise cosine of the longest bucket that defines one minus the shortest's.
    public static func gap(_ stats: [BucketStatistics]) -> Double? {
        let defined = stats.compactMap(\.meanPairwiseCosine)
        guard defined.count >= 2 else { return nil }
        return defined.last! - defined.first!
    }

    /// A dot product of unit vectors, kept in [−1, 1]: rounding can put it an ulp outside (cos(e, e) of a
    /// one-text bucket came out as 1.0000000000000002), which is not a cosine.
    static func cosine(_ x: Double) -> Double { min(1, max(-1, x)) }

    static func mean(_ rows: [[Float]], _ members: [Int], _ dim: Int) -> [Double] {
        var m = [Double](repeating: 0, count: dim)
        guard !members.isEmpty else { return m }
        for i in members { for k in 0..<dim { m[k] += Double(rows[i][k]) } }
        return m.map { $0 / Double(members.count) }
    }

    /// v / ‖v‖ in double precision; empty for a zero vector (no direction, no cosine).
    static func unit<V: Collection>(_ v: V) -> [Double] where V.Element: BinaryFloatingPoint {
        let d = v.map { Double($0) }
        let norm = Cosine.dot(d, d).squareRoot()
        return norm > 0 ? d.map { $0 / norm } : []
    }
}

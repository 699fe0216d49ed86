#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The evaluation metrics of `tempscale tune`, as specs/tune-data.md defines them. Pure Swift, Double precision.
// Reference values: Tests/Fixtures/analysis/make_metrics_expected.py (numpy / scipy / scikit-learn).

// MARK: - Similarity and ranking

/// Cosine similarity on embeddings. Rows are scaled to unit length once (in Double), after which a cosine is a dot
/// product.
public enum Cosine {
    /// `rows` scaled to unit L2 norm, in Double. A zero row stays zero (cosine 0 with everything).
    public static func normalized(_ rows: [[Float]]) -> [[Double]] {
        rows.map { row in
            var ss = 0.0
            for v in row { ss += Double(v) * Double(v) }
            let inv = ss > 0 ? 1 / ss.squareRoot() : 0
            return row.map { Double($0) * inv }
        }
    }

    /// Dot product of two equally long vectors.
    @inline(__always)
    public static func dot(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "vectors of different lengths")
        var s = 0.0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { s += pa[i] * pb[i] }
            }
        }
        return s
    }

    /// Similarity of `query` to every row (all unit-normalised, see `normalized`).
    public static func similarities(_ query: [Double], _ rows: [[Double]]) -> [Double] {
        rows.map { dot(query, $0) }
    }
}

public enum RankingMetrics {
    /// Indices of the `k` highest `scores`, best first; equal scores keep index order (the corpus order), and NaN
    /// ranks below every number. Partial selection: a heap of k entries, O(n log k), no sort of the whole list.
    public static func topK(_ scores: [Double], k: Int) -> [Int] {
        let k = min(max(k, 0), scores.count)
        if k == 0 { return [] }
        // `better(i, j)`: i ranks above j.
        @inline(__always) func key(_ i: Int) -> Double { scores[i].isNaN ? -.infinity : scores[i] }
        @inline(__always) func better(_ i: Int, _ j: Int) -> Bool {
            let a = key(i), b = key(j)
            if a != b { return a > b }
            if scores[i].isNaN != scores[j].isNaN { return !scores[i].isNaN }
            return i < j
        }
        // Min-heap by rank: heap[0] is the worst of the kept k.
        var heap: [Int] = []
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var p = start
            while true {
                let l = 2 * p + 1, r = l + 1
                var w = p
                if l < heap.count && better(heap[w], heap[l]) { w = l }
                if r < heap.count && better(heap[w], heap[r]) { w = r }
                if w == p { return }
                heap.swapAt(p, w)
                p = w
            }
        }
        for i in 0..<scores.count {
            if heap.count < k {
                heap.append(i)
                var c = heap.count - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    guard better(heap[p], heap[c]) else { break }
                    heap.swapAt(p, c)
                    c = p
                }
            } else if better(i, heap[0]) {
                heap[0] = i
                siftDown(0)
            }
        }
        return heap.sorted(by: better)
    }

    /// The `k` corpus rows most cosine-similar to `query`, best first, ties by corpus order. `query` and `corpus`
    /// are unit-normalised rows (see `Cosine.normalized`).
    public static func rank(query: [Double], corpus: [[Double]], k: Int) -> [Int] {
        topK(Cosine.similarities(query, corpus), k: k)
    }

    /// nDCG@k: DCG = Σ gain(doc at rank i) / log2(i + 1) over ranks i = 1…k of `ranking` (document indices, best
    /// first; only the first k are read), divided by the ideal DCG: the query's gains sorted descending, truncated
    /// at k. `gains` maps a document to its graded gain (absent = 0). A query without any positive gain scores 0
    /// (as sklearn's `ndcg_score`); tune excludes such queries before they get here anyway.
    public static func ndcg(at k: Int, ranking: [Int], gains: [Int: Double]) -> Double {
        var dcg = 0.0
        for (i, doc) in ranking.prefix(k).enumerated() {
            if let g = gains[doc], g != 0 { dcg += g / log2(Double(i + 2)) }
        }
        let ideal = gains.values.filter { $0 > 0 }.sorted(by: >).prefix(k)
        var idcg = 0.0
        for (i, g) in ideal.enumerated() { idcg += g / log2(Double(i + 2)) }
        return idcg > 0 ? dcg / idcg : 0
    }

    /// MRR@k: 1 / rank of the first document of `ranking` in `relevant`, if within the top k; else 0.
    public static func mrr(at k: Int, ranking: [Int], relevant: Set<Int>) -> Double {
        for (i, doc) in ranking.prefix(k).enumerated() where relevant.contains(doc) { return 1 / Double(i + 1) }
        return 0
    }
}

// MARK: - Spearman

public enum Correlation {
    /// 1-based ranks; tied values share the average of the ranks they span (scipy.stats.rankdata, 'average').
    /// If any value is NaN every rank is NaN (as rankdata's default nan_policy).
    public static func averageRanks(_ x: [Double]) -> [Double] {
        if x.contains(where: \.isNaN) { return [Double](repeating: .nan, count: x.count) }
        let order = x.indices.sorted { x[$0] < x[$1] }
        var ranks = [Double](repeating: 0, count: x.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && x[order[end]] == x[order[start]] { end += 1 }
            // Positions start..<end hold ranks start+1 … end; their mean is (start + 1 + end) / 2.
            let r = Double(start + 1 + end) / 2
            for p in start..<end { ranks[order[p]] = r }
            start = end
        }
        return ranks
    }

    /// Pearson's r of two equally long samples. NaN when either side is constant or n < 2 (undefined).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "samples of different lengths")
        let n = x.count
        if n < 2 { return .nan }
        var mx = 0.0, my = 0.0
        for i in 0..<n { mx += x[i]; my += y[i] }
        mx /= Double(n); my /= Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        if sxx == 0 || syy == 0 { return .nan }
        return min(1, max(-1, sxy / (sxx * syy).squareRoot()))
    }

    /// Spearman's ρ with average ranks for ties (scipy.stats.spearmanr): Pearson's r of the average ranks.
    /// NaN when either side is constant (all tied), when n < 2, or when a value is NaN — as scipy, which returns nan
    /// there too. The caller decides what an undefined ρ means (tune refuses a split that yields one).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(averageRanks(x), averageRanks(y))
    }
}

// MARK: - kNN classification

public enum KNN {
    /// For each eval item (one row of `similarities`, one column per train item), the majority label of its `k`
    /// most similar train items. Neighbours at equal similarity are taken in train order; a tie in the vote goes to
    /// the label that sorts first in UTF-8 byte order (scikit-learn's KNeighborsClassifier, uniform weights).
    /// `k` must be in 1…trainLabels.count (callers refuse anything else with a proper message).
    public static func predict(similarities: [[Double]], trainLabels: [String], k: Int) -> [String] {
        precondition(k >= 1 && k <= trainLabels.count, "k must be in 1...\(trainLabels.count)")
        return similarities.map { row in
            precondition(row.count == trainLabels.count, "one similarity per train item")
            return vote(RankingMetrics.topK(row, k: k).map { trainLabels[$0] })
        }
    }

    /// The same from embeddings (normalised or not): similarity is the cosine, computed in Double.
    public static func predict(train: [[Float]], trainLabels: [String], eval: [[Float]], k: Int) -> [String] {
        precondition(train.count == trainLabels.count, "one label per train item")
        precondition(k >= 1 && k <= train.count, "k must be in 1...\(train.count)")
        let t = Cosine.normalized(train)
        return Cosine.normalized(eval).map { e in
            vote(RankingMetrics.topK(Cosine.similarities(e, t), k: k).map { trainLabels[$0] })
        }
    }

    /// The majority of `labels`; a tie goes to the label first in byte order. Labels are compared as UTF-8 bytes
    /// throughout (as Python compares str): canonically equivalent but differently encoded labels stay distinct,
    /// although Swift's String `==` would merge them.
    public static func vote(_ labels: [String]) -> String {
        var counts: [[UInt8]: (label: String, count: Int)] = [:]
        for l in labels { counts[Array(l.utf8), default: (l, 0)].count += 1 }
        var best: (bytes: [UInt8], label: String, count: Int)? = nil
        for (bytes, v) in counts {
            if let b = best, v.count < b.count || (v.count == b.count && !bytes.lexicographicallyPrecedes(b.bytes)) {
                continue
            }
            best = (bytes, v.label, v.count)
        }
        return best?.label ?? ""
    }

    /// Per item 1 if the prediction equals the truth byte for byte, else 0 (the values whose mean is the accuracy;
    /// the bootstrap resamples these).
    public static func correct(predicted: [String], truth: [String]) -> [Double] {
        precondition(predicted.count == truth.count, "one prediction per item")
        return zip(predicted, truth).map { $0.utf8.elementsEqual($1.utf8) ? 1 : 0 }
    }

    /// Fraction of items predicted right (0 for no items).
    public static func accuracy(predicted: [String], truth: [String]) -> Double {
        let c = correct(predicted: predicted, truth: truth)
        return c.isEmpty ? 0 : c.reduce(0, +) / Double(c.count)
    }
}

// MARK: - Percentiles and the bootstrap

public enum Percentile {
    /// The q-th percentile (q in 0…100) as numpy.percentile's default ('linear'): the virtual index (n − 1)·q/100
    /// between two order statistics, interpolated the way numpy does (from the nearer end). NaN if a value is NaN
    /// (as numpy); `values` must not be empty.
    public static func of(_ values: [Double], _ q: Double) -> Double {
        if values.contains(where: \.isNaN) { return .nan }
        return of(sorted: values.sorted(), q)
    }

    /// The same for values already sorted ascending (no NaN).
    public static func of(sorted a: [Double], _ q: Double) -> Double {
        precondition(!a.isEmpty, "percentile of no values")
        precondition(q >= 0 && q <= 100, "percentile q must be in 0...100")
        let virtual = Double(a.count - 1) * (q / 100)
        let lo = min(max(Int(virtual.rounded(.down)), 0), a.count - 1)
        let hi = min(lo + 1, a.count - 1)
        let t = virtual - Double(lo)
        let x = a[lo], y = a[hi]
        if x == y { return x }
        let d = y - x
        return t >= 0.5 ? y - d * (1 - t) : x + d * t
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014), used to expand one 64-bit seed into xoshiro's state.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna 2018): small, fast, and the same stream on every platform and Swift version
/// (unlike the standard library's generator), so a bootstrap interval is reproducible from its seed.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// State expanded from `seed` with SplitMix64 (never all zero).
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    /// A raw state (not all zero).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform integer in 0..<n without modulo bias (Lemire's multiply-and-reject).
    public mutating func index(below n: Int) -> Int {
        precondition(n > 0, "empty range")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }
}

/// A percentile-bootstrap interval for a paired difference.
public struct BootstrapInterval: Sendable, Equatable {
    /// The 2.5th and 97.5th percentiles of `differences` (by default).
    public let low: Double
    public let high: Double
    /// The difference on each resample, in resample order.
    public let differences: [Double]
}

public enum Bootstrap {
    /// Percentile bootstrap of a paired difference over `count` items: `resamples` times, draw `count` item indices
    /// in 0..<count with replacement (xoshiro256** seeded with `seed`), pass them to `difference` (which recomputes
    /// both scores on those items and returns candidate − baseline), and return the `percentiles` of the results
    /// (numpy.percentile, linear). Deterministic for a seed. The index array passed in is reused between calls.
    /// For Spearman, `difference` recomputes ρ for both τ on the resampled pairs.
    public static func paired(count: Int, resamples: Int, seed: UInt64, percentiles: (Double, Double) = (2.5, 97.5),
                              difference: ([Int]) -> Double) -> BootstrapInterval {
        precondition(count > 0 && resamples > 0, "bootstrap needs items and resamples")
        var rng = Xoshiro256StarStar(seed: seed)
        var indices = [Int](repeating: 0, count: count)
        var diffs: [Double] = []
        diffs.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for i in 0..<count { indices[i] = rng.index(below: count) }
            diffs.append(difference(indices))
        }
        return interval(diffs, percentiles)
    }

    /// The fast path for metrics that are means of per-item values (nDCG, MRR, kNN correctness): the bootstrap of
    /// mean(candidate − baseline). Draws the same indices as `paired` for the same seed and count, so it equals
    /// `paired` with a closure computing mean(candidate[idx]) − mean(baseline[idx]) up to rounding.
    public static func pairedMean(candidate: [Double], baseline: [Double], resamples: Int, seed: UInt64,
                                  percentiles: (Double, Double) = (2.5, 97.5)) -> BootstrapInterval {
        precondition(candidate.count == baseline.count, "paired values of different lengths")
        let count = candidate.count
        precondition(count > 0 && resamples > 0, "bootstrap needs items and resamples")
        let d = zip(candidate, baseline).map { $0 - $1 }
        var rng = Xoshiro256StarStar(seed: seed)
        var diffs: [Double] = []
        diffs.reserveCapacity(resamples)
        d.withUnsafeBufferPointer { d in
            for _ in 0..<resamples {
                var sum = 0.0
                for _ in 0..<count { sum += d[rng.index(below: count)] }
                diffs.append(sum / Double(count))
            }
        }
        return interval(diffs, percentiles)
    }

    /// The Spearman case: ρ(gold, candidate) − ρ(gold, baseline), both recomputed on each resample. Same result,
    /// bit for bit, as `paired` with a closure calling `Correlation.spearman` on the resampled values, but without
    /// sorting: every value is given its rank among the distinct values once, and a resample's average ranks are
    /// then a counting pass (O(n) per side).
    public static func pairedSpearman(gold: [Double], candidate: [Double], baseline: [Double], resamples: Int,
                                      seed: UInt64, percentiles: (Double, Double) = (2.5, 97.5)) -> BootstrapInterval {
        precondition(gold.count == candidate.count && gold.count == baseline.count, "paired values of different lengths")
        let n = gold.count
        if gold.contains(where: \.isNaN) || candidate.contains(where: \.isNaN) || baseline.contains(where: \.isNaN) {
            // Every ρ is NaN (as scipy); the general path says so.
            return paired(count: n, resamples: resamples, seed: seed, percentiles: percentiles) { _ in .nan }
        }
        let sides = [gold, candidate, baseline].map(DenseRanks.init)
        var ranks = [[Double]](repeating: [Double](repeating: 0, count: n), count: 3)
        return paired(count: n, resamples: resamples, seed: seed, percentiles: percentiles) { idx in
            for s in 0..<3 { sides[s].averageRanks(of: idx, into: &ranks[s]) }
            return Correlation.pearson(ranks[0], ranks[1]) - Correlation.pearson(ranks[0], ranks[2])
        }
    }

    /// Each value's index among the sorted distinct values (ties share an index), for ranking resamples by counting.
    private struct DenseRanks {
        let ids: [Int]
        let distinct: Int

        init(_ x: [Double]) {
            let order = x.indices.sorted { x[$0] < x[$1] }
            var ids = [Int](repeating: 0, count: x.count)
            var next = -1
            for (p, i) in order.enumerated() {
                if p == 0 || x[i] != x[order[p - 1]] { next += 1 }
                ids[i] = next
            }
            self.ids = ids
            distinct = next + 1
        }

        /// Average 1-based ranks of the values at `items` (with repeats), as `Correlation.averageRanks` of them.
        func averageRanks(of items: [Int], into out: inout [Double]) {
            var count = [Int](repeating: 0, count: distinct)
            for i in items { count[ids[i]] += 1 }
            // below[d]: how many resampled values are smaller than distinct value d.
            var below = [Int](repeating: 0, count: distinct)
            var run = 0
            for d in 0..<distinct { below[d] = run; run += count[d] }
            for (p, i) in items.enumerated() {
                let d = ids[i]
                out[p] = Double(2 * below[d] + count[d] + 1) / 2
            }
        }
    }

    private static func interval(_ diffs: [Double], _ p: (Double, Double)) -> BootstrapInterval {
        let low: Double, high: Double
        if diffs.contains(where: \.isNaN) {
            (low, high) = (.nan, .nan)
        } else {
            let sorted = diffs.sorted()
            (low, high) = (Percentile.of(sorted: sorted, p.0), Percentile.of(sorted: sorted, p.1))
        }
        return BootstrapInterval(low: low, high: high, differences: diffs)
    }
}

import Foundation
import XCTest
@testable import TempScaleKit

/// The metrics of `tempscale tune` (specs/tune-data.md) against numpy / scipy / scikit-learn
/// (Tests/Fixtures/analysis/metrics-expected.json, made by make_metrics_expected.py), plus invariants.
final class MetricsTests: XCTestCase {
    /// Every library value is compared to 1e-12 (absolute); the metrics are all in [-1, 1] or of order 1, and the
    /// only differences are rounding in sums of at most a few hundred terms.
    let tol = 1e-12

    static let expected: JSONValue = {
        try! JSON.parse(readBytes(Paths.fixture("analysis/metrics-expected.json")))
    }()

    func doubles(_ v: JSONValue?) -> [Double] { v!.arrayValue!.map { $0.doubleValue! } }
    func ints(_ v: JSONValue?) -> [Int] { v!.arrayValue!.map { $0.intValue! } }
    func strings(_ v: JSONValue?) -> [String] { v!.arrayValue!.map { $0.stringValue! } }
    func floatRows(_ v: JSONValue?) -> [[Float]] {
        v!.arrayValue!.map { row in row.arrayValue!.map { Float($0.doubleValue!) } }
    }

    func testFixtureRecordsTheLibraryVersions() {
        let made = Self.expected["made_with"]
        XCTAssertEqual(made?["numpy"]?.stringValue, "2.4.6")
        XCTAssertEqual(made?["scipy"]?.stringValue, "1.17.1")
        XCTAssertEqual(made?["scikit-learn"]?.stringValue, "1.9.1")
    }

    // MARK: Spearman

    func testSpearmanAveragesTiedRanksAsScipy() {
        let cases = Self.expected["spearman"]!.arrayValue!
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for c in cases {
            let name = c["name"]!.stringValue!
            let x = doubles(c["x"]), y = doubles(c["y"])
            XCTAssertEqual(Correlation.averageRanks(x), doubles(c["ranks_x"]), "ranks of x, \(name)")
            XCTAssertEqual(Correlation.averageRanks(y), doubles(c["ranks_y"]), "ranks of y, \(name)")
            let rho = Correlation.spearman(x, y)
            if let want = c["rho"]?.doubleValue {
                XCTAssertEqual(rho, want, accuracy: tol, name)
            } else {
                XCTAssertTrue(rho.isNaN, "\(name): scipy gives nan, we gave \(rho)")
            }
        }
    }

    func testSpearmanIsNaNWhenOneSideIsAllTiedAsScipy() {
        let c = Self.expected["spearman"]!.arrayValue!.first { $0["name"]?.stringValue == "all_tied_x" }!
        XCTAssertEqual(c["rho"], .null, "the fixture records scipy's nan as null")
        XCTAssertTrue(Correlation.spearman(doubles(c["x"]), doubles(c["y"])).isNaN)
        XCTAssertTrue(Correlation.spearman(doubles(c["y"]), doubles(c["x"])).isNaN, "either side")
        XCTAssertTrue(Correlation.spearman([1], [2]).isNaN, "n = 1")
    }

    func testSpearmanIsInvariantToMonotoneTransforms() {
        let c = Self.expected["spearman"]!.arrayValue!.first { $0["name"]?.stringValue == "random_n500" }!
        let x = doubles(c["x"]), y = doubles(c["y"])
        let rho = Correlation.spearman(x, y)
        XCTAssertEqual(Correlation.spearman(x.map { exp($0) }, y), rho, accuracy: tol)
        XCTAssertEqual(Correlation.spearman(x.map { $0 * $0 * $0 }, y.map { 3 * $0 - 7 }), rho, accuracy: tol)
        XCTAssertEqual(Correlation.spearman(x.map { atan($0) }, y.map { -$0 }), -rho, accuracy: tol, "decreasing flips the sign")
        XCTAssertEqual(Correlation.spearman(x, y), Correlation.spearman(y, x), "symmetric")
    }

    // MARK: Ranking

    func testNdcgAt10AndMrrAt10MatchSklearnAndTheDefinitionWithoutScoreTies() {
        let r = Self.expected["ranking"]!
        let queries = r["queries"]!.arrayValue!
        var ndcgs: [Double] = [], mrrs: [Double] = []
        for q in queries {
            let name = q["name"]!.stringValue!
            let scores = doubles(q["scores"]), gainList = doubles(q["gains"])
            let top = RankingMetrics.topK(scores, k: 10)
            XCTAssertEqual(top, ints(q["top10"]), "top 10 of \(name) (numpy argsort)")
            var gains: [Int: Double] = [:]
            for (i, g) in gainList.enumerated() where g > 0 { gains[i] = g }
            let ndcg = RankingMetrics.ndcg(at: 10, ranking: top, gains: gains)
            let mrr = RankingMetrics.mrr(at: 10, ranking: top, relevant: Set(gains.keys))
            XCTAssertEqual(ndcg, q["ndcg10"]!.doubleValue!, accuracy: tol, "nDCG@10 of \(name) (sklearn ndcg_score)")
            XCTAssertEqual(mrr, q["mrr10"]!.doubleValue!, accuracy: tol, "MRR@10 of \(name) (plain Python)")
            // A longer ranking changes nothing: only the first 10 are read.
            let full = RankingMetrics.topK(scores, k: scores.count)
            XCTAssertEqual(RankingMetrics.ndcg(at: 10, ranking: full, gains: gains), ndcg)
            XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: full, relevant: Set(gains.keys)), mrr)
            ndcgs.append(ndcg); mrrs.append(mrr)
        }
        XCTAssertEqual(ndcgs.reduce(0, +) / Double(ndcgs.count), r["mean_ndcg10"]!.doubleValue!, accuracy: tol)
        XCTAssertEqual(mrrs.reduce(0, +) / Double(mrrs.count), r["mean_mrr10"]!.doubleValue!, accuracy: tol)
    }

    func testNdcgOfTheIdealRankingIsOne() {
        for q in Self.expected["ranking"]!["queries"]!.arrayValue! {
            let g = doubles(q["gains"])
            guard g.contains(where: { $0 > 0 }) else { continue }
            var gains: [Int: Double] = [:]
            for (i, v) in g.enumerated() where v > 0 { gains[i] = v }
            let ideal = g.indices.sorted { g[$0] > g[$1] }
            XCTAssertEqual(RankingMetrics.ndcg(at: 10, ranking: ideal, gains: gains), 1, accuracy: tol)
            XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: ideal, relevant: Set(gains.keys)), 1)
        }
        XCTAssertEqual(RankingMetrics.ndcg(at: 10, ranking: [4, 1], gains: [4: 3, 1: 1]), 1, accuracy: tol,
                       "a ranking shorter than k")
    }

    func testNdcgIsZeroForAQueryWithoutRelevantDocuments() {
        XCTAssertEqual(RankingMetrics.ndcg(at: 10, ranking: Array(0..<20), gains: [:]), 0)
        XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: Array(0..<20), relevant: []), 0)
    }

    func testMrrIsZeroWhenTheFirstRelevantIsAtRank11() {
        let ranking = Array(100..<130)
        XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: ranking, relevant: [110, 125]), 0)
        XCTAssertEqual(RankingMetrics.ndcg(at: 10, ranking: ranking, gains: [110: 2]), 0)
        XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: ranking, relevant: [109, 110]), 0.1, accuracy: tol)
        XCTAssertEqual(RankingMetrics.mrr(at: 10, ranking: ranking, relevant: [102, 100]), 1, "the first relevant counts")
    }

    func testTopKBreaksTiesByCorpusOrderLikeAStableFullSort() {
        XCTAssertEqual(RankingMetrics.topK([1, 3, 3, 2, 3, .nan, 3], k: 3), [1, 2, 4])
        XCTAssertEqual(RankingMetrics.topK([.nan, 0, .nan], k: 3), [1, 0, 2], "NaN ranks last, NaNs in order")
        XCTAssertEqual(RankingMetrics.topK([1, 2], k: 5), [1, 0], "k larger than the list")
        XCTAssertEqual(RankingMetrics.topK([1, 2], k: 0), [])
        // Against a full sort by (score descending, index ascending), on many ties.
        var rng = Xoshiro256StarStar(seed: 7)
        let scores = (0..<5000).map { _ in Double(rng.index(below: 40)) / 8 }
        let reference = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        for k in [1, 10, 137, 5000] {
            XCTAssertEqual(RankingMetrics.topK(scores, k: k), Array(reference.prefix(k)), "k = \(k)")
        }
    }

    func testRankByCosineIgnoresLengthAndKeepsCorpusOrderOnTies() {
        // Documents 1 and 3 point the same way as the query (3 is longer); 0 is orthogonal; 2 is opposite.
        let corpus = Cosine.normalized([[0, 1], [2, 0], [-1, 0], [5, 0]])
        let query = Cosine.normalized([[3, 0]])[0]
        XCTAssertEqual(RankingMetrics.rank(query: query, corpus: corpus, k: 4), [1, 3, 0, 2])
        XCTAssertEqual(Cosine.normalized([[0, 0]])[0], [0, 0], "a zero vector stays zero")
    }

    // MARK: kNN

    func testKnnAccuracyMatchesSklearnKNeighborsClassifier() {
        let knn = Self.expected["knn"]!
        let train = floatRows(knn["train"]), eval = floatRows(knn["eval"])
        let trainLabels = strings(knn["train_labels"]), evalLabels = strings(knn["eval_labels"])
        let t = Cosine.normalized(train)
        let sims = Cosine.normalized(eval).map { Cosine.similarities($0, t) }
        let cases = knn["cases"]!.arrayValue!
        XCTAssertEqual(cases.map { $0["k"]!.intValue! }, [1, 3, 5, 10])
        for c in cases {
            let k = c["k"]!.intValue!
            let want = strings(c["predictions"])
            let neighbours = c["neighbours"]!.arrayValue!.map { ints($0) }
            for (e, row) in sims.enumerated() {
                XCTAssertEqual(RankingMetrics.topK(row, k: k), neighbours[e], "neighbours of eval \(e), k = \(k)")
            }
            let fromEmbeddings = KNN.predict(train: train, trainLabels: trainLabels, eval: eval, k: k)
            let fromSimilarities = KNN.predict(similarities: sims, trainLabels: trainLabels, k: k)
            XCTAssertEqual(fromEmbeddings, want, "k = \(k)")
            XCTAssertEqual(fromSimilarities, want, "k = \(k)")
            XCTAssertEqual(KNN.accuracy(predicted: fromEmbeddings, truth: evalLabels), c["accuracy"]!.doubleValue!,
                           accuracy: tol, "k = \(k)")
        }
    }

    func testKnnVoteTieGoesToTheLabelFirstInByteOrder() {
        // The fixture holds vote ties that the nearest neighbour's label does not win (checked by the script).
        for c in Self.expected["knn"]!["cases"]!.arrayValue! where c["k"]!.intValue! > 1 {
            XCTAssertGreaterThan(c["vote_ties_not_won_by_nearest"]!.intValue!, 0)
        }
        XCTAssertEqual(KNN.vote(["b", "a"]), "a")
        XCTAssertEqual(KNN.vote(["a", "B"]), "B", "upper case sorts first in bytes")
        XCTAssertEqual(KNN.vote(["9", "10"]), "10", "bytes, not numbers")
        XCTAssertEqual(KNN.vote(["é", "z"]), "z", "0x7A before 0xC3")
        // No Unicode normalisation: "e\u{301}" (65 CC 81) and "é" (C3 A9) are different labels, as in Python.
        // (Compared as bytes: Swift's String == would call them equal.)
        XCTAssertEqual(Array(KNN.vote(["é", "e\u{301}"]).utf8), Array("e\u{301}".utf8))
        XCTAssertEqual(Array(KNN.vote(["é", "e\u{301}", "é"]).utf8), Array("é".utf8))
        XCTAssertEqual(KNN.correct(predicted: ["é", "a"], truth: ["e\u{301}", "a"]), [0, 1])
        XCTAssertEqual(KNN.vote(["z", "a", "z", "a", "b", "b", "z"]), "z", "a majority wins whatever its name")
    }

    func testKnnNeighbourTiesGoToTheEarlierTrainItem() {
        // Train items 1 and 2 are the same direction; the eval item is closest to both.
        let train: [[Float]] = [[0, 1], [1, 0.1], [2, 0.2], [0, -1]]
        XCTAssertEqual(KNN.predict(train: train, trainLabels: ["w", "z", "a", "y"], eval: [[1, 0.1]], k: 1), ["z"])
        XCTAssertEqual(KNN.predict(train: train, trainLabels: ["w", "a", "z", "y"], eval: [[1, 0.1]], k: 1), ["a"])
        // k = 3 takes 1, 2 and then 0 (cos > 0) before 3 (cos < 0).
        XCTAssertEqual(KNN.predict(train: train, trainLabels: ["w", "z", "w", "y"], eval: [[1, 0.1]], k: 3), ["w"])
    }

    // MARK: Percentile

    func testPercentileMatchesNumpyLinear() {
        for c in Self.expected["percentile"]!.arrayValue! {
            let name = c["name"]!.stringValue!
            let values = doubles(c["values"])
            for (q, want) in zip(doubles(c["q"]), doubles(c["expected"])) {
                XCTAssertEqual(Percentile.of(values, q), want, accuracy: tol, "\(name), q = \(q)")
                XCTAssertEqual(Percentile.of(sorted: values.sorted(), q), want, accuracy: tol, "\(name), q = \(q)")
            }
        }
        XCTAssertTrue(Percentile.of([1, .nan, 3], 50).isNaN, "NaN propagates as in numpy")
    }

    // MARK: Bootstrap

    func testRandomGeneratorsMatchTheirPublishedReferenceOutputs() {
        // xoshiro256** from the state {1, 2, 3, 4} and SplitMix64 from seeds 1234567 and 0: the outputs of the
        // authors' C reference implementations, as quoted by other implementations' test suites.
        var x = Xoshiro256StarStar(state: (1, 2, 3, 4))
        XCTAssertEqual((0..<10).map { _ in x.next() },
                       [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360,
                        607_988_272_756_665_600, 16_172_922_978_634_559_625, 8_476_171_486_693_032_832,
                        10_595_114_339_597_558_777, 2_904_607_092_377_533_576])
        var s = SplitMix64(seed: 1_234_567)
        XCTAssertEqual((0..<5).map { _ in s.next() },
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                        4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
        var z = SplitMix64(seed: 0)
        XCTAssertEqual((0..<3).map { _ in z.next() }, [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    func testBootstrapIndicesAreUniform() {
        var rng = Xoshiro256StarStar(seed: 1)
        var counts = [0, 0, 0, 0, 0, 0, 0]
        for _ in 0..<70000 { counts[rng.index(below: 7)] += 1 }
        // Expected 10000 each; the standard deviation is about 93, so ±500 is over 5 sigma.
        for c in counts { XCTAssertEqual(Double(c), 10000, accuracy: 500, "\(counts)") }
    }

    func noisy(_ n: Int, seed: UInt64, shift: Double) -> (candidate: [Double], baseline: [Double]) {
        var rng = Xoshiro256StarStar(seed: seed)
        let u = { Double(rng.next() >> 11) / Double(1 << 53) }
        var a: [Double] = [], b: [Double] = []
        for _ in 0..<n {
            let base = u()
            b.append(base)
            a.append(min(1, max(0, base + shift + (u() - 0.5) * 0.2)))
        }
        return (a, b)
    }

    func testBootstrapIsDeterministicForASeedAndDiffersAcrossSeeds() {
        let (a, b) = noisy(300, seed: 3, shift: 0.02)
        let one = Bootstrap.pairedMean(candidate: a, baseline: b, resamples: 200, seed: 42)
        let again = Bootstrap.pairedMean(candidate: a, baseline: b, resamples: 200, seed: 42)
        let other = Bootstrap.pairedMean(candidate: a, baseline: b, resamples: 200, seed: 43)
        XCTAssertEqual(one, again)
        XCTAssertNotEqual(one.differences, other.differences)
        XCTAssertNotEqual(one.low, other.low)
        let closure = { (idx: [Int]) in Correlation.spearman(idx.map { a[$0] }, idx.map { b[$0] }) }
        XCTAssertEqual(Bootstrap.paired(count: 300, resamples: 50, seed: 9, difference: closure),
                       Bootstrap.paired(count: 300, resamples: 50, seed: 9, difference: closure))
        XCTAssertEqual(one.differences.count, 200)
        let sorted = one.differences.sorted()
        XCTAssertEqual(one.low, Percentile.of(sorted: sorted, 2.5))
        XCTAssertEqual(one.high, Percentile.of(sorted: sorted, 97.5))
    }

    func testBootstrapIntervalOfIdenticalSystemsIsZeroZero() {
        let (a, gold) = noisy(200, seed: 5, shift: 0)
        let same = Bootstrap.pairedMean(candidate: a, baseline: a, resamples: 300, seed: 1)
        XCTAssertEqual(same.low, 0); XCTAssertEqual(same.high, 0)
        let rho = Bootstrap.pairedSpearman(gold: gold, candidate: a, baseline: a, resamples: 300, seed: 1)
        XCTAssertEqual(rho.low, 0); XCTAssertEqual(rho.high, 0)
    }

    func testBootstrapFastPathEqualsTheClosurePath() {
        let (a, b) = noisy(500, seed: 11, shift: 0.01)
        let fast = Bootstrap.pairedMean(candidate: a, baseline: b, resamples: 400, seed: 2024)
        let slow = Bootstrap.paired(count: 500, resamples: 400, seed: 2024) { idx in
            idx.reduce(0) { $0 + a[$1] } / 500 - idx.reduce(0) { $0 + b[$1] } / 500
        }
        for (f, s) in zip(fast.differences, slow.differences) { XCTAssertEqual(f, s, accuracy: tol) }
        XCTAssertEqual(fast.low, slow.low, accuracy: tol)
        XCTAssertEqual(fast.high, slow.high, accuracy: tol)
    }

    func testBootstrapSpearmanByCountingEqualsRecomputingSpearmanOnEachResample() {
        var rng = Xoshiro256StarStar(seed: 31)
        let u = { Double(rng.next() >> 11) / Double(1 << 53) }
        let gold = (0..<150).map { _ in (u() * 6).rounded() }      // heavy ties
        let candidate = gold.map { $0 + (u() * 4).rounded() }, baseline = gold.map { _ in u() }
        let fast = Bootstrap.pairedSpearman(gold: gold, candidate: candidate, baseline: baseline, resamples: 200, seed: 5)
        let slow = Bootstrap.paired(count: 150, resamples: 200, seed: 5) { idx in
            let g = idx.map { gold[$0] }
            return Correlation.spearman(g, idx.map { candidate[$0] }) - Correlation.spearman(g, idx.map { baseline[$0] })
        }
        XCTAssertEqual(fast, slow)
        let withNaN = Bootstrap.pairedSpearman(gold: [1, .nan, 3], candidate: [1, 2, 3], baseline: [3, 2, 1],
                                               resamples: 10, seed: 5)
        XCTAssertTrue(withNaN.low.isNaN && withNaN.high.isNaN, "NaN in, NaN out (as scipy and numpy)")
    }

    func testBootstrapIntervalContainsTheObservedDifferenceOnAClearCutCase() {
        // 2000 items, 1000 resamples (the default size): the per-item difference has mean 0.05 and standard
        // deviation 0.2/√12 ≈ 0.0577, so the interval is about 0.05 ± 1.96·0.0577/√2000 ≈ 0.05 ± 0.0025.
        let n = 2000
        let (a, b) = noisy(n, seed: 17, shift: 0.05)
        let observed = zip(a, b).reduce(0) { $0 + $1.0 - $1.1 } / Double(n)
        let start = Date()
        let iv = Bootstrap.pairedMean(candidate: a, baseline: b, resamples: 1000, seed: 99)
        let meanTime = Date().timeIntervalSince(start)
        XCTAssertLessThan(iv.low, observed); XCTAssertGreaterThan(iv.high, observed)
        XCTAssertGreaterThan(iv.low, 0, "a clear improvement excludes 0")
        let sd = { (d: [Double]) -> Double in
            let m = d.reduce(0, +) / Double(d.count)
            return (d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(d.count - 1)).squareRoot()
        }
        let expectedWidth = 2 * 1.96 * sd(zip(a, b).map { $0 - $1 }) / Double(n).squareRoot()
        XCTAssertEqual(iv.high - iv.low, expectedWidth, accuracy: 0.15 * expectedWidth)

        // Spearman through the closure path: ratings, a candidate that follows them closely, a noisier baseline.
        var rng = Xoshiro256StarStar(seed: 23)
        let u = { Double(rng.next() >> 11) / Double(1 << 53) }
        let gold = (0..<n).map { _ in (u() * 10).rounded() / 2 }   // half-point ratings: many ties
        let candidate = gold.map { $0 + u() * 2 }, baseline = gold.map { $0 + u() * 6 }
        let rhoDiff = Correlation.spearman(gold, candidate) - Correlation.spearman(gold, baseline)
        let start2 = Date()
        let rho = Bootstrap.pairedSpearman(gold: gold, candidate: candidate, baseline: baseline, resamples: 1000, seed: 99)
        let rhoTime = Date().timeIntervalSince(start2)
        XCTAssertLessThan(rho.low, rhoDiff); XCTAssertGreaterThan(rho.high, rhoDiff)
        XCTAssertGreaterThan(rho.low, 0)
        print("bootstrap 1000 × \(n): mean \(String(format: "%.3f", meanTime)) s, spearman \(String(format: "%.3f", rhoTime)) s")
    }
}

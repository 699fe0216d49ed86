import Foundation
import XCTest
@testable import TempScaleKit

/// The analysis code (σ_a, the high-frequency share, collapse statistics, the spectrum of a model) against the
/// reference stack: numpy float64 SVD and norms, and torch + transformers + sentence-transformers running the tiny
/// fixture models with run-time TempScale (Tests/Fixtures/analysis/analysis-reference.json, made by
/// make_analysis_reference.py), plus invariants the reference cannot check for us.
///
/// Tolerances:
/// - σ_a and the share on fixed float32 matrices: 1e-9 relative + 1e-12 absolute. Both sides start from the same
///   float32 values and work in float64; only the algorithm differs (numpy: SVD; ours: eigenvalues of MᵀM).
/// - Collapse statistics: 1e-6 absolute (observed ≤ 5e-8). Our float32 encoder and torch's are not bit-identical
///   (other summation orders; observed embedding components differ by ≤ 1.5e-7, the golden tests allow 2e-5), and the
///   cosines and distances of unit vectors move by about as much. 1e-6 rather than a looser 1e-5 because these tiny
///   random models barely react to τ: τ = 0.1 moves the statistics by only ~1e-5 from τ = 1.
/// - Spectrum: our attention probabilities are not torch's bit for bit either (float32, other summation order), so
///   σ_a and the shares are compared to 1e-4 relative, +1e-7 absolute (observed ≤ 1e-6 relative; σ_a is ≈ 0.005 at
///   τ = 1 and doubles from τ = 1 to 0.5, so this still tells the temperatures apart).
/// - Token lengths and bucket counts: exactly.
final class AnalysisReferenceTests: XCTestCase {
    static let reference: JSONValue = { try! JSON.parse(readBytes(Paths.fixture("analysis/analysis-reference.json"))) }()

    static let statisticsTolerance = 1e-6
    static let spectrumRelative = 1e-4
    static let spectrumAbsolute = 1e-7

    func floats(_ v: JSONValue?) -> [Float] {
        let data = Data(base64Encoded: v!.stringValue!)!
        XCTAssertEqual(data.count % 4, 0)
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 4).map { (i: Int) -> Float in
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(bytes[i + k]) << UInt32(8 * k) }
            return Float(bitPattern: bits)
        }
    }

    var texts: [String] { Self.reference["texts"]!.arrayValue!.map { $0.stringValue! } }
    var edges: [Int] { Self.reference["edges"]!.arrayValue!.map { $0.intValue! } }

    func model(_ name: String) -> JSONValue {
        Self.reference["models"]!.arrayValue!.first { $0["name"]?.stringValue == name }!
    }

    func embedder(_ name: String) throws -> TextEmbedder {
        try TextEmbedder(model: try ModelLoader.open(Paths.fixture(model(name)["path"]!.stringValue!.replacingOccurrences(
            of: "Tests/Fixtures/", with: ""))))
    }

    func temperatures(_ m: JSONValue) -> [Double] { m["temperatures"]!.arrayValue!.map { $0["tau"]!.doubleValue! } }

    // MARK: the fixture itself

    func testFixtureRecordsTheReferenceStackAndCoversTheCases() {
        let r = Self.reference["reference"]!
        for key in ["numpy", "torch", "transformers", "sentence_transformers"] {
            XCTAssertFalse(r[key]?.stringValue?.isEmpty ?? true, key)
        }
        XCTAssertEqual(texts.count, 24)
        let names = Set(Self.reference["sigma_a"]!.arrayValue!.map { $0["name"]!.stringValue! })
        for n in [1, 2, 3, 7, 33, 100] { XCTAssertTrue(names.contains("softmax-n\(n)"), "softmax n=\(n)") }
        for special in ["identity-n5", "uniform-n4", "sink-n9", "repeated-rows-n6"] { XCTAssertTrue(names.contains(special), special) }
        for name in ["tiny-bert", "tiny-mpnet"] {
            let counts = model(name)["bucket_counts"]!.arrayValue!.map { $0.intValue! }
            XCTAssertGreaterThanOrEqual(counts.filter { $0 >= 2 }.count, 3, name)
            XCTAssertTrue(counts.contains(1), "\(name): one bucket with a single text (pairwise undefined)")
            XCTAssertEqual(model(name)["below_first_edge"]?.intValue, 1, name)
            XCTAssertEqual(temperatures(model(name)), [1, 0.5, 0.1, 0.02], name)
        }
    }

    // MARK: σ_a and the high-frequency share on fixed matrices

    func testSigmaAMatchesNumpySVD() {
        var worst = (rel: 0.0, name: "")
        for c in Self.reference["sigma_a"]!.arrayValue! {
            let name = c["name"]!.stringValue!, n = c["n"]!.intValue!
            let a = floats(c["a_b64f32"])
            XCTAssertEqual(a.count, n * n, name)
            let expected = c["sigma"]!.doubleValue!
            let got = Spectrum.sigmaA(a, n: n)
            let diff = abs(got - expected)
            XCTAssertLessThanOrEqual(diff, 1e-9 * abs(expected) + 1e-12, "\(name): ours \(got), numpy \(expected)")
            if expected > 0, diff / expected > worst.rel { worst = (diff / expected, name) }
        }
        print("σ_a vs numpy SVD: worst relative difference \(worst.rel) (\(worst.name))")
    }

    func testSigmaAOfTheSpecialMatricesIsWhatTheDefinitionSays() {
        // Independent of the fixture: the sink matrix (all rows = e₀) has σ_a = √(n−1); the identity has 1;
        // a uniform matrix with exact 1/n has 0; n = 1 has 0.
        for n in [2, 5, 9, 64] {
            var sink = [Float](repeating: 0, count: n * n)
            for i in 0..<n { sink[i * n] = 1 }
            XCTAssertEqual(Spectrum.sigmaA(sink, n: n), Double(n - 1).squareRoot(), accuracy: 1e-12, "sink n=\(n)")
            var eye = [Float](repeating: 0, count: n * n)
            for i in 0..<n { eye[i * n + i] = 1 }
            XCTAssertEqual(Spectrum.sigmaA(eye, n: n), 1, accuracy: 1e-12, "identity n=\(n)")
        }
        XCTAssertEqual(Spectrum.sigmaA([Float](repeating: 0.125, count: 64), n: 8), 0, accuracy: 1e-12)
        XCTAssertEqual(Spectrum.sigmaA([1], n: 1), 0)
    }

    func testHighFrequencyShareMatchesNumpy() {
        for c in Self.reference["hc_share"]!.arrayValue! {
            let name = c["name"]!.stringValue!
            let rows = c["rows"]!.intValue!, width = c["width"]!.intValue!
            let x = floats(c["x_b64f32"])
            XCTAssertEqual(x.count, rows * width, name)
            let expected = c["share"]!.doubleValue!
            let got = x.withUnsafeBufferPointer { Spectrum.highFrequencyShare($0.baseAddress!, rows: rows, width: width) }
            XCTAssertLessThanOrEqual(abs(got - expected), 1e-9 * abs(expected) + 1e-12, "\(name): ours \(got), numpy \(expected)")
        }
    }

    // MARK: token lengths and buckets

    func checkLengthsAndBuckets(_ name: String) throws {
        let m = model(name), e = try embedder(name)
        XCTAssertEqual(e.maxLength, m["max_seq_length"]!.intValue!, name)
        let lengths = e.tokenize(texts).map(\.ids.count)
        XCTAssertEqual(lengths, m["lengths"]!.arrayValue!.map { $0.intValue! }, "\(name): token counts after truncation")
        let buckets = try LengthBuckets(edges: edges)
        XCTAssertEqual(buckets.sample(lengths: lengths, perBucket: nil).map(\.count),
                       m["bucket_counts"]!.arrayValue!.map { $0.intValue! }, "\(name): bucket counts")
    }

    func testTokenLengthsAndBucketCountsMatchExactlyOnTinyBert() throws { try checkLengthsAndBuckets("tiny-bert") }
    func testTokenLengthsAndBucketCountsMatchExactlyOnTinyMPNet() throws { try checkLengthsAndBuckets("tiny-mpnet") }

    // MARK: collapse statistics

    func checkCollapse(_ name: String) throws {
        let m = model(name), e = try embedder(name)
        let taus = temperatures(m)
        let buckets = try LengthBuckets(edges: edges)
        let study = try CollapseStudy.run(e, texts: texts, temperatures: taus, buckets: buckets, perBucket: nil)
        let tol = Self.statisticsTolerance
        var worst = 0.0, worstEmbedding: Float = 0
        for (k, ref) in m["temperatures"]!.arrayValue!.enumerated() {
            let tau = taus[k]
            // The embeddings themselves first, so a statistics mismatch can be told apart from an encoder one.
            let refRows = floats(ref["embeddings_b64f32"])
            let ours = try e.embed(texts, temperature: tau).embeddings
            let dim = ours[0].count
            XCTAssertEqual(refRows.count, texts.count * dim)
            for i in texts.indices { for j in 0..<dim { worstEmbedding = max(worstEmbedding, abs(ours[i][j] - refRows[i * dim + j])) } }

            let refBuckets = ref["buckets"]!.arrayValue!
            XCTAssertEqual(study.statistics[k].count, refBuckets.count)
            for (b, (s, r)) in zip(study.statistics[k], refBuckets).enumerated() {
                let label = "\(name) τ \(tau) bucket \(buckets.label(b))"
                XCTAssertEqual(s.count, r["count"]!.intValue!, label)
                let pairs: [(Double?, JSONValue?, String)] = [
                    (s.meanPairwiseCosine, r["mean_pairwise_cosine"], "pairwise cosine"),
                    (s.meanCosineToCentroid, r["mean_cosine_to_centroid"], "cosine to centroid"),
                    (s.meanDistanceToGlobalCentroid, r["mean_distance_to_global_centroid"], "distance to global centroid"),
                ]
                for (got, want, what) in pairs {
                    guard let want = want?.doubleValue else {
                        XCTAssertNil(got, "\(label): \(what) should be undefined")
                        continue
                    }
                    guard let got else { XCTFail("\(label): \(what) missing (reference \(want))"); continue }
                    worst = max(worst, abs(got - want))
                    XCTAssertEqual(got, want, accuracy: tol, "\(label): \(what)")
                }
            }
            if let want = ref["gap"]?.doubleValue {
                let got = try XCTUnwrap(study.gaps[k], "\(name) τ \(tau): gap")
                worst = max(worst, abs(got - want))
                XCTAssertEqual(got, want, accuracy: tol, "\(name) τ \(tau): gap")
            } else {
                XCTAssertNil(study.gaps[k])
            }
        }
        XCTAssertLessThanOrEqual(worstEmbedding, 2e-5, "\(name): embeddings vs sentence-transformers")
        // The comparison must be able to tell the temperatures apart: the reference's own statistics at the
        // strongest τ are far from those at τ = 1, measured in tolerances.
        let refTaus = m["temperatures"]!.arrayValue!
        let movedBy = zip(refTaus.first!["buckets"]!.arrayValue!, refTaus.last!["buckets"]!.arrayValue!).compactMap { a, b -> Double? in
            guard let x = a["mean_pairwise_cosine"]?.doubleValue, let y = b["mean_pairwise_cosine"]?.doubleValue else { return nil }
            return abs(x - y)
        }.max() ?? 0
        XCTAssertGreaterThan(movedBy, 10 * tol, "\(name): τ \(taus.last!) barely moves the reference statistics")
        print("collapse \(name): worst statistic difference \(worst), worst embedding component \(worstEmbedding); "
              + "τ \(taus.last!) moves pairwise cosine by \(movedBy)")
    }

    func testCollapseStatisticsMatchReferenceStackOnTinyBert() throws { try checkCollapse("tiny-bert") }
    func testCollapseStatisticsMatchReferenceStackOnTinyMPNet() throws { try checkCollapse("tiny-mpnet") }

    /// Invariants of a collapse run: every text is in one bucket or below the first edge; cosines are cosines and
    /// distances are distances; undefined exactly where a bucket is too small; at τ = 1 the study measures what
    /// TextEmbedder.embed gives.
    func testCollapseRunInvariantsHold() throws {
        for name in ["tiny-bert", "tiny-mpnet"] {
            let e = try embedder(name)
            let buckets = try LengthBuckets(edges: edges)
            let study = try CollapseStudy.run(e, texts: texts, temperatures: [1, 0.1], buckets: buckets, perBucket: nil)
            XCTAssertEqual(study.textCount, texts.count)
            XCTAssertEqual(study.available.reduce(0, +) + study.belowFirstEdge, texts.count, name)
            XCTAssertEqual(study.members.map(\.count), study.available, "\(name): perBucket nil keeps everyone")
            XCTAssertEqual(Set(study.members.flatMap { $0 }).count, texts.count - study.belowFirstEdge, name)
            for stats in study.statistics {
                XCTAssertEqual(stats.map(\.count), study.available, name)
                for s in stats {
                    if let p = s.meanPairwiseCosine { XCTAssertTrue((-1...1).contains(p), "\(name): pairwise \(p)") }
                    if let c = s.meanCosineToCentroid { XCTAssertTrue((-1...1).contains(c), "\(name): to centroid \(c)") }
                    if let d = s.meanDistanceToGlobalCentroid { XCTAssertGreaterThanOrEqual(d, 0, name) }
                    XCTAssertEqual(s.meanPairwiseCosine == nil, s.count < 2, "\(name): pairwise defined iff ≥ 2 texts")
                    // For unit embeddings (the fixtures normalise), ‖Σuᵢ‖² = n + n(n−1)·pairwise and the mean cosine
                    // to the centroid is ‖Σuᵢ‖/n, so pairwise = (n·toCentroid² − 1)/(n − 1): the two statistics,
                    // computed by different routes, must agree.
                    if let p = s.meanPairwiseCosine, let t = s.meanCosineToCentroid {
                        let n = Double(s.count)
                        XCTAssertEqual(p, (n * t * t - 1) / (n - 1), accuracy: 1e-5, "\(name): pairwise vs to-centroid")
                    }
                }
            }
            // τ = 1: the study's statistics are those of TextEmbedder.embed's rows.
            let rows = try e.embed(texts, temperature: 1).embeddings
            let direct = Collapse.statistics(rows, buckets: study.members)
            var worstDirect = 0.0
            for (s, d) in zip(study.statistics[0], direct) {
                XCTAssertEqual(s.count, d.count)
                for (a, b) in [(s.meanPairwiseCosine, d.meanPairwiseCosine), (s.meanCosineToCentroid, d.meanCosineToCentroid),
                               (s.meanDistanceToGlobalCentroid, d.meanDistanceToGlobalCentroid)] {
                    XCTAssertEqual(a == nil, b == nil, name)
                    if let a, let b {
                        worstDirect = max(worstDirect, abs(a - b))
                        XCTAssertEqual(a, b, accuracy: 1e-6, "\(name): collapse at τ 1 vs TextEmbedder.embed")
                    }
                }
            }
            print("collapse invariants \(name): τ 1 study vs TextEmbedder.embed, worst difference \(worstDirect)")
        }
    }

    // MARK: spectrum

    func checkSpectrum(_ name: String) throws {
        let m = model(name), e = try embedder(name)
        let encodings = e.tokenize(texts)
        let layers = m["layers"]!.intValue!, heads = m["heads"]!.intValue!
        var worstSigma = 0.0, worstShare = 0.0
        for ref in m["temperatures"]!.arrayValue! {
            let tau = ref["tau"]!.doubleValue!
            for t in ref["spectrum"]!.arrayValue! {
                let i = t["text"]!.intValue!
                let label = "\(name) τ \(tau) text \(i)"
                let s = Spectrum.measure(e.encoder, ids: encodings[i].ids, temperature: tau, layers: nil)
                XCTAssertEqual(s.tokens, t["tokens"]!.intValue!, label)
                let sigma = t["sigma"]!.arrayValue!.map { $0.arrayValue!.map { $0.doubleValue! } }
                XCTAssertEqual(sigma.count, layers)
                XCTAssertEqual(s.sigma.count, layers, label)
                for l in 0..<layers {
                    XCTAssertEqual(s.sigma[l].count, heads, label)
                    for h in 0..<heads {
                        let want = sigma[l][h], got = s.sigma[l][h]
                        worstSigma = max(worstSigma, abs(got - want) / want)
                        XCTAssertLessThanOrEqual(abs(got - want), Self.spectrumRelative * want + Self.spectrumAbsolute,
                                                 "\(label) layer \(l) head \(h): σ_a ours \(got), reference \(want)")
                    }
                }
                let share = t["hc_share"]!.arrayValue!.map { $0.doubleValue! }
                XCTAssertEqual(share.count, layers + 1)
                XCTAssertEqual(s.highFrequencyShare.count, layers + 1, label)
                for (l, (got, want)) in zip(s.highFrequencyShare, share).enumerated() {
                    worstShare = max(worstShare, abs(got - want) / want)
                    XCTAssertLessThanOrEqual(abs(got - want), Self.spectrumRelative * want + Self.spectrumAbsolute,
                                             "\(label) hidden states \(l): ‖HC‖/‖X‖ ours \(got), reference \(want)")
                }
            }
        }
        print("spectrum \(name): worst relative difference σ_a \(worstSigma), ‖HC‖/‖X‖ \(worstShare)")
    }

    func testSpectrumMatchesReferenceAttentionOnTinyBert() throws { try checkSpectrum("tiny-bert") }
    func testSpectrumMatchesReferenceAttentionOnTinyMPNet() throws { try checkSpectrum("tiny-mpnet") }

    func testSpectrumOfChosenLayersIsTheSameMeasurement() throws {
        let e = try embedder("tiny-mpnet")
        let ids = e.tokenize([texts[6]])[0].ids
        let all = Spectrum.measure(e.encoder, ids: ids, temperature: 0.5, layers: nil)
        let last = Spectrum.measure(e.encoder, ids: ids, temperature: 0.5, layers: [1])
        XCTAssertEqual(last.sigma, [all.sigma[1]])
        XCTAssertEqual(last.highFrequencyShare, all.highFrequencyShare)
    }
}

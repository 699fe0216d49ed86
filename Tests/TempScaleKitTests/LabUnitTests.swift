import XCTest
@testable import TempScaleKit

/// The small rules of the lab that the CLI tests cannot isolate.
final class LabUnitTests: XCTestCase {
    func candidate(_ tau: Double, _ score: Double, query: Double? = nil) -> TuneResult.Candidate {
        .init(queryTau: query, tau: tau, dev: [score])
    }

    func testTuneChoosesTheHighestDevScoreAndBreaksTiesTowardsTauOne() {
        XCTAssertEqual(Tuner.choose([candidate(0.5, 0.7), candidate(0.8, 0.9), candidate(1, 0.8)]), 1)
        XCTAssertEqual(Tuner.choose([candidate(0.5, 0.9), candidate(0.8, 0.9), candidate(1, 0.8)]), 1, "tie: 0.8 is the smaller change")
        XCTAssertEqual(Tuner.choose([candidate(0.8, 0.9), candidate(1, 0.9)]), 1, "tie: τ = 1 changes nothing")
        XCTAssertEqual(Tuner.choose([candidate(0.5, .nan), candidate(1, 0.1)]), 1, "an undefined score never wins")
        XCTAssertEqual(Tuner.choose([candidate(0.8, 0.9, query: 0.5), candidate(0.8, 0.9, query: 1)]), 1,
                       "query and document τ both count as change")
    }

    func testLengthBucketsIndexLabelsAndRefusals() throws {
        let b = try LengthBuckets(edges: [4, 16, 32])
        XCTAssertEqual([0, 3, 4, 15, 16, 31, 32, 10_000].map(b.index(of:)), [nil, nil, 0, 0, 1, 1, 2, 2])
        XCTAssertEqual(b.labels, ["4–15", "16–31", "32+"])
        XCTAssertThrowsError(try LengthBuckets(edges: []))
        XCTAssertThrowsError(try LengthBuckets(edges: [0, 16, 16]))
        XCTAssertThrowsError(try LengthBuckets(edges: [-1, 16]))
    }

    func testPerBucketSamplingSpreadsEvenlyOverTheInput() throws {
        let b = try LengthBuckets(edges: [0, 10])
        // 10 short texts (indices 0–9), 3 long ones (10–12).
        let lengths = Array(repeating: 5, count: 10) + [20, 20, 20]
        let sample = b.sample(lengths: lengths, perBucket: 4)
        XCTAssertEqual(sample[0], [0, 2, 5, 7], "member ⌊k·10/4⌋")
        XCTAssertEqual(sample[1], [10, 11, 12], "a bucket smaller than N keeps everyone")
        XCTAssertEqual(b.sample(lengths: lengths, perBucket: nil)[0], Array(0..<10))
    }

    func testCollapseGapUsesTheLongestAndShortestDefinedBuckets() {
        let s = { (v: Double?) in Collapse.BucketStatistics(count: v == nil ? 1 : 2, meanPairwiseCosine: v, meanCosineToCentroid: nil,
                                                           meanDistanceToGlobalCentroid: nil) }
        XCTAssertEqual(Collapse.gap([s(nil), s(0.2), s(0.25), s(0.5), s(nil)])!, 0.3, accuracy: 1e-15)
        XCTAssertNil(Collapse.gap([s(nil), s(0.2)]))
    }
}

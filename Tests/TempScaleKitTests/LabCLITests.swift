import Foundation
import XCTest
@testable import TempScaleKit

/// collapse, spectrum and tune end to end on small real samples (MiniLM and the `make data` sets):
/// the output's structure, invariants that could fail, and agreement with `embed`.
final class LabCLITests: XCTestCase {
    static let data = Paths.cache + "/data"

    func run(_ args: [String]) throws -> CLIRun { try runCLI(args) }

    func json(_ r: CLIRun, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try JSON.parse(r.stdout)
    }

    /// 80 Debian descriptions (one source) plus a few short lines, so several buckets fill.
    func sampleTexts(_ dir: TempDir) throws -> (path: String, texts: [String]) {
        let corpus = try TuneData.readObjects(Self.data + "/debian-retrieval-small/corpus.jsonl").prefix(80).map { $0.1["text"]!.stringValue! }
        let texts = ["apt", "a tiny tool", "Library for reading PNG files."] + corpus
        let lines = texts.map { JSONValue.object(JSONObject([("text", .string($0))])).serialized() }
        return (dir.write("texts.jsonl", lines.joined(separator: "\n") + "\n"), texts)
    }

    func embedWithCLI(_ texts: String, _ tau: String, _ dir: TempDir) throws -> [[Float]] {
        let out = dir.file("emb-\(tau).jsonl")
        let r = try run(["embed", Paths.minilm, "--input", texts, "--output", out, "--temperature", tau])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { line in
            try JSON.parse(String(line))["embedding"]!.arrayValue!.map { Float($0.doubleValue!) }
        }
    }

    // MARK: collapse

    func testCollapseCountsAddUpAndTauOneMatchesEmbed() throws {
        let dir = TempDir()
        let (path, texts) = try sampleTexts(dir)
        let plot = dir.file("collapse.svg")
        let j = try json(try run(["collapse", Paths.minilm, "--texts", path, "--temperatures", "1,0.7",
                                  "--buckets", "4,32,64,128", "--plot", plot, "--json"]))
        XCTAssertEqual(j["texts"]?.intValue, texts.count)
        let buckets = j["buckets"]!.arrayValue!
        XCTAssertEqual(buckets.map { $0["label"]!.stringValue! }, ["4–31", "32–63", "64–127", "128+"])
        let available = buckets.map { $0["available"]!.intValue! }
        XCTAssertEqual(available.reduce(0, +) + j["below_first_edge"]!.intValue!, texts.count)
        XCTAssertGreaterThan(j["below_first_edge"]!.intValue!, 0, "'apt' is 3 tokens, below the first edge")
        XCTAssertGreaterThanOrEqual(available.filter { $0 >= 2 }.count, 3)

        // Independent recomputation at τ = 1 from `embed`'s output: naive O(n²) pairs, token counts from the tokenizer.
        let embedder = try TextEmbedder(model: try ModelLoader.open(Paths.minilm))
        let lengths = embedder.tokenize(texts).map(\.ids.count)
        let embeddings = try embedWithCLI(path, "1", dir)
        let taus = j["temperatures"]!.arrayValue!
        XCTAssertEqual(taus.map { $0["tau"]!.doubleValue! }, [1, 0.7])
        let edges = [4, 32, 64, 128]
        for (b, bucket) in taus[0]["buckets"]!.arrayValue!.enumerated() {
            let members = lengths.indices.filter { lengths[$0] >= edges[b] && (b + 1 == edges.count || lengths[$0] < edges[b + 1]) }
            XCTAssertEqual(bucket["count"]?.intValue, members.count)
            var sum = 0.0, pairs = 0
            for i in members { for k in members where k > i { sum += cosine(embeddings[i], embeddings[k]); pairs += 1 } }
            if pairs > 0 {
                XCTAssertEqual(bucket["mean_pairwise_cosine"]!.doubleValue!, sum / Double(pairs), accuracy: 1e-6)
            } else {
                XCTAssertEqual(bucket["mean_pairwise_cosine"], .null)
            }
        }
        for t in taus {
            for bucket in t["buckets"]!.arrayValue! where bucket["count"]!.intValue! >= 2 {
                for key in ["mean_pairwise_cosine", "mean_cosine_to_centroid"] {
                    let v = bucket[key]!.doubleValue!
                    XCTAssertTrue((-1...1).contains(v), "\(key) \(v)")
                }
                XCTAssertGreaterThanOrEqual(bucket["mean_distance_to_global_centroid"]!.doubleValue!, 0)
            }
            let defined = t["buckets"]!.arrayValue!.compactMap { $0["mean_pairwise_cosine"]?.doubleValue }
            XCTAssertEqual(t["long_short_gap"]!.doubleValue!, defined.last! - defined.first!, accuracy: 1e-12)
        }
        // τ = 0.7 really changes the embeddings.
        XCTAssertNotEqual(taus[0]["buckets"]![1]!, taus[1]["buckets"]![1]!)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg") && svg.contains("τ = 0.7") && svg.contains("mean pairwise cosine"))
    }

    func testCollapsePerBucketSamplesEvenlyAndTextReportHasTheGap() throws {
        let dir = TempDir()
        let (path, _) = try sampleTexts(dir)
        let r = try run(["collapse", Paths.minilm, "--texts", path, "--temperatures", "1", "--buckets", "0,32,64",
                         "--per-bucket", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("long–short gap"), r.stdout)
        XCTAssertTrue(r.stdout.contains("5/"), r.stdout)
        let j = try json(try run(["collapse", Paths.minilm, "--texts", path, "--temperatures", "1", "--buckets", "0,32,64",
                                  "--per-bucket", "5", "--json"]))
        for b in j["buckets"]!.arrayValue! {
            XCTAssertEqual(b["embedded"]!.intValue!, min(5, b["available"]!.intValue!))
        }
    }

    // MARK: spectrum

    func testSpectrumShapesRangesAndSharperAttentionRaisesSigma() throws {
        let dir = TempDir()
        let (path, _) = try sampleTexts(dir)
        let plot = dir.file("sigma.png")
        let j = try json(try run(["spectrum", Paths.minilm, "--texts", path, "--temperatures", "1,0.5", "--layers", "0,5",
                                  "--buckets", "0,32,64", "--per-bucket", "2", "--plot", plot, "--json"]))
        XCTAssertEqual(j["layers"]?.arrayValue?.compactMap(\.intValue), [0, 5])
        let taus = j["temperatures"]!.arrayValue!
        var means: [[Double]] = []
        for t in taus {
            var row: [Double] = []
            for b in t["buckets"]!.arrayValue! {
                let texts = b["per_text"]!.arrayValue!
                XCTAssertEqual(texts.count, 2)
                for m in texts {
                    let n = Double(m["tokens"]!.intValue!)
                    let sigma = m["sigma_a"]!.arrayValue!
                    XCTAssertEqual(sigma.count, 2)
                    for layer in sigma {
                        XCTAssertEqual(layer.arrayValue!.count, 12)
                        // 0 ≤ σ_a ≤ ‖A‖₂ ≤ √n for a row-stochastic A.
                        for s in layer.arrayValue! { XCTAssertTrue((0...n.squareRoot() + 1e-9).contains(s.doubleValue!), "\(s)") }
                    }
                    let shares = m["hc_share"]!.arrayValue!.map { $0.doubleValue! }
                    XCTAssertEqual(shares.count, 7, "embeddings + 6 layers")
                    for s in shares { XCTAssertTrue((0...1).contains(s)) }
                }
                row.append(b["mean_sigma_a"]!.doubleValue!)
            }
            means.append(row)
        }
        // Dividing the scores by τ < 1 sharpens attention away from uniform: σ_a grows (measured on MiniLM).
        for b in means[0].indices { XCTAssertGreaterThan(means[1][b], means[0][b]) }
        let png = try Data(contentsOf: URL(fileURLWithPath: plot))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    // MARK: tune

    func testTuneSimilarityOnLeeChoosesOnDevAndReportsTest() throws {
        let j = try json(try run(["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity",
                                  "--grid", "0.6,1", "--bootstrap", "200", "--json"]))
        let dev = j["dev"]!.arrayValue!
        XCTAssertEqual(dev.map { $0["tau"]!.doubleValue! }, [0.6, 1])
        let scores = dev.map { $0["scores"]![0]!.doubleValue! }
        let chosen = j["chosen"]!["tau"]!.doubleValue!
        XCTAssertEqual(chosen, scores[0] >= scores[1] ? 0.6 : 1)
        // The baseline on test, recomputed independently from `embed`'s τ = 1 embeddings of the test pairs.
        let set = try TuneData.similarity(at: Self.data + "/lee-similarity")
        let dir = TempDir()
        let texts = dir.write("lee.jsonl", set.texts.map { JSONValue.object(JSONObject([("text", .string($0))])).serialized() }
            .joined(separator: "\n") + "\n")
        let e = try embedWithCLI(texts, "1", dir)
        let rho = Correlation.spearman(set.test.map(\.score), set.test.map { cosine(e[$0.a], e[$0.b]) })
        let test = j["test"]!
        XCTAssertEqual(test["baseline"]![0]!.doubleValue!, rho, accuracy: 1e-6)
        let diff = test["difference"]![0]!.doubleValue!
        XCTAssertEqual(diff, test["chosen"]![0]!.doubleValue! - test["baseline"]![0]!.doubleValue!, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(test["interval_low"]![0]!.doubleValue!, test["interval_high"]![0]!.doubleValue!)
        XCTAssertEqual(j["test_items"]?.intValue, set.test.count)
    }

    func testTuneClassificationScoresAreFractionsOfTheSplit() throws {
        let j = try json(try run(["tune", Paths.minilm, "--task", "classification", "--data", Self.data + "/bbc-classification-small",
                                  "--grid", "0.7,1", "--k", "3", "--bootstrap", "200", "--threads", "2", "--json"]))
        XCTAssertEqual(j["k"]?.intValue, 3)
        let n = Double(j["test_items"]!.intValue!), d = Double(j["dev_items"]!.intValue!)
        for s in j["dev"]!.arrayValue!.map({ $0["scores"]![0]!.doubleValue! }) {
            XCTAssertEqual((s * d).rounded(), s * d, accuracy: 1e-9)
            XCTAssertTrue((0...1).contains(s))
        }
        for key in ["baseline", "chosen"] {
            let s = j["test"]![key]![0]!.doubleValue!
            XCTAssertEqual((s * n).rounded(), s * n, accuracy: 1e-9)
        }
        XCTAssertGreaterThan(j["test"]!["baseline"]![0]!.doubleValue!, 0.6, "MiniLM separates BBC topics well above chance (0.2)")
    }

    func testTuneRetrievalWithQueryGridAndBake() throws {
        let dir = TempDir()
        let out = dir.file("tuned.tsm")
        let r = try run(["tune", Paths.minilm, "--task", "retrieval", "--data", Self.data + "/debian-retrieval-small",
                         "--grid", "0.6,1", "--query-temperature", "0.8,1", "--bootstrap", "200", "--threads", "2",
                         "--bake", "-o", out, "--json"])
        let j = try json(r)
        let dev = j["dev"]!.arrayValue!
        XCTAssertEqual(dev.count, 4)
        XCTAssertEqual(Set(dev.map { "\($0["query_tau"]!.doubleValue!)/\($0["tau"]!.doubleValue!)" }), ["0.8/0.6", "1.0/0.6", "0.8/1.0", "1.0/1.0"])
        XCTAssertEqual(j["metrics"]?.arrayValue?.compactMap(\.stringValue), ["nDCG@10", "MRR@10"])
        for c in dev { for s in c["scores"]!.arrayValue! { XCTAssertTrue((0...1).contains(s.doubleValue!)) } }
        let best = dev.map { $0["scores"]![0]!.doubleValue! }.max()!
        let chosen = j["chosen"]!["tau"]!.doubleValue!, chosenQ = j["chosen"]!["query_tau"]!.doubleValue!
        XCTAssertEqual(dev.first { $0["tau"]!.doubleValue! == chosen && $0["query_tau"]!.doubleValue! == chosenQ }!["scores"]![0]!.doubleValue!, best)
        // The baked model carries the documents' τ.
        let baked = try ModelLoader.open(out)
        XCTAssertEqual(baked.temperature.total, chosen, accuracy: 1e-12)
        XCTAssertTrue(r.stderr.contains("baked τ"), r.stderr)
    }

    // MARK: refusals

    func testLabCommandsRefuseBadInputWithOneLineAndWriteNothing() throws {
        let dir = TempDir()
        let texts = dir.write("t.txt", "one\ntwo words\n")
        let bad: [([String], String)] = [
            (["collapse", Paths.minilm, "--texts", texts, "--temperatures", "1,0"], "temperature"),
            (["collapse", Paths.minilm, "--texts", texts, "--temperatures", "nan"], "temperature"),
            (["collapse", Paths.minilm, "--texts", texts, "--buckets", "32,16"], "ascending"),
            (["collapse", Paths.minilm, "--texts", texts, "--plot", dir.file("p.txt")], ".svg or .png"),
            (["spectrum", Paths.minilm, "--texts", texts, "--layers", "9"], "layer"),
            (["tune", Paths.minilm, "--task", "retrieval", "--data", dir.file("nothing")], "corpus.jsonl"),
            (["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--query-temperature", "0.8"], "retrieval only"),
            (["tune", Paths.minilm, "--task", "classification", "--data", Self.data + "/bbc-classification-small", "--k", "500"], "exceeds"),
            (["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--bake"], "--output"),
            (["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--grid", "0.5,-1"], "temperature"),
            (["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--query-prompt-text", "q: "], "retrieval only"),
            (["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--prompt", "query"], "no prompt named 'query'"),
            (["tune", Paths.minilm, "--task", "retrieval", "--data", Self.data + "/debian-retrieval-small", "--document-prompt", "a",
              "--document-prompt-text", "b"], "not both"),
            (["collapse", Paths.minilm, "--texts", texts, "--prompt", "passage"], "no prompt named 'passage'"),
        ]
        for (args, needle) in bad {
            let r = try run(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", args.joined(separator: " "))
        }
        XCTAssertEqual(dir.listing, ["t.txt"])
        // An existing --bake output is refused before any work, and left as it was.
        let existing = dir.write("taken.tsm", "keep me")
        let r = try run(["tune", Paths.minilm, "--task", "similarity", "--data", Self.data + "/lee-similarity", "--bake", "-o", existing])
        XCTAssertEqual(r.stderr, "tempscale: error: \(existing): output exists; pass --force to replace it\n")
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")
    }

    func testMalformedRetrievalDataNamesTheFileAndLine() throws {
        let dir = TempDir()
        let root = dir.path + "/set"
        try FileManager.default.createDirectory(atPath: root + "/qrels", withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) { FileManager.default.createFile(atPath: root + "/" + name, contents: Data(text.utf8)) }
        write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": \"b\"}\n")
        write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": 2, \"text\": \"b\"}\n")
        write("qrels/dev.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        write("qrels/test.tsv", "2\td9\t1\n")
        var r = try run(["tune", Paths.minilm, "--task", "retrieval", "--data", root])
        XCTAssertEqual(r.stderr, "tempscale: error: \(root)/qrels/test.tsv: line 1: unknown id 'd9'\n")
        write("qrels/test.tsv", "q1\td2\t1\n")
        r = try run(["tune", Paths.minilm, "--task", "retrieval", "--data", root])
        XCTAssertTrue(r.stderr.contains("judged in both dev and test"), r.stderr)
        write("qrels/test.tsv", "2\td2\tone\n")
        r = try run(["tune", Paths.minilm, "--task", "retrieval", "--data", root])
        XCTAssertTrue(r.stderr.contains("test.tsv: line 1: score 'one'"), r.stderr)
        XCTAssertEqual(r.status, 1)
    }
}

private func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for i in a.indices { ab += Double(a[i]) * Double(b[i]); aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i]) }
    return ab / (aa * bb).squareRoot()
}

extension JSONValue {
    /// Element `i` of an array value (nil out of range or for non-arrays), for reading reports in tests.
    subscript(i: Int) -> JSONValue? { arrayValue.flatMap { i < $0.count ? $0[i] : nil } }
}

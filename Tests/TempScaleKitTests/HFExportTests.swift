import Foundation
import XCTest
@testable import TempScaleKit

/// `tempscale patch … --format hf` end to end: the exported folder loads in transformers and
/// sentence-transformers with no missing/unexpected keys and no warnings, and computes what the
/// original computes with run-time TempScale (every attention softmax input divided by τ),
/// checked by scripts/check_hf_export.py. Python start-up dominates, so each group of exports
/// is checked by one python process (`--case` per export).
final class HFExportTests: XCTestCase {
    typealias Run = ToolRun

    static let python = Paths.package + "/.venv/bin/python"
    static let script = Paths.package + "/scripts/check_hf_export.py"
    static let fixtures = ["tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-mpnet", "tiny-t5", "tiny-bert-rkq"]
    /// Fixtures with sentence-transformers modules (and a tokenizer).
    static let sentenceTransformerFixtures: Set = ["tiny-bert", "tiny-mpnet"]
    static let taus = [0.8, 0.5]
    /// Re-patched exports: τ 0.8, then 0.5 on the export → τ_total 0.4.
    static let composed = ["tiny-bert", "tiny-mpnet", "tiny-t5", "tiny-bert-rkq"]

    static func run(_ executable: String, _ args: [String]) -> Run { runTool(executable, args) }

    static func tempscale(_ args: [String]) -> Run { run(CLITests.binary, args) }

    static func tauName(_ tau: Double) -> String { String(format: "t%02d", Int((tau * 10).rounded())) }

    /// One export: `tempscale patch SOURCE --temperature tau --format hf -o DIR/name`, then checked
    /// against `original` with run-time τ = `expect`.
    struct Job: Sendable {
        let name: String
        let source: String
        let tau: Double
        let st: Bool
        let original: String
        let expect: Double
    }

    /// The exports of one group, the python check of all of them, and its parsed report.
    struct Batch: Sendable {
        let dir: String
        /// export name → the `tempscale patch` run that wrote it
        let patches: [String: Run]
        let check: Run
        let report: JSONValue?
        let seconds: Double

        func reportCase(_ name: String) -> JSONValue? {
            report?["cases"]?.arrayValue?.first { $0["patched"]?.stringValue == dir + "/" + name }
        }
    }

    /// Patches every job (a relative source is an earlier export of the batch) and checks every
    /// export that was written with one python process.
    static func makeBatch(_ group: String, _ jobs: [Job]) -> Batch {
        let started = Date()
        let dir = NSTemporaryDirectory() + "tempscale-hfexport-\(group)-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var patches: [String: Run] = [:]
        var args = [script, "--json"]
        for j in jobs {
            let out = dir + "/" + j.name
            let source = j.source.hasPrefix("/") ? j.source : dir + "/" + j.source
            let r = tempscale(["patch", source, "--temperature", "\(j.tau)", "--format", "hf", "-o", out])
            patches[j.name] = r
            if r.status == 0 { args += ["--case", j.original, out, "\(j.expect)"] + (j.st ? ["st"] : []) }
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return Batch(dir: dir, patches: patches, check: Run(status: -1, stdout: "", stderr: "\(python) is missing"), report: nil,
                         seconds: Date().timeIntervalSince(started))
        }
        let check = run(python, args)
        return Batch(dir: dir, patches: patches, check: check, report: try? JSON.parse(check.stdout),
                     seconds: Date().timeIntervalSince(started))
    }

    static func name(_ fixture: String, _ tau: Double) -> String { "\(fixture)-\(tauName(tau))" }

    /// Every tiny fixture at τ 0.8 and 0.5, plus the re-patched (composed) exports.
    static let tiny: Batch = {
        var jobs: [Job] = []
        for f in fixtures {
            let src = Paths.fixture("models/" + f)
            for tau in taus {
                jobs.append(Job(name: name(f, tau), source: src, tau: tau, st: sentenceTransformerFixtures.contains(f), original: src, expect: tau))
            }
        }
        for f in composed {
            // the τ 0.8 export above, patched again with τ 0.5
            jobs.append(Job(name: name(f, 0.8) + "-t05", source: name(f, 0.8), tau: 0.5, st: sentenceTransformerFixtures.contains(f),
                            original: Paths.fixture("models/" + f), expect: 0.4))
        }
        return makeBatch("tiny", jobs)
    }()

    /// all-MiniLM-L6-v2 and all-mpnet-base-v2 at τ 0.8 and 0.5, with sentence-transformers.
    static let realModels = [Paths.minilm, Paths.mpnet]
    static let real: Batch = {
        makeBatch("real", realModels.flatMap { m in
            taus.map { Job(name: name(URL(fileURLWithPath: m).lastPathComponent, $0), source: m, tau: $0, st: true, original: m, expect: $0) }
        })
    }()

    /// The tiny families built from the real tokenizers' vocabularies (golden/tiny_families.py), with their
    /// sentence-transformers modules (CLS + Dense for XLM-R, Dense for sentence-T5): τ 0.5.
    static let familyModels = ["tiny-roberta-bpe", "tiny-xlmr", "tiny-t5", "tiny-st5", "tiny-mt5-gated", "tiny-umt5",
                               "tiny-modernbert", "tiny-modernbert-bias", "tiny-qwen3", "tiny-qwen3-lm"]
    static let families: Batch = {
        makeBatch("families", familyModels.map { f in
            let src = Paths.cache + "/tiny/" + f
            return Job(name: name(f, 0.5), source: src, tau: 0.5, st: true, original: src, expect: 0.5)
        })
    }()

    override class func tearDown() {
        // The batches are built at most once per process; remove their exports.
        for dir in [tinyDir, realDir, familiesDir].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: dir) }
        super.tearDown()
    }

    nonisolated(unsafe) static var tinyDir: String?
    nonisolated(unsafe) static var realDir: String?
    nonisolated(unsafe) static var familiesDir: String?

    /// Asserts that every named export was written and that the python check passed it; returns
    /// the report's cases (and prints their max differences).
    @discardableResult
    func assertBatch(_ batch: Batch, names: [String], file: StaticString = #filePath, line: UInt = #line) -> [JSONValue] {
        for n in names {
            guard let r = batch.patches[n] else { XCTFail("no export \(n)", file: file, line: line); continue }
            XCTAssertEqual(r.status, 0, "tempscale patch for \(n) failed: \(r.stderr)", file: file, line: line)
        }
        guard let report = batch.report else {
            XCTFail("check_hf_export.py gave no JSON report (exit \(batch.check.status)):\n\(batch.check.stderr.suffix(4000))",
                    file: file, line: line)
            return []
        }
        var cases: [JSONValue] = []
        for n in names where batch.patches[n]?.status == 0 {
            guard let c = batch.reportCase(n) else {
                XCTFail("no check of \(n) in the report", file: file, line: line)
                continue
            }
            cases.append(c)
            let pass = c["pass"]?.boolValue ?? false
            XCTAssertTrue(pass, "\(n): \(c["reason"]?.stringValue ?? "?")", file: file, line: line)
            if pass {
                var summary = "\(n) τ=\(fmt(c["tau"], "%g")): max|Δ| \(fmt(c["max_abs"])) (τ effect \(fmt(c["effect_of_tau"])))"
                if c["f64_max_abs"] != nil { summary += ", f64 \(fmt(c["f64_max_abs"]))" }
                if c["st_max_abs"] != nil { summary += ", sentence-transformers \(fmt(c["st_max_abs"]))" }
                if let note = c["note"]?.stringValue { summary += "\n    \(note)" }
                print(summary)
            }
        }
        print("python check: exit \(batch.check.status), \(report["cases"]?.arrayValue?.count ?? 0) cases, whole batch \(String(format: "%.1f", batch.seconds)) s")
        return cases
    }

    func fmt(_ v: JSONValue?, _ format: String = "%.2e") -> String { v?.doubleValue.map { String(format: format, $0) } ?? "?" }

    func requirePython() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw XCTSkip("\(Self.python) is missing (the checks need torch, transformers and sentence-transformers)")
        }
    }

    // MARK: - tiny fixtures

    func testEveryTinyFixtureExportMatchesRunTimeTempScale() throws {
        try requirePython()
        let batch = Self.tiny
        Self.tinyDir = batch.dir
        let names = Self.fixtures.flatMap { f in Self.taus.map { Self.name(f, $0) } }
        let cases = assertBatch(batch, names: names)
        for c in cases where c["pass"]?.boolValue == true {
            let label = c["label"]?.stringValue ?? ""
            XCTAssertEqual(c["provenance"]?["history_steps"]?.intValue, 1, label)
            if c["model_type"]?.stringValue == "bert", label.hasPrefix("tiny-bert-rkq") {
                XCTAssertTrue(c["note"]?.stringValue?.contains("cannot run position_embedding_type relative_key_query") ?? false, label)
                // transformers drops distance_embedding: the reason it cannot run the model
                XCTAssertEqual(c["transformers_load_unexpected_keys"]?.arrayValue?.count, 2, label)
            } else {
                XCTAssertEqual(c["layers"]?.intValue, c["inputs"]?.arrayValue?.first?["softmax_calls"]?.intValue, label)
            }
        }
        // What the exports contain besides the weights.
        for f in Self.fixtures {
            let out = batch.dir + "/\(f)-t08"
            let files = (try? FileManager.default.contentsOfDirectory(atPath: out))?.sorted() ?? []
            XCTAssertTrue(files.contains("model.safetensors") && files.contains("config.json"), "\(f): \(files)")
            XCTAssertFalse(files.contains("pytorch_model.bin"), "\(f): the export holds safetensors only: \(files)")
            if Self.sentenceTransformerFixtures.contains(f) {
                for name in ["modules.json", "sentence_bert_config.json", "tokenizer.json", "vocab.txt", "1_Pooling"] {
                    XCTAssertTrue(files.contains(name), "\(f): \(name) missing from \(files)")
                }
            }
        }
    }

    /// RoBERTa with byte-level BPE, XLM-R with CLS pooling and Dense, T5, sentence-T5 (Dense), mT5 (gated GELU) and
    /// UMT5 (a bias per block) exports load in transformers (their encoder classes) and in sentence-transformers
    /// with every module, and compute what the originals compute with run-time τ.
    func testEveryFamilyExportRunsInTransformersAndSentenceTransformers() throws {
        try requirePython()
        for f in Self.familyModels where !FileManager.default.fileExists(atPath: Paths.cache + "/tiny/\(f)/config.json") {
            return XCTFail("\(Paths.cache)/tiny/\(f) is missing; run `make test` (it builds the tiny families)")
        }
        let batch = Self.families
        Self.familiesDir = batch.dir
        let cases = assertBatch(batch, names: Self.familyModels.map { Self.name($0, 0.5) })
        XCTAssertEqual(cases.count, Self.familyModels.count)
        for c in cases {
            let label = c["label"]?.stringValue ?? ""
            XCTAssertEqual(c["layers"]?.intValue, c["inputs"]?.arrayValue?.first?["softmax_calls"]?.intValue, label)
            XCTAssertNotNil(c["st_max_abs"]?.doubleValue, "\(label): checked in sentence-transformers")
        }
        for f in ["tiny-xlmr", "tiny-st5"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: batch.dir + "/\(Self.name(f, 0.5))/2_Dense/model.safetensors"), "\(f): Dense weights exported")
        }
    }

    func testPatchingAPatchedExportComposesTau() throws {
        try requirePython()
        let batch = Self.tiny
        Self.tinyDir = batch.dir
        for f in Self.composed {
            let label = Self.name(f, 0.8) + "-t05"
            guard let r = batch.patches[label] else { XCTFail("no patch run for \(label)"); continue }
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("already patched") && r.stderr.contains("0.4"), "\(label) says τ composes: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("τ_total = 0.4"), r.stdout)
            let config = try JSON.parse(readBytes(batch.dir + "/\(f)-t08-t05/config.json"))
            XCTAssertEqual(config["tempscale"]?["temperature"]?["tau"]?.doubleValue, 0.4, label)
            XCTAssertEqual(config["tempscale"]?["temperature"]?["history"]?.arrayValue?.compactMap { $0["tau"]?.doubleValue }, [0.8, 0.5], label)
        }
        let cases = assertBatch(batch, names: Self.composed.map { Self.name($0, 0.8) + "-t05" })
        for c in cases where c["pass"]?.boolValue == true {
            XCTAssertEqual(c["provenance"]?["history_taus"]?.arrayValue?.compactMap(\.doubleValue), [0.8, 0.5])
        }
    }

    // MARK: - real models

    func testRealModelExportsMatchRunTimeTempScaleInSentenceTransformers() throws {
        try requirePython()
        for m in Self.realModels where !FileManager.default.fileExists(atPath: m + "/model.safetensors") {
            XCTFail("\(m) is missing; run `make test`, which fetches the real models")
            return
        }
        let batch = Self.real
        Self.realDir = batch.dir
        let names = Self.realModels.flatMap { m in Self.taus.map { Self.name(URL(fileURLWithPath: m).lastPathComponent, $0) } }
        let cases = assertBatch(batch, names: names)
        for c in cases where c["pass"]?.boolValue == true {
            XCTAssertNotNil(c["st_max_abs"]?.doubleValue, "sentence-transformers was compared")
        }
    }

    // MARK: - refusals and existing outputs (no python)

    func testALayerSubsetOfASharedPositionBiasIsRefusedAndWritesNothing() throws {
        let cases: [(String, String)] = [
            ("tiny-mpnet", "relative-attention bias is one table shared by every layer"),
            ("tiny-t5", "relative-attention bias lives in block 0"),
        ]
        for (fixture, why) in cases {
            let dir = TempDir()
            let r = Self.tempscale(["patch", Paths.fixture("models/" + fixture), "--temperature", "0.8", "--format", "hf",
                                    "--layers", "0", "-o", dir.file("out")])
            XCTAssertNotEqual(r.status, 0, fixture)
            XCTAssertTrue(r.stderr.hasPrefix("tempscale: error: "), r.stderr)
            XCTAssertTrue(r.stderr.contains(why), "\(fixture): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "one line: \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
            XCTAssertEqual(dir.listing, [], "nothing written, no temporary folder left")
        }
    }

    func testAnExistingOutputFolderIsKeptWithoutForceAndReplacedWithIt() throws {
        let dir = TempDir()
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        _ = dir.write("out/keep.txt", "keep me")
        let args = ["patch", Paths.fixture("models/tiny-bert"), "--temperature", "0.8", "--format", "hf", "-o", out]
        let r = Self.tempscale(args)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "tempscale: error: \(out): output exists; pass --force to replace it\n")
        XCTAssertEqual(dir.listing, ["out"], "no temporary folder left beside it")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [], ["keep.txt"])
        XCTAssertEqual(String(decoding: readBytes(dir.file("out/keep.txt")), as: UTF8.self), "keep me")

        let f = Self.tempscale(args + ["--force"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertEqual(dir.listing, ["out"], "the old folder and the temporary one are gone")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted()
        XCTAssertFalse(files.contains("keep.txt"), "replaced, not merged: \(files)")
        XCTAssertTrue(files.contains("model.safetensors") && files.contains("config.json") && files.contains("tokenizer.json"), "\(files)")
        let config = try JSON.parse(readBytes(out + "/config.json"))
        XCTAssertEqual(config["tempscale"]?["temperature"]?["tau"]?.doubleValue, 0.8)
    }

    /// `tempscale patch --help` shows `--format hf -o minilm-t08/`: a trailing slash names the same
    /// folder, new or (with --force) replaced.
    func testAnOutputFolderWithATrailingSlashIsWrittenAndReplaced() throws {
        let dir = TempDir()
        let args = ["patch", Paths.fixture("models/tiny-bert"), "--temperature", "0.8", "--format", "hf", "-o", dir.file("out") + "/"]
        let r = Self.tempscale(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(dir.listing, ["out"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("out/model.safetensors")))
        let f = Self.tempscale(args + ["--force"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertEqual(dir.listing, ["out"], "nothing left beside the folder")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("out/model.safetensors")))
    }
}

/// `export --temperatures`: one export per τ in a folder, with a manifest; nothing left behind on failure.
final class TemperatureGridTests: XCTestCase {
    func testOneHFExportPerTemperatureEmbedsLikeRunTimeTau() throws {
        let dir = TempDir()
        // The real MiniLM: tiny random models barely react to τ.
        let src = Paths.minilm, out = dir.file("grid")
        let r = try runCLI(["export", src, "--to", "hf", "--temperatures", "0.5,1", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 exports"), r.stdout)
        let manifest = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/temperatures.json"))))
        let exports = manifest.objectValue?["exports"]?.arrayValue ?? []
        XCTAssertEqual(exports.count, 2)
        let names = exports.compactMap { $0.objectValue?["path"]?.stringValue }
        XCTAssertEqual(names, ["all-MiniLM-L6-v2-t0.5", "all-MiniLM-L6-v2-t1.0"])
        let original = try ModelLoader.open(src)
        let tokenizer = try Tokenizer.load(from: original)
        let ids = ["a longer sentence about the weather in the mountains today", "short"].map { tokenizer.encode($0, maxLength: 64).ids }
        let base = try Encoder(model: original)
        for (name, tau) in zip(names, [0.5, 1.0]) {
            let m = try ModelLoader.open(out + "/" + name)
            XCTAssertEqual(m.temperature.total, tau, accuracy: 1e-12, name)
            let got = try Encoder(model: m).embed(ids: ids), want = base.embed(ids: ids, temperature: Float(tau))
            for (a, b) in zip(got, want) { XCTAssertGreaterThan(Verifier.cosine(a, b), 0.999999, name) }
        }
        // τ changes the output here (so the check above could fail).
        let half = base.embed(ids: ids, temperature: 0.5), one = base.embed(ids: ids, temperature: 1)
        XCTAssertLessThan(Verifier.cosine(half[0], one[0]), 0.999)
    }

    func testBadInputLeavesNothing() throws {
        let dir = TempDir()
        let src = Paths.fixture("models/tiny-bert"), out = dir.file("grid")
        let bad = try runCLI(["export", src, "--to", "onnx", "--temperatures", "0.8,0", "-o", out])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("'0' is not a temperature"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let native = try runCLI(["export", src, "--to", "native", "--temperatures", "0.8", "-o", out])
        XCTAssertNotEqual(native.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let ok = try runCLI(["export", src, "--to", "onnx", "--temperatures", "0.8", "-o", out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/tiny-bert-t0.8.onnx"))
        let again = try runCLI(["export", src, "--to", "onnx", "--temperatures", "0.8", "-o", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("output exists"), again.stderr)
        // Nothing of the failed attempts is left beside the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["grid"])
    }
}

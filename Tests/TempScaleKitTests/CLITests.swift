import Foundation
import XCTest
@testable import TempScaleKit

/// The `tempscale` binary end to end: output, exit codes, one-line errors, no partial files.
final class CLITests: XCTestCase {
    typealias Run = CLIRun

    static var binary: String {
        // The test bundle sits beside the products of the same build (.build/<triple>/<config>/).
        let bundle = Bundle(for: CLITests.self).bundleURL
        let candidates = [bundle.appendingPathComponent("tempscale"), bundle.deletingLastPathComponent().appendingPathComponent("tempscale")]
        return (candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]).path
    }

    func run(_ args: [String], stdin: String? = nil) throws -> Run { try runCLI(args, stdin: stdin) }

    func testInspectDescribesAModel() throws {
        let r = try run(["inspect", Paths.fixture("models/tiny-bert")])
        XCTAssertEqual(r.status, 0, r.stderr)
        for s in ["bert (model_type bert)", "hidden 32, layers 2, heads 4 × 8", "mean, normalized", "48 tokens", "WordPiece", "τ = 1 (not patched)"] {
            XCTAssertTrue(r.stdout.contains(s), "missing '\(s)' in:\n\(r.stdout)")
        }
        let t = try run(["inspect", Paths.fixture("models/tiny-bert"), "--tensors"])
        XCTAssertTrue(t.stdout.contains("encoder.layer.1.output.LayerNorm.bias"))
    }

    func testInspectJSONIsParseableAndComplete() throws {
        let r = try run(["inspect", Paths.fixture("models/tiny-mpnet/pytorch_model.bin"), "--json", "--tensors"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout)
        XCTAssertEqual(j["architecture"]?.stringValue, "mpnet")
        XCTAssertEqual(j["format"]?.stringValue, "pytorch zip (.bin)")
        XCTAssertEqual(j["tensors"]?.arrayValue?.count, j["tensor_count"]?.intValue)
        XCTAssertNotNil(j["parameters"]?.intValue)
    }

    func testConvertThenInspectTheNativeFile() throws {
        let dir = TempDir()
        let c = try run(["convert", Paths.fixture("models/tiny-bert"), "-o", dir.file("m.tsm"), "--dtype", "q8"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("wrote"))
        XCTAssertEqual(c.stderr, "", "no progress bar when stderr is not a terminal")
        let i = try run(["inspect", dir.file("m.tsm")])
        XCTAssertTrue(i.stdout.contains("tempscale native (from safetensors)"), i.stdout)
        XCTAssertTrue(i.stdout.contains("q8"), i.stdout)
    }

    func testExistingOutputIsAOneLineErrorAndStaysUntouched() throws {
        let dir = TempDir()
        let existing = dir.write("m.tsm", "keep me")
        let r = try run(["convert", Paths.fixture("models/tiny-bert"), "-o", existing])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "tempscale: error: \(existing): output exists; pass --force to replace it\n")
        XCTAssertEqual(String(decoding: readBytes(existing), as: UTF8.self), "keep me")
    }

    func testMaliciousInputNamesTheGlobalAndWritesNothing() throws {
        let dir = TempDir()
        // A torch archive whose pickle calls posix.system, beside a valid config.
        _ = dir.write("config.json", readBytes(Paths.fixture("models/tiny-bert/config.json")))
        _ = dir.write("pytorch_model.bin", readBytes(Paths.fixture("archives/evil_system.bin")))
        let r = try run(["convert", dir.path, "-o", dir.file("out.tsm")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("tempscale: error: \(dir.file("pytorch_model.bin")): pickle: global 'posix.system' is not allowed"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "one line")
        XCTAssertEqual(dir.listing, ["config.json", "pytorch_model.bin"])
    }

    func testEmbedReadsLinesOrJSONLAndReportsTruncation() throws {
        let tiny = Paths.fixture("models/tiny-bert")
        let r = try run(["embed", tiny], stdin: "hello dogs\n\n" + String(repeating: "word ", count: 100) + "\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let first = try JSON.parse(String(lines[0]))
        XCTAssertEqual(first["embedding"]?.arrayValue?.count, 32)
        XCTAssertEqual(r.stderr, "tempscale: 1 of 3 texts were longer than 48 tokens and were truncated\n")
        let j = try run(["embed", tiny], stdin: "{\"text\": \"hello dogs\"}\n")
        let viaJSONL = try JSON.parse(String(j.stdout.split(separator: "\n")[0]))["embedding"]!.arrayValue!.map { $0.doubleValue! }
        let viaLine = first["embedding"]!.arrayValue!.map { $0.doubleValue! }
        // Equal up to float summation order (batches pad differently).
        XCTAssertLessThan(zip(viaJSONL, viaLine).map { abs($0 - $1) }.max()!, 1e-5, "JSONL text embeds like the same line")
        let dir = TempDir()
        let n = try run(["embed", tiny, "--input", dir.write("in.txt", "a\nb\n"), "--output", dir.file("e.npy"), "--format", "npy"])
        XCTAssertEqual(n.status, 0, n.stderr)
        let npy = readBytes(dir.file("e.npy"))
        XCTAssertEqual(Array(npy.prefix(6)), [0x93] + Array("NUMPY".utf8))
        XCTAssertTrue(String(decoding: npy.prefix(128), as: UTF8.self).contains("'shape': (2, 32)"))
        XCTAssertEqual(npy.count, 128 + 2 * 32 * 4)
        XCTAssertEqual(dir.listing, ["e.npy", "in.txt"])
    }

    func testEmbedRefusesBadTemperatures() throws {
        for t in ["0", "-1", "nan", "inf"] {
            let r = try run(["embed", Paths.fixture("models/tiny-bert"), "--temperature", t], stdin: "x\n")
            XCTAssertNotEqual(r.status, 0, t)
            XCTAssertTrue(r.stderr.contains("temperature"), r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
    }

    func testTokenizeShowsIdsTokensAndTruncation() throws {
        let r = try run(["tokenize", Paths.fixture("models/tiny-bert"), "--json"], stdin: "Hello dogs!\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout)
        XCTAssertEqual(j["ids"]?.arrayValue?.compactMap(\.intValue), [2, 54, 57, 75, 72, 3])
        XCTAssertEqual(j["truncated"]?.boolValue, false)
        let t = try run(["tokenize", Paths.fixture("models/tiny-bert"), "--max-length", "4"], stdin: "Hello dogs!\n")
        XCTAssertTrue(t.stdout.contains("[truncated: 6 → 4 tokens]"), t.stdout)
    }

    func testVerifyPassesOnTheGoldenAndFailsOnAnotherModel() throws {
        let ok = try run(["verify", Paths.fixture("models/tiny-bert"), "--golden", Paths.package + "/golden/tiny-bert.json.gz"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.hasSuffix("PASS\n"), ok.stdout)
        let bad = try run(["verify", Paths.fixture("models/tiny-mpnet"), "--golden", Paths.package + "/golden/tiny-bert.json.gz", "--json"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(try JSON.parse(bad.stdout)["pass"]?.boolValue, false)
        let missing = try run(["verify", Paths.fixture("models/tiny-bert"), "--golden", Paths.package + "/golden/tiny-bert.json.gz",
                               "--temperature", "0.7"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no τ = 0.7"), missing.stderr)
    }

    func testHelpShowsExamplesAndBadOptionsAreRejected() throws {
        let h = try run(["convert", "--help"])
        XCTAssertTrue(h.stdout.contains("Examples:"), h.stdout)
        XCTAssertTrue(h.stdout.contains("--dtype"), h.stdout)
        let bad = try run(["convert", Paths.fixture("models/tiny-bert"), "-o", "/tmp/x.tsm", "--dtype", "f8"])
        XCTAssertNotEqual(bad.status, 0)
        let missing = try run(["inspect", "/no/such/model"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "tempscale: error: /no/such/model: no such file or directory\n")
    }
}

/// specs/ holds an independent stdlib-Python writer and reader of the native format, written from
/// the spec alone. Our reader must accept the writer's file; their reader must accept ours.
final class SpecConformanceTests: XCTestCase {
    func python(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    func testOurReaderAcceptsTheSpecExampleWrittenIndependently() throws {
        let m = try ModelLoader.open(Paths.package + "/specs/example.tsm")
        XCTAssertEqual(m.family, "bert")
        XCTAssertEqual(m.tensors.count, 21)
        XCTAssertEqual(m.sentenceTransformers.pooling, .mean)
    }

    func testTheSpecReaderAcceptsEveryDTypeWeWrite() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        _ = try NativeFormat.write(model, to: dir.file("f32.tsm"))
        for dtype in [DType.f32, .f16, .bf16, .q8] {
            let f = dir.file("\(dtype.name)-x.tsm")
            _ = try NativeFormat.write(model, to: f, options: .init(dtype: dtype))
            let (status, out) = try python([Paths.package + "/specs/read_example.py", f, "--compare", dir.file("f32.tsm")])
            XCTAssertEqual(status, 0, "\(dtype.name): \(out.suffix(2000))")
            XCTAssertTrue(out.contains("0 problem(s)"), "\(dtype.name): \(out.suffix(500))")
        }
    }
}

struct CLIRun { let status: Int32; let stdout: String; let stderr: String }

/// Runs the built `tempscale` binary and collects its exit status and output.
func runCLI(_ args: [String], stdin: String? = nil) throws -> CLIRun {
    let p = Process()
    if let stdin {
        let inPipe = Pipe()
        p.standardInput = inPipe
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        inPipe.fileHandleForWriting.closeFile()
    }
    p.executableURL = URL(fileURLWithPath: CLITests.binary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CLIRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}


/// A sentence-transformers module tempscale does not run (here a Dense layer after pooling) is refused by name
/// for embedding and for writing, instead of being silently dropped.
final class ModuleRefusalTests: XCTestCase {
    func testAnUnknownModuleIsRefusedByNameAndNothingIsWritten() throws {
        let dir = try TempDir()
        let model = dir.file("m")
        try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-bert"), toPath: model)
        let modules = #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, "#
            + #"{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, "#
            + #"{"idx": 2, "name": "2", "path": "2_LayerNorm", "type": "sentence_transformers.models.LayerNorm"}]"#
        try Data(modules.utf8).write(to: URL(fileURLWithPath: model + "/modules.json"))
        let embed = try runCLI(["embed", model], stdin: "hello\n")
        XCTAssertEqual(embed.status, 1)
        XCTAssertEqual(embed.stdout, "")
        XCTAssertTrue(embed.stderr.hasPrefix("tempscale: error: \(model)/modules.json: modules.json names sentence_transformers.models.LayerNorm (2_LayerNorm)"), embed.stderr)
        XCTAssertEqual(embed.stderr.filter { $0 == "\n" }.count, 1)
        for format in ["native", "hf"] {
            let out = dir.file("out-\(format)")
            let patch = try runCLI(["patch", model, "--temperature", "0.8", "--format", format, "-o", out])
            XCTAssertEqual(patch.status, 1, format)
            XCTAssertTrue(patch.stderr.contains("sentence_transformers.models.LayerNorm"), patch.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), format)
        }
        // inspect still describes it.
        XCTAssertEqual(try runCLI(["inspect", model]).status, 0)
    }
}

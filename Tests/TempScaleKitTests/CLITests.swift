import Foundation
import XCTest
@testable import TempScaleKit

/// The `tempscale` binary end to end: output, exit codes, one-line errors, no partial files.
final class CLITests: XCTestCase {
    struct Run { let status: Int32; let stdout: String; let stderr: String }

    static var binary: String {
        // The test bundle sits beside the products of the same build (.build/<triple>/<config>/).
        let bundle = Bundle(for: CLITests.self).bundleURL
        let candidates = [bundle.appendingPathComponent("tempscale"), bundle.deletingLastPathComponent().appendingPathComponent("tempscale")]
        return (candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]).path
    }

    func run(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

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

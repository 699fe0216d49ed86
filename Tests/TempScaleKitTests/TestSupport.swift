import Foundation
import XCTest
@testable import TempScaleKit

/// Paths of the package, its fixtures and the cached real model.
enum Paths {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let fixtures = package + "/Tests/Fixtures"
    static func fixture(_ rel: String) -> String { fixtures + "/" + rel }
    static let cache = package + "/.cache"
    static let minilm = cache + "/models/all-MiniLM-L6-v2"
    static let mpnet = cache + "/models/all-mpnet-base-v2"
    static let realExpected = cache + "/real/minilm-expected.json"
    static let minilmBin = cache + "/real/minilm-bin"
}

/// A fresh temporary folder per test, removed afterwards.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tempscale-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }
    /// Names in the folder (to prove no partial output was left).
    var listing: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] }
}

/// Per-tensor values PyTorch reported (Tests/Fixtures/expected.json layout).
struct ExpectedTensor {
    let dtype: String
    let shape: [Int]
    let sha256F32: String?
    let sha256Raw: String?
    let sum: Double
}

func loadExpected(_ path: String, key: String) throws -> [(String, ExpectedTensor)] {
    let json = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    guard let entries = json[key]?.objectValue else { throw NSError(domain: "tempscale", code: 1, userInfo: [NSLocalizedDescriptionKey: "no key \(key) in \(path)"]) }
    return entries.pairs.map { name, e in
        (name, ExpectedTensor(dtype: e["dtype"]!.stringValue!, shape: e["shape"]!.arrayValue!.map { $0.intValue! },
                              sha256F32: e["sha256_f32"]?.stringValue, sha256Raw: e["sha256_raw"]?.stringValue,
                              sum: e["sum"]!.doubleValue!))
    }
}

/// sha256 of the tensor's values as little-endian f32 (floats) or of its raw bytes (integers).
func digest(_ t: Tensor) -> String {
    if t.dtype.isFloatingPoint {
        return t.toFloat32().withUnsafeBytes { SHA256.hex($0) }
    }
    return SHA256.hex(t.bytes)
}

/// Asserts that `tensors` match PyTorch's report exactly: names, dtypes, shapes, value digests.
func assertMatchesExpected(_ tensors: [Tensor], _ expected: [(String, ExpectedTensor)], file: StaticString = #filePath,
                           line: UInt = #line) {
    XCTAssertEqual(Set(tensors.map(\.name)), Set(expected.map(\.0)), "tensor names", file: file, line: line)
    let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    for (name, e) in expected {
        guard let t = byName[name] else { continue }
        XCTAssertEqual(t.dtype.rawValue, e.dtype, name, file: file, line: line)
        XCTAssertEqual(t.shape, e.shape, name, file: file, line: line)
        XCTAssertEqual(digest(t), e.sha256F32 ?? e.sha256Raw, "values of \(name)", file: file, line: line)
    }
}

/// Runs `body` expecting a FileError whose reason equals `expected`.
func assertReason<R: ReasonError & Equatable>(_ expected: R, file: StaticString = #filePath, line: UInt = #line,
                                              _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(expected), got success", file: file, line: line)
    } catch {
        guard let r = error.underlyingReason as? R else {
            XCTFail("expected \(expected), got \(error)", file: file, line: line)
            return
        }
        XCTAssertEqual(r, expected, file: file, line: line)
    }
}

/// Runs `body` expecting a FileError whose reason is of type R and passes `matches`.
func assertReason<R: ReasonError>(_ type: R.Type, file: StaticString = #filePath, line: UInt = #line,
                                  matches: (R) -> Bool = { _ in true }, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a \(R.self), got success", file: file, line: line)
    } catch {
        guard let r = error.underlyingReason as? R else {
            XCTFail("expected a \(R.self), got \(error)", file: file, line: line)
            return
        }
        XCTAssertTrue(matches(r), "unexpected reason: \(r)", file: file, line: line)
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

func readBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

/// A child process's exit status and output.
struct ToolRun: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
    var both: String { stdout + stderr }
}

/// Runs a tool (the reference venv's python, our binary) offline; stderr goes to a file, so a chatty child never
/// blocks on a full pipe.
func runTool(_ executable: String, _ args: [String]) -> ToolRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    p.environment = env
    let errPath = NSTemporaryDirectory() + "tempscale-tool-stderr-" + UUID().uuidString
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    guard let errFile = FileHandle(forWritingAtPath: errPath) else { return ToolRun(status: -1, stdout: "", stderr: "cannot create \(errPath)") }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = errFile
    do { try p.run() } catch { return ToolRun(status: -1, stdout: "", stderr: "cannot run \(executable): \(error)") }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    try? errFile.close()
    return ToolRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: readBytes(errPath), as: UTF8.self))
}

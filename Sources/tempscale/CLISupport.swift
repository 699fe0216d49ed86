import ArgumentParser
import TempScaleKit
#if canImport(Glibc)
import Glibc
#endif

/// One-line errors: `tempscale: error: FILE: reason`, exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as FileError {
        printError(e.description)
        throw ExitCode(1)
    } catch let e as any ReasonError {
        printError(e.description)
        throw ExitCode(1)
    }
}

func printError(_ message: String) { writeStderr("tempscale: error: \(message)\n") }
func printWarning(_ message: String) { writeStderr("tempscale: warning: \(message)\n") }

func writeStderr(_ s: String) {
    var s = s
    s.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
}

/// A progress bar on stderr, drawn only when stderr is a terminal (and, for counts, only for long jobs).
final class ProgressBar: @unchecked Sendable {
    let label: String
    let unit: String
    let minimum: Int
    let enabled: Bool
    private var lastDrawn = -1
    private let lock = Lock()

    init(_ label: String, unit: String = "bytes", minimum: Int = 0) {
        self.label = label
        self.unit = unit
        self.minimum = minimum
        enabled = isatty(2) != 0
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0, total >= minimum else { return }
        lock.withLock {
            let pct = Int(Double(done) / Double(total) * 100)
            guard pct != lastDrawn else { return }
            lastDrawn = pct
            let width = 30, filled = width * pct / 100
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let amount = unit == "bytes" ? "\(formatBytes(done))/\(formatBytes(total))" : "\(done)/\(total) \(unit)"
            writeStderr("\r\(label) [\(bar)] \(pct)% \(amount)")
            if done >= total { writeStderr("\n") }
        }
    }
}

/// Texts from a file or stdin ("-").
func readTexts(_ path: String) throws -> [String] {
    let bytes: [UInt8]
    if path == "-" {
        var all: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            all += buf[0..<n]
        }
        bytes = all
    } else {
        let f = try MappedFile(path: path)
        bytes = Array(f.all)
    }
    do { return try TextInput.parse(bytes) } catch { throw FileError(path == "-" ? "stdin" : path, error) }
}

/// Bytes to a file (temp file + rename) or to stdout.
func writeOutput(_ bytes: [UInt8], to path: String?, inputs: [String]) throws {
    guard let path else {
        bytes.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(1, b.baseAddress! + off, b.count - off)
                if n <= 0 { break }
                off += n
            }
        }
        return
    }
    let w = try AtomicFileWriter(destination: path, force: true, inputs: inputs.filter { $0 != "-" })
    try w.write(bytes)
    try w.commit()
}

extension DType: ExpressibleByArgument {
    public init?(argument: String) {
        guard let d = DType(rawValue: argument.uppercased()), [.f32, .f16, .bf16, .q8].contains(d) else { return nil }
        self = d
    }
    public static var allValueStrings: [String] { ["f32", "f16", "bf16", "q8"] }
}

/// "1,0.9,0.8" → [1, 0.9, 0.8]; every value a finite number > 0, no duplicates.
func parseTemperatures(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingSpaces)
    var out: [Double] = []
    for p in parts {
        guard let v = Double(p), v.isFinite, v > 0 else {
            throw ValidationError("\(option): '\(p)' is not a temperature (a finite number > 0)")
        }
        guard !out.contains(v) else { throw ValidationError("\(option): \(p) is listed twice") }
        out.append(v)
    }
    return out
}

/// "0,16,32" → [0, 16, 32].
func parseIntegers(_ text: String, option: String) throws -> [Int] {
    try text.split(separator: ",", omittingEmptySubsequences: false).map { p in
        guard let v = Int(p.trimmingSpaces) else { throw ValidationError("\(option): '\(p)' is not an integer") }
        return v
    }
}

/// Writes a report as text or JSON to stdout, and the JSON to `jsonFile` when given.
func printReport(text: String, json: JSONValue, asJSON: Bool, jsonFile: String?, inputs: [String]) throws {
    if let jsonFile { try writeOutput(Array((json.serialized(pretty: true) + "\n").utf8), to: jsonFile, inputs: inputs) }
    print(asJSON ? json.serialized(pretty: true) : text, terminator: asJSON ? "\n" : "")
}

/// Refuses a --plot name the chart writer cannot honour before any work is done.
func checkPlotPath(_ path: String?) throws {
    guard let path else { return }
    let lower = path.lowercased()
    guard lower.hasSuffix(".svg") || lower.hasSuffix(".png") else {
        throw ValidationError("--plot \(path): the plot is written as .svg or .png; name the file with one of those extensions")
    }
}

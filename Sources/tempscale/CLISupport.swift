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

/// A progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar {
    let label: String
    let enabled: Bool
    private var lastDrawn = -1

    init(_ label: String) {
        self.label = label
        enabled = isatty(2) != 0
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let pct = Int(Double(done) / Double(total) * 100)
        guard pct != lastDrawn else { return }
        lastDrawn = pct
        let width = 30, filled = width * pct / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        writeStderr("\r\(label) [\(bar)] \(pct)% \(formatBytes(done))/\(formatBytes(total))")
        if done >= total { writeStderr("\n") }
    }
}

extension DType: ExpressibleByArgument {
    public init?(argument: String) {
        guard let d = DType(rawValue: argument.uppercased()), [.f32, .f16, .bf16, .q8].contains(d) else { return nil }
        self = d
    }
    public static var allValueStrings: [String] { ["f32", "f16", "bf16", "q8"] }
}

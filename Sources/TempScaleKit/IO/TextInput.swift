/// Texts to embed: one per line, or JSON Lines with a "text" field (detected per line: a line that
/// parses as a JSON object with a string "text" is JSONL). Blank lines are texts too (the empty
/// string embeds like any other), except a single trailing newline at the end of the file.
public enum TextInput {
    public enum Error: ReasonError, Equatable {
        case notUTF8(line: Int)
        case jsonWithoutText(line: Int)
        public var description: String {
            switch self {
            case .notUTF8(let l): return "line \(l) is not valid UTF-8"
            case .jsonWithoutText(let l): return "line \(l) is a JSON object without a string \"text\" field"
            }
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(Error) -> [String] {
        var texts: [String] = []
        for (n, line) in try lines(bytes).enumerated() {
            if line.first == "{", let json = try? JSON.parse(line), case .object(let o) = json {
                guard let text = o["text"]?.stringValue else { throw .jsonWithoutText(line: n + 1) }
                texts.append(text)
            } else {
                texts.append(line)
            }
        }
        return texts
    }

    /// The lines of a UTF-8 file: split at \n, a trailing \r dropped, no entry for a final newline.
    public static func lines(_ bytes: [UInt8]) throws(Error) -> [String] {
        var raw = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if raw.last?.isEmpty == true { raw.removeLast() }
        var out: [String] = []
        out.reserveCapacity(raw.count)
        for (n, r) in raw.enumerated() {
            var line = r
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let s = String(validating: line, as: UTF8.self) else { throw .notUTF8(line: n + 1) }
            out.append(s)
        }
        return out
    }
}

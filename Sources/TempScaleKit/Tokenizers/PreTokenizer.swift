/// tokenizer.json `pre_tokenizer`: splits normalized text into words (ranges of scalars).
indirect enum PreTokenizer: Sendable, Equatable {
    /// Split on whitespace (dropped) and isolate every punctuation character.
    case bert
    /// Split on whitespace only.
    case whitespaceSplit
    case sequence([PreTokenizer])

    static let supported = ["BertPreTokenizer", "WhitespaceSplit", "Sequence"]

    init(json: JSONValue, path: String = "pre_tokenizer") throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("\(path).type", "is missing") }
        switch type {
        case "BertPreTokenizer": self = .bert
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Sequence":
            guard let items = json["pretokenizers"]?.arrayValue else { throw .badField("\(path).pretokenizers", "is not a list") }
            var parts: [PreTokenizer] = []
            for (i, item) in items.enumerated() { parts.append(try PreTokenizer(json: item, path: "\(path).pretokenizers[\(i)]")) }
            self = .sequence(parts)
        default:
            throw .unsupported(component: path, type: type, supported: PreTokenizer.supported)
        }
    }

    /// Appends the non-empty words of `text[range]` to `words`.
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into words: inout [Range<Int>]) {
        switch self {
        case .bert: Self.splitWords(text, range, isolatingPunctuation: true, into: &words)
        case .whitespaceSplit: Self.splitWords(text, range, isolatingPunctuation: false, into: &words)
        case .sequence(let parts):
            var current = [range]
            for part in parts {
                var next: [Range<Int>] = []
                for r in current { part.split(text, r, into: &next) }
                current = next
            }
            words.append(contentsOf: current)
        }
    }

    private static func splitWords(_ text: [Unicode.Scalar], _ range: Range<Int>, isolatingPunctuation: Bool,
                                   into words: inout [Range<Int>]) {
        var start = range.lowerBound
        for i in range {
            let c = text[i]
            if BertCharacterClasses.isWhitespace(c) {
                if start < i { words.append(start..<i) }
                start = i + 1
            } else if isolatingPunctuation && BertCharacterClasses.isPunctuation(c) {
                if start < i { words.append(start..<i) }
                words.append(i..<(i + 1))
                start = i + 1
            }
        }
        if start < range.upperBound { words.append(start..<range.upperBound) }
    }
}

/// The text between added tokens after normalization, and the words cut from it so far.
/// Splitting pre-tokenizers narrow `words`; rewriting ones (ByteLevel, Metaspace) append the rewritten
/// words to `text` and point `words` at them.
struct PreTokenizedText {
    var text: [Unicode.Scalar]
    var words: [Range<Int>]
    /// Where a word must start to begin at offset 0 of the input (Metaspace's `prepend_scheme: first`),
    /// or nil when no word can.
    var origin: Int?
}

/// tokenizer.json `pre_tokenizer`: cuts normalized text into words, and for byte-level and SentencePiece
/// models rewrites them into the model's alphabet.
indirect enum PreTokenizer: Sendable, Equatable {
    /// Split on whitespace (dropped) and isolate every punctuation character.
    case bert
    /// Split on whitespace (Rust's `char::is_whitespace`), dropped.
    case whitespaceSplit
    /// `\w+|[^\w\s]+`: runs of word characters and runs of other non-space characters.
    case whitespace
    case punctuation(SplitBehavior)
    case digits(individual: Bool)
    case split(TextPattern, SplitBehavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case metaspace(Metaspace)
    case sequence([PreTokenizer])

    static let supported = ["BertPreTokenizer", "WhitespaceSplit", "Whitespace", "Punctuation", "Digits", "Split",
                            "ByteLevel", "Metaspace", "Sequence"]

    init(json: JSONValue, path: String = "pre_tokenizer") throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("\(path).type", "is missing") }
        func behavior(default value: SplitBehavior?) throws(TokenizerError) -> SplitBehavior {
            guard let name = json["behavior"]?.stringValue else {
                if let value { return value }
                throw .badField("\(path).behavior", "is missing")
            }
            guard let b = SplitBehavior(rawValue: name) else {
                throw .unsupported(component: "\(path).behavior", type: name, supported: SplitBehavior.allCases.map(\.rawValue))
            }
            return b
        }
        switch type {
        case "BertPreTokenizer": self = .bert
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Whitespace": self = .whitespace
        case "Punctuation": self = .punctuation(try behavior(default: .isolated))
        case "Digits": self = .digits(individual: try readFlag(json, "individual_digits", path: path, default: false))
        case "Split":
            guard let pattern = json["pattern"] else { throw .badField("\(path).pattern", "is missing") }
            self = .split(try TextPattern(json: pattern, path: "\(path).pattern"), try behavior(default: nil),
                          invert: try readFlag(json, "invert", path: path, default: false))
        case "ByteLevel":
            // trim_offsets changes only offsets, never ids.
            self = .byteLevel(addPrefixSpace: try readFlag(json, "add_prefix_space", path: path, default: true),
                              useRegex: try readFlag(json, "use_regex", path: path, default: true))
        case "Metaspace": self = .metaspace(try Metaspace(json: json, path: path))
        case "Sequence":
            guard let items = json["pretokenizers"]?.arrayValue else { throw .badField("\(path).pretokenizers", "is not a list") }
            var parts: [PreTokenizer] = []
            for (i, item) in items.enumerated() { parts.append(try PreTokenizer(json: item, path: "\(path).pretokenizers[\(i)]")) }
            self = .sequence(parts)
        default:
            throw .unsupported(component: path, type: type, supported: PreTokenizer.supported)
        }
    }

    /// The component names, for reports: "Sequence[Split(Qwen2's regex), ByteLevel]".
    var summary: String {
        switch self {
        case .bert: return "BertPreTokenizer"
        case .whitespaceSplit: return "WhitespaceSplit"
        case .whitespace: return "Whitespace"
        case .punctuation(let b): return "Punctuation(\(b.rawValue))"
        case .digits(let individual): return individual ? "Digits(individual)" : "Digits"
        case .split(let p, let b, let invert):
            let what = p.summary
            return "Split(\(what), \(b.rawValue)\(invert ? ", inverted" : ""))"
        case .byteLevel(let prefix, let regex):
            return "ByteLevel(" + [prefix ? "add_prefix_space" : nil, regex ? "GPT-2 regex" : nil].compactMap { $0 }.joined(separator: ", ") + ")"
        case .metaspace(let m): return m.summary
        case .sequence(let parts): return "Sequence[" + parts.map(\.summary).joined(separator: ", ") + "]"
        }
    }

    func apply(_ p: inout PreTokenizedText) {
        switch self {
        case .bert: splitWords(&p) { t, r, out in Self.splitBert(t, r, into: &out) }
        case .whitespaceSplit:
            splitWords(&p) { t, r, out in Self.splitOnPredicate(t, r, .removed, CharacterClasses.isWhitespace, into: &out) }
        case .whitespace:
            splitWords(&p) { t, r, out in
                var pieces: [(Range<Int>, Bool)] = []
                TextPattern.regex(.wordsAndSymbols).pieces(t, r, into: &pieces)
                // Inverted and removed: the matches stay, the gaps (whitespace) go.
                SplitBehavior.removed.apply(pieces.map { ($0.0, !$0.1) }, into: &out)
            }
        case .punctuation(let behavior):
            splitWords(&p) { t, r, out in Self.splitOnPredicate(t, r, behavior, BertCharacterClasses.isPunctuation, into: &out) }
        case .digits(let individual):
            splitWords(&p) { t, r, out in
                Self.splitOnPredicate(t, r, individual ? .isolated : .contiguous, CharacterClasses.isNumeric, into: &out)
            }
        case .split(let pattern, let behavior, let invert):
            splitWords(&p) { t, r, out in
                var pieces: [(Range<Int>, Bool)] = []
                pattern.pieces(t, r, into: &pieces)
                behavior.apply(invert ? pieces.map { ($0.0, !$0.1) } : pieces, into: &out)
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            rewriteWords(&p) { word, out in
                var w = word
                if addPrefixSpace && w.first != " " && !w.isEmpty { w.insert(" ", at: 0) }
                var ranges: [Range<Int>] = []
                if useRegex {
                    var pieces: [(Range<Int>, Bool)] = []
                    TextPattern.regex(.gpt2).pieces(w, w.indices, into: &pieces)
                    SplitBehavior.isolated.apply(pieces, into: &ranges)
                } else if !w.isEmpty {
                    ranges = [w.indices]
                }
                for r in ranges { out.append(ByteLevelAlphabet.encode(w[r])) }
            }
        case .metaspace(let m):
            rewriteWords(&p) { word, out, atOrigin in m.rewrite(word, atOrigin: atOrigin, into: &out) }
        case .sequence(let parts):
            for part in parts { part.apply(&p) }
        }
    }

    /// Replaces each word by the non-empty pieces `cut` makes of it.
    private func splitWords(_ p: inout PreTokenizedText,
                            _ cut: ([Unicode.Scalar], Range<Int>, inout [Range<Int>]) -> Void) {
        var out: [Range<Int>] = []
        out.reserveCapacity(p.words.count * 2)
        for w in p.words {
            let first = out.count
            cut(p.text, w, &out)
            // A word that starts at the origin passes that on to its first piece only if nothing before it was dropped.
            if first < out.count, p.origin == w.lowerBound, out[first].lowerBound != w.lowerBound { p.origin = nil }
        }
        out.removeAll { $0.isEmpty }
        p.words = out
    }

    private func rewriteWords(_ p: inout PreTokenizedText, _ rewrite: ([Unicode.Scalar], inout [[Unicode.Scalar]]) -> Void) {
        rewriteWords(&p) { word, out, _ in rewrite(word, &out) }
    }

    /// Rewrites each word into new words (appended to the text).
    private func rewriteWords(_ p: inout PreTokenizedText,
                              _ rewrite: ([Unicode.Scalar], inout [[Unicode.Scalar]], Bool) -> Void) {
        var text: [Unicode.Scalar] = []
        text.reserveCapacity(p.text.count * 2)
        var words: [Range<Int>] = []
        var origin: Int?
        var pieces: [[Unicode.Scalar]] = []
        for w in p.words {
            pieces.removeAll(keepingCapacity: true)
            let atOrigin = p.origin == w.lowerBound
            rewrite(Array(p.text[w]), &pieces, atOrigin)
            for (k, piece) in pieces.enumerated() where !piece.isEmpty {
                if atOrigin && k == 0 { origin = text.count }
                words.append(text.count..<(text.count + piece.count))
                text.append(contentsOf: piece)
            }
        }
        p = PreTokenizedText(text: text, words: words, origin: origin)
    }

    /// Split on `isMatch` characters, each one a match of its own (tokenizers' `Fn(char) -> bool` pattern).
    private static func splitOnPredicate(_ t: [Unicode.Scalar], _ r: Range<Int>, _ behavior: SplitBehavior,
                                         _ isMatch: (Unicode.Scalar) -> Bool, into out: inout [Range<Int>]) {
        var pieces: [(Range<Int>, Bool)] = []
        var gapStart = r.lowerBound
        for i in r where isMatch(t[i]) {
            if gapStart < i { pieces.append((gapStart..<i, false)) }
            pieces.append((i..<(i + 1), true))
            gapStart = i + 1
        }
        if gapStart < r.upperBound { pieces.append((gapStart..<r.upperBound, false)) }
        behavior.apply(pieces, into: &out)
    }

    /// BertPreTokenizer: whitespace removed, punctuation isolated.
    private static func splitBert(_ t: [Unicode.Scalar], _ range: Range<Int>, into words: inout [Range<Int>]) {
        var start = range.lowerBound
        for i in range {
            let c = t[i]
            if BertCharacterClasses.isWhitespace(c) {
                if start < i { words.append(start..<i) }
                start = i + 1
            } else if BertCharacterClasses.isPunctuation(c) {
                if start < i { words.append(start..<i) }
                words.append(i..<(i + 1))
                start = i + 1
            }
        }
        if start < range.upperBound { words.append(start..<range.upperBound) }
    }
}

/// SentencePiece's word boundaries: spaces become `replacement` (▁), one is prepended, and each word starts
/// at a `▁`.
struct Metaspace: Sendable, Equatable {
    enum PrependScheme: String, Sendable, CaseIterable { case always, first, never }
    var replacement: Unicode.Scalar = "\u{2581}"
    var prependScheme: PrependScheme = .always
    var split = true

    init(json: JSONValue, path: String) throws(TokenizerError) {
        if let r = try readString(json, "replacement", path: path) {
            guard r.unicodeScalars.count == 1, let c = r.unicodeScalars.first else {
                throw .badField("\(path).replacement", "is not one character")
            }
            replacement = c
        }
        if let scheme = try readString(json, "prepend_scheme", path: path) {
            guard let s = PrependScheme(rawValue: scheme) else {
                throw .unsupported(component: "\(path).prepend_scheme", type: scheme, supported: PrependScheme.allCases.map(\.rawValue))
            }
            prependScheme = s
        }
        // The legacy field (T5 and XLM-R files carry `add_prefix_space: true` alone) must agree with the scheme,
        // which defaults to always: tokenizers 0.23 refuses `false` unless the scheme is never.
        if let legacy = json["add_prefix_space"], legacy != .null {
            guard let add = legacy.boolValue else { throw .badField("\(path).add_prefix_space", "is not true or false") }
            guard add == (prependScheme != .never) else {
                throw .badField("\(path).add_prefix_space", "is \(add) but prepend_scheme is \(prependScheme.rawValue) (tokenizers refuses the mismatch)")
            }
        }
        split = try readFlag(json, "split", path: path, default: true)
    }

    var summary: String {
        "Metaspace(\"\(replacement)\", prepend \(prependScheme.rawValue)\(split ? ", split" : ""))"
    }

    func rewrite(_ word: [Unicode.Scalar], atOrigin: Bool, into out: inout [[Unicode.Scalar]]) {
        var w = word.map { $0 == " " ? replacement : $0 }
        let prepend: Bool
        switch prependScheme {
        case .always: prepend = true
        case .first: prepend = atOrigin
        case .never: prepend = false
        }
        if prepend && !w.isEmpty && w[0] != replacement { w.insert(replacement, at: 0) }
        guard split else { out.append(w); return }
        // Split before every replacement character (MergedWithNext on single-character matches).
        var start = 0
        for i in w.indices where w[i] == replacement && i > start {
            // A run of replacements: each one but the last stands alone; the last starts the next word.
            out.append(Array(w[start..<i]))
            start = i
        }
        if start < w.count { out.append(Array(w[start...])) }
    }
}

/// GPT-2's reversible map from bytes to printable characters (`bytes_to_unicode`): the printable Latin-1
/// bytes map to themselves, the other 68 to U+0100 onwards in byte order.
enum ByteLevelAlphabet {
    static let characters: [Unicode.Scalar] = {
        var map = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                map[b] = Unicode.Scalar(UInt32(b))!
            } else {
                map[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return map
    }()

    static func encode<S: Sequence<Unicode.Scalar>>(_ word: S) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        for c in word { UTF8.encode(c) { out.append(characters[Int($0)]) } }
        return out
    }
}

/// What a `Split` pre-tokenizer or a `Replace` normalizer looks for: `{"String": …}` or `{"Regex": …}`.
///
/// HF runs regexes with Oniguruma. tempscale has no regex engine: it matches the patterns real tokenizer.json
/// files use, each written out below with Oniguruma's leftmost-first, backtracking semantics, and refuses any
/// other pattern by its text.
enum TextPattern: Sendable, Equatable {
    case literal([Unicode.Scalar])
    case regex(KnownRegex)

    init(json: JSONValue, path: String) throws(TokenizerError) {
        if let s = json["String"]?.stringValue {
            self = .literal(Array(s.unicodeScalars))
        } else if let r = json["Regex"]?.stringValue {
            guard let known = KnownRegex(rawValue: r) else {
                throw .unsupportedRegex(component: path, pattern: r, supported: KnownRegex.allCases.map(\.name))
            }
            self = .regex(known)
        } else {
            throw .badField(path, "is neither {\"String\": …} nor {\"Regex\": …}")
        }
    }

    var summary: String {
        switch self {
        case .literal(let s): return JSONValue.string(UnicodeText.string(s)).serialized()
        case .regex(let r): return r.name
        }
    }

    /// Cuts `text[range]` into the stretches between matches (false) and the matches (true), in order,
    /// covering the range: Oniguruma's `find_iter` (leftmost-first, non-overlapping, resuming after a match).
    func pieces(_ text: [Unicode.Scalar], _ range: Range<Int>, into out: inout [(Range<Int>, Bool)]) {
        var gapStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            if let end = match(text, at: i, end: range.upperBound), end > i {
                if gapStart < i { out.append((gapStart..<i, false)) }
                out.append((i..<end, true))
                i = end
                gapStart = end
            } else {
                i += 1
            }
        }
        if gapStart < range.upperBound { out.append((gapStart..<range.upperBound, false)) }
    }

    /// The end of the match starting exactly at `i`, or nil.
    @inline(__always)
    func match(_ t: [Unicode.Scalar], at i: Int, end: Int) -> Int? {
        switch self {
        case .literal(let s):
            // An empty literal never matches (HF treats the whole text as one non-match).
            guard !s.isEmpty, i + s.count <= end else { return nil }
            for k in 0..<s.count where t[i + k] != s[k] { return nil }
            return i + s.count
        case .regex(let r):
            return r.match(t, at: i, end: end)
        }
    }
}

/// The regexes found in real tokenizer.json files, by their exact pattern text.
enum KnownRegex: String, CaseIterable, Sendable {
    /// GPT-2 (also ByteLevel's built-in `use_regex` split; RoBERTa, GPT-2, BART, ModernBERT…).
    case gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama 3 (digits in groups of up to three).
    case llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2 / Qwen3 (single digits).
    case qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen3.5 (letters may carry combining marks).
    case qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Falcon's: ASCII digits in threes.
    case asciiDigitTriples = "[0-9][0-9][0-9]"
    /// The Whitespace pre-tokenizer's (word characters, or runs of other non-space characters).
    case wordsAndSymbols = #"\w+|[^\w\s]+"#
    /// Runs of two or more spaces (T5-style `Replace` normalizers).
    case spaceRuns = " {2,}"

    var name: String {
        switch self {
        case .gpt2: return "GPT-2's regex"
        case .llama3: return "Llama 3's regex"
        case .qwen2: return "Qwen2's regex"
        case .qwen35: return "Qwen3.5's regex"
        case .asciiDigitTriples, .wordsAndSymbols, .spaceRuns: return JSONValue.string(rawValue).serialized()
        }
    }

    @inline(__always) private static func has(_ c: Unicode.Scalar, _ mask: UInt8) -> Bool { CharacterClasses.flags(c) & mask != 0 }
    @inline(__always) private static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }
    private static let letter = CharacterClasses.letter, number = CharacterClasses.number
    private static let space = CharacterClasses.whitespace, mark = CharacterClasses.mark

    /// End of the run from `i` of characters with a flag in `mask`, at most `limit` long.
    @inline(__always)
    private static func run(_ t: [Unicode.Scalar], _ i: Int, _ end: Int, _ mask: UInt8, limit: Int = .max) -> Int {
        var j = i
        while j < end && j - i < limit && has(t[j], mask) { j += 1 }
        return j
    }

    /// End of the run from `i` of characters with no flag in `mask`.
    @inline(__always)
    private static func runOutside(_ t: [Unicode.Scalar], _ i: Int, _ end: Int, _ mask: UInt8) -> Int {
        var j = i
        while j < end && !has(t[j], mask) { j += 1 }
        return j
    }

    @inline(__always)
    private static func runOfNewlines(_ t: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end && isNewline(t[j]) { j += 1 }
        return j
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive (Unicode simple case folding: ſ folds to s).
    @inline(__always)
    private static func contraction(_ t: [Unicode.Scalar], _ i: Int, _ end: Int, ignoreCase: Bool) -> Int? {
        guard t[i] == "'", i + 1 < end else { return nil }
        func fold(_ c: Unicode.Scalar) -> UInt32 {
            guard ignoreCase else { return c.value }
            if c.value >= 0x41 && c.value <= 0x5A { return c.value + 32 }
            return c.value == 0x17F ? 0x73 : c.value
        }
        switch fold(t[i + 1]) {
        case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
        case 0x72, 0x76:  // r v → re ve
            return i + 2 < end && fold(t[i + 2]) == 0x65 ? i + 3 : nil
        case 0x6C:  // l → ll
            return i + 2 < end && fold(t[i + 2]) == 0x6C ? i + 3 : nil
        default: return nil
        }
    }

    /// `\s+(?!\S)|\s+` from `i`: a whitespace run, leaving its last character to the next match when a
    /// non-space follows it.
    @inline(__always)
    private static func spaces(_ t: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int? {
        let j = run(t, i, end, space)
        if j == i { return nil }
        if j == end || j - 1 == i { return j }
        return j - 1
    }

    func match(_ t: [Unicode.Scalar], at i: Int, end: Int) -> Int? {
        let c = t[i]
        switch self {
        case .gpt2:
            if let e = Self.contraction(t, i, end, ignoreCase: false) { return e }
            // ` ?\p{L}+`, ` ?\p{N}+`, then ` ?[^\s\p{L}\p{N}]+`
            let hasSpace = c == " " && i + 1 < end
            if hasSpace && Self.has(t[i + 1], Self.letter) { return Self.run(t, i + 1, end, Self.letter) }
            if Self.has(c, Self.letter) { return Self.run(t, i, end, Self.letter) }
            if hasSpace && Self.has(t[i + 1], Self.number) { return Self.run(t, i + 1, end, Self.number) }
            if Self.has(c, Self.number) { return Self.run(t, i, end, Self.number) }
            let notOther = Self.letter | Self.number | Self.space
            if hasSpace && !Self.has(t[i + 1], notOther) { return Self.runOutside(t, i + 1, end, notOther) }
            if !Self.has(c, notOther) { return Self.runOutside(t, i, end, notOther) }
            return Self.spaces(t, i, end)

        case .llama3, .qwen2, .qwen35:
            if let e = Self.contraction(t, i, end, ignoreCase: true) { return e }
            // `[^\r\n\p{L}\p{N}]?\p{L}+` (Qwen3.5: `[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+`)
            let word: UInt8 = self == .qwen35 ? Self.letter | Self.mark : Self.letter
            if !Self.isNewline(c) && !Self.has(c, Self.letter | Self.number) && i + 1 < end && Self.has(t[i + 1], word) {
                return Self.run(t, i + 1, end, word)
            }
            if Self.has(c, word) { return Self.run(t, i, end, word) }
            // `\p{N}{1,3}` or `\p{N}`
            if Self.has(c, Self.number) { return Self.run(t, i, end, Self.number, limit: self == .llama3 ? 3 : 1) }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (Qwen3.5: marks excluded too)
            let notOther = word | Self.number | Self.space
            var k = i
            if c == " " && i + 1 < end && !Self.has(t[i + 1], notOther) { k = i + 1 }
            if !Self.has(t[k], notOther) {
                return Self.runOfNewlines(t, Self.runOutside(t, k, end, notOther), end)
            }
            // `\s*[\r\n]+`: the whitespace run up to and including its last line break
            let j = Self.run(t, i, end, Self.space)
            var p = j - 1
            while p >= i && !Self.isNewline(t[p]) { p -= 1 }
            if p >= i { return p + 1 }
            return Self.spaces(t, i, end)

        case .asciiDigitTriples:
            guard i + 3 <= end else { return nil }
            for k in i..<(i + 3) where !(t[k].value >= 0x30 && t[k].value <= 0x39) { return nil }
            return i + 3

        case .wordsAndSymbols:
            let w = CharacterClasses.word
            if Self.has(c, w) { return Self.run(t, i, end, w) }
            if !Self.has(c, Self.space) { return Self.runOutside(t, i, end, w | Self.space) }
            return nil

        case .spaceRuns:
            var j = i
            while j < end && t[j] == " " { j += 1 }
            return j - i >= 2 ? j : nil
        }
    }
}

/// How a split treats the matches (tokenizers' `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable, CaseIterable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// The pieces to keep, from `(range, isMatch)` pieces covering a word, as NormalizedString::split does.
    func apply(_ pieces: [(Range<Int>, Bool)], into out: inout [Range<Int>]) {
        switch self {
        case .removed:
            for (r, isMatch) in pieces where !isMatch { out.append(r) }
        case .isolated:
            for (r, _) in pieces { out.append(r) }
        case .contiguous:
            var previousMatch = false
            let first = out.count
            for (r, isMatch) in pieces {
                if isMatch == previousMatch && out.count > first {
                    out[out.count - 1] = out[out.count - 1].lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            let first = out.count
            for (r, isMatch) in pieces {
                if isMatch && !previousMatch && out.count > first {
                    out[out.count - 1] = out[out.count - 1].lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            var reversed: [Range<Int>] = []
            for (r, isMatch) in pieces.reversed() {
                if isMatch && !previousMatch && !reversed.isEmpty {
                    reversed[reversed.count - 1] = r.lowerBound..<reversed[reversed.count - 1].upperBound
                } else {
                    reversed.append(r)
                }
                previousMatch = isMatch
            }
            out.append(contentsOf: reversed.reversed())
        }
    }
}

// NFD and NFC come from the stdlib's SPI (`String._nfd`/`_nfc`, what swift-foundation itself
// uses): the stdlib has no public normalization API and the library avoids Foundation.
@_spi(_Unicode) import Swift

/// tokenizer.json `normalizer`: rewrites the text (as Unicode scalars) before pre-tokenization.
indirect enum Normalizer: Sendable, Equatable {
    case bert(BertNormalizer)
    case lowercase
    case nfd
    case nfc
    case nfkd
    case nfkc
    case stripAccents
    case strip(left: Bool, right: Bool)
    case replace(TextPattern, with: [Unicode.Scalar])
    case prepend([Unicode.Scalar])
    case precompiled(PrecompiledCharsmap)
    case sequence([Normalizer])

    static let supported = ["BertNormalizer", "Lowercase", "NFD", "NFC", "NFKD", "NFKC", "StripAccents", "Strip",
                            "Replace", "Prepend", "Precompiled", "Sequence"]

    init(json: JSONValue, path: String = "normalizer") throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("\(path).type", "is missing") }
        switch type {
        case "BertNormalizer": self = .bert(try BertNormalizer(json: json, path: path))
        case "Lowercase": self = .lowercase
        case "NFD": self = .nfd
        case "NFC": self = .nfc
        case "NFKD": self = .nfkd
        case "NFKC": self = .nfkc
        case "StripAccents": self = .stripAccents
        case "Strip":
            self = .strip(left: try readFlag(json, "strip_left", path: path, default: true),
                          right: try readFlag(json, "strip_right", path: path, default: true))
        case "Replace":
            guard let pattern = json["pattern"] else { throw .badField("\(path).pattern", "is missing") }
            guard let content = try readString(json, "content", path: path) else { throw .badField("\(path).content", "is missing") }
            self = .replace(try TextPattern(json: pattern, path: "\(path).pattern"), with: Array(content.unicodeScalars))
        case "Prepend":
            guard let prefix = try readString(json, "prepend", path: path) else { throw .badField("\(path).prepend", "is missing") }
            self = .prepend(Array(prefix.unicodeScalars))
        case "Precompiled":
            guard let map = json["precompiled_charsmap"] else { throw .badField("\(path).precompiled_charsmap", "is missing") }
            guard let text = map.stringValue else { throw .badField("\(path).precompiled_charsmap", "is not a base64 string") }
            self = .precompiled(try PrecompiledCharsmap(base64: text, path: "\(path).precompiled_charsmap"))
        case "Sequence":
            guard let items = json["normalizers"]?.arrayValue else { throw .badField("\(path).normalizers", "is not a list") }
            var parts: [Normalizer] = []
            for (i, item) in items.enumerated() { parts.append(try Normalizer(json: item, path: "\(path).normalizers[\(i)]")) }
            self = .sequence(parts)
        default:
            throw .unsupported(component: path, type: type, supported: Normalizer.supported)
        }
    }

    /// The component names, for reports.
    var summary: String {
        switch self {
        case .bert: return "BertNormalizer"
        case .lowercase: return "Lowercase"
        case .nfd: return "NFD"
        case .nfc: return "NFC"
        case .nfkd: return "NFKD"
        case .nfkc: return "NFKC"
        case .stripAccents: return "StripAccents"
        case .strip(let l, let r): return "Strip(" + [l ? "left" : nil, r ? "right" : nil].compactMap { $0 }.joined(separator: ", ") + ")"
        case .replace(let p, let c):
            let what = p.summary
            return "Replace(\(what) → \"\(UnicodeText.string(c))\")"
        case .prepend(let s): return "Prepend(\"\(UnicodeText.string(s))\")"
        case .precompiled(let m): return "Precompiled(\(m.ruleCount) rules)"
        case .sequence(let parts): return "Sequence[" + parts.map(\.summary).joined(separator: ", ") + "]"
        }
    }

    func normalize(_ text: inout [Unicode.Scalar]) {
        switch self {
        case .bert(let b): b.normalize(&text)
        case .lowercase: UnicodeText.lowercase(&text)
        case .nfd: UnicodeText.nfd(&text)
        case .nfc: UnicodeText.nfc(&text)
        case .nfkd: UnicodeText.nfkd(&text)
        case .nfkc: UnicodeText.nfkc(&text)
        case .stripAccents: text.removeAll(where: UnicodeText.isCombiningMark)
        case .strip(let left, let right):
            var end = text.count
            if right { while end > 0 && CharacterClasses.isWhitespace(text[end - 1]) { end -= 1 } }
            var start = 0
            if left { while start < end && CharacterClasses.isWhitespace(text[start]) { start += 1 } }
            if start > 0 || end < text.count { text = Array(text[start..<end]) }
        case .replace(let pattern, let content):
            var pieces: [(Range<Int>, Bool)] = []
            pattern.pieces(text, text.indices, into: &pieces)
            guard pieces.contains(where: \.1) else { return }
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count)
            for (r, isMatch) in pieces {
                if isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: text[r]) }
            }
            text = out
        case .prepend(let prefix):
            if !text.isEmpty { text.insert(contentsOf: prefix, at: 0) }
        case .precompiled(let map): map.normalize(&text)
        case .sequence(let parts): for p in parts { p.normalize(&text) }
        }
    }
}

/// HF's BertNormalizer: clean_text, then handle_chinese_chars, then strip_accents, then lowercase.
struct BertNormalizer: Sendable, Equatable {
    var cleanText = true
    var handleChineseChars = true
    var stripAccents = true
    var lowercase = true

    init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        // `strip_accents: null` means "strip when lowercasing" (the original BERT uncased behaviour).
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    init(json: JSONValue, path: String) throws(TokenizerError) {
        func flag(_ key: String) throws(TokenizerError) -> Bool? {
            guard let v = json[key], v != .null else { return nil }
            guard let b = v.boolValue else { throw .badField("\(path).\(key)", "is not true, false or null") }
            return b
        }
        let lowercase = try flag("lowercase") ?? true
        self.init(cleanText: try flag("clean_text") ?? true,
                  handleChineseChars: try flag("handle_chinese_chars") ?? true,
                  stripAccents: try flag("strip_accents"), lowercase: lowercase)
    }

    func normalize(_ text: inout [Unicode.Scalar]) {
        if cleanText || handleChineseChars {
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count + 8)
            for c in text {
                if cleanText {
                    if c.value == 0 || c.value == 0xFFFD || BertCharacterClasses.isControl(c) { continue }
                    if BertCharacterClasses.isWhitespace(c) { out.append(" "); continue }
                }
                if handleChineseChars && BertCharacterClasses.isChineseCharacter(c) {
                    out.append(" "); out.append(c); out.append(" ")
                } else {
                    out.append(c)
                }
            }
            text = out
        }
        if stripAccents {
            UnicodeText.nfd(&text)
            text.removeAll(where: BertCharacterClasses.isNonspacingMark)
        }
        if lowercase { UnicodeText.lowercase(&text) }
    }
}

/// Scalar-level Unicode operations matching Rust's `char::to_lowercase` and unicode-normalization.
enum UnicodeText {
    /// Per-character full lowercase mapping without context (no final-sigma rule), as Rust's `char::to_lowercase`.
    static func lowercase(_ text: inout [Unicode.Scalar]) {
        var i = 0
        while i < text.count, text[i].value < 0x80 {
            if text[i].value >= 0x41 && text[i].value <= 0x5A { text[i] = Unicode.Scalar(text[i].value + 32)! }
            i += 1
        }
        if i == text.count { return }
        var out = Array(text[..<i])
        out.reserveCapacity(text.count)
        for c in text[i...] {
            if c.value < 0x80 {
                out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32)! : c)
            } else if c.properties.changesWhenLowercased {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(c)
            }
        }
        text = out
    }

    static func nfd(_ text: inout [Unicode.Scalar]) {
        if text.allSatisfy(\.isASCII) { return }
        normalizeInSegments(&text) { Array(string($0)._nfd) }
    }

    /// Runs a Swift normalization between the characters where Swift's Unicode data is newer than HF's crate:
    /// those HF keeps whole (`hfDoesNotDecompose`) and the marks HF treats as starters (`hfStarters`). Both are
    /// starters for HF, so nothing reorders or composes across them there; cutting the text at them gives the same.
    private static func normalizeInSegments(_ text: inout [Unicode.Scalar], _ normalize: ([Unicode.Scalar]) -> [Unicode.Scalar]) {
        guard text.contains(where: { isSegmentBoundary($0) }) else {
            text = normalize(text)
            return
        }
        var out: [Unicode.Scalar] = []
        var segment: [Unicode.Scalar] = []
        for c in text {
            if isSegmentBoundary(c) {
                out.append(contentsOf: normalize(segment))
                segment.removeAll()
                out.append(c)
            } else {
                segment.append(c)
            }
        }
        out.append(contentsOf: normalize(segment))
        text = out
    }

    @inline(__always)
    private static func isSegmentBoundary(_ c: Unicode.Scalar) -> Bool {
        c.value >= 0x300 && (hfDoesNotDecompose.contains(c.value) || hfStarters.contains(c.value))
    }

    /// HF's StripAccents: any combining mark (Mn, Mc, Me) in the crate's tables (CombiningTables).
    static func isCombiningMark(_ c: Unicode.Scalar) -> Bool {
        c.value >= 0x300 && combiningMarks.contains(c.value)
    }

    private static let combiningMarks = codePoints(inRanges: CombiningTables.combiningMarks)

    /// The code points of a generated table's flattened inclusive ranges (first, last, first, last…).
    static func codePoints(inRanges t: [UInt32]) -> Set<UInt32> {
        var set = Set<UInt32>()
        var i = 0
        while i + 1 < t.count {
            for v in t[i]...t[i + 1] { set.insert(v) }
            i += 2
        }
        return set
    }

    /// Marks Swift gives a combining class but HF's crate does not (added in Unicode 15 and 16: Nag Mundari,
    /// Kirat Rai, …), from HF's own non-starter set (CombiningTables, golden/hf_combining_tables.py).
    static let hfStarters: Set<UInt32> = {
        let hf = codePoints(inRanges: CombiningTables.nonStarters)
        var starters = Set<UInt32>()
        for v in UInt32(0x300)..<0x110000 {
            guard let c = Unicode.Scalar(v), c.properties.canonicalCombiningClass.rawValue != 0, !hf.contains(v) else { continue }
            // A character that decomposes takes its parts' classes; HF's probe covers the parts.
            if Array(String(Character(c))._nfd) == [c] { starters.insert(v) }
        }
        return starters
    }()

    /// Characters with canonical decompositions in Swift's Unicode data that HF's unicode-normalization
    /// crate leaves unchanged: scripts from Unicode 16 (Todhri, Tulu-Tigalari, Gurung Khema, Kirat Rai)
    /// and U+11938 (Dives Akuru). Found by testEveryCodePointNormalizesAsHF.
    static let hfDoesNotDecompose: Set<UInt32> = [
        0x105C9, 0x105E4, 0x11383, 0x11385, 0x1138E, 0x11391, 0x113C5, 0x113C7, 0x113C8, 0x11938,
        0x16121, 0x16122, 0x16123, 0x16124, 0x16125, 0x16126, 0x16127, 0x16128, 0x16D68, 0x16D69, 0x16D6A,
    ]

    /// HF's compatibility decompositions by code point (CompatibilityTables), built on first use.
    private static let compatibility: [UInt32: [Unicode.Scalar]] = {
        var map: [UInt32: [Unicode.Scalar]] = [:]
        let t = CompatibilityTables.decompositions
        var i = 0
        while i < t.count {
            let n = Int(t[i + 1])
            map[t[i]] = t[(i + 2)..<(i + 2 + n)].map { Unicode.Scalar($0)! }
            i += 2 + n
        }
        return map
    }()

    /// NFKD: each character's compatibility decomposition, then canonical decomposition and ordering.
    static func nfkd(_ text: inout [Unicode.Scalar]) {
        if text.allSatisfy(\.isASCII) { return }
        if text.contains(where: { compatibility[$0.value] != nil }) {
            text = text.flatMap { compatibility[$0.value] ?? [$0] }
        }
        nfd(&text)
    }

    /// NFKC: NFKD, then canonical composition.
    static func nfkc(_ text: inout [Unicode.Scalar]) {
        if text.allSatisfy(\.isASCII) { return }
        nfkd(&text)
        nfc(&text)
    }

    static func nfc(_ text: inout [Unicode.Scalar]) {
        if text.allSatisfy(\.isASCII) { return }
        normalizeInSegments(&text) { segment in
            let composed = Array(string(segment)._nfc)
            // A composite HF's crate does not know stays decomposed there.
            guard composed.contains(where: { hfDoesNotDecompose.contains($0.value) }) else { return composed }
            return composed.flatMap { hfDoesNotDecompose.contains($0.value) ? Array(string([$0])._nfd) : [$0] }
        }
    }

    static func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
        var s = String()
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }
}

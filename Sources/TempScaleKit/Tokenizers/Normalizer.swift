// NFD and NFC come from the stdlib's SPI (`String._nfd`/`_nfc`, what swift-foundation itself
// uses): the stdlib has no public normalization API and the library avoids Foundation.
@_spi(_Unicode) import Swift

/// tokenizer.json `normalizer`: rewrites the text (as Unicode scalars) before pre-tokenization.
indirect enum Normalizer: Sendable, Equatable {
    case bert(BertNormalizer)
    case lowercase
    case nfd
    case nfc
    case stripAccents
    case sequence([Normalizer])

    static let supported = ["BertNormalizer", "Lowercase", "NFD", "NFC", "StripAccents", "Sequence"]

    init(json: JSONValue, path: String = "normalizer") throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("\(path).type", "is missing") }
        switch type {
        case "BertNormalizer": self = .bert(try BertNormalizer(json: json, path: path))
        case "Lowercase": self = .lowercase
        case "NFD": self = .nfd
        case "NFC": self = .nfc
        case "StripAccents": self = .stripAccents
        case "Sequence":
            guard let items = json["normalizers"]?.arrayValue else { throw .badField("\(path).normalizers", "is not a list") }
            var parts: [Normalizer] = []
            for (i, item) in items.enumerated() { parts.append(try Normalizer(json: item, path: "\(path).normalizers[\(i)]")) }
            self = .sequence(parts)
        default:
            throw .unsupported(component: path, type: type, supported: Normalizer.supported)
        }
    }

    func normalize(_ text: inout [Unicode.Scalar]) {
        switch self {
        case .bert(let b): b.normalize(&text)
        case .lowercase: UnicodeText.lowercase(&text)
        case .nfd: UnicodeText.nfd(&text)
        case .nfc: UnicodeText.nfc(&text)
        case .stripAccents: text.removeAll(where: BertCharacterClasses.isNonspacingMark)
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
        guard text.contains(where: { hfDoesNotDecompose.contains($0.value) }) else {
            text = Array(string(text)._nfd)
            return
        }
        // Decompose around the characters HF keeps whole (all starters, so nothing reorders across them).
        var out: [Unicode.Scalar] = []
        var segment: [Unicode.Scalar] = []
        for c in text {
            if hfDoesNotDecompose.contains(c.value) {
                out.append(contentsOf: string(segment)._nfd)
                segment.removeAll()
                out.append(c)
            } else {
                segment.append(c)
            }
        }
        out.append(contentsOf: string(segment)._nfd)
        text = out
    }

    /// Characters with canonical decompositions in Swift's Unicode data that HF's unicode-normalization
    /// crate leaves unchanged: scripts from Unicode 16 (Todhri, Tulu-Tigalari, Gurung Khema, Kirat Rai)
    /// and U+11938 (Dives Akuru). Found by testEveryCodePointNormalizesAsHF.
    static let hfDoesNotDecompose: Set<UInt32> = [
        0x105C9, 0x105E4, 0x11383, 0x11385, 0x1138E, 0x11391, 0x113C5, 0x113C7, 0x113C8, 0x11938,
        0x16121, 0x16122, 0x16123, 0x16124, 0x16125, 0x16126, 0x16127, 0x16128, 0x16D68, 0x16D69, 0x16D6A,
    ]

    static func nfc(_ text: inout [Unicode.Scalar]) {
        if text.allSatisfy(\.isASCII) { return }
        text = Array(string(text)._nfc)
    }

    static func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
        var s = String()
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }
}

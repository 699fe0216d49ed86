/// The character classes HF's BERT normalizer and pre-tokenizer use, each defined once.
/// Classes HF takes from the old `unicode_categories` crate come from BertCharacterTables;
/// classes HF takes from Rust's std (White_Space) come from Swift's current Unicode data,
/// which agrees with Rust's (checked for every code point by the tests).
enum BertCharacterClasses {
    /// HF's `is_other` (Cc | Cf | Co in the crate's tables); tab, newline and CR are whitespace instead.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value < 0x20 ? !(c == "\t" || c == "\n" || c == "\r") : c.value == 0x7F }
        return contains(BertCharacterTables.other, c.value)
    }

    /// Rust's `char::is_whitespace`, the White_Space property.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c == " " || (c.value >= 0x09 && c.value <= 0x0D) }
        return c.properties.isWhitespace
    }

    /// BertPreTokenizer's punctuation: ASCII punctuation or the crate's P* categories.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) }
        return contains(BertCharacterTables.punctuation, v)
    }

    /// The crate's Mn category, which strip_accents drops after NFD.
    static func isNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        c.value >= 0x300 && contains(BertCharacterTables.nonspacingMark, c.value)
    }

    /// HF's CJK ideograph ranges (note the gap at U+2B820–U+2B91F, which the original BERT code includes).
    static func isChineseCharacter(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// The regex crate's Unicode `\w`: Alphabetic, marks, decimal digits, connector punctuation, join controls.
    static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        let p = c.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    private static func contains(_ ranges: [ClosedRange<UInt32>], _ v: UInt32) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(v)
    }
}

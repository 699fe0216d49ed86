/// One entry of tokenizer.json `added_tokens`.
struct AddedToken: Sendable, Equatable {
    var content: String
    var id: Int32
    var singleWord = false
    var lstrip = false
    var rstrip = false
    /// Matched in the normalized text (its content normalized too) rather than the raw text.
    var normalized = false
    var special = false
}

/// A stretch of text, or an added token matched there.
struct TextSplit: Equatable {
    var range: Range<Int>
    var tokenId: Int32?
}

/// Finds added tokens in text the way HF's AddedVocabulary does: leftmost-longest,
/// non-overlapping matches (Aho-Corasick semantics), honouring single_word, lstrip and rstrip.
/// Tokens with `normalized: false` are matched in the raw text before normalization;
/// the others in each normalized stretch between them.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        var scalars: [Unicode.Scalar]
        var token: AddedToken
    }
    private let patterns: [Pattern]
    /// The patterns' first scalars: a bitmap for ASCII, a list for the rest (checked per text scalar, so no hashing).
    private let firstASCII: (UInt64, UInt64)
    private let firstOther: [UInt32]

    var isEmpty: Bool { patterns.isEmpty }

    /// `normalize` is applied to the patterns' content (for the normalized set).
    init(_ tokens: [AddedToken], normalize: ((inout [Unicode.Scalar]) -> Void)? = nil) {
        var patterns: [Pattern] = []
        for t in tokens {
            var scalars = Array(t.content.unicodeScalars)
            normalize?(&scalars)
            if !scalars.isEmpty { patterns.append(Pattern(scalars: scalars, token: t)) }
        }
        self.patterns = patterns
        var ascii: (UInt64, UInt64) = (0, 0)
        var other: [UInt32] = []
        for p in patterns {
            let v = p.scalars[0].value
            if v < 64 { ascii.0 |= 1 << v } else if v < 128 { ascii.1 |= 1 << (v - 64) } else { other.append(v) }
        }
        self.firstASCII = ascii
        self.firstOther = other
    }

    /// Splits `text[range]` into stretches of text and matched tokens, covering the whole range.
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>) -> [TextSplit] {
        if patterns.isEmpty || range.isEmpty { return [TextSplit(range: range, tokenId: nil)] }
        var splits: [TextSplit] = []
        var startOffset = range.lowerBound
        var searchFrom = range.lowerBound
        while let (matchStart, matchEnd, token) = nextMatch(text, from: searchFrom, end: range.upperBound) {
            searchFrom = matchEnd
            var start = matchStart, stop = matchEnd
            if token.singleWord {
                let wordBefore = start > range.lowerBound && BertCharacterClasses.isWordCharacter(text[start - 1])
                let wordAfter = stop < range.upperBound && BertCharacterClasses.isWordCharacter(text[stop])
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var s = start
                while s > range.lowerBound && BertCharacterClasses.isWhitespace(text[s - 1]) { s -= 1 }
                // Spaces an earlier match already took stay with it.
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < range.upperBound && BertCharacterClasses.isWhitespace(text[stop]) { stop += 1 }
            }
            if startOffset < start { splits.append(TextSplit(range: startOffset..<start, tokenId: nil)) }
            splits.append(TextSplit(range: start..<stop, tokenId: token.id))
            startOffset = stop
        }
        if startOffset < range.upperBound { splits.append(TextSplit(range: startOffset..<range.upperBound, tokenId: nil)) }
        return splits
    }

    @inline(__always)
    private func mayStartPattern(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 64 { return firstASCII.0 & (1 << v) != 0 }
        if v < 128 { return firstASCII.1 & (1 << (v - 64)) != 0 }
        return firstOther.contains(v)
    }

    /// The leftmost match at or after `from`, the longest of those starting there.
    private func nextMatch(_ text: [Unicode.Scalar], from: Int, end: Int) -> (Int, Int, AddedToken)? {
        var p = from
        while p < end {
            if mayStartPattern(text[p]) {
                var best: Pattern?
                for pattern in patterns where pattern.scalars.count > (best?.scalars.count ?? 0) {
                    let n = pattern.scalars.count
                    if p + n <= end && text[p..<(p + n)].elementsEqual(pattern.scalars) { best = pattern }
                }
                if let best { return (p, p + best.scalars.count, best.token) }
            }
            p += 1
        }
        return nil
    }
}

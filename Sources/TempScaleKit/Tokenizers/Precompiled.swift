/// SentencePiece's compiled normalization rules (`precompiled_charsmap`, base64 in tokenizer.json), as HF's
/// `Precompiled` normalizer applies them.
///
/// The blob is a little-endian u32 with the trie's size in bytes, a Darts double-array trie (u32 units) over the
/// UTF-8 bytes of each rule's source text, then the replacements: NUL-terminated UTF-8 strings that the trie's
/// values index by byte offset. Darts shares common subtrees, so the trie is a DAG (the real T5/XLM-R map has
/// 44,288 units holding 224,711 rules). At load every node reachable from the root is visited once: each index,
/// each value and each replacement is checked, and a cycle is refused, so lookups afterwards cannot go astray.
///
/// HF's rule, kept exactly (tokenizers `normalizers/precompiled.rs`, spm_precompiled `transform`): for each
/// extended grapheme cluster shorter than 6 UTF-8 bytes, if any *prefix* of it is a rule's source, the first
/// (shortest) such rule replaces the whole cluster; otherwise each character is replaced by its own rule, if any.
struct PrecompiledCharsmap: Sendable, Equatable {
    private let units: [UInt32]
    /// Replacement text by pool offset, for every offset a reachable leaf names.
    private let replacements: [Int: [Unicode.Scalar]]
    let ruleCount: Int
    /// The blob as tokenizer.json holds it (the GGUF writer passes it to llama.cpp unchanged).
    let blob: [UInt8]

    static func == (a: Self, b: Self) -> Bool { a.units == b.units && a.replacements == b.replacements }

    init(base64: String, path: String) throws(TokenizerError) {
        guard let blob = Base64.decode(base64) else { throw .badField(path, "is not valid base64") }
        try self.init(blob: blob, path: path)
    }

    // Darts unit layout: label in the low byte (bit 31 set on leaf units), bit 8 = has a leaf child,
    // offset in bits 10… (shifted by 8 more when bit 9 is set), a leaf's value in bits 0…30.
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }

    init(blob: [UInt8], path: String) throws(TokenizerError) {
        guard blob.count >= 4 else { throw .badField(path, "is shorter than its 4-byte trie size") }
        let trieBytes = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieBytes % 4 == 0, trieBytes >= 4, trieBytes <= blob.count - 4 else {
            throw .badField(path, "declares a trie of \(trieBytes) bytes in a blob of \(blob.count) (truncated or damaged)")
        }
        var units = [UInt32](repeating: 0, count: trieBytes / 4)
        for i in units.indices {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        let pool = Array(blob[(4 + trieBytes)...])
        guard String(validating: pool, as: UTF8.self) != nil else {
            throw .badField(path, "has replacement strings that are not UTF-8")
        }

        var replacements: [Int: [Unicode.Scalar]] = [:]
        func readReplacement(at index: Int) throws(TokenizerError) {
            if replacements[index] != nil { return }
            guard index <= pool.count else {
                throw .badField(path, "has a rule pointing at byte \(index) of a \(pool.count)-byte replacement pool")
            }
            var end = index
            while end < pool.count && pool[end] != 0 { end += 1 }
            guard let s = String(validating: pool[index..<end], as: UTF8.self) else {
                throw .badField(path, "has a rule pointing inside a character of the replacement pool (byte \(index))")
            }
            replacements[index] = Array(s.unicodeScalars)
        }

        // Depth-first over the DAG: 0 = not seen, 1 = on the current path, 2 = done. `rules[n]` counts the
        // rules below node n (paths to a leaf), summed when n is done.
        var state = [UInt8](repeating: 0, count: units.count)
        var rules = [Int](repeating: 0, count: units.count)
        var stack: [(node: Int, nextLabel: Int)] = []
        func enter(_ node: Int) throws(TokenizerError) -> Bool {
            guard node < units.count else { throw .badField(path, "has a trie index past its end (truncated?)") }
            if state[node] == 1 { throw .badField(path, "has a trie that loops (damaged)") }
            if state[node] == 2 { return false }
            guard stack.count < 256 else { throw .badField(path, "has a trie nested past 256 bytes (damaged)") }
            state[node] = 1
            stack.append((node, 1))
            return true
        }
        _ = try enter(Self.offset(units[0]))
        let root = stack[0].node
        while let top = stack.last {
            if top.nextLabel > 255 {
                state[top.node] = 2
                stack.removeLast()
                if let parent = stack.last { rules[parent.node] += rules[top.node] }
                continue
            }
            stack[stack.count - 1].nextLabel += 1
            let c = top.nextLabel
            let child = top.node ^ c
            guard child < units.count, Self.label(units[child]) == UInt32(c) else { continue }
            let next = child ^ Self.offset(units[child])
            guard next < units.count else { throw .badField(path, "has a trie index past its end (truncated?)") }
            if Self.hasLeaf(units[child]) {
                rules[top.node] += 1
                try readReplacement(at: Int(units[next] & 0x7FFF_FFFF))
            }
            if try !enter(next) { rules[top.node] += rules[next] }
        }
        let ruleCount = rules[root]
        self.units = units
        self.blob = blob
        self.replacements = replacements
        self.ruleCount = ruleCount
    }

    /// The replacement of the shortest rule whose source is a prefix of `bytes` (spm_precompiled's `transform`:
    /// its common-prefix search stops at a NUL byte).
    @inline(__always)
    private func transform(_ bytes: ArraySlice<UInt8>) -> [Unicode.Scalar]? {
        var node = Self.offset(units[0])
        for b in bytes {
            if b == 0 { return nil }
            node ^= Int(b)
            guard node < units.count else { return nil }
            let unit = units[node]
            guard Self.label(unit) == UInt32(b) else { return nil }
            node ^= Self.offset(unit)
            if Self.hasLeaf(unit) { return replacements[Int(units[node] & 0x7FFF_FFFF)] }
        }
        return nil
    }

    func normalize(_ text: inout [Unicode.Scalar]) {
        if text.isEmpty { return }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count + 8)
        var bytes: [UInt8] = []
        var charStarts: [Int] = []
        let string = UnicodeText.string(text)
        for grapheme in string {
            bytes.removeAll(keepingCapacity: true)
            charStarts.removeAll(keepingCapacity: true)
            for c in grapheme.unicodeScalars {
                charStarts.append(bytes.count)
                UTF8.encode(c) { bytes.append($0) }
            }
            if bytes.count < 6, let r = transform(bytes[...]) {
                out.append(contentsOf: r)
                continue
            }
            for (k, c) in grapheme.unicodeScalars.enumerated() {
                let end = k + 1 < charStarts.count ? charStarts[k + 1] : bytes.count
                if let r = transform(bytes[charStarts[k]..<end]) { out.append(contentsOf: r) } else { out.append(c) }
            }
        }
        text = out
    }
}

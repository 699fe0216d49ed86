/// tokenizer.json `model` of type BPE, as HF's `tokenizers` runs it (`models/bpe/model.rs`, `word.rs`):
/// the word's characters become symbols (a character missing from the vocabulary becomes its `<0xNN>` byte
/// tokens with `byte_fallback`, else the unk token, consecutive unks fused with `fuse_unk`); then the
/// lowest-ranked merge among adjacent pairs is applied, leftmost first, until no pair has a merge.
struct BPE: TokenizerModel {
    static let typeName = "BPE"
    let vocab: TokenIds
    let texts: [String]
    /// Every token's UTF-8, for looking up a whole word (`ignore_merges`) without building a String.
    private let trie: VocabularyTrie
    let unkToken: String?
    let unk: Int32?
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// (left id, right id) → (rank, merged id).
    private let merges: [UInt64: Merge]
    /// Single characters' ids (no prefix/suffix), the common case of the initial split.
    private let characterIds: [UInt32: Int32]
    /// `<0xNN>` ids for byte fallback (-1 where the vocabulary lacks one).
    private let byteIds: [Int32]
    let mergeCount: Int

    struct Merge: Sendable { var rank: Int32; var id: Int32 }

    init(json model: JSONValue) throws(TokenizerError) {
        if let d = model["dropout"], d != .null {
            throw .badField("model.dropout", "is \(d.serialized()); BPE dropout is random and is not supported (it must be null)")
        }
        let pairs = try readVocabularyObject(model["vocab"], path: "model.vocab")
        let vocab = TokenIds(pairs)
        self.vocab = vocab
        self.texts = tokenTextTable(pairs)
        self.trie = VocabularyTrie(pairs)
        unkToken = try readString(model, "unk_token", path: "model")
        if let u = unkToken {
            guard let id = vocab[u] else { throw .unknownToken(role: "BPE unk_token", token: u) }
            unk = id
        } else {
            unk = nil
        }
        let prefix = try readString(model, "continuing_subword_prefix", path: "model")
        continuingSubwordPrefix = prefix?.isEmpty == true ? nil : prefix
        let suffix = try readString(model, "end_of_word_suffix", path: "model")
        endOfWordSuffix = suffix?.isEmpty == true ? nil : suffix
        fuseUnk = try readFlag(model, "fuse_unk", path: "model", default: false)
        byteFallback = try readFlag(model, "byte_fallback", path: "model", default: false)
        ignoreMerges = try readFlag(model, "ignore_merges", path: "model", default: false)

        guard let list = model["merges"]?.arrayValue else { throw .badField("model.merges", "is not a list") }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(list.count)
        let prefixBytes = continuingSubwordPrefix?.utf8.count ?? 0
        for (rank, m) in list.enumerated() {
            let path = "model.merges[\(rank)]"
            let a: String, b: String
            if let s = m.stringValue {
                // "a b": split at the first space (tokens never contain one in this form).
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .badField(path, "\(JSONValue.string(s).serialized()) is not two tokens separated by a space") }
                a = String(parts[0]); b = String(parts[1])
            } else if let pair = m.arrayValue, pair.count == 2, let x = pair[0].stringValue, let y = pair[1].stringValue {
                a = x; b = y
            } else {
                throw .badField(path, "is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard let ia = vocab[a] else { throw .unknownToken(role: "\(path) left token", token: a) }
            guard let ib = vocab[b] else { throw .unknownToken(role: "\(path) right token", token: b) }
            // The merged token drops the right side's continuing-subword prefix (HF cuts that many bytes).
            let bBytes = Array(b.utf8)
            guard bBytes.count >= prefixBytes, let rest = String(validating: bBytes[prefixBytes...], as: UTF8.self) else {
                throw .badField(path, "right token \(JSONValue.string(b).serialized()) is shorter than the continuing-subword prefix")
            }
            let merged = a + rest
            guard let id = vocab[merged] else { throw .unknownToken(role: "\(path) merged token", token: merged) }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            // Ranks are list positions; a repeated pair takes its last position, as HF's map does.
            merges[key] = Merge(rank: Int32(rank), id: id)
        }
        self.merges = merges
        self.mergeCount = list.count
        var chars: [UInt32: Int32] = [:]
        for (token, id) in pairs {
            var it = token.unicodeScalars.makeIterator()
            if let c = it.next(), it.next() == nil { chars[c.value] = id }
        }
        characterIds = chars
        byteIds = (0..<256).map { b in vocab["<0x" + hex2(UInt8(b)) + ">"] ?? -1 }
    }

    var unkId: Int32? { unk }
    var idCount: Int { texts.count }
    var options: [String] {
        var o = ["\(mergeCount) merges"]
        if byteFallback { o.append("byte_fallback") }
        if fuseUnk { o.append("fuse_unk") }
        if ignoreMerges { o.append("ignore_merges") }
        if let p = continuingSubwordPrefix { o.append("continuing_subword_prefix \"\(p)\"") }
        if let s = endOfWordSuffix { o.append("end_of_word_suffix \"\(s)\"") }
        if let u = unkToken { o.append("unk \"\(u)\"") }
        return o
    }
    func tokenText(_ id: Int32) -> String? { id >= 0 && Int(id) < texts.count && !texts[Int(id)].isEmpty ? texts[Int(id)] : nil }
    func id(for token: String) -> Int32? { vocab[token] }

    /// The id of the word's `i`th character (of `n`) as an initial symbol, with prefix/suffix as HF adds them.
    @inline(__always)
    private func symbolId(_ c: Unicode.Scalar, index i: Int, count n: Int) -> Int32? {
        let needsPrefix = i > 0 && continuingSubwordPrefix != nil
        let needsSuffix = i == n - 1 && endOfWordSuffix != nil
        if !needsPrefix && !needsSuffix { return characterIds[c.value] }
        var s = needsPrefix ? continuingSubwordPrefix! : ""
        s.unicodeScalars.append(c)
        if needsSuffix { s += endOfWordSuffix! }
        return vocab[s]
    }

    private func wholeWordId(_ word: ArraySlice<Unicode.Scalar>) -> Int32? {
        var node = VocabularyTrie.root
        for c in word {
            var ok = true
            UTF8.encode(c) { b in
                if ok, let next = trie.child(node, b) { node = next } else { ok = false }
            }
            if !ok { return nil }
        }
        let id = trie.value(node)
        return id >= 0 ? id : nil
    }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32], scratch: inout TokenizerScratch) {
        if word.isEmpty { return }
        if ignoreMerges, let id = wholeWordId(word) { ids.append(id); return }

        // Initial symbols.
        var symbols: [Int32] = []
        swap(&symbols, &scratch.ints)
        defer { swap(&symbols, &scratch.ints) }
        symbols.removeAll(keepingCapacity: true)
        // HF holds an unk back until the next character found in the vocabulary (or the end), so byte-fallback
        // tokens of a later character can come before it; kept as it is, since ids depend on it.
        var pendingUnk = false
        let n = word.count
        for (i, c) in word.enumerated() {
            if let id = symbolId(c, index: i, count: n) {
                if pendingUnk, let unk { symbols.append(unk) }
                pendingUnk = false
                symbols.append(id)
                continue
            }
            if byteFallback {
                let start = symbols.count
                var complete = true
                UTF8.encode(c) { b in
                    let id = byteIds[Int(b)]
                    if id < 0 { complete = false } else { symbols.append(id) }
                }
                if complete { continue }
                symbols.removeSubrange(start...)
            }
            guard let unk else { continue }  // no unk token: HF drops the character
            if pendingUnk && !fuseUnk { symbols.append(unk) }
            pendingUnk = true
        }
        if pendingUnk, let unk { symbols.append(unk) }
        if symbols.count > 1 { applyMerges(&symbols) }
        ids.append(contentsOf: symbols)
    }

    /// Repeatedly merges the adjacent pair with the lowest rank (the leftmost among equals).
    /// Words are short, so a scan per merge beats a heap; long words (> 64 symbols) keep a rank per pair.
    private func applyMerges(_ s: inout [Int32]) {
        var ranks = [Int32](repeating: .max, count: s.count)
        func rank(_ i: Int) -> Int32 {
            guard i + 1 < s.count else { return .max }
            return merges[UInt64(UInt32(s[i])) << 32 | UInt64(UInt32(s[i + 1]))]?.rank ?? .max
        }
        for i in 0..<(s.count - 1) { ranks[i] = rank(i) }
        while s.count > 1 {
            var best = Int32.max, at = -1
            for i in 0..<(s.count - 1) where ranks[i] < best { best = ranks[i]; at = i }
            if at < 0 { break }
            let merged = merges[UInt64(UInt32(s[at])) << 32 | UInt64(UInt32(s[at + 1]))]!.id
            s[at] = merged
            s.remove(at: at + 1)
            ranks.remove(at: at + 1)
            ranks[at] = rank(at)
            if at > 0 { ranks[at - 1] = rank(at - 1) }
        }
    }
}

func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF".unicodeScalars)
    var s = ""
    s.unicodeScalars.append(digits[Int(b >> 4)])
    s.unicodeScalars.append(digits[Int(b & 15)])
    return s
}

// MARK: GGUF (llama.cpp's BPE tokenizer, "gpt2")

extension BPE: GGUFTokenizerModel {
    static let ggufModelName = "gpt2"
    static let addsSpecialTokensByFlag = true
    func ggufTokenText(_ text: String) -> String { text }

    /// The merges in rank order as llama.cpp reads them ("left right").
    var mergeTexts: [String] {
        merges.sorted { $0.value.rank < $1.value.rank }.map { key, _ in
            texts[Int(key >> 32)] + " " + texts[Int(key & 0xFFFF_FFFF)]
        }
    }

    /// llama.cpp runs GPT-2's byte-level BPE: no normalizer, ByteLevel with GPT-2's split and no prefix space
    /// (its BPE forces add_space_prefix off), plain merges.
    func ggufPipeline(_ tokenizer: Tokenizer) throws(GGUF.Error) -> GGUFPipeline {
        // Qwen2/Qwen3: NFC, Qwen2's regex split (Isolated), ByteLevel without its own regex — llama.cpp's "qwen2".
        // llama.cpp does not NFC-normalise: text that NFC changes tokenizes differently there (no text is composed
        // in the tests' goldens but a few set aside by the llama.cpp check).
        if tokenizer.normalizer == .nfc || tokenizer.normalizer == nil,
           let pre = tokenizer.preTokenizer?.flattened,
           pre == [.split(.regex(.qwen2), .isolated, invert: false), .byteLevel(addPrefixSpace: false, useRegex: false)] {
            try checkPlainBPE()
            return GGUFPipeline(pre: "qwen2", keys: [("tokenizer.ggml.merges", .strings(mergeTexts))])
        }
        if let n = tokenizer.normalizer {
            throw .tokenizerUnsupported("its BPE has the normalizer \(n.summary); llama.cpp's byte-level BPE has none")
        }
        guard let pre = tokenizer.preTokenizer, pre.flattened == [.byteLevel(addPrefixSpace: false, useRegex: true)] else {
            let p = tokenizer.preTokenizer?.summary ?? "none"
            let addsPrefix = tokenizer.preTokenizer?.flattened.contains { if case .byteLevel(true, _) = $0 { true } else { false } } ?? false
            throw .tokenizerUnsupported(addsPrefix
                ? "its pre-tokenizer is \(p); llama.cpp's BPE never adds a prefix space and splits with GPT-2's regex only"
                : "its pre-tokenizer is \(p); llama.cpp's \"gpt-2\" BPE is ByteLevel with GPT-2's regex and no prefix space")
        }
        try checkPlainBPE()
        let post = tokenizer.postProcessor
        // "roberta-bpe" is "gpt-2" plus a separator between a pair (llama.cpp's converter names RoBERTa's so).
        let name = !post.prefix.isEmpty && !post.suffix.isEmpty ? "roberta-bpe" : "gpt-2"
        return GGUFPipeline(pre: name, keys: [("tokenizer.ggml.merges", .strings(mergeTexts))])
    }

    /// The BPE options llama.cpp's byte-level BPE does not have.
    private func checkPlainBPE() throws(GGUF.Error) {
        for (on, what) in [(byteFallback, "byte_fallback"), (continuingSubwordPrefix != nil, "continuing_subword_prefix"),
                           (endOfWordSuffix != nil, "end_of_word_suffix")] where on {
            throw .tokenizerUnsupported("its BPE model sets \(what), which llama.cpp's byte-level BPE does not do")
        }
        if ignoreMerges { throw .tokenizerUnsupported("its BPE model sets ignore_merges, which llama.cpp's gpt-2 and qwen2 BPE do not do") }
    }
}

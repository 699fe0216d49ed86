/// tokenizer.json `model` of type WordPiece: greedy longest-match-first over the vocabulary,
/// pieces after the first carry the continuing-subword prefix ("##"); a word that cannot be
/// covered, or is longer than `max_input_chars_per_word` characters, becomes the unk token.
struct WordPiece: TokenizerModel {
    static let typeName = "WordPiece"
    let vocab: TokenIds
    /// Token text by id ("" for ids the vocabulary skips).
    let texts: [String]
    let unkToken: String
    let unk: Int32
    let continuingSubwordPrefix: String
    let maxInputCharsPerWord: Int
    private let trie: VocabularyTrie
    /// The trie node after the continuing-subword prefix; nil when no entry starts with it.
    private let continuationNode: Int32?

    init(vocab pairs: [(String, Int32)], unkToken: String, continuingSubwordPrefix: String = "##",
         maxInputCharsPerWord: Int = 100) throws(TokenizerError) {
        let vocab = TokenIds(pairs)
        guard let unkId = vocab[unkToken] else { throw .unknownToken(role: "WordPiece unk_token", token: unkToken) }
        self.vocab = vocab
        self.texts = tokenTextTable(pairs)
        self.unkToken = unkToken
        self.unk = unkId
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.trie = VocabularyTrie(pairs)
        self.continuationNode = trie.walk(from: VocabularyTrie.root, continuingSubwordPrefix.utf8)
    }

    init(json model: JSONValue) throws(TokenizerError) {
        let vocab = try readVocabularyObject(model["vocab"], path: "model.vocab")
        let maxChars = model["max_input_chars_per_word"]?.intValue ?? 100
        try self.init(vocab: vocab, unkToken: try readString(model, "unk_token", path: "model") ?? "[UNK]",
                      continuingSubwordPrefix: try readString(model, "continuing_subword_prefix", path: "model") ?? "##",
                      maxInputCharsPerWord: maxChars)
    }

    var unkId: Int32? { unk }
    var idCount: Int { texts.count }
    var options: [String] { ["continuing_subword_prefix \"\(continuingSubwordPrefix)\"", "max_input_chars_per_word \(maxInputCharsPerWord)"] }
    func tokenText(_ id: Int32) -> String? { id >= 0 && Int(id) < texts.count && !texts[Int(id)].isEmpty ? texts[Int(id)] : nil }
    func id(for token: String) -> Int32? { vocab[token] }


    /// Appends the ids of one pre-tokenized word.
    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32], scratch buffers: inout TokenizerScratch) {
        if word.count > maxInputCharsPerWord { ids.append(unk); return }
        var scratch: [UInt8] = []
        swap(&scratch, &buffers.bytes)  // borrow the buffer without a copy
        defer { swap(&scratch, &buffers.bytes) }
        scratch.removeAll(keepingCapacity: true)
        for c in word { UTF8.encode(c) { scratch.append($0) } }
        let firstPiece = ids.count
        var start = 0
        while start < scratch.count {
            // Longest vocabulary entry starting at `start`: walk the trie, remember the last match.
            var node: Int32
            if start == 0 {
                node = VocabularyTrie.root
            } else if let c = continuationNode {
                node = c
            } else {
                break
            }
            var matchEnd = -1, matchId: Int32 = -1
            var i = start
            while i < scratch.count, let next = trie.child(node, scratch[i]) {
                node = next
                i += 1
                let id = trie.value(node)
                if id >= 0 { matchEnd = i; matchId = id }
            }
            if matchEnd < 0 { break }
            ids.append(matchId)
            start = matchEnd
        }
        if start < scratch.count {
            ids.removeSubrange(firstPiece...)
            ids.append(unk)
        }
    }
}

// MARK: GGUF (llama.cpp's WPM tokenizer)

extension WordPiece: GGUFTokenizerModel {
    static let ggufModelName = "bert"
    static let addsSpecialTokensByFlag = false

    /// llama.cpp's "phantom space" form: a word-initial piece carries `▁` (U+2581) in front, a continuation
    /// piece loses its `##`.
    func ggufTokenText(_ text: String) -> String {
        text.hasPrefix(continuingSubwordPrefix) ? String(text.dropFirst(continuingSubwordPrefix.count)) : "\u{2581}" + text
    }

    /// WPM's one pipeline is BertNormalizer + BertPreTokenizer: control characters dropped, CJK characters split,
    /// then (steered by two keys, both on by default) accents stripped and lowercased; split at whitespace and
    /// punctuation.
    func ggufPipeline(_ tokenizer: Tokenizer) throws(GGUF.Error) -> GGUFPipeline {
        guard case .bert(let b)? = tokenizer.normalizer else {
            throw .tokenizerUnsupported("its normalizer is \(tokenizer.normalizer?.summary ?? "none"); llama.cpp's WordPiece normalizes as BertNormalizer does")
        }
        guard b.cleanText, b.handleChineseChars else {
            throw .tokenizerUnsupported("its BertNormalizer turns off \(b.cleanText ? "handle_chinese_chars" : "clean_text"), which llama.cpp's WordPiece always does")
        }
        guard tokenizer.preTokenizer == .bert else {
            throw .tokenizerUnsupported("its pre-tokenizer is \(tokenizer.preTokenizer?.summary ?? "none"); llama.cpp's WordPiece splits as BertPreTokenizer does")
        }
        return GGUFPipeline(keys: [("tokenizer.ggml.normalizer.lowercase", .bool(b.lowercase)),
                                   ("tokenizer.ggml.normalizer.strip_accents", .bool(b.stripAccents))])
    }
}

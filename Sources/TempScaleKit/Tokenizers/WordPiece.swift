/// tokenizer.json `model` of type WordPiece: greedy longest-match-first over the vocabulary,
/// pieces after the first carry the continuing-subword prefix ("##"); a word that cannot be
/// covered, or is longer than `max_input_chars_per_word` characters, becomes the unk token.
struct WordPiece: Sendable {
    let vocab: [String: Int32]
    /// Token text by id ("" for ids the vocabulary skips).
    let tokenText: [String]
    let unkToken: String
    let unkId: Int32
    let continuingSubwordPrefix: String
    let maxInputCharsPerWord: Int
    private let trie: VocabularyTrie
    /// The trie node after the continuing-subword prefix; nil when no entry starts with it.
    private let continuationNode: Int32?

    init(vocab: [String: Int32], unkToken: String, continuingSubwordPrefix: String = "##",
         maxInputCharsPerWord: Int = 100) throws(TokenizerError) {
        guard let unkId = vocab[unkToken] else { throw .unknownToken(role: "WordPiece unk_token", token: unkToken) }
        var text = [String](repeating: "", count: Int(vocab.values.max() ?? -1) + 1)
        for (token, id) in vocab where id >= 0 { text[Int(id)] = token }
        self.vocab = vocab
        self.tokenText = text
        self.unkToken = unkToken
        self.unkId = unkId
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.trie = VocabularyTrie(vocab.lazy.map { ($0.key, $0.value) })
        self.continuationNode = trie.walk(from: VocabularyTrie.root, continuingSubwordPrefix.utf8)
    }

    init(json model: JSONValue) throws(TokenizerError) {
        guard let entries = model["vocab"]?.objectValue else { throw .badField("model.vocab", "is not an object of token → id") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(entries.count)
        for (token, id) in entries.pairs {
            guard let i = id.intValue, let i32 = Int32(exactly: i), i32 >= 0 else {
                throw .badField("model.vocab[\"\(token)\"]", "is not an id ≥ 0")
            }
            vocab[token] = i32
        }
        let maxChars = model["max_input_chars_per_word"]?.intValue ?? 100
        try self.init(vocab: vocab, unkToken: model["unk_token"]?.stringValue ?? "[UNK]",
                      continuingSubwordPrefix: model["continuing_subword_prefix"]?.stringValue ?? "##",
                      maxInputCharsPerWord: maxChars)
    }

    /// Appends the ids of one pre-tokenized word. `scratch` is a reusable UTF-8 buffer.
    func tokenize(_ word: ArraySlice<Unicode.Scalar>, scratch: inout [UInt8], into ids: inout [Int32]) {
        if word.count > maxInputCharsPerWord { ids.append(unkId); return }
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
            ids.append(unkId)
        }
    }
}

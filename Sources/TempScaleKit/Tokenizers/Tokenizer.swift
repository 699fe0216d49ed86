/// The ids (and token texts) of one text, as HF `tokenizers` would give them.
public struct Encoding: Sendable, Equatable {
    public let ids: [Int32]
    public let tokens: [String]
    /// True when ids were dropped to fit `maxLength`.
    public let truncated: Bool
    /// The number of ids before truncation, special tokens included.
    public let fullLength: Int
}

/// A BERT-family WordPiece tokenizer read from tokenizer.json, matching HF `tokenizers`:
/// added tokens → normalizer → pre-tokenizer → WordPiece → truncation → post-processor.
public final class Tokenizer: Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: WordPiece
    let postProcessor: PostProcessor
    /// Added tokens matched in the raw text (`normalized: false`) and in normalized text.
    private let rawAddedTokens: AddedTokenMatcher
    private let normalizedAddedTokens: AddedTokenMatcher
    /// Added tokens' text by id (for the Encoding's token list).
    private let addedTokenText: [Int32: String]
    /// The added tokens with the ids HF gives them (the GGUF writer types them CONTROL or USER_DEFINED).
    let addedTokens: [AddedToken]
    public let padId: Int32
    public let vocabSize: Int

    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: WordPiece, postProcessor: PostProcessor,
         addedTokens: [AddedToken], padToken: String?) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        // HF gives an added token the model's id for its content when the vocabulary has it.
        let tokens = addedTokens.map { t -> AddedToken in
            var t = t
            if let id = model.vocab[t.content] { t.id = id }
            return t
        }
        // Special tokens first, then the others, as HF builds its matchers (the order breaks ties).
        let ordered = tokens.filter(\.special) + tokens.filter { !$0.special }
        rawAddedTokens = AddedTokenMatcher(ordered.filter { !$0.normalized })
        normalizedAddedTokens = AddedTokenMatcher(ordered.filter(\.normalized), normalize: normalizer.map { n in { n.normalize(&$0) } })
        addedTokenText = Dictionary(tokens.map { ($0.id, $0.content) }, uniquingKeysWith: { a, _ in a })
        self.addedTokens = tokens
        // The named pad token, else the usual spellings, else 0 (what HF pads with by default).
        let candidates = [padToken, "[PAD]", "<pad>"].compactMap { $0 }
        padId = candidates.lazy.compactMap { name in tokens.first { $0.content == name }?.id ?? model.vocab[name] }.first ?? 0
        vocabSize = Set(model.vocab.values).union(tokens.map(\.id)).count
    }

    /// Reads tokenizer.json. Errors name the unsupported component or the malformed field.
    public convenience init(tokenizerJSON: [UInt8]) throws {
        do {
            try self.init(parsing: tokenizerJSON, padToken: nil)
        } catch {
            throw FileError("tokenizer.json", error)
        }
    }

    /// `padToken` (tokenizer_config.json's) names the padding token when tokenizer.json has no padding block.
    convenience init(parsing bytes: [UInt8], padToken: String?) throws(TokenizerError) {
        let json: JSONValue
        do { json = try JSON.parse(bytes) } catch { throw .invalidJSON(error) }
        guard let modelJSON = json["model"], modelJSON != .null else { throw .badField("model", "is missing") }
        let modelType = modelJSON["type"]?.stringValue ?? "(no type)"
        guard modelType == "WordPiece" else {
            throw .unsupported(component: "model", type: modelType, supported: ["WordPiece"])
        }
        let model = try WordPiece(json: modelJSON)
        let normalizer = try json["normalizer"].flatMap { v throws(TokenizerError) in v == .null ? nil : try Normalizer(json: v) }
        let preTokenizer = try json["pre_tokenizer"].flatMap { v throws(TokenizerError) in v == .null ? nil : try PreTokenizer(json: v) }
        let post = try json["post_processor"].flatMap { v throws(TokenizerError) in v == .null ? nil : try PostProcessor(json: v) } ?? .none

        var added: [AddedToken] = []
        for (i, t) in (json["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let content = t["content"]?.stringValue, let id = t["id"]?.intValue, let id32 = Int32(exactly: id) else {
                throw .badField("added_tokens[\(i)]", "has no content or id")
            }
            let special = t["special"]?.boolValue ?? false
            added.append(AddedToken(content: content, id: id32, singleWord: t["single_word"]?.boolValue ?? false,
                                    lstrip: t["lstrip"]?.boolValue ?? false, rstrip: t["rstrip"]?.boolValue ?? false,
                                    normalized: t["normalized"]?.boolValue ?? !special, special: special))
        }
        // The truncation and padding settings are ignored (sentence-transformers sets its own); only the pad token is read.
        self.init(normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: post,
                  addedTokens: added, padToken: json["padding"]?["pad_token"]?.stringValue ?? padToken)
    }

    /// Token ids of `text` with the special tokens; at most `maxLength` ids (special tokens included),
    /// cutting the text's tokens from the end, as `tokenizer(text, truncation=True, max_length=…)`.
    /// The special tokens are always added, so a `maxLength` below their count gives just them.
    public func encode(_ text: String, maxLength: Int?) -> Encoding {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int32] = []
        var tokens: [String] = []
        ids.reserveCapacity(scalars.count / 3 + 4)
        var scratch: [UInt8] = []
        var words: [Range<Int>] = []

        for piece in rawAddedTokens.split(scalars, scalars.indices) {
            if let id = piece.tokenId {
                ids.append(id)
                tokens.append(UnicodeText.string(scalars[piece.range]))
                continue
            }
            var normalized = Array(scalars[piece.range])
            normalizer?.normalize(&normalized)
            for sub in normalizedAddedTokens.split(normalized, normalized.indices) {
                if let id = sub.tokenId {
                    ids.append(id)
                    tokens.append(UnicodeText.string(normalized[sub.range]))
                    continue
                }
                words.removeAll(keepingCapacity: true)
                if let preTokenizer { preTokenizer.split(normalized, sub.range, into: &words) } else if !sub.range.isEmpty { words.append(sub.range) }
                for w in words {
                    let first = ids.count
                    model.tokenize(normalized[w], scratch: &scratch, into: &ids)
                    for id in ids[first...] { tokens.append(model.tokenText[Int(id)]) }
                }
            }
        }

        let fullLength = ids.count + postProcessor.addedCount
        var truncated = false
        if let maxLength {
            let budget = max(0, maxLength - postProcessor.addedCount)
            if ids.count > budget {
                ids.removeSubrange(budget...)
                tokens.removeSubrange(budget...)
                truncated = true
            }
        }
        let p = postProcessor
        return Encoding(ids: p.prefix.map(\.id) + ids + p.suffix.map(\.id),
                        tokens: p.prefix.map(\.token) + tokens + p.suffix.map(\.token),
                        truncated: truncated, fullLength: fullLength)
    }

    public func encodeBatch(_ texts: [String], maxLength: Int?) -> [Encoding] {
        texts.map { encode($0, maxLength: maxLength) }
    }

    /// The token text of an id (vocabulary or added token), or nil.
    public func token(for id: Int32) -> String? {
        if let t = addedTokenText[id] { return t }
        guard id >= 0, Int(id) < model.tokenText.count, !model.tokenText[Int(id)].isEmpty else { return nil }
        return model.tokenText[Int(id)]
    }

    /// The id of a token text (added token or vocabulary entry), or nil.
    public func id(for token: String) -> Int32? {
        model.vocab[token] ?? addedTokenText.first { $0.value == token }?.key
    }
}

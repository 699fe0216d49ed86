/// The ids (and token texts) of one text, as HF `tokenizers` would give them.
public struct Encoding: Sendable, Equatable {
    public let ids: [Int32]
    public let tokens: [String]
    /// True when ids were dropped to fit `maxLength`.
    public let truncated: Bool
    /// The number of ids before truncation, special tokens included.
    public let fullLength: Int
}

/// A tokenizer read from tokenizer.json, matching HF `tokenizers` id for id:
/// added tokens → normalizer → pre-tokenizer → model (WordPiece, BPE or Unigram) → truncation → post-processor.
public final class Tokenizer: Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: any TokenizerModel
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

    /// The model's kind: "WordPiece", "BPE" or "Unigram".
    public var kind: String { model.kind }

    /// One line per pipeline stage, for `inspect` and `tokenize`.
    public var pipeline: [(stage: String, value: String)] {
        [("model", ([model.kind] + model.options).joined(separator: ", ")),
         ("normalizer", normalizer?.summary ?? "none"),
         ("pre-tokenizer", preTokenizer?.summary ?? "none"),
         ("post-processor", postProcessor.summary + (postProcessor.addedCount > 0
             ? " (" + (postProcessor.prefix.map(\.token) + ["$A"] + postProcessor.suffix.map(\.token)).joined(separator: " ") + ")" : "")),
         ("added tokens", "\(addedTokens.count) (\(addedTokens.filter(\.special).count) special)")]
    }

    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: any TokenizerModel, postProcessor: PostProcessor,
         addedTokens: [AddedToken], padToken: String?) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        // HF gives an added token the model's id for its content when the vocabulary has it.
        let tokens = addedTokens.map { t -> AddedToken in
            var t = t
            if let id = model.id(for: t.content) { t.id = id }
            return t
        }
        // Special tokens first, then the others, as HF builds its matchers (the order breaks ties).
        let ordered = tokens.filter(\.special) + tokens.filter { !$0.special }
        rawAddedTokens = AddedTokenMatcher(ordered.filter { !$0.normalized })
        normalizedAddedTokens = AddedTokenMatcher(ordered.filter(\.normalized), normalize: normalizer.map { n in { n.normalize(&$0) } })
        addedTokenText = Dictionary(tokens.map { ($0.id, $0.content) }, uniquingKeysWith: { a, _ in a })
        self.addedTokens = tokens
        // The named pad token, else the usual spellings, else 0 (what HF pads with by default).
        let candidates = [padToken, "[PAD]", "<pad>", "<|endoftext|>"].compactMap { $0 }
        padId = candidates.lazy.compactMap { name in tokens.first { $0.content == name }?.id ?? model.id(for: name) }.first ?? 0
        vocabSize = max(model.idCount, Int(tokens.map(\.id).max() ?? -1) + 1)
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
        let model = try TokenizerModels.model(json: modelJSON)
        let normalizer = try json["normalizer"].flatMap { v throws(TokenizerError) in v == .null ? nil : try Normalizer(json: v) }
        let preTokenizer = try json["pre_tokenizer"].flatMap { v throws(TokenizerError) in v == .null ? nil : try PreTokenizer(json: v) }
        let post = try json["post_processor"].flatMap { v throws(TokenizerError) in v == .null ? nil : try PostProcessor(json: v) } ?? .none
        // The decoder turns ids back into text; it never changes ids, so it is not read.

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
    /// The special tokens are always added (unless `addSpecialTokens` is false), so a `maxLength` below their
    /// count gives just them.
    public func encode(_ text: String, maxLength: Int?, addSpecialTokens: Bool = true) -> Encoding {
        var ids: [Int32] = []
        var tokens: [String] = []
        var scratch = TokenizerScratch()
        encodeSequence(text, ids: &ids, tokens: &tokens, scratch: &scratch)
        let p = addSpecialTokens ? postProcessor : .none
        let fullLength = ids.count + p.addedCount
        var truncated = false
        if let maxLength {
            let budget = max(0, maxLength - p.addedCount)
            if ids.count > budget {
                ids.removeSubrange(budget...)
                tokens.removeSubrange(budget...)
                truncated = true
            }
        }
        return Encoding(ids: p.prefix.map(\.id) + ids + p.suffix.map(\.id),
                        tokens: p.prefix.map(\.token) + tokens + p.suffix.map(\.token),
                        truncated: truncated, fullLength: fullLength)
    }

    /// The ids of a pair of texts with the pair template's special tokens (no truncation).
    public func encodePair(_ a: String, _ b: String) -> [Int32] {
        var scratch = TokenizerScratch()
        var idsA: [Int32] = [], idsB: [Int32] = [], tokens: [String] = []
        encodeSequence(a, ids: &idsA, tokens: &tokens, scratch: &scratch)
        encodeSequence(b, ids: &idsB, tokens: &tokens, scratch: &scratch)
        return postProcessor.pair.flatMap { piece -> [Int32] in
            switch piece {
            case .a: return idsA
            case .b: return idsB
            case .special(let s): return [s.id]
            }
        }
    }

    /// The ids and token texts of one sequence, before truncation and special tokens.
    private func encodeSequence(_ text: String, ids: inout [Int32], tokens: inout [String], scratch: inout TokenizerScratch) {
        let scalars = Array(text.unicodeScalars)
        ids.reserveCapacity(scalars.count / 3 + 4)
        for piece in rawAddedTokens.split(scalars, scalars.indices) {
            if let id = piece.tokenId {
                ids.append(id)
                tokens.append(UnicodeText.string(scalars[piece.range]))
                continue
            }
            var normalized = Array(scalars[piece.range])
            normalizer?.normalize(&normalized)
            let atOrigin = piece.range.lowerBound == 0
            for sub in normalizedAddedTokens.split(normalized, normalized.indices) {
                if let id = sub.tokenId {
                    ids.append(id)
                    tokens.append(UnicodeText.string(normalized[sub.range]))
                    continue
                }
                var words = PreTokenizedText(text: normalized, words: sub.range.isEmpty ? [] : [sub.range],
                                             origin: atOrigin && sub.range.lowerBound == 0 ? 0 : nil)
                preTokenizer?.apply(&words)
                for w in words.words {
                    let first = ids.count
                    model.tokenize(words.text[w], into: &ids, scratch: &scratch)
                    for id in ids[first...] { tokens.append(model.tokenText(id) ?? "") }
                }
            }
        }
    }

    /// The token text of an id (vocabulary or added token), or nil.
    public func token(for id: Int32) -> String? {
        addedTokenText[id] ?? model.tokenText(id)
    }

    /// The id of a token text (added token or vocabulary entry), or nil.
    public func id(for token: String) -> Int32? {
        model.id(for: token) ?? addedTokenText.first { $0.value == token }?.key
    }
}

/// The `tokenizer.ggml.*` keys: the model's vocabulary as llama.cpp's tokenizer of the same kind reads it
/// (WPM for WordPiece, BPE "gpt2" for byte-level BPE, UGM "t5" for Unigram; golden/gguf-notes.md has the rules,
/// with file:line references into llama.cpp).
///
/// llama.cpp does not run tokenizer.json: each of its tokenizers has one fixed pipeline, steered by a few keys.
/// So the writer checks, component by component, that the model's pipeline is one llama.cpp reproduces, and
/// refuses the file by naming the component otherwise — a GGUF that tokenizes differently from the model would
/// give wrong embeddings with no warning. What each kind needs is in its model's file (`GGUFTokenizerModel`).
struct GGUFVocabulary {
    var metadata: [(String, GGUF.Value)] = []

    init(_ model: Model, size: Int) throws(GGUF.Error) {
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer.load(from: model) } catch {
            throw .tokenizerUnsupported(model.files["tokenizer.json"] == nil && model.files["vocab.txt"] == nil
                ? "there is none (no tokenizer.json or vocab.txt)" : "it is unreadable (\(error))")
        }
        guard let kind = tokenizer.model as? any GGUFTokenizerModel else {
            throw .tokenizerUnsupported("llama.cpp has no \(tokenizer.kind) tokenizer")
        }
        let added = Dictionary(tokenizer.addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let largestId = max(tokenizer.model.idCount - 1, Int(added.keys.max() ?? -1))
        guard largestId < size else { throw .vocabularyLargerThanEmbeddings(tokenizer: largestId + 1, embeddings: size) }

        // One entry per embedding row: ids the tokenizer does not use become `[PAD<id>]`, typed UNUSED, as
        // llama.cpp's converter fills them.
        var tokens: [String] = [], types: [Int32] = []
        tokens.reserveCapacity(size)
        types.reserveCapacity(size)
        for id in 0..<size {
            guard let text = tokenizer.token(for: Int32(id)) else {
                tokens.append("[PAD\(id)]")
                types.append(GGUF.TokenType.unused)
                continue
            }
            if let a = added[Int32(id)] {
                tokens.append(a.special ? text : kind.ggufTokenText(text))
                types.append(a.special ? GGUF.TokenType.control : GGUF.TokenType.userDefined)
            } else {
                tokens.append(kind.ggufTokenText(text))
                types.append(Int32(id) == tokenizer.model.unkId && type(of: kind).typesUnknown ? GGUF.TokenType.unknown : GGUF.TokenType.normal)
            }
        }

        // The special tokens around one text: llama.cpp adds at most one in front (BOS) and one at the end (EOS).
        let post = tokenizer.postProcessor
        guard post.prefix.count <= 1, post.suffix.count <= 1 else {
            throw .tokenizerUnsupported("its post-processor adds \(post.prefix.map(\.token) + ["$A"] + post.suffix.map(\.token)); llama.cpp adds at most one token before and one after a text")
        }
        let pipeline = try kind.ggufPipeline(tokenizer)

        metadata = [("tokenizer.ggml.model", .string(type(of: kind).ggufModelName))]
        if let pre = pipeline.pre { metadata.append(("tokenizer.ggml.pre", .string(pre))) }
        metadata += [("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.token_type", .i32s(types))]
        if let scores = kind.ggufScores(size: size) { metadata.append(("tokenizer.ggml.scores", .f32s(scores))) }
        metadata += pipeline.keys

        let bos = post.prefix.first?.id, eos = post.suffix.first?.id
        if let bos {
            metadata.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(bos))))
            metadata.append(("tokenizer.ggml.cls_token_id", .u32(UInt32(bos))))
        }
        if let eos {
            metadata.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(eos))))
            metadata.append(("tokenizer.ggml.seperator_token_id", .u32(UInt32(eos))))  // sic: llama.cpp's spelling
        }
        if let unk = tokenizer.model.unkId { metadata.append(("tokenizer.ggml.unknown_token_id", .u32(UInt32(unk)))) }
        metadata.append(("tokenizer.ggml.padding_token_id", .u32(UInt32(tokenizer.padId))))
        // tokenizer_config.json names the mask token as a string or as an added-token object.
        let config = (try? model.files["tokenizer_config.json"].map { try JSON.parse($0) }) ?? nil
        let maskName = config?["mask_token"]?.stringValue ?? config?["mask_token"]?["content"]?.stringValue
        if let mask = (maskName.map { [$0] } ?? ["[MASK]", "<mask>"]).lazy.compactMap({ tokenizer.id(for: $0) }).first {
            metadata.append(("tokenizer.ggml.mask_token_id", .u32(UInt32(mask))))
        }
        if type(of: kind).addsSpecialTokensByFlag {
            // BPE and UGM add BOS/EOS only when these say so (their defaults differ: BPE none, UGM EOS only).
            metadata.append(("tokenizer.ggml.add_bos_token", .bool(bos != nil)))
            metadata.append(("tokenizer.ggml.add_eos_token", .bool(eos != nil)))
        } else {
            // WPM always adds both.
            guard bos != nil else { throw .noSpecialToken("leading ([CLS])") }
            guard eos != nil else { throw .noSpecialToken("trailing ([SEP])") }
        }
    }
}

/// The model-specific keys of a vocabulary, and the pre-tokenizer name.
struct GGUFPipeline {
    var pre: String?
    var keys: [(String, GGUF.Value)] = []
}

/// A tokenizer model llama.cpp has: what its file tells the GGUF writer.
protocol GGUFTokenizerModel: TokenizerModel {
    /// `tokenizer.ggml.model` ("bert", "gpt2", "t5").
    static var ggufModelName: String { get }
    /// Whether llama.cpp adds BOS/EOS by the `add_*_token` flags (BPE, UGM) or always (WPM).
    static var addsSpecialTokensByFlag: Bool { get }
    /// Whether the unk piece is typed UNKNOWN (UGM scores it apart) rather than NORMAL.
    static var typesUnknown: Bool { get }
    /// A vocabulary token's text as llama.cpp's tokenizer of that kind reads it.
    func ggufTokenText(_ text: String) -> String
    /// Per-id scores (`tokenizer.ggml.scores`), for the kinds that use them.
    func ggufScores(size: Int) -> [Float]?
    /// Checks that llama.cpp reproduces the tokenizer's normalizer and pre-tokenizer (refusing by component),
    /// and gives the keys that steer it.
    func ggufPipeline(_ tokenizer: Tokenizer) throws(GGUF.Error) -> GGUFPipeline
}

extension GGUFTokenizerModel {
    static var typesUnknown: Bool { false }
    func ggufScores(size: Int) -> [Float]? { nil }
}

extension Normalizer {
    /// The normalizers of a (possibly nested) sequence, in order.
    var flattened: [Normalizer] {
        if case .sequence(let parts) = self { return parts.flatMap(\.flattened) }
        return [self]
    }
}

extension PreTokenizer {
    /// The pre-tokenizers of a (possibly nested) sequence, in order.
    var flattened: [PreTokenizer] {
        if case .sequence(let parts) = self { return parts.flatMap(\.flattened) }
        return [self]
    }
}

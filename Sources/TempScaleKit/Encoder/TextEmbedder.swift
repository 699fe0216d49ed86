/// Text in, sentence embeddings out: the model's tokenizer, truncation as sentence-transformers
/// does it (at max_seq_length, special tokens included), and the encoder.
public final class TextEmbedder: @unchecked Sendable {
    public let model: Model
    public let tokenizer: Tokenizer
    public let encoder: Encoder
    public let maxLength: Int

    public struct Result: Sendable {
        public let embeddings: [[Float]]
        public let tokenCounts: [Int]
        /// Indices of the texts that were cut at `maxLength`.
        public let truncated: [Int]
    }

    public enum Error: ReasonError, Equatable {
        case maxLengthTooLarge(Int, limit: Int)
        case badTemperature(String)
        case unsupportedModule(type: String, path: String)
        case unknownPrompt(String, known: [String])
        public var description: String {
            switch self {
            case .unsupportedModule(let type, let path):
                return "modules.json names \(type) (\(path.isEmpty ? "no folder" : path)), which the built-in encoder does not run; "
                    + "its embeddings would be wrong without it (supported: Transformer, Pooling, Dense, Normalize)"
            case .unknownPrompt(let name, let known):
                return "no prompt named '\(name)' (config_sentence_transformers.json has \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            case .maxLengthTooLarge(let n, let limit): return "--max-length \(n) exceeds the model's \(limit) positions"
            case .badTemperature(let t): return "temperature must be a finite number > 0 (got \(t))"
            }
        }
    }

    /// The longest input the model's position table allows (RoBERTa-style models reserve padding_idx + 1 rows).
    public static func positionLimit(_ model: Model) -> Int? { model.architecture.positionLimit }

    public init(model: Model, maxLength: Int? = nil, options: Encoder.Options = .init()) throws {
        if let m = model.sentenceTransformers.unsupportedModules.first {
            throw FileError(model.path + "/modules.json", Error.unsupportedModule(type: m.type, path: m.path))
        }
        self.model = model
        tokenizer = try Tokenizer.load(from: model)
        encoder = try Encoder(model: model, options: options)
        let limit = TextEmbedder.positionLimit(model)
        let chosen = maxLength ?? model.sentenceTransformers.maxSeqLength ?? min(limit ?? 512, 512)
        if let limit, chosen > limit { throw FileError(model.path, Error.maxLengthTooLarge(chosen, limit: limit)) }
        self.maxLength = chosen
    }

    public static func checkTemperature(_ t: Double) throws(Error) {
        guard t.isFinite, t > 0 else { throw .badTemperature("\(t)") }
    }

    /// Which prompt goes in front of a text: the model's default (as sentence-transformers' encode), one named in
    /// config_sentence_transformers.json ("" for none), or a literal text.
    public enum Prompt: Sendable, Equatable {
        case modelDefault
        case named(String)
        case text(String)

        /// The choice of a `--prompt NAME` / `--prompt-text T` pair (the text wins); nil when neither is given.
        public init?(name: String?, text: String?) {
            if let text { self = .text(text) } else if let name { self = .named(name) } else { return nil }
        }
    }

    /// The text of a prompt choice.
    public func promptText(_ p: Prompt) throws(Error) -> String {
        switch p {
        case .modelDefault: return try promptText(named: nil)
        case .named(let name): return name.isEmpty ? "" : try promptText(named: name)
        case .text(let t): return t
        }
    }

    /// The prompt text for a prompt name (nil: the model's default prompt, as sentence-transformers' encode).
    public func promptText(named name: String?) throws(Error) -> String {
        let st = model.sentenceTransformers
        guard let name else { return st.defaultPromptName.flatMap { st.prompt(named: $0) } ?? "" }
        guard let text = st.prompt(named: name) else { throw .unknownPrompt(name, known: st.prompts.map(\.name)) }
        return text
    }

    /// Tokens of the prompt that pooling leaves out when include_prompt is false, as sentence-transformers counts
    /// them: the prompt tokenised alone with special tokens, less a trailing special token.
    public func promptLength(_ prompt: String) -> Int {
        guard !prompt.isEmpty else { return 0 }
        let ids = tokenizer.encode(prompt, maxLength: maxLength).ids
        let special = Set(tokenizer.addedTokens.filter(\.special).map(\.id))
        return ids.count - (ids.last.map { special.contains($0) } == true ? 1 : 0)
    }

    /// `prompt + text` for each text (plain concatenation: the prompt counts against the max length).
    public func tokenize(_ texts: [String], prompt: String = "") -> [Encoding] {
        tokenizer.encodeBatch(prompt.isEmpty ? texts : texts.map { prompt + $0 }, maxLength: maxLength)
    }

    /// Embeddings of token ids that each start with a prompt of `promptLength` tokens (pooling leaves it out when
    /// include_prompt is false; 0: no prompt).
    public func embed(ids: [[Int32]], temperature: Float, promptLength: Int,
                      progress: (@Sendable (Int, Int) -> Void)? = nil) -> [[Float]] {
        encoder.embed(ids: ids, temperature: temperature, padId: tokenizer.padId,
                      promptLengths: promptLength > 0 ? [Int](repeating: promptLength, count: ids.count) : nil, progress: progress)
    }

    /// Embeddings of `texts` with `prompt` in front (nil: the model's default prompt; "" none).
    public func embed(_ texts: [String], temperature: Double = 1, prompt: String? = nil,
                      progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Result {
        try TextEmbedder.checkTemperature(temperature)
        let p = try prompt ?? promptText(named: nil)
        let encodings = tokenize(texts, prompt: p)
        let embeddings = embed(ids: encodings.map(\.ids), temperature: Float(temperature), promptLength: promptLength(p),
                               progress: progress)
        return Result(embeddings: embeddings, tokenCounts: encodings.map(\.ids.count),
                      truncated: encodings.indices.filter { encodings[$0].truncated })
    }
}

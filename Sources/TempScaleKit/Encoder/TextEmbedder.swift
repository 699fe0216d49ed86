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
        public var description: String {
            switch self {
            case .unsupportedModule(let type, let path):
                return "modules.json names \(type) (\(path.isEmpty ? "no folder" : path)), which the built-in encoder does not run; "
                    + "its embeddings would be wrong without it (supported: Transformer, Pooling, Normalize)"
            case .maxLengthTooLarge(let n, let limit): return "--max-length \(n) exceeds the model's \(limit) positions"
            case .badTemperature(let t): return "temperature must be a finite number > 0 (got \(t))"
            }
        }
    }

    /// The longest input the model's position table allows (RoBERTa-style models reserve padding_idx + 1 rows).
    public static func positionLimit(_ model: Model) -> Int? {
        guard let p = model.architecture.dims.maxPositions else { return nil }
        if let b = model.architecture as? BertFamily, b.modelType != "bert" { return p - b.padTokenId - 1 }
        if let m = model.architecture as? MPNet { return p - m.padTokenId - 1 }
        return p
    }

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

    public func tokenize(_ texts: [String]) -> [Encoding] { tokenizer.encodeBatch(texts, maxLength: maxLength) }

    public func embed(_ texts: [String], temperature: Double = 1, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Result {
        try TextEmbedder.checkTemperature(temperature)
        let encodings = tokenize(texts)
        let embeddings = encoder.embed(ids: encodings.map(\.ids), temperature: Float(temperature), padId: tokenizer.padId,
                                       progress: progress)
        return Result(embeddings: embeddings, tokenCounts: encodings.map(\.ids.count),
                      truncated: encodings.indices.filter { encodings[$0].truncated })
    }
}

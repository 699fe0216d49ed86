import Dispatch

/// What `inspect` and `tokenize` say about a tokenizer: its kind, each pipeline stage, and whether the
/// reference stack would run a different pipeline for this folder.
public struct TokenizerSummary: Sendable {
    /// (stage, description) rows: model, normalizer, pre-tokenizer, post-processor, added tokens.
    public let rows: [(String, String)]
    /// Set when sentence-transformers would not run tokenizer.json's pipeline for this folder.
    public let pipelineNote: String?

    public init(_ tokenizer: Tokenizer, tokenizerConfig: JSONValue? = nil, modelType: String? = nil) {
        rows = tokenizer.pipeline.map { ($0.stage, $0.value) }
        pipelineNote = Self.classPipelineNote(tokenizerConfig: tokenizerConfig, modelType: modelType)
    }

    public init(model: Model) throws {
        self.init(try Tokenizer.load(from: model), model: model)
    }

    /// For a tokenizer already loaded from `model` (loading a big vocabulary again costs a second).
    public init(_ tokenizer: Tokenizer, model: Model) {
        let config = model.files["tokenizer_config.json"].flatMap { try? JSON.parse($0) }
        self.init(tokenizer, tokenizerConfig: config, modelType: model.config["model_type"]?.stringValue)
    }

    public var json: JSONValue {
        var o = JSONObject(rows.map { ($0.0, JSONValue.string($0.1)) })
        o["pipeline_note"] = pipelineNote.map { .string($0) } ?? .null
        return .object(o)
    }

    /// Classes of transformers 5.24 that rebuild the pipeline in code instead of reading tokenizer.json, by the
    /// name tokenizer_config.json gives (or, without one, config.json's model_type), with what was measured on
    /// the 17,591-text corpus of `make tokenizers` (golden/tokenizer_pipelines.py, 2026-12-02).
    static let classPipelines: [(tokenizerClass: String, modelTypes: [String], measured: String)] = [
        ("XLMRobertaTokenizer", ["xlm-roberta"], "other ids on 961 of 17,591 texts for multilingual-e5's file"),
        ("T5Tokenizer", ["t5", "mt5", "umt5"], "other ids on 958 of 17,591 texts for T5's file, 7,609 for UMT5's"),
    ]

    /// A note when sentence-transformers (6.2, transformers 5.24) would tokenize with a class's own pipeline:
    /// it drops the `Replace(" {2,}")` normalizer and splits on whitespace before Metaspace (and for UMT5 takes
    /// unk id 2). tempscale follows tokenizer.json, as `tokenizers`, TEI, candle and llama.cpp's converter do.
    static func classPipelineNote(tokenizerConfig: JSONValue?, modelType: String?) -> String? {
        let named = tokenizerConfig?["tokenizer_class"]?.stringValue
        if let named, named == "PreTrainedTokenizerFast" || named == "TokenizersBackend" { return nil }
        let base = named.map { $0.hasSuffix("Fast") ? String($0.dropLast(4)) : $0 }
        guard let entry = classPipelines.first(where: { e in
            base.map { $0 == e.tokenizerClass } ?? modelType.map { e.modelTypes.contains($0) } ?? false
        }) else { return nil }
        let why = named != nil ? "tokenizer_config.json names \(named!)" : "config.json's model_type is \(modelType!)"
        return "\(why), so sentence-transformers 6.2 (transformers 5.24) builds \(entry.tokenizerClass)'s pipeline in code "
            + "instead of reading tokenizer.json (\(entry.measured)); tempscale follows tokenizer.json, as the tokenizers "
            + "library does. To make sentence-transformers agree, set \"tokenizer_class\": \"PreTrainedTokenizerFast\"."
    }
}

extension Tokenizer {
    /// A tokenizer from a tokenizer.json file, or from a model folder / weight file / .tsm.
    public static func load(path: String) throws -> Tokenizer {
        if path.hasSuffix(".json") {
            let bytes = try MappedFile(path: path)
            do { return try Tokenizer(parsing: Array(bytes.all), padToken: nil) } catch { throw FileError(path, error) }
        }
        return try load(from: ModelLoader.open(path))
    }

    /// `encode` over many texts on `threads` threads (order kept).
    public func encodeBatch(_ texts: [String], maxLength: Int?, addSpecialTokens: Bool = true, threads: Int = 1) -> [Encoding] {
        let n = texts.count
        guard threads > 1, n > 1 else { return texts.map { encode($0, maxLength: maxLength, addSpecialTokens: addSpecialTokens) } }
        let results = UnsafeMutableBufferPointer<Encoding?>.allocate(capacity: n)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        // One contiguous share per thread, so at most `threads` run at once.
        let chunks = min(threads, n)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * n / chunks, hi = (c + 1) * n / chunks
            for i in lo..<hi { out[i] = encode(texts[i], maxLength: maxLength, addSpecialTokens: addSpecialTokens) }
        }
        return results.map { $0! }
    }
}

/// A model as tempscale holds it, whatever it was read from: the HF config, the architecture, the
/// tensors (mapped where possible), the sentence-transformers settings, the tokenizer and other
/// side files (verbatim), the temperature history and the source files.
public struct Model: @unchecked Sendable {
    public enum SourceKind: String, Sendable {
        case safetensors, shardedSafetensors = "sharded safetensors", pytorchBin = "pytorch zip (.bin)"
        case shardedPytorchBin = "sharded pytorch zip (.bin)", native = "tempscale native"
    }

    public var path: String
    public var sourceKind: SourceKind
    public var config: JSONObject
    public var architecture: any Architecture
    public var tensors: [Tensor]
    public var sentenceTransformers: SentenceTransformersConfig
    /// Side files by relative path (tokenizer.json, vocab.txt, modules.json, …), byte for byte.
    public var files: [String: [UInt8]]
    public var temperature: TemperatureHistory
    /// The weight files read, with their sizes (sha256 filled in when a writer needs provenance).
    public var sources: [SourceFile]
    /// safetensors `__metadata__` or native-file metadata.
    public var metadata: [String: String]
    /// The format the weights were first read from (kept through native round trips).
    public var originFormat: String

    public var family: String { type(of: architecture).family }
    /// The file or folder name, with the baked temperature when there is one (for report headers).
    public var displayName: String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return temperature.total == 1 ? name : "\(name) (τ = \(temperature.total) baked in)"
    }
    /// Floating-point values, counting a storage shared by tied tensors (T5's embeddings) once.
    public var parameterCount: Int {
        var seen = Set<UnsafeRawPointer>()
        return tensors.filter { $0.dtype.isFloatingPoint && ($0.bytes.baseAddress.map { seen.insert($0).inserted } ?? true) }
            .reduce(0) { $0 + $1.count }
    }
    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// The tokenizer's kind, from tokenizer.json's model type or the vocabulary files present.
    public var tokenizerKind: String? {
        if let bytes = files["tokenizer.json"], let json = try? JSON.parse(bytes),
            let type = json["model"]?["type"]?.stringValue
        {
            return type
        }
        if files["vocab.txt"] != nil { return "WordPiece (vocab.txt)" }
        if files["spiece.model"] != nil || files["sentencepiece.bpe.model"] != nil { return "SentencePiece" }
        if files["merges.txt"] != nil { return "BPE (vocab.json + merges.txt)" }
        return nil
    }
}

public struct SourceFile: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var sha256: String?
}

/// Every temperature baked into a model, oldest first. τ_total is their product.
public struct TemperatureHistory: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var tau: Double
        public var layers: String
        public var tool: String
    }
    public var steps: [Step] = []
    public var total: Double { steps.reduce(1.0) { $0 * $1.tau } }
    public var isPatched: Bool { !steps.isEmpty }

    public init(steps: [Step] = []) { self.steps = steps }

    public var json: JSONValue {
        .object(JSONObject([
            ("tau", .double(total)),
            ("history", .array(steps.map { .object(JSONObject([("tau", .double($0.tau)), ("layers", .string($0.layers)), ("tool", .string($0.tool))])) })),
        ]))
    }

    init(json: JSONValue?) throws(CheckpointError) {
        guard let json, json != .null else { return }
        guard let history = json["history"]?.arrayValue else { throw .badSidecar("temperature", "has no 'history' list") }
        for h in history {
            guard let tau = h["tau"]?.doubleValue, tau.isFinite, tau > 0 else { throw .badSidecar("temperature", "has a step with no finite τ > 0") }
            steps.append(Step(tau: tau, layers: h["layers"]?.stringValue ?? "all", tool: h["tool"]?.stringValue ?? "?"))
        }
    }
}

public enum CheckpointError: ReasonError, Equatable {
    case noConfig(String)
    case noWeights(String)
    case badSidecar(String, String)
    case shardMissing(String, String)
    case shardIndex(String)
    case duplicateTensor(String)
    case unknownInput(String)
    case fileTooLarge(String, Int)

    public var description: String {
        switch self {
        case .noConfig:
            return "no config.json here; tempscale reads HF model folders (config.json + weights) or .tsm files. Supported model_type values: \(Architectures.supportedModelTypes.joined(separator: ", "))"
        case .noWeights:
            return "no weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)"
        case .badSidecar(let f, let why): return "\(f) \(why)"
        case .shardMissing(let shard, let tensor): return "shard '\(shard)' does not hold tensor '\(tensor)' named in the index"
        case .shardIndex(let why): return "shard index: \(why)"
        case .duplicateTensor(let n): return "tensor '\(n)' appears in more than one shard"
        case .unknownInput(let why): return why
        case .fileTooLarge(let f, let n): return "\(f) is \(n) bytes, larger than a side file may be"
        }
    }
}

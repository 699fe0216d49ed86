/// What every architecture file provides: the model types it reads, its dimensions from config.json,
/// and its tensor-name table. Adding an architecture is adding a file and a line in `Architectures.all`.
public protocol Architecture: Sendable {
    /// Our name for the family ("bert", "mpnet", …), stored in native files.
    static var family: String { get }
    /// HF `model_type` values this file reads.
    static var modelTypes: [String] { get }
    /// Prefixes of task-model checkpoints (BertForMaskedLM saves `bert.…`) stripped from tensor names.
    static var namePrefixes: [String] { get }
    /// Task heads left out when a task checkpoint is read (Qwen3ForCausalLM's `lm_head.`): tensor-name prefixes
    /// after the base-model prefix is stripped.
    static var headPrefixes: [String] { get }
    /// The transformers class of the base model, written into an HF export's `architectures` when the family
    /// leaves task heads out (nil: config.json is kept as it is).
    static var baseModelClass: String? { get }

    init(config: JSONObject) throws(ArchitectureError)

    var dims: ModelDims { get }
    /// Every tensor the base model has, declared once (shape check, forward bindings, bake rule, GGUF names).
    /// `optional` ones (buffers, the pooler) may be absent.
    var tensors: TensorTable { get }
    /// The longest input the position table allows (RoBERTa-style models reserve padding_idx + 1 rows);
    /// nil when positions are relative only (T5).
    var positionLimit: Int? { get }
    /// What `inspect` says about the attention beyond heads × head size (kv heads, masks, RoPE), when the family has more.
    var attentionSummary: String? { get }

    /// The tensors to scale so that every patched layer's softmax input becomes S/τ — or a refusal
    /// saying why that cannot be done exactly.
    func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule

    /// How llama.cpp runs this family (its architecture name and hyper-parameter keys), or why it cannot.
    func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture

    /// The encoder as ONNX nodes, composed from the builder's kernels; returns the last hidden state's name.
    func onnxEncoder(_ b: inout ONNXBuilder) throws -> String
}

extension Architecture {
    public static var headPrefixes: [String] { [] }
    public static var baseModelClass: String? { nil }
    public var positionLimit: Int? { dims.maxPositions }
    public var attentionSummary: String? { nil }
    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture { throw .familyNotExported(Self.family) }
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String { throw ONNXBuilder.Error.familyNotExported(Self.family) }
}

/// An architecture as llama.cpp names it in a GGUF file.
public struct GGUFArchitecture: Sendable {
    /// `general.architecture` ("bert", "t5encoder").
    public let name: String
    /// `<name>.…` hyper-parameters, in file order.
    public let keys: [(String, GGUF.Value)]
    /// Rows dropped from the front of the position table (llama.cpp numbers positions from 0; RoBERTa from pad + 1).
    public let positionRowsDropped: Int
    /// Whether the pooling type is written under `<name>.pooling_type`.
    public let writesPooling: Bool
}

public struct ModelDims: Sendable, Equatable {
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var headDim: Int
    public var intermediate: Int
    public var vocab: Int
    public var maxPositions: Int?
    public var positionEmbedding: String
}

public enum ArchitectureError: ReasonError, Equatable {
    case unsupported(String)
    case missingKey(String)
    case badValue(String, String)
    case missingTensor(String)
    case wrongShape(String, expected: [Int], actual: [Int])
    /// A model tempscale recognises and refuses: the family, and why τ cannot be baked into it exactly.
    case refused(String, String)

    public var description: String {
        switch self {
        case .refused(let what, let why): return "\(what) is refused: \(why)"
        case .unsupported(let t):
            return "unsupported architecture '\(t)'; supported model_type values: \(Architectures.supportedModelTypes.joined(separator: ", "))"
        case .missingKey(let k): return "config.json has no '\(k)'"
        case .badValue(let k, let why): return "config.json '\(k)' \(why)"
        case .missingTensor(let n): return "tensor '\(n)' is missing (the config says the model has it)"
        case .wrongShape(let n, let e, let a): return "tensor '\(n)' has shape \(a), the config says \(e)"
        }
    }
}

public enum Architectures {
    public static let all: [any Architecture.Type] = [
        BertFamily.self, MPNet.self, T5Encoder.self, ModernBert.self, Qwen3.self,  // one entry per family
    ]

    public static var supportedModelTypes: [String] { all.flatMap { $0.modelTypes } }

    /// The architecture for a config.json (by `model_type`).
    public static func resolve(_ config: JSONObject) throws(ArchitectureError) -> any Architecture {
        guard let type = config["model_type"]?.stringValue else { throw .unsupported("(config.json has no model_type)") }
        if let (what, why) = refusal(type, config) { throw .refused(what, why) }
        guard let arch = all.first(where: { $0.modelTypes.contains(type) }) else { throw .unsupported(type) }
        return try arch.init(config: config)
    }

    /// Models whose attention score is not a linear function of q (or of stored weights), recognised by their
    /// config so that the refusal says why rather than "unsupported".
    static func refusal(_ type: String, _ config: JSONObject) -> (String, String)? {
        func set(_ key: String) -> Bool { config[key].map { $0 != .null && $0 != .bool(false) } ?? false }
        let capping = "attn_logit_softcapping"
        if set(capping) {
            return ("\(type) (config.json \(capping) \(config[capping]?.doubleValue.map { "\($0)" } ?? "set"))",
                    "its attention caps the logits as c·tanh(S/c) before the softmax; tanh is not linear, so no weight scale turns softmax(c·tanh(S/c)) into softmax(c·tanh(S/c)/τ) for every input")
        }
        let alibi = "ALiBi adds −m_h·|i − j| to the scores, with slopes computed from the head index and stored in no weight; scaling q scales QKᵀ but not that term"
        if config["position_embedding_type"]?.stringValue == "alibi" {
            return ("\(type) with position_embedding_type 'alibi' (jina-bert-v2)", alibi)
        }
        if type == "bloom" || (type == "mpt" && config["attn_config"]?.objectValue?["alibi"] == .bool(true)) || (type == "falcon" && set("alibi")) {
            return ("\(type) (ALiBi positions)", alibi)
        }
        if ["persimmon", "stablelm"].contains(type) && set("qk_layernorm") {
            return ("\(type) with qk_layernorm",
                    "q and k pass through a LayerNorm whose bias is added after its weight; the q-norm weight × 1/τ alone (the Qwen3 rule) would leave the bias unscaled, and tempscale runs no \(type) forward pass to check a weight-and-bias rule against")
        }
        return nil
    }

    /// Checks that every required tensor is present with its configured shape.
    public static func validate(_ arch: any Architecture, tensors: [String: Tensor]) throws(ArchitectureError) {
        for spec in arch.tensors.all {
            guard let t = spec.present(in: { tensors[$0] != nil }).flatMap({ tensors[$0] }) else {
                if spec.optional { continue }
                throw .missingTensor(spec.name)
            }
            guard t.shape == spec.shape else { throw .wrongShape(spec.name, expected: spec.shape, actual: t.shape) }
        }
    }
}

/// Typed reads from config.json with errors that name the key.
struct ConfigReader {
    let config: JSONObject

    func int(_ key: String) throws(ArchitectureError) -> Int {
        guard let v = config[key] else { throw .missingKey(key) }
        guard let i = v.intValue, i > 0 else { throw .badValue(key, "must be a positive integer") }
        return i
    }

    func int(_ key: String, default d: Int) throws(ArchitectureError) -> Int {
        guard let v = config[key], v != .null else { return d }
        guard let i = v.intValue, i >= 0 else { throw .badValue(key, "must be a non-negative integer") }
        return i
    }

    func string(_ key: String, default d: String) -> String { config[key]?.stringValue ?? d }

    func double(_ key: String, default d: Double) -> Double { config[key]?.doubleValue ?? d }
}


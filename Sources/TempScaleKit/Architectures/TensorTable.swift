/// What a tensor is for, whatever a family calls it (in the spirit of llama.cpp's `MODEL_TENSOR`). The forward
/// pass binds by role, the bake rule scales by role, and the GGUF writer names by role, so each family spells a
/// tensor's HF name exactly once: in its table.
public enum TensorRole: String, Sendable, CaseIterable {
    // embeddings
    case tokenEmbedding, positionEmbedding, tokenTypeEmbedding, embeddingNorm, embeddingNormBias
    case positionIds, tokenTypeIds
    case poolerDense, poolerDenseBias
    // attention
    case attnNorm, attnNormBias, attnQ, attnQBias, attnK, attnKBias, attnV, attnVBias, attnOut, attnOutBias
    /// A fused [q; k; v] projection [3·inner, hidden] and its bias (ModernBERT's `Wqkv`).
    case attnQKV, attnQKVBias
    /// Per-head RMSNorms applied to q and k before RoPE [head dim] (Qwen3's `q_norm`, `k_norm`).
    case attnQNorm, attnKNorm
    case attnOutNorm, attnOutNormBias
    /// A relative-position bias table [buckets, heads] (T5, MPNet).
    case attnRelativeBias
    /// BERT relative_key(_query)'s distance embedding [2·positions − 1, head dim].
    case attnDistanceEmbedding
    // feed-forward
    case ffnNorm, ffnNormBias, ffnUp, ffnUpBias, ffnGate, ffnDown, ffnDownBias, layerOutNorm, layerOutNormBias
    // after the last layer
    case outputNorm, outputNormBias
}

/// How a tensor is stored in a GGUF file: weight matrices in the file's dtype; vectors and small tables f32
/// (llama.cpp's converter keeps them f32, and its kernels expect that).
public enum GGUFStorage: Sendable { case fileDType, f32 }

/// One tensor an architecture has: its role, HF name, shape from the config, whether it may be absent, and its
/// llama.cpp name (nil: not exported to GGUF). `layer` is set for per-layer tensors.
public struct TensorSpec: Sendable {
    public let role: TensorRole
    public let name: String
    public let shape: [Int]
    public let optional: Bool
    public let gguf: String?
    public let ggufStorage: GGUFStorage
    public let layer: Int?
    /// Other names the same tensor is saved under (T5's `shared.weight` for `encoder.embed_tokens.weight`).
    public let alternatives: [String]
    /// A per-layer tensor that the first `fromLayer` layers do not have (ModernBERT's layer 0 has no attn_norm).
    public let fromLayer: Int

    public init(_ role: TensorRole, _ name: String, _ shape: [Int], optional: Bool = false, gguf: String? = nil,
                _ storage: GGUFStorage = .f32, layer: Int? = nil, alternatives: [String] = [], fromLayer: Int = 0) {
        self.role = role
        self.fromLayer = fromLayer
        self.name = name
        self.alternatives = alternatives
        self.shape = shape
        self.optional = optional
        self.gguf = gguf
        self.ggufStorage = storage
        self.layer = layer
    }

    /// The spec for layer `l`: `{L}` in both names becomes the index.
    func expanded(layer l: Int) -> TensorSpec {
        let n = String(l)
        return TensorSpec(role, name.replacing("{L}", with: n), shape, optional: optional,
                          gguf: gguf?.replacing("{L}", with: n), ggufStorage, layer: l,
                          alternatives: alternatives.map { $0.replacing("{L}", with: n) }, fromLayer: fromLayer)
    }

    /// The name it is saved under in a checkpoint that has `has(name)`, preferring the main one.
    public func present(in has: (String) -> Bool) -> String? { ([name] + alternatives).first(where: has) }
}

/// An architecture's tensors, declared once: global tensors and a per-layer template (`{L}` = layer index).
public struct TensorTable: Sendable {
    public let all: [TensorSpec]
    private let index: [Key: Int]

    private struct Key: Hashable {
        let role: TensorRole
        let layer: Int
    }

    public init(layers: Int, global: [TensorSpec], perLayer: [TensorSpec]) {
        all = global + (0..<layers).flatMap { l in perLayer.filter { l >= $0.fromLayer }.map { $0.expanded(layer: l) } }
        var index: [Key: Int] = [:]
        for (i, s) in all.enumerated() {
            let key = Key(role: s.role, layer: s.layer ?? -1)
            precondition(index[key] == nil, "tensor table declares \(s.role) twice for layer \(s.layer ?? -1)")
            index[key] = i
        }
        self.index = index
    }

    /// The spec of a role (in layer `layer` for per-layer roles), nil when the family has no such tensor.
    public func spec(_ role: TensorRole, layer: Int? = nil) -> TensorSpec? {
        index[Key(role: role, layer: layer ?? -1)].map { all[$0] }
    }

    /// The HF name of a role the family is known to have (a missing one is a bug in the family's file).
    public func name(_ role: TensorRole, layer: Int? = nil) -> String {
        guard let s = spec(role, layer: layer) else { preconditionFailure("no \(role) tensor (layer \(layer ?? -1))") }
        return s.name
    }

    /// The tensors exported to GGUF, in table order.
    public var gguf: [TensorSpec] { all.filter { $0.gguf != nil } }
}

/// T5 encoder (GTR, sentence-t5): pre-RMSNorm blocks, no 1/√d, and a relative-position bias owned by
/// block 0 and reused by every block: `softmax(QKᵀ + bias[bucket(j−i)] + mask)`.
public struct T5Encoder: Architecture {
    public static let family = "t5-encoder"
    public static let modelTypes = ["t5", "mt5"]
    public static let namePrefixes: [String] = []

    public let dims: ModelDims
    public let buckets: Int
    public let gated: Bool
    public let layerNormEps: Double

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        let dModel = try c.int("d_model"), heads = try c.int("num_heads"), dkv = try c.int("d_kv")
        dims = ModelDims(hidden: dModel, layers: try c.int("num_layers"), heads: heads, headDim: dkv,
                         intermediate: try c.int("d_ff"), vocab: try c.int("vocab_size"), maxPositions: nil,
                         positionEmbedding: "relative buckets")
        buckets = try c.int("relative_attention_num_buckets", default: 32)
        let ff = c.string("feed_forward_proj", default: "relu")
        gated = ff.hasPrefix("gated-")
        layerNormEps = c.double("layer_norm_epsilon", default: 1e-6)
    }

    public var tensorTable: [TensorSpec] {
        let h = dims.hidden, inner = dims.heads * dims.headDim, f = dims.intermediate
        let ffn: [TensorSpec] = gated
            ? [TensorSpec("encoder.block.{L}.layer.1.DenseReluDense.wi_0.weight", [f, h]),
               TensorSpec("encoder.block.{L}.layer.1.DenseReluDense.wi_1.weight", [f, h])]
            : [TensorSpec("encoder.block.{L}.layer.1.DenseReluDense.wi.weight", [f, h])]
        return [
            TensorSpec("shared.weight", [dims.vocab, h], optional: true),
            TensorSpec("encoder.embed_tokens.weight", [dims.vocab, h], optional: true),
            TensorSpec("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", [buckets, dims.heads]),
            TensorSpec("encoder.final_layer_norm.weight", [h]),
        ] + .perLayer(dims.layers, [
            TensorSpec("encoder.block.{L}.layer.0.SelfAttention.q.weight", [inner, h]),
            TensorSpec("encoder.block.{L}.layer.0.SelfAttention.k.weight", [inner, h]),
            TensorSpec("encoder.block.{L}.layer.0.SelfAttention.v.weight", [inner, h]),
            TensorSpec("encoder.block.{L}.layer.0.SelfAttention.o.weight", [h, inner]),
            TensorSpec("encoder.block.{L}.layer.0.layer_norm.weight", [h]),
        ] + ffn + [
            TensorSpec("encoder.block.{L}.layer.1.DenseReluDense.wo.weight", [h, f]),
            TensorSpec("encoder.block.{L}.layer.1.layer_norm.weight", [h]),
        ])
    }
}

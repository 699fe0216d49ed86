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

// MARK: Baking the temperature

extension T5Encoder {
    /// T5 scores are QKᵀ + position_bias with no 1/√d: q × 1/τ in every block, and the relative
    /// bias that block 0 owns (and every block reuses) × 1/τ — so only all blocks together.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        guard layers.isAll else {
            throw .notBakeable("T5's relative-attention bias lives in block 0 and is reused by every block; a block subset cannot be baked exactly")
        }
        var scales = [BakeRule.Scale(tensor: "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", factor: 1 / tau)]
        for l in 0..<dims.layers {
            scales.append(.init(tensor: "encoder.block.\(l).layer.0.SelfAttention.q.weight", factor: 1 / tau))
        }
        return BakeRule(scales: scales, explanation: "q weight × 1/τ in every block (QKᵀ scales by 1/τ; T5 has no q bias and no 1/√d) and block 0's relative_attention_bias × 1/τ (the shared position term scales by 1/τ)")
    }
}

/// MPNet (all-mpnet-base-v2): BERT-like post-LN encoder whose attention adds a relative-position
/// bucket bias shared by every layer: `softmax(QKᵀ/√d + bias[bucket(j−i)] + mask)`.
public struct MPNet: Architecture {
    public static let family = "mpnet"
    public static let modelTypes = ["mpnet"]
    public static let namePrefixes = ["mpnet.", "model."]

    public let dims: ModelDims
    public let buckets: Int
    public let layerNormEps: Double
    public let padTokenId: Int

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        let hidden = try c.int("hidden_size"), heads = try c.int("num_attention_heads")
        guard hidden % heads == 0 else { throw .badValue("hidden_size", "(\(hidden)) is not a multiple of num_attention_heads (\(heads))") }
        dims = ModelDims(hidden: hidden, layers: try c.int("num_hidden_layers"), heads: heads, headDim: hidden / heads,
                         intermediate: try c.int("intermediate_size"), vocab: try c.int("vocab_size"),
                         maxPositions: try c.int("max_position_embeddings"), positionEmbedding: "relative buckets")
        buckets = try c.int("relative_attention_num_buckets", default: 32)
        layerNormEps = c.double("layer_norm_eps", default: 1e-5)
        padTokenId = try c.int("pad_token_id", default: 1)
    }

    public var tensorTable: [TensorSpec] {
        let h = dims.hidden, i = dims.intermediate, p = dims.maxPositions!
        return [
            TensorSpec("embeddings.word_embeddings.weight", [dims.vocab, h]),
            TensorSpec("embeddings.position_embeddings.weight", [p, h]),
            TensorSpec("embeddings.LayerNorm.weight", [h]),
            TensorSpec("embeddings.LayerNorm.bias", [h]),
            TensorSpec("embeddings.position_ids", [1, p], optional: true),
            TensorSpec("encoder.relative_attention_bias.weight", [buckets, dims.heads]),
            TensorSpec("pooler.dense.weight", [h, h], optional: true),
            TensorSpec("pooler.dense.bias", [h], optional: true),
        ] + .perLayer(dims.layers, [
            TensorSpec("encoder.layer.{L}.attention.attn.q.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.attn.q.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.attn.k.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.attn.k.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.attn.v.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.attn.v.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.attn.o.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.attn.o.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.LayerNorm.weight", [h]),
            TensorSpec("encoder.layer.{L}.attention.LayerNorm.bias", [h]),
            TensorSpec("encoder.layer.{L}.intermediate.dense.weight", [i, h]),
            TensorSpec("encoder.layer.{L}.intermediate.dense.bias", [i]),
            TensorSpec("encoder.layer.{L}.output.dense.weight", [h, i]),
            TensorSpec("encoder.layer.{L}.output.dense.bias", [h]),
            TensorSpec("encoder.layer.{L}.output.LayerNorm.weight", [h]),
            TensorSpec("encoder.layer.{L}.output.LayerNorm.bias", [h]),
        ])
    }
}

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

    /// Positions count from padding_idx + 1, as RoBERTa's.
    public var positionLimit: Int? { dims.maxPositions! - padTokenId - 1 }

    public var tensors: TensorTable {
        let h = dims.hidden, i = dims.intermediate, p = dims.maxPositions!
        return TensorTable(layers: dims.layers, global: [
            TensorSpec(.tokenEmbedding,    "embeddings.word_embeddings.weight",     [dims.vocab, h]),
            TensorSpec(.positionEmbedding, "embeddings.position_embeddings.weight", [p, h]),
            TensorSpec(.embeddingNorm,     "embeddings.LayerNorm.weight",           [h]),
            TensorSpec(.embeddingNormBias, "embeddings.LayerNorm.bias",             [h]),
            TensorSpec(.positionIds,       "embeddings.position_ids",               [1, p], optional: true),
            TensorSpec(.attnRelativeBias,  "encoder.relative_attention_bias.weight", [buckets, dims.heads]),
            TensorSpec(.poolerDense,       "pooler.dense.weight",                   [h, h], optional: true),
            TensorSpec(.poolerDenseBias,   "pooler.dense.bias",                     [h], optional: true),
        ], perLayer: [
            TensorSpec(.attnQ,            "encoder.layer.{L}.attention.attn.q.weight",        [h, h]),
            TensorSpec(.attnQBias,        "encoder.layer.{L}.attention.attn.q.bias",          [h]),
            TensorSpec(.attnK,            "encoder.layer.{L}.attention.attn.k.weight",        [h, h]),
            TensorSpec(.attnKBias,        "encoder.layer.{L}.attention.attn.k.bias",          [h]),
            TensorSpec(.attnV,            "encoder.layer.{L}.attention.attn.v.weight",        [h, h]),
            TensorSpec(.attnVBias,        "encoder.layer.{L}.attention.attn.v.bias",          [h]),
            TensorSpec(.attnOut,          "encoder.layer.{L}.attention.attn.o.weight",        [h, h]),
            TensorSpec(.attnOutBias,      "encoder.layer.{L}.attention.attn.o.bias",          [h]),
            TensorSpec(.attnOutNorm,      "encoder.layer.{L}.attention.LayerNorm.weight",     [h]),
            TensorSpec(.attnOutNormBias,  "encoder.layer.{L}.attention.LayerNorm.bias",       [h]),
            TensorSpec(.ffnUp,            "encoder.layer.{L}.intermediate.dense.weight",      [i, h]),
            TensorSpec(.ffnUpBias,        "encoder.layer.{L}.intermediate.dense.bias",        [i]),
            TensorSpec(.ffnDown,          "encoder.layer.{L}.output.dense.weight",            [h, i]),
            TensorSpec(.ffnDownBias,      "encoder.layer.{L}.output.dense.bias",              [h]),
            TensorSpec(.layerOutNorm,     "encoder.layer.{L}.output.LayerNorm.weight",        [h]),
            TensorSpec(.layerOutNormBias, "encoder.layer.{L}.output.LayerNorm.bias",          [h]),
        ])
    }
}

// MARK: Forward pass

extension MPNet: HasEncoderForward {
    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let heads: Int
        let word: EmbeddingRows
        let position, relativeBias: UnsafePointer<Float>
        let embeddingNorm: Norm
        let layers: [PostNormLayer]
        let padding: Int
        let buckets: Int
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace ws: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let m = shape.rows, s = shape.seq
            embedTokens(ids: ids, positions: offsetPositions(ids: ids, shape, padding: padding), word: word, position: position,
                        typeRow: nil, hidden: hidden, norm: embeddingNorm, into: x)
            // One bias table for every layer: bias[head, i, j] = relative_attention_bias[bucket(j − i), head].
            let bias = ws.buffer(.positionBias, count: heads * s * s)
            Kernels.relativeBias(table: relativeBias, heads: heads, buckets: buckets, maxDistance: 128, seq: s, into: bias)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            let out = ws.buffer(.projection, count: m * hidden)
            for (l, layer) in layers.enumerated() {
                layer(x, shape, position: .bias(bias), temperature: temperature, ws,
                      probe: probe.map { LayerProbe(probe: $0, layer: l) }, scratch: out)
                probe?.hiddenStates(layer: l + 1, x, shape: shape, hidden: hidden)
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        let t = tensors, eps = layerNormEps
        let layers = try (0..<dims.layers).map { l in
            try PostNormLayer(w, t, layer: l, dims: dims, activation: .gelu, eps: eps)
        }
        return Forward(
            hidden: dims.hidden, heads: dims.heads,
            word: try w.embeddingRows(t.name(.tokenEmbedding)), position: try w.f32(t.name(.positionEmbedding)),
            relativeBias: try w.f32(t.name(.attnRelativeBias)),
            embeddingNorm: try Norm(.layer, w, t, .embeddingNorm, bias: .embeddingNormBias, eps: eps),
            layers: layers, padding: padTokenId, buckets: buckets, weights: w)
    }
}

// MARK: Baking the temperature

extension MPNet {
    /// Scores are QKᵀ/√d + bias[bucket]: q's weight and bias × 1/τ scale the first term, and the
    /// relative-attention bias table × 1/τ the second. That table is shared by every layer, so only
    /// all layers together can be baked exactly.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        guard layers.isAll else {
            throw .notBakeable("MPNet's relative-attention bias is one table shared by every layer; scaling it for some layers would scale it for all (patch all layers, or none)")
        }
        let t = tensors
        var scales = [BakeRule.Scale(tensor: t.name(.attnRelativeBias), factor: 1 / tau)]
        for l in 0..<dims.layers {
            scales.append(.init(tensor: t.name(.attnQ, layer: l), factor: 1 / tau))
            scales.append(.init(tensor: t.name(.attnQBias, layer: l), factor: 1 / tau))
        }
        return BakeRule(scales: scales, explanation: "q weight and bias × 1/τ in every layer (QKᵀ/√d scales by 1/τ) and the shared relative_attention_bias table × 1/τ (the position term scales by 1/τ)")
    }

    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture { throw .noLlamaArchitecture("MPNet") }
}

// MARK: ONNX

extension MPNet {
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String {
        let t = tensors, eps = layerNormEps
        b.scope = "/embeddings"
        let ids = b.input("input_ids")
        var x = b.add(try b.embed(t.name(.tokenEmbedding), ids), try b.embed(t.name(.positionEmbedding), b.offsetPositions(padding: padTokenId)))
        x = try b.layerNorm(x, weight: t.name(.embeddingNorm), bias: t.name(.embeddingNormBias), eps: eps)
        b.scope = "/encoder/relative_attention_bias"
        let bias = try b.relativePositionBias(table: t.name(.attnRelativeBias), buckets: buckets, maxDistance: 128)
        for l in 0..<dims.layers {
            func n(_ r: TensorRole) -> String { t.name(r, layer: l) }
            b.scope = "/encoder/layer.\(l)"
            let a = try b.selfAttention(x, q: (n(.attnQ), n(.attnQBias)), k: (n(.attnK), n(.attnKBias)), v: (n(.attnV), n(.attnVBias)),
                                        out: (n(.attnOut), n(.attnOutBias)), heads: dims.heads, headDim: dims.headDim, positionBias: bias)
            x = try b.layerNorm(b.add(a, x), weight: n(.attnOutNorm), bias: n(.attnOutNormBias), eps: eps)
            b.scope = "/encoder/layer.\(l)/intermediate"
            let h = b.activation(try b.linear(x, weight: n(.ffnUp), bias: n(.ffnUpBias)), .gelu)
            b.scope = "/encoder/layer.\(l)/output"
            x = try b.layerNorm(b.add(try b.linear(h, weight: n(.ffnDown), bias: n(.ffnDownBias)), x),
                                weight: n(.layerOutNorm), bias: n(.layerOutNormBias), eps: eps)
        }
        return x
    }
}

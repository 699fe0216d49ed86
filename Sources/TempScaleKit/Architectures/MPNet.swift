#if canImport(Glibc)
import Glibc
#endif

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

// MARK: Forward pass

extension MPNet: HasEncoderForward {
    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let dims: LayerDims
        let word, position, ln0g, ln0b, relativeBias: UnsafePointer<Float>
        let layers: [PostLNLayer]
        let padding: Int
        let buckets: Int
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            embedTokens(ids: ids, positions: offsetPositions(ids: ids, shape, padding: padding), word: word, position: position,
                        typeRow: nil, hidden: hidden, gamma: ln0g, beta: ln0b, eps: dims.eps, into: x)
            // bias[head, i, j] = relative_attention_bias[bucket(j − i), head], shared by every layer.
            let s = shape.seq
            let bias = workspace.buffer(6, count: dims.heads * s * s)
            for i in 0..<s {
                for j in 0..<s {
                    let bucket = MPNet.relativePositionBucket(j - i, buckets: buckets, maxDistance: 128)
                    for h in 0..<dims.heads { bias[(h * s + i) * s + j] = relativeBias[bucket * dims.heads + h] }
                }
            }
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            for (l, layer) in layers.enumerated() {
                layer.run(x, shape, dims, temperature: temperature, positionBias: bias, workspace: workspace,
                          probe: probe.map { LayerProbe(probe: $0, layer: l) })
            }
        }
    }

    /// HF MPNet's bucketing of a relative position (memory − context), in f32 as torch computes it.
    static func relativePositionBucket(_ relative: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        var n = -relative
        var ret = n < 0 ? half : 0
        n = abs(n)
        let maxExact = half / 2
        if n < maxExact { return ret + n }
        let ratio = logf(Float(n) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
        let large = maxExact + Int(ratio * Float(half - maxExact))
        ret += min(large, half - 1)
        return ret
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        let layers = try (0..<dims.layers).map { l in
            let p = "encoder.layer.\(l)."
            return try PostLNLayer(w, .init(
                q: p + "attention.attn.q.weight", qb: p + "attention.attn.q.bias",
                k: p + "attention.attn.k.weight", kb: p + "attention.attn.k.bias",
                v: p + "attention.attn.v.weight", vb: p + "attention.attn.v.bias",
                o: p + "attention.attn.o.weight", ob: p + "attention.attn.o.bias",
                ln1g: p + "attention.LayerNorm.weight", ln1b: p + "attention.LayerNorm.bias",
                up: p + "intermediate.dense.weight", upb: p + "intermediate.dense.bias",
                down: p + "output.dense.weight", downb: p + "output.dense.bias",
                ln2g: p + "output.LayerNorm.weight", ln2b: p + "output.LayerNorm.bias"))
        }
        return Forward(
            hidden: dims.hidden,
            dims: dims.layerDims(eps: layerNormEps),
            word: try w.f32("embeddings.word_embeddings.weight"), position: try w.f32("embeddings.position_embeddings.weight"),
            ln0g: try w.f32("embeddings.LayerNorm.weight"), ln0b: try w.f32("embeddings.LayerNorm.bias"),
            relativeBias: try w.f32("encoder.relative_attention_bias.weight"), layers: layers, padding: padTokenId,
            buckets: buckets, weights: w)
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
        var scales = [BakeRule.Scale(tensor: "encoder.relative_attention_bias.weight", factor: 1 / tau)]
        for l in 0..<dims.layers {
            scales.append(.init(tensor: "encoder.layer.\(l).attention.attn.q.weight", factor: 1 / tau))
            scales.append(.init(tensor: "encoder.layer.\(l).attention.attn.q.bias", factor: 1 / tau))
        }
        return BakeRule(scales: scales, explanation: "q weight and bias × 1/τ in every layer (QKᵀ/√d scales by 1/τ) and the shared relative_attention_bias table × 1/τ (the position term scales by 1/τ)")
    }
}

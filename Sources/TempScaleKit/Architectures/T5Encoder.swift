/// T5 encoders (T5EncoderModel: sentence-t5, GTR; mT5; UMT5): pre-RMSNorm blocks without biases, no 1/√d, and a
/// bidirectional relative-position bias `softmax(QKᵀ + bias[bucket(j−i)] + mask)` — owned by block 0 and reused by
/// every block in T5/mT5, one per block in UMT5. Feed-forward `relu` or gated (`gated-gelu`: gelu_new(wi_0·x) ⊙ wi_1·x).
public struct T5Encoder: Architecture {
    public static let family = "t5-encoder"
    public static let modelTypes = ["t5", "mt5", "umt5"]
    public static let namePrefixes: [String] = []

    public let modelType: String
    public let dims: ModelDims
    public let buckets: Int
    public let maxDistance: Int
    public let gated: Bool
    /// HF's activation name for the feed-forward (`dense_act_fn`).
    public let activation: String
    public let layerNormEps: Double
    /// UMT5: every block has its own relative-attention bias.
    public var biasPerBlock: Bool { modelType == "umt5" }
    /// config.json `n_positions` (the length the model was trained for; the relative positions have no limit).
    public let contextLength: Int

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        modelType = c.string("model_type", default: "t5")
        let dModel = try c.int("d_model"), heads = try c.int("num_heads"), dkv = try c.int("d_kv")
        dims = ModelDims(hidden: dModel, layers: try c.int("num_layers"), heads: heads, headDim: dkv,
                         intermediate: try c.int("d_ff"), vocab: try c.int("vocab_size"), maxPositions: nil,
                         positionEmbedding: "relative buckets")
        buckets = try c.int("relative_attention_num_buckets", default: 32)
        maxDistance = try c.int("relative_attention_max_distance", default: 128)
        // T5Config: "gated-gelu" means gelu_new; otherwise the part after "gated-" (or the whole string) is the name.
        let ff = c.string("feed_forward_proj", default: "relu")
        let parts = ff.split(separator: "-").map(String.init)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == "gated") else {
            throw .badValue("feed_forward_proj", "'\(ff)' is not `ACT` or `gated-ACT`")
        }
        gated = parts.count == 2
        activation = ff == "gated-gelu" ? "gelu_new" : parts.last!
        guard Activation(hf: activation) != nil else {
            throw .badValue("feed_forward_proj", "'\(ff)': activation '\(activation)' is not gelu, gelu_new, relu or silu")
        }
        layerNormEps = c.double("layer_norm_epsilon", default: 1e-6)
        contextLength = try c.int("n_positions", default: 512)
        guard buckets >= 4, maxDistance > buckets / 4 else {
            throw .badValue("relative_attention_num_buckets", "(\(buckets)) and relative_attention_max_distance (\(maxDistance)) give no logarithmic buckets")
        }
    }

    /// The tensors, as transformers names them and as llama.cpp's `t5encoder` architecture does.
    public var tensors: TensorTable {
        let h = dims.hidden, inner = dims.heads * dims.headDim, f = dims.intermediate
        let bias = "encoder.block.{L}.layer.0.SelfAttention.relative_attention_bias.weight"
        let ffn: [TensorSpec] = gated
            ? [TensorSpec(.ffnGate, "encoder.block.{L}.layer.1.DenseReluDense.wi_0.weight", [f, h], gguf: "enc.blk.{L}.ffn_gate.weight", .fileDType),
               TensorSpec(.ffnUp,   "encoder.block.{L}.layer.1.DenseReluDense.wi_1.weight", [f, h], gguf: "enc.blk.{L}.ffn_up.weight", .fileDType)]
            : [TensorSpec(.ffnUp,   "encoder.block.{L}.layer.1.DenseReluDense.wi.weight",   [f, h], gguf: "enc.blk.{L}.ffn_up.weight", .fileDType)]
        return TensorTable(layers: dims.layers, global: [
            // T5EncoderModel ties encoder.embed_tokens to shared; a checkpoint may hold either name (or both).
            TensorSpec(.tokenEmbedding,  "encoder.embed_tokens.weight",  [dims.vocab, h], gguf: "token_embd.weight", .fileDType,
                       alternatives: ["shared.weight"]),
            TensorSpec(.outputNorm,      "encoder.final_layer_norm.weight", [h], gguf: "enc.output_norm.weight"),
        ] + (biasPerBlock ? [] : [
            TensorSpec(.attnRelativeBias, bias.replacing("{L}", with: "0"), [buckets, dims.heads], gguf: "enc.blk.0.attn_rel_b.weight"),
        ]), perLayer: [
            TensorSpec(.attnNorm, "encoder.block.{L}.layer.0.layer_norm.weight",       [h],        gguf: "enc.blk.{L}.attn_norm.weight"),
            TensorSpec(.attnQ,    "encoder.block.{L}.layer.0.SelfAttention.q.weight",  [inner, h], gguf: "enc.blk.{L}.attn_q.weight", .fileDType),
            TensorSpec(.attnK,    "encoder.block.{L}.layer.0.SelfAttention.k.weight",  [inner, h], gguf: "enc.blk.{L}.attn_k.weight", .fileDType),
            TensorSpec(.attnV,    "encoder.block.{L}.layer.0.SelfAttention.v.weight",  [inner, h], gguf: "enc.blk.{L}.attn_v.weight", .fileDType),
            TensorSpec(.attnOut,  "encoder.block.{L}.layer.0.SelfAttention.o.weight",  [h, inner], gguf: "enc.blk.{L}.attn_o.weight", .fileDType),
            TensorSpec(.ffnNorm,  "encoder.block.{L}.layer.1.layer_norm.weight",       [h],        gguf: "enc.blk.{L}.ffn_norm.weight"),
        ] + ffn + [
            TensorSpec(.ffnDown,  "encoder.block.{L}.layer.1.DenseReluDense.wo.weight", [h, f],    gguf: "enc.blk.{L}.ffn_down.weight", .fileDType),
        ] + (biasPerBlock ? [
            TensorSpec(.attnRelativeBias, bias, [buckets, dims.heads], gguf: "enc.blk.{L}.attn_rel_b.weight"),
        ] : []))
    }

}

// MARK: Forward pass

extension T5Encoder: HasEncoderForward {
    struct Block {
        let attentionNorm: Norm
        let attention: SelfAttention
        let ffnNorm: Norm
        let ffn: FeedForward
        /// UMT5's own bias table; nil when the block reuses block 0's.
        let relativeBias: UnsafePointer<Float>?
    }

    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let heads: Int
        let buckets: Int
        let maxDistance: Int
        let embedding: EmbeddingRows
        let sharedBias: UnsafePointer<Float>?
        let blocks: [Block]
        let finalNorm: Norm
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace ws: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let m = shape.rows, s = shape.seq
            embedding.gather(ids, into: x)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            let bias = ws.buffer(.positionBias, count: heads * s * s)
            if let sharedBias {
                Kernels.relativeBias(table: sharedBias, heads: heads, buckets: buckets, maxDistance: maxDistance, seq: s, into: bias)
            }
            let normed = ws.buffer(.normed, count: m * hidden), out = ws.buffer(.projection, count: m * hidden)
            for (l, block) in blocks.enumerated() {
                if let own = block.relativeBias {
                    Kernels.relativeBias(table: own, heads: heads, buckets: buckets, maxDistance: maxDistance, seq: s, into: bias)
                }
                block.attentionNorm.apply(x, rows: m, into: normed)
                block.attention(normed, shape, position: .bias(bias), temperature: temperature, ws,
                                probe: probe.map { LayerProbe(probe: $0, layer: l) }, into: out)
                Kernels.add(x, out, count: m * hidden)
                block.ffnNorm.apply(x, rows: m, into: normed)
                block.ffn(normed, rows: m, ws, into: out)
                Kernels.add(x, out, count: m * hidden)
                if l == blocks.count - 1 { finalNorm(x, rows: m) }
                probe?.hiddenStates(layer: l + 1, x, shape: shape, hidden: hidden)
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        let t = tensors, eps = layerNormEps
        guard let embedding = t.spec(.tokenEmbedding)!.present(in: w.has) else {
            throw FileError("", WeightStore.Error.missing(t.name(.tokenEmbedding) + " (or shared.weight)"))
        }
        let act = Activation(hf: activation)!
        let blocks = try (0..<dims.layers).map { l in
            Block(attentionNorm: try Norm(.rms, w, t, .attnNorm, layer: l, eps: eps),
                  attention: try SelfAttention(w, t, layer: l, heads: dims.heads, headDim: dims.headDim, scale: 1),
                  ffnNorm: try Norm(.rms, w, t, .ffnNorm, layer: l, eps: eps),
                  ffn: try FeedForward(w, t, layer: l, activation: act),
                  relativeBias: biasPerBlock ? try w.f32(t.name(.attnRelativeBias, layer: l)) : nil)
        }
        return Forward(hidden: dims.hidden, heads: dims.heads, buckets: buckets, maxDistance: maxDistance,
                       embedding: try w.embeddingRows(embedding),
                       sharedBias: biasPerBlock ? nil : try w.f32(t.name(.attnRelativeBias)),
                       blocks: blocks, finalNorm: try Norm(.rms, w, t, .outputNorm, eps: eps), weights: w)
    }
}

// MARK: Baking the temperature

extension T5Encoder {
    /// T5 scores are QKᵀ + position_bias with no 1/√d: q × 1/τ and the relative bias × 1/τ. T5 and mT5 keep that
    /// bias in block 0 and reuse it in every block, so only all blocks together; UMT5 has one per block.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        let t = tensors
        var scales: [BakeRule.Scale] = []
        if biasPerBlock {
            for l in 0..<dims.layers where layers.contains(l) {
                scales.append(.init(tensor: t.name(.attnQ, layer: l), factor: 1 / tau))
                scales.append(.init(tensor: t.name(.attnRelativeBias, layer: l), factor: 1 / tau))
            }
            return BakeRule(scales: scales, explanation: "q weight × 1/τ and the block's own relative_attention_bias × 1/τ in each patched block (UMT5: QKᵀ + bias, no q bias, no 1/√d)")
        }
        guard layers.isAll else {
            throw .notBakeable("T5's relative-attention bias lives in block 0 and is reused by every block; a block subset cannot be baked exactly")
        }
        scales.append(.init(tensor: t.name(.attnRelativeBias), factor: 1 / tau))
        for l in 0..<dims.layers { scales.append(.init(tensor: t.name(.attnQ, layer: l), factor: 1 / tau)) }
        return BakeRule(scales: scales, explanation: "q weight × 1/τ in every block (QKᵀ scales by 1/τ; T5 has no q bias and no 1/√d) and block 0's relative_attention_bias × 1/τ (the shared position term scales by 1/τ)")
    }
}

// MARK: GGUF (llama.cpp `t5encoder` architecture)

extension T5Encoder {
    /// llama.cpp's t5encoder graph: pre-RMSNorm, scale 1 (τ travels in attn_q and attn_rel_b), a block's own
    /// attn_rel_b or else block 0's, buckets with max_distance hard-coded to 128, ReLU or (with ffn_gate) GEGLU in
    /// ggml's tanh GELU. `attention.causal` must be written false: llama-cpp-python embeds through llama_decode,
    /// which otherwise masks causally (the stock converter's files are off by 0.41 there; golden/gguf-notes.md C).
    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture {
        guard maxDistance == 128 else {
            throw .unsupportedPositions("its t5encoder graph fixes relative_attention_max_distance at 128; config.json has \(maxDistance)")
        }
        switch (gated, activation) {
        case (false, "relu"), (true, "gelu_new"): break
        default:
            throw .unsupportedActivation("its t5encoder graph has relu and gated-gelu (tanh GELU) feed-forwards; config.json feed_forward_proj is \(gated ? "gated-" : "")\(activation)")
        }
        let a = "t5encoder"
        return GGUFArchitecture(name: a, keys: [
            ("\(a).context_length", .u32(UInt32(contextLength))),
            ("\(a).embedding_length", .u32(UInt32(dims.hidden))),
            ("\(a).feed_forward_length", .u32(UInt32(dims.intermediate))),
            ("\(a).block_count", .u32(UInt32(dims.layers))),
            ("\(a).attention.head_count", .u32(UInt32(dims.heads))),
            // Always written: llama.cpp's default is embedding_length / head_count, wrong for t5-3b-like shapes.
            ("\(a).attention.key_length", .u32(UInt32(dims.headDim))),
            ("\(a).attention.value_length", .u32(UInt32(dims.headDim))),
            ("\(a).attention.layer_norm_rms_epsilon", .f32(Float(layerNormEps))),
            ("\(a).attention.relative_buckets_count", .u32(UInt32(buckets))),
            ("\(a).attention.causal", .bool(false)),
        ], positionRowsDropped: 0, writesPooling: true)
    }
}

// MARK: ONNX

extension T5Encoder {
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String {
        let t = tensors, eps = layerNormEps
        guard let embedding = t.spec(.tokenEmbedding)!.present(in: b.weights.has) else {
            throw ONNXBuilder.Error.unsupported("the model has no \(t.name(.tokenEmbedding)) (or shared.weight)")
        }
        let act = Activation(hf: activation)!
        b.scope = "/encoder/embed_tokens"
        var x = try b.embed(embedding, b.input("input_ids"))
        var bias: String?
        for l in 0..<dims.layers {
            func n(_ r: TensorRole) -> String { t.name(r, layer: l) }
            b.scope = "/encoder/block.\(l)/layer.0"
            if biasPerBlock || bias == nil {
                bias = try b.relativePositionBias(table: biasPerBlock ? n(.attnRelativeBias) : t.name(.attnRelativeBias),
                                                  buckets: buckets, maxDistance: maxDistance)
            }
            let normed = try b.rmsNorm(x, weight: n(.attnNorm), eps: eps)
            x = b.add(x, try b.selfAttention(normed, q: (n(.attnQ), nil), k: (n(.attnK), nil), v: (n(.attnV), nil), out: (n(.attnOut), nil),
                                             heads: dims.heads, headDim: dims.headDim, scaled: false, positionBias: bias))
            b.scope = "/encoder/block.\(l)/layer.1"
            let h = try b.rmsNorm(x, weight: n(.ffnNorm), eps: eps)
            var up = b.activation(try b.linear(h, weight: gated ? n(.ffnGate) : n(.ffnUp), bias: nil), act)
            if gated { up = b.mul(up, try b.linear(h, weight: n(.ffnUp), bias: nil)) }
            x = b.add(x, try b.linear(up, weight: n(.ffnDown), bias: nil))
        }
        b.scope = "/encoder/final_layer_norm"
        return try b.rmsNorm(x, weight: t.name(.outputNorm), eps: eps)
    }
}

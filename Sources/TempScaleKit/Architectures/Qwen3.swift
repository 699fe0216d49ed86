/// Qwen3 used as an embedder (Qwen3-Embedding 0.6B/4B/8B, or any Qwen3 checkpoint): a causal decoder with
/// pre-RMSNorm layers, grouped-query attention (`num_key_value_heads` ≤ heads, `head_dim` not necessarily
/// hidden / heads), per-head RMSNorms `q_norm`/`k_norm` on q and k before RoPE, SwiGLU feed-forward
/// (silu(gate) ⊙ up) and a final norm. Attention `softmax(RoPE(q_norm(q))·RoPE(k_norm(k))ᵀ/√d + causal mask)`.
/// Sentence-transformers pools the last token (Qwen3-Embedding: `<|endoftext|>`, appended by its tokenizer).
public struct Qwen3: Architecture {
    public static let family = "qwen3"
    public static let modelTypes = ["qwen3"]
    /// Qwen3ForCausalLM saves the decoder under `model.` beside `lm_head.weight`, which is left out.
    public static let namePrefixes = ["model."]
    public static let headPrefixes = ["lm_head.", "score."]
    public static let baseModelClass: String? = "Qwen3Model"

    public let dims: ModelDims
    public let kvHeads: Int
    public let rmsEps: Double
    public let theta: Double
    public let attentionBias: Bool
    public let activation: String

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        let hidden = try c.int("hidden_size"), heads = try c.int("num_attention_heads")
        let kv = try c.int("num_key_value_heads", default: heads)
        guard kv > 0, heads % kv == 0 else { throw .badValue("num_key_value_heads", "(\(kv)) does not divide num_attention_heads (\(heads))") }
        let headDim = try c.int("head_dim", default: hidden / heads)
        guard headDim > 0, headDim % 2 == 0 else { throw .badValue("head_dim", "(\(headDim)) must be a positive even number; RoPE rotates pairs") }
        dims = ModelDims(hidden: hidden, layers: try c.int("num_hidden_layers"), heads: heads, headDim: headDim,
                         intermediate: try c.int("intermediate_size"), vocab: try c.int("vocab_size"),
                         maxPositions: try c.int("max_position_embeddings", default: 32_768), positionEmbedding: "rope")
        kvHeads = kv
        rmsEps = c.double("rms_norm_eps", default: 1e-6)
        attentionBias = config["attention_bias"]?.boolValue ?? false
        activation = c.string("hidden_act", default: "silu")
        guard let act = Activation(hf: activation), [.gelu, .geluTanh, .relu, .silu].contains(act) else {
            throw .badValue("hidden_act", "'\(activation)' is not silu, gelu, gelu_new or relu")
        }
        // The sliding-window layers of a use_sliding_window config are not run (no Qwen3 embedder uses them).
        if config["use_sliding_window"]?.boolValue == true {
            throw .badValue("use_sliding_window", "is true: tempscale runs Qwen3 with full causal attention only")
        }
        if let types = config["layer_types"]?.arrayValue, let other = types.first(where: { $0.stringValue != "full_attention" }) {
            throw .badValue("layer_types", "has \(other) (only full_attention layers are run)")
        }
        if let s = config["rope_scaling"], s != .null, s.objectValue?["rope_type"]?.stringValue ?? s.objectValue?["type"]?.stringValue != "default" {
            throw .badValue("rope_scaling", "is set (only the default RoPE is run)")
        }
        if let p = config["rope_parameters"]?.objectValue {
            let type = p["rope_type"]?.stringValue ?? "default"
            guard type == "default" else { throw .badValue("rope_parameters.rope_type", "'\(type)' (only the default RoPE is run)") }
            theta = p["rope_theta"]?.doubleValue ?? c.double("rope_theta", default: 1_000_000)
        } else {
            theta = c.double("rope_theta", default: 1_000_000)
        }
    }

    public var attentionSummary: String? {
        "causal; \(kvHeads) key/value heads for \(dims.heads) query heads\(kvHeads < dims.heads ? " (grouped-query)" : ""); q_norm/k_norm per head; RoPE θ \(Int(theta))"
    }

    var queryWidth: Int { dims.heads * dims.headDim }
    var kvWidth: Int { kvHeads * dims.headDim }

    /// The tensors, as transformers names them (Qwen3Model).
    public var tensors: TensorTable {
        let h = dims.hidden, i = dims.intermediate, d = dims.headDim, qw = queryWidth, kw = kvWidth
        return TensorTable(layers: dims.layers, global: [
            TensorSpec(.tokenEmbedding, "embed_tokens.weight", [dims.vocab, h], gguf: "token_embd.weight", .fileDType),
            TensorSpec(.outputNorm,     "norm.weight",         [h],              gguf: "output_norm.weight"),
        ], perLayer: [
            TensorSpec(.attnNorm,  "layers.{L}.input_layernorm.weight",          [h],     gguf: "blk.{L}.attn_norm.weight"),
            TensorSpec(.attnQ,     "layers.{L}.self_attn.q_proj.weight",         [qw, h], gguf: "blk.{L}.attn_q.weight", .fileDType),
            TensorSpec(.attnK,     "layers.{L}.self_attn.k_proj.weight",         [kw, h], gguf: "blk.{L}.attn_k.weight", .fileDType),
            TensorSpec(.attnV,     "layers.{L}.self_attn.v_proj.weight",         [kw, h], gguf: "blk.{L}.attn_v.weight", .fileDType),
            TensorSpec(.attnOut,   "layers.{L}.self_attn.o_proj.weight",         [h, qw], gguf: "blk.{L}.attn_output.weight", .fileDType),
            TensorSpec(.attnQNorm, "layers.{L}.self_attn.q_norm.weight",         [d],     gguf: "blk.{L}.attn_q_norm.weight"),
            TensorSpec(.attnKNorm, "layers.{L}.self_attn.k_norm.weight",         [d],     gguf: "blk.{L}.attn_k_norm.weight"),
            TensorSpec(.ffnNorm,   "layers.{L}.post_attention_layernorm.weight", [h],     gguf: "blk.{L}.ffn_norm.weight"),
            TensorSpec(.ffnGate,   "layers.{L}.mlp.gate_proj.weight",            [i, h],  gguf: "blk.{L}.ffn_gate.weight", .fileDType),
            TensorSpec(.ffnUp,     "layers.{L}.mlp.up_proj.weight",              [i, h],  gguf: "blk.{L}.ffn_up.weight", .fileDType),
            TensorSpec(.ffnDown,   "layers.{L}.mlp.down_proj.weight",            [h, i],  gguf: "blk.{L}.ffn_down.weight", .fileDType),
        ] + (attentionBias ? [
            TensorSpec(.attnQBias, "layers.{L}.self_attn.q_proj.bias", [qw], gguf: "blk.{L}.attn_q.bias"),
            TensorSpec(.attnKBias, "layers.{L}.self_attn.k_proj.bias", [kw], gguf: "blk.{L}.attn_k.bias"),
            TensorSpec(.attnVBias, "layers.{L}.self_attn.v_proj.bias", [kw], gguf: "blk.{L}.attn_v.bias"),
            TensorSpec(.attnOutBias, "layers.{L}.self_attn.o_proj.bias", [h], gguf: "blk.{L}.attn_output.bias"),
        ] : []))
    }
}

// MARK: Forward pass

extension Qwen3: HasEncoderForward {
    struct Layer {
        let attentionNorm: Norm
        let attention: RotaryAttention
        let ffnNorm: Norm
        let ffn: FeedForward
    }

    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let embedding: EmbeddingRows
        let layers: [Layer]
        let finalNorm: Norm
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace ws: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let m = shape.rows
            embedding.gather(ids, into: x)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            let normed = ws.buffer(.normed, count: m * hidden), out = ws.buffer(.projection, count: m * hidden)
            for (l, layer) in layers.enumerated() {
                layer.attentionNorm.apply(x, rows: m, into: normed)
                layer.attention(normed, shape, temperature: temperature, ws, probe: probe.map { LayerProbe(probe: $0, layer: l) }, into: out)
                Kernels.add(x, out, count: m * hidden)
                layer.ffnNorm.apply(x, rows: m, into: normed)
                layer.ffn(normed, rows: m, ws, into: out)
                Kernels.add(x, out, count: m * hidden)
                if l == layers.count - 1 { finalNorm(x, rows: m) }
                probe?.hiddenStates(layer: l + 1, x, shape: shape, hidden: hidden)
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        let t = tensors, eps = rmsEps, d = dims.headDim
        let act = Activation(hf: activation)!
        let layers = try (0..<dims.layers).map { l in
            Layer(attentionNorm: try Norm(.rms, w, t, .attnNorm, layer: l, eps: eps),
                  attention: RotaryAttention(
                    q: try Linear(w, t, .attnQ, bias: .attnQBias, layer: l), k: try Linear(w, t, .attnK, bias: .attnKBias, layer: l),
                    v: try Linear(w, t, .attnV, bias: .attnVBias, layer: l), o: try Linear(w, t, .attnOut, bias: .attnOutBias, layer: l),
                    qNorm: try Norm(.rms, w, t, .attnQNorm, layer: l, eps: eps), kNorm: try Norm(.rms, w, t, .attnKNorm, layer: l, eps: eps),
                    heads: dims.heads, kvHeads: kvHeads, headDim: d, scale: 1 / Float(d).squareRoot(),
                    rotary: Rotary(theta: theta, headDim: d), span: .causal),
                  ffnNorm: try Norm(.rms, w, t, .ffnNorm, layer: l, eps: eps),
                  ffn: try FeedForward(w, t, layer: l, activation: act))
        }
        return Forward(hidden: dims.hidden, embedding: try w.embeddingRows(t.name(.tokenEmbedding)), layers: layers,
                       finalNorm: try Norm(.rms, w, t, .outputNorm, eps: eps), weights: w)
    }
}

// MARK: Baking the temperature

extension Qwen3 {
    /// q_norm divides each head of q by its RMS, so a scale on q_proj would be divided out again; its weight
    /// multiplies after the normalisation: q_norm.weight × 1/τ scales the normalised q by 1/τ, RoPE (a rotation)
    /// keeps that factor, and every score RoPE(q)·RoPE(k)ᵀ/√d scales by 1/τ. Per layer: any subset is exact.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        let t = tensors
        let scales = (0..<dims.layers).filter { layers.contains($0) }.map {
            BakeRule.Scale(tensor: t.name(.attnQNorm, layer: $0), factor: 1 / tau)
        }
        return BakeRule(scales: scales, explanation: "self_attn.q_norm.weight × 1/τ in each patched layer: Qwen3 RMS-normalises each head of q before RoPE, which would undo a scale on q_proj; the norm's weight multiplies after it, so q/τ, and RoPE (a rotation) keeps the factor: RoPE(q)·RoPE(k)ᵀ/√d scales by 1/τ")
    }
}

// MARK: GGUF (llama.cpp `qwen3` architecture)

extension Qwen3 {
    /// llama.cpp's qwen3 graph: the same layers (GQA, q/k norms before NEOX RoPE, SwiGLU), causal; embeddings
    /// pooled by the file's pooling type (last token for Qwen3-Embedding). τ travels in attn_q_norm.
    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture {
        guard activation == "silu" else { throw .unsupportedActivation("its qwen3 graph runs SwiGLU; config.json hidden_act is '\(activation)'") }
        let a = "qwen3"
        return GGUFArchitecture(name: a, keys: [
            ("\(a).context_length", .u32(UInt32(dims.maxPositions!))),
            ("\(a).embedding_length", .u32(UInt32(dims.hidden))),
            ("\(a).block_count", .u32(UInt32(dims.layers))),
            ("\(a).feed_forward_length", .u32(UInt32(dims.intermediate))),
            ("\(a).attention.head_count", .u32(UInt32(dims.heads))),
            ("\(a).attention.head_count_kv", .u32(UInt32(kvHeads))),
            ("\(a).attention.key_length", .u32(UInt32(dims.headDim))),
            ("\(a).attention.value_length", .u32(UInt32(dims.headDim))),
            ("\(a).attention.layer_norm_rms_epsilon", .f32(Float(rmsEps))),
            ("\(a).rope.freq_base", .f32(Float(theta))),
        ], positionRowsDropped: 0, writesPooling: true)
    }
}

// MARK: ONNX

extension Qwen3 {
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String {
        let t = tensors, eps = rmsEps
        let act = Activation(hf: activation)!
        b.scope = "/embed_tokens"
        var x = try b.embed(t.name(.tokenEmbedding), b.input("input_ids"))
        for l in 0..<dims.layers {
            func n(_ r: TensorRole) -> String { t.name(r, layer: l) }
            func bias(_ r: TensorRole) -> String? { attentionBias ? n(r) : nil }
            b.scope = "/layers.\(l)/self_attn"
            let a = try b.rmsNorm(x, weight: n(.attnNorm), eps: eps)
            let ctx = try b.rotaryAttention(q: try b.linear(a, weight: n(.attnQ), bias: bias(.attnQBias)),
                                            k: try b.linear(a, weight: n(.attnK), bias: bias(.attnKBias)),
                                            v: try b.linear(a, weight: n(.attnV), bias: bias(.attnVBias)),
                                            qNorm: n(.attnQNorm), kNorm: n(.attnKNorm), heads: dims.heads, kvHeads: kvHeads,
                                            headDim: dims.headDim, theta: theta, span: .causal, eps: eps)
            x = b.add(x, try b.linear(ctx, weight: n(.attnOut), bias: bias(.attnOutBias)))
            b.scope = "/layers.\(l)/mlp"
            let m = try b.rmsNorm(x, weight: n(.ffnNorm), eps: eps)
            let gated = b.mul(b.activation(try b.linear(m, weight: n(.ffnGate), bias: nil), act), try b.linear(m, weight: n(.ffnUp), bias: nil))
            x = b.add(x, try b.linear(gated, weight: n(.ffnDown), bias: nil))
        }
        b.scope = "/norm"
        return try b.rmsNorm(x, weight: t.name(.outputNorm), eps: eps)
    }
}

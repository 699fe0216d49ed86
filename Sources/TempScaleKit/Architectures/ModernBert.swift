/// ModernBERT (gte-modernbert, modernbert-embed, …): a pre-LayerNorm encoder (no norm biases unless `norm_bias`;
/// layer 0 has no attention norm), a fused `Wqkv` projection, RoPE with `global_rope_theta` on global layers and
/// `local_rope_theta` on the local ones, local layers seeing |i − j| ≤ local_attention / 2, every
/// `global_attn_every_n_layers`-th layer (from 0) global; GeGLU feed-forward (`Wi` = [input; gate],
/// act(input) ⊙ gate) and a final norm. Attention `softmax(RoPE(q)·RoPE(k)ᵀ/√d + mask)`.
public struct ModernBert: Architecture {
    public static let family = "modernbert"
    public static let modelTypes = ["modernbert"]
    /// ModernBertForMaskedLM and the classifiers save the encoder under `model.`; their heads are left out.
    public static let namePrefixes = ["model."]
    public static let headPrefixes = ["head.", "decoder.", "classifier.", "drop."]
    public static let baseModelClass: String? = "ModernBertModel"

    public let dims: ModelDims
    public let normEps: Double
    public let normBias: Bool
    public let attentionBias: Bool
    public let mlpBias: Bool
    public let activation: String
    /// true: the layer attends to every token; false: a local (sliding-window) layer.
    public let global: [Bool]
    public let globalTheta: Double
    public let localTheta: Double
    /// local_attention: a local layer's token sees local_attention / 2 tokens on each side.
    public let localAttention: Int
    public let padTokenId: Int

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        let hidden = try c.int("hidden_size"), heads = try c.int("num_attention_heads"), layers = try c.int("num_hidden_layers")
        guard hidden % heads == 0 else { throw .badValue("hidden_size", "(\(hidden)) is not a multiple of num_attention_heads (\(heads))") }
        guard (hidden / heads) % 2 == 0 else { throw .badValue("hidden_size", "gives an odd head size \(hidden / heads); RoPE rotates pairs") }
        dims = ModelDims(hidden: hidden, layers: layers, heads: heads, headDim: hidden / heads,
                         intermediate: try c.int("intermediate_size"), vocab: try c.int("vocab_size"),
                         maxPositions: try c.int("max_position_embeddings", default: 8192), positionEmbedding: "rope")
        normEps = c.double("norm_eps", default: 1e-5)
        normBias = config["norm_bias"]?.boolValue ?? false
        attentionBias = config["attention_bias"]?.boolValue ?? false
        mlpBias = config["mlp_bias"]?.boolValue ?? false
        activation = c.string("hidden_activation", default: "gelu")
        guard let act = Activation(hf: activation), [.gelu, .geluTanh, .relu, .silu].contains(act) else {
            throw .badValue("hidden_activation", "'\(activation)' is not gelu, gelu_new, gelu_pytorch_tanh, relu or silu")
        }
        localAttention = try c.int("local_attention", default: 128)
        padTokenId = try c.int("pad_token_id", default: 50283)
        // transformers 5 writes layer_types and rope_parameters; 4.x and the Hub's files global_attn_every_n_layers
        // and global_rope_theta / local_rope_theta.
        if let types = config["layer_types"]?.arrayValue {
            guard types.count == layers else { throw .badValue("layer_types", "has \(types.count) entries for \(layers) layers") }
            global = try types.map { (t: JSONValue) throws(ArchitectureError) -> Bool in
                switch t.stringValue {
                case "full_attention": return true
                case "sliding_attention": return false
                default: throw .badValue("layer_types", "entry \(t) is not full_attention or sliding_attention")
                }
            }
        } else {
            let every = try c.int("global_attn_every_n_layers", default: 3)
            global = (0..<layers).map { $0 % every == 0 }
        }
        func theta(_ kind: String, legacy: String, default d: Double) throws(ArchitectureError) -> Double {
            if let p = config["rope_parameters"]?.objectValue?[kind]?.objectValue {
                let type = p["rope_type"]?.stringValue ?? "default"
                guard type == "default" else {
                    throw .badValue("rope_parameters.\(kind).rope_type", "'\(type)' (only the default RoPE is run)")
                }
                if let t = p["rope_theta"]?.doubleValue { return t }
            }
            return c.double(legacy, default: d)
        }
        if let s = config["rope_scaling"], s != .null { throw .badValue("rope_scaling", "is set (only the default RoPE is run)") }
        globalTheta = try theta("full_attention", legacy: "global_rope_theta", default: 160_000)
        localTheta = try theta("sliding_attention", legacy: "local_rope_theta", default: 10_000)
    }

    public var positionLimit: Int? { dims.maxPositions }

    public var attentionSummary: String? {
        let globals = global.enumerated().filter(\.element).map { String($0.offset) }
        return "bidirectional; global layers \(globals.joined(separator: ", ")), the others local (±\(localAttention / 2) tokens); RoPE θ \(Int(globalTheta)) global, \(Int(localTheta)) local"
    }

    /// The tensors, as transformers names them.
    public var tensors: TensorTable {
        let h = dims.hidden, i = dims.intermediate
        func norm(_ role: TensorRole, _ bias: TensorRole, _ name: String, gguf: String, fromLayer: Int = 0) -> [TensorSpec] {
            [TensorSpec(role, name + ".weight", [h], gguf: gguf, fromLayer: fromLayer)]
                + (normBias ? [TensorSpec(bias, name + ".bias", [h], fromLayer: fromLayer)] : [])
        }
        return TensorTable(layers: dims.layers, global: [
            TensorSpec(.tokenEmbedding, "embeddings.tok_embeddings.weight", [dims.vocab, h], gguf: "token_embd.weight", .fileDType),
        ] + norm(.embeddingNorm, .embeddingNormBias, "embeddings.norm", gguf: "token_embd_norm.weight") + norm(.outputNorm, .outputNormBias, "final_norm", gguf: "output_norm.weight"),
        perLayer: norm(.attnNorm, .attnNormBias, "layers.{L}.attn_norm", gguf: "blk.{L}.attn_norm.weight", fromLayer: 1) + [
            TensorSpec(.attnQKV, "layers.{L}.attn.Wqkv.weight", [3 * h, h], gguf: "blk.{L}.attn_qkv.weight", .fileDType),
            TensorSpec(.attnOut, "layers.{L}.attn.Wo.weight",   [h, h],     gguf: "blk.{L}.attn_output.weight", .fileDType),
        ] + (attentionBias ? [
            TensorSpec(.attnQKVBias, "layers.{L}.attn.Wqkv.bias", [3 * h]),
            TensorSpec(.attnOutBias, "layers.{L}.attn.Wo.bias",   [h]),
        ] : []) + norm(.ffnNorm, .ffnNormBias, "layers.{L}.mlp_norm", gguf: "blk.{L}.ffn_norm.weight") + [
            // Wi holds [input; gate]: rows 0..<i are activated, rows i..<2i gate them.
            TensorSpec(.ffnUp,   "layers.{L}.mlp.Wi.weight", [2 * i, h], gguf: "blk.{L}.ffn_up.weight", .fileDType),
            TensorSpec(.ffnDown, "layers.{L}.mlp.Wo.weight", [h, i],     gguf: "blk.{L}.ffn_down.weight", .fileDType),
        ] + (mlpBias ? [
            TensorSpec(.ffnUpBias,   "layers.{L}.mlp.Wi.bias", [2 * i]),
            TensorSpec(.ffnDownBias, "layers.{L}.mlp.Wo.bias", [h]),
        ] : []))
    }
}

// MARK: Forward pass

extension ModernBert: HasEncoderForward {
    struct Layer {
        /// nil in layer 0 (transformers' nn.Identity).
        let attentionNorm: Norm?
        let attention: RotaryAttention
        let mlpNorm: Norm
        let mlp: FeedForward
    }

    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let embedding: EmbeddingRows
        let embeddingNorm: Norm
        let layers: [Layer]
        let finalNorm: Norm
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace ws: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let m = shape.rows
            embedding.gather(ids, into: x)
            embeddingNorm(x, rows: m)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            let normed = ws.buffer(.normed, count: m * hidden), out = ws.buffer(.projection, count: m * hidden)
            for (l, layer) in layers.enumerated() {
                if let n = layer.attentionNorm { n.apply(x, rows: m, into: normed) } else { normed.update(from: x, count: m * hidden) }
                layer.attention(normed, shape, temperature: temperature, ws, probe: probe.map { LayerProbe(probe: $0, layer: l) }, into: out)
                Kernels.add(x, out, count: m * hidden)
                layer.mlpNorm.apply(x, rows: m, into: normed)
                layer.mlp(normed, rows: m, ws, into: out)
                Kernels.add(x, out, count: m * hidden)
                if l == layers.count - 1 { finalNorm(x, rows: m) }
                probe?.hiddenStates(layer: l + 1, x, shape: shape, hidden: hidden)
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        let t = tensors, eps = normEps, h = dims.hidden, i = dims.intermediate, d = dims.headDim
        let act = Activation(hf: activation)!
        func norm(_ role: TensorRole, _ bias: TensorRole, layer: Int? = nil) throws -> Norm {
            try Norm(.layer, w, t, role, bias: normBias ? bias : nil, layer: layer, eps: eps)
        }
        let layers = try (0..<dims.layers).map { l in
            // Wqkv and Wi are fused: each part is its own layer over a row range (no copy at f32).
            let qkv = try w.linears(t.name(.attnQKV, layer: l), bias: attentionBias ? t.name(.attnQKVBias, layer: l) : nil,
                                    rows: [0..<h, h..<(2 * h), (2 * h)..<(3 * h)])
            let wi = try w.linears(t.name(.ffnUp, layer: l), bias: mlpBias ? t.name(.ffnUpBias, layer: l) : nil,
                                   rows: [i..<(2 * i), 0..<i])
            let attention = RotaryAttention(
                q: qkv[0], k: qkv[1], v: qkv[2],
                o: try Linear(w, t, .attnOut, bias: .attnOutBias, layer: l), qNorm: nil, kNorm: nil,
                heads: dims.heads, kvHeads: dims.heads, headDim: d, scale: 1 / Float(d).squareRoot(),
                rotary: Rotary(theta: global[l] ? globalTheta : localTheta, headDim: d),
                span: global[l] ? .full : .window(radius: localAttention / 2))
            return Layer(attentionNorm: l == 0 ? nil : try norm(.attnNorm, .attnNormBias, layer: l), attention: attention,
                         mlpNorm: try norm(.ffnNorm, .ffnNormBias, layer: l),
                         mlp: FeedForward(up: wi[0], gate: wi[1],
                                          down: try Linear(w, t, .ffnDown, bias: .ffnDownBias, layer: l), activation: act))
        }
        return Forward(hidden: h, embedding: try w.embeddingRows(t.name(.tokenEmbedding)),
                       embeddingNorm: try norm(.embeddingNorm, .embeddingNormBias), layers: layers,
                       finalNorm: try norm(.outputNorm, .outputNormBias), weights: w)
    }
}

// MARK: Baking the temperature

extension ModernBert {
    /// q is rows 0..<hidden of the fused Wqkv (and of its bias); RoPE rotates q by a position-dependent rotation,
    /// which is linear, so RoPE(q/τ)·RoPE(k) = (RoPE(q)·RoPE(k))/τ and every score of the layer scales by 1/τ.
    /// No table is shared between layers: any layer subset is exact.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        let t = tensors, q = 0..<dims.hidden
        var scales: [BakeRule.Scale] = []
        for l in 0..<dims.layers where layers.contains(l) {
            scales.append(.init(tensor: t.name(.attnQKV, layer: l), factor: 1 / tau, rows: q))
            if attentionBias { scales.append(.init(tensor: t.name(.attnQKVBias, layer: l), factor: 1 / tau, rows: q)) }
        }
        return BakeRule(scales: scales, explanation: "the query rows (0..<\(dims.hidden)) of attn.Wqkv\(attentionBias ? " and of its bias" : "") × 1/τ in each patched layer: q scales by 1/τ, RoPE is a rotation (linear in q), so RoPE(q)·RoPE(k)ᵀ/√d scales by 1/τ on global and local layers alike")
    }
}

// MARK: GGUF (llama.cpp `modern-bert` architecture)

extension ModernBert {
    /// llama.cpp's modern-bert graph: LayerNorms without bias, no projection biases, GeGLU (or SwiGLU for silu)
    /// over ffn_up = Wi, NEOX RoPE with rope.freq_base on global and rope.freq_base_swa on local layers, a symmetric
    /// window |i − j| ≤ sliding_window / 2 on every layer but each sliding_window_pattern-th from 0, 1/√d (τ travels in
    /// attn_qkv's query rows).
    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture {
        let biases = [(normBias, "norm_bias"), (attentionBias, "attention_bias"), (mlpBias, "mlp_bias")].filter(\.0).map(\.1)
        guard biases.isEmpty else {
            throw .unsupportedLayout("its modern-bert graph has no bias tensors; config.json sets \(biases.joined(separator: ", "))")
        }
        guard ["gelu", "silu"].contains(activation) else {
            throw .unsupportedActivation("its modern-bert graph runs GeGLU (gelu) or SwiGLU (silu); config.json hidden_activation is '\(activation)'")
        }
        // The global layers must be every n-th from layer 0 (llama.cpp's pattern, dense first).
        let every = (1..<dims.layers).first { global[$0] } ?? dims.layers
        guard global.enumerated().allSatisfy({ $0.element == ($0.offset % every == 0) }) else {
            throw .unsupportedLayout("its modern-bert graph places global layers every n-th from layer 0; layer_types is \(global.map { $0 ? "full" : "sliding" })")
        }
        let a = "modern-bert"
        return GGUFArchitecture(name: a, keys: [
            ("\(a).context_length", .u32(UInt32(dims.maxPositions!))),
            ("\(a).embedding_length", .u32(UInt32(dims.hidden))),
            ("\(a).block_count", .u32(UInt32(dims.layers))),
            ("\(a).feed_forward_length", .u32(UInt32(dims.intermediate))),
            ("\(a).attention.head_count", .u32(UInt32(dims.heads))),
            ("\(a).attention.layer_norm_epsilon", .f32(Float(normEps))),
            ("\(a).attention.causal", .bool(false)),
            ("\(a).attention.sliding_window", .u32(UInt32(localAttention))),
            ("\(a).attention.sliding_window_pattern", .u32(UInt32(every))),
            ("\(a).rope.freq_base", .f32(Float(globalTheta))),
            ("\(a).rope.freq_base_swa", .f32(Float(localTheta))),
            ("\(a).hidden_activation", .string(activation)),
        ], positionRowsDropped: 0, writesPooling: true)
    }
}

// MARK: ONNX

extension ModernBert {
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String {
        let t = tensors, h = dims.hidden, i = dims.intermediate
        let act = Activation(hf: activation)!
        func norm(_ x: String, _ role: TensorRole, _ bias: TensorRole, layer: Int? = nil) throws -> String {
            try b.layerNorm(x, weight: t.name(role, layer: layer), bias: normBias ? t.name(bias, layer: layer) : nil, eps: normEps)
        }
        b.scope = "/embeddings"
        var x = try norm(try b.embed(t.name(.tokenEmbedding), b.input("input_ids")), .embeddingNorm, .embeddingNormBias)
        for l in 0..<dims.layers {
            func n(_ r: TensorRole) -> String { t.name(r, layer: l) }
            b.scope = "/layers.\(l)/attn"
            let a = l == 0 ? x : try norm(x, .attnNorm, .attnNormBias, layer: l)
            let qkv = b.split(try b.linear(a, weight: n(.attnQKV), bias: attentionBias ? n(.attnQKVBias) : nil), sizes: [h, h, h])
            let ctx = try b.rotaryAttention(q: qkv[0], k: qkv[1], v: qkv[2], qNorm: nil, kNorm: nil, heads: dims.heads, kvHeads: dims.heads,
                                            headDim: dims.headDim, theta: global[l] ? globalTheta : localTheta,
                                            span: global[l] ? .full : .window(radius: localAttention / 2), eps: normEps)
            x = b.add(x, try b.linear(ctx, weight: n(.attnOut), bias: attentionBias ? n(.attnOutBias) : nil))
            b.scope = "/layers.\(l)/mlp"
            let parts = b.split(try b.linear(try norm(x, .ffnNorm, .ffnNormBias, layer: l), weight: n(.ffnUp), bias: mlpBias ? n(.ffnUpBias) : nil),
                                sizes: [i, i])
            x = b.add(x, try b.linear(b.mul(b.activation(parts[0], act), parts[1]), weight: n(.ffnDown), bias: mlpBias ? n(.ffnDownBias) : nil))
        }
        b.scope = "/final_norm"
        return try norm(x, .outputNorm, .outputNormBias)
    }
}

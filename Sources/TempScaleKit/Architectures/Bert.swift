/// BERT and its descendants with the same layout: RoBERTa and XLM-R (positions from padding_idx + 1, one or no
/// token type), and BERT's relative_key / relative_key_query position types. Post-LayerNorm encoder; attention
/// `softmax(QKᵀ/√d + mask)`, with relative positions `softmax((QKᵀ + Q·Rᵀ [+ K·Rᵀ])/√d + mask)`.
public struct BertFamily: Architecture {
    public static let family = "bert"
    public static let modelTypes = ["bert", "roberta", "xlm-roberta"]
    public static let namePrefixes = ["bert.", "roberta.", "xlm-roberta.", "model."]

    public let modelType: String
    public let dims: ModelDims
    public let typeVocab: Int
    public let layerNormEps: Double
    public let hiddenAct: String
    public let padTokenId: Int

    public init(config: JSONObject) throws(ArchitectureError) {
        let c = ConfigReader(config: config)
        modelType = c.string("model_type", default: "bert")
        let hidden = try c.int("hidden_size"), heads = try c.int("num_attention_heads")
        guard hidden % heads == 0 else { throw .badValue("hidden_size", "(\(hidden)) is not a multiple of num_attention_heads (\(heads))") }
        let position = c.string("position_embedding_type", default: "absolute")
        guard ["absolute", "relative_key", "relative_key_query"].contains(position) else {
            throw .badValue("position_embedding_type", "'\(position)' is not absolute, relative_key or relative_key_query")
        }
        dims = ModelDims(hidden: hidden, layers: try c.int("num_hidden_layers"), heads: heads, headDim: hidden / heads,
                         intermediate: try c.int("intermediate_size"), vocab: try c.int("vocab_size"),
                         maxPositions: try c.int("max_position_embeddings"), positionEmbedding: position)
        typeVocab = try c.int("type_vocab_size", default: 2)
        layerNormEps = c.double("layer_norm_eps", default: 1e-12)
        hiddenAct = c.string("hidden_act", default: "gelu")
        padTokenId = try c.int("pad_token_id", default: 0)
    }

    /// RoBERTa and XLM-R number positions from pad_token_id + 1; BERT from 0.
    var firstPosition: Int { modelType == "bert" ? 0 : padTokenId + 1 }
    var relative: Bool { dims.positionEmbedding != "absolute" }

    public var positionLimit: Int? { dims.maxPositions! - firstPosition }

    /// The tensors, as transformers names them and as llama.cpp's `bert` architecture does (tensor_mapping.py).
    public var tensors: TensorTable {
        let h = dims.hidden, i = dims.intermediate, p = dims.maxPositions!, d = dims.headDim
        return TensorTable(layers: dims.layers, global: [
            TensorSpec(.tokenEmbedding,     "embeddings.word_embeddings.weight",       [dims.vocab, h], gguf: "token_embd.weight", .fileDType),
            TensorSpec(.positionEmbedding,  "embeddings.position_embeddings.weight",   [p, h], gguf: relative ? nil : "position_embd.weight"),
            TensorSpec(.tokenTypeEmbedding, "embeddings.token_type_embeddings.weight", [typeVocab, h], optional: typeVocab == 0, gguf: "token_types.weight"),
            TensorSpec(.embeddingNorm,      "embeddings.LayerNorm.weight",             [h], gguf: "token_embd_norm.weight"),
            TensorSpec(.embeddingNormBias,  "embeddings.LayerNorm.bias",               [h], gguf: "token_embd_norm.bias"),
            TensorSpec(.positionIds,        "embeddings.position_ids",                 [1, p], optional: true),
            TensorSpec(.tokenTypeIds,       "embeddings.token_type_ids",               [1, p], optional: true),
            TensorSpec(.poolerDense,        "pooler.dense.weight",                     [h, h], optional: true),
            TensorSpec(.poolerDenseBias,    "pooler.dense.bias",                       [h], optional: true),
        ], perLayer: [
            TensorSpec(.attnQ,           "encoder.layer.{L}.attention.self.query.weight",       [h, h], gguf: "blk.{L}.attn_q.weight", .fileDType),
            TensorSpec(.attnQBias,       "encoder.layer.{L}.attention.self.query.bias",         [h],    gguf: "blk.{L}.attn_q.bias"),
            TensorSpec(.attnK,           "encoder.layer.{L}.attention.self.key.weight",         [h, h], gguf: "blk.{L}.attn_k.weight", .fileDType),
            TensorSpec(.attnKBias,       "encoder.layer.{L}.attention.self.key.bias",           [h],    gguf: "blk.{L}.attn_k.bias"),
            TensorSpec(.attnV,           "encoder.layer.{L}.attention.self.value.weight",       [h, h], gguf: "blk.{L}.attn_v.weight", .fileDType),
            TensorSpec(.attnVBias,       "encoder.layer.{L}.attention.self.value.bias",         [h],    gguf: "blk.{L}.attn_v.bias"),
            TensorSpec(.attnOut,         "encoder.layer.{L}.attention.output.dense.weight",     [h, h], gguf: "blk.{L}.attn_output.weight", .fileDType),
            TensorSpec(.attnOutBias,     "encoder.layer.{L}.attention.output.dense.bias",       [h],    gguf: "blk.{L}.attn_output.bias"),
            TensorSpec(.attnOutNorm,     "encoder.layer.{L}.attention.output.LayerNorm.weight", [h],    gguf: "blk.{L}.attn_output_norm.weight"),
            TensorSpec(.attnOutNormBias, "encoder.layer.{L}.attention.output.LayerNorm.bias",   [h],    gguf: "blk.{L}.attn_output_norm.bias"),
            TensorSpec(.ffnUp,           "encoder.layer.{L}.intermediate.dense.weight",         [i, h], gguf: "blk.{L}.ffn_up.weight", .fileDType),
            TensorSpec(.ffnUpBias,       "encoder.layer.{L}.intermediate.dense.bias",           [i],    gguf: "blk.{L}.ffn_up.bias"),
            TensorSpec(.ffnDown,         "encoder.layer.{L}.output.dense.weight",               [h, i], gguf: "blk.{L}.ffn_down.weight", .fileDType),
            TensorSpec(.ffnDownBias,     "encoder.layer.{L}.output.dense.bias",                 [h],    gguf: "blk.{L}.ffn_down.bias"),
            TensorSpec(.layerOutNorm,    "encoder.layer.{L}.output.LayerNorm.weight",           [h],    gguf: "blk.{L}.layer_output_norm.weight"),
            TensorSpec(.layerOutNormBias, "encoder.layer.{L}.output.LayerNorm.bias",            [h],    gguf: "blk.{L}.layer_output_norm.bias"),
        ] + (relative ? [
            TensorSpec(.attnDistanceEmbedding, "encoder.layer.{L}.attention.self.distance_embedding.weight", [2 * p - 1, d]),
        ] : []))
    }
}

// MARK: Forward pass

extension BertFamily: HasEncoderForward {
    struct Layer {
        let block: PostNormLayer
        /// relative_key(_query)'s distance table.
        let distance: UnsafePointer<Float>?
    }

    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let word: EmbeddingRows
        /// nil for relative positions (no absolute position embedding is added).
        let position: UnsafePointer<Float>?
        let typeRow: UnsafePointer<Float>?
        let embeddingNorm: Norm
        let layers: [Layer]
        let firstPosition: Int
        let padding: Int
        let maxPositions: Int
        let keyQuery: Bool
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace ws: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let m = shape.rows
            let positions = firstPosition > 0 ? offsetPositions(ids: ids, shape, padding: padding) : (0..<m).map { $0 % shape.seq }
            embedTokens(ids: ids, positions: positions, word: word, position: position, typeRow: typeRow, hidden: hidden,
                        norm: embeddingNorm, into: x)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            let out = ws.buffer(.projection, count: m * hidden)
            for (l, layer) in layers.enumerated() {
                let term = layer.distance.map { PositionTerm.distance(table: $0, maxPositions: maxPositions, keyQuery: keyQuery) } ?? .none
                layer.block(x, shape, position: term, temperature: temperature, ws,
                            probe: probe.map { LayerProbe(probe: $0, layer: l) }, scratch: out)
                probe?.hiddenStates(layer: l + 1, x, shape: shape, hidden: hidden)
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        guard let act = Activation(hf: hiddenAct), [.gelu, .geluTanh, .relu, .silu].contains(act) else {
            throw FileError("", WeightStore.Error.unsupported("config.json hidden_act '\(hiddenAct)' (supported: gelu, gelu_new, relu, silu)"))
        }
        let t = tensors, eps = layerNormEps
        let layers = try (0..<dims.layers).map { l in
            Layer(block: try PostNormLayer(w, t, layer: l, dims: dims, activation: act, eps: eps),
                  distance: relative ? try w.f32(t.name(.attnDistanceEmbedding, layer: l)) : nil)
        }
        let typeName = t.name(.tokenTypeEmbedding)
        return Forward(
            hidden: dims.hidden,
            word: try w.embeddingRows(t.name(.tokenEmbedding)),
            position: relative ? nil : try w.f32(t.name(.positionEmbedding)),
            typeRow: w.has(typeName) ? try w.f32(typeName) : nil,
            embeddingNorm: try Norm(.layer, w, t, .embeddingNorm, bias: .embeddingNormBias, eps: eps),
            layers: layers, firstPosition: firstPosition, padding: padTokenId, maxPositions: dims.maxPositions!,
            keyQuery: dims.positionEmbedding == "relative_key_query", weights: w)
    }
}

// MARK: Baking the temperature

extension BertFamily {
    /// absolute / relative_key: every term of the score is linear in q, so q's weight and bias × 1/τ.
    /// relative_key_query adds K·Rᵀ, which q does not touch: q, k and the layer's distance
    /// embedding each × τ^-½ make every product (QKᵀ, QRᵀ, KRᵀ) scale by 1/τ.
    public func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule {
        var scales: [BakeRule.Scale] = []
        let keyQuery = dims.positionEmbedding == "relative_key_query"
        let t = tensors
        for l in 0..<dims.layers where layers.contains(l) {
            if keyQuery {
                let s = 1 / tau.squareRoot()
                for role in [TensorRole.attnQ, .attnQBias, .attnK, .attnKBias, .attnDistanceEmbedding] {
                    scales.append(.init(tensor: t.name(role, layer: l), factor: s))
                }
            } else {
                scales.append(.init(tensor: t.name(.attnQ, layer: l), factor: 1 / tau))
                scales.append(.init(tensor: t.name(.attnQBias, layer: l), factor: 1 / tau))
            }
        }
        let why = keyQuery
            ? "relative_key_query: query, key (weight and bias) and distance_embedding × τ^-½ in each patched layer, so QKᵀ, Q·Rᵀ and K·Rᵀ each scale by 1/τ"
            : "query weight and bias × 1/τ in each patched layer: Q = XWqᵀ + bq scales by 1/τ, and every score term (QKᵀ/√d\(dims.positionEmbedding == "relative_key" ? ", Q·Rᵀ/√d" : "")) is linear in Q"
        return BakeRule(scales: scales, explanation: why)
    }
}

// MARK: GGUF (llama.cpp `bert` architecture)

extension BertFamily {
    /// llama.cpp's bert graph: absolute positions from 0 (so RoBERTa's first pad + 1 rows are dropped), GELU,
    /// a hard-coded 1/√d (τ travels in attn_q), no key for the attention scale.
    public func ggufArchitecture() throws(GGUF.Error) -> GGUFArchitecture {
        guard !relative else {
            throw .unsupportedPositions("its bert graph has absolute positions only; config.json position_embedding_type is '\(dims.positionEmbedding)'")
        }
        guard hiddenAct == "gelu" else { throw .unsupportedActivation("its bert graph computes GELU; config.json hidden_act is '\(hiddenAct)'") }
        let positions = dims.maxPositions! - firstPosition
        guard positions > 0 else { throw .tooManyPositionRowsDropped(firstPosition, rows: dims.maxPositions!) }
        return GGUFArchitecture(name: "bert", keys: [
            ("bert.context_length", .u32(UInt32(positions))),
            ("bert.embedding_length", .u32(UInt32(dims.hidden))),
            ("bert.block_count", .u32(UInt32(dims.layers))),
            ("bert.feed_forward_length", .u32(UInt32(dims.intermediate))),
            ("bert.attention.head_count", .u32(UInt32(dims.heads))),
            ("bert.attention.layer_norm_epsilon", .f32(Float(layerNormEps))),
            ("bert.attention.causal", .bool(false)),
            // llama.cpp refuses a BERT file without a token type count; a model without the embedding has one type.
            ("tokenizer.ggml.token_type_count", .u32(UInt32(max(typeVocab, 1)))),
        ], positionRowsDropped: firstPosition, writesPooling: true)
    }
}

// MARK: ONNX (the same forward pass in standard operators)

extension BertFamily {
    public func onnxEncoder(_ b: inout ONNXBuilder) throws -> String {
        guard !relative else {
            throw ONNXBuilder.Error.unsupported("position_embedding_type '\(dims.positionEmbedding)' is not exported (absolute positions only)")
        }
        guard let act = Activation(hf: hiddenAct), [.gelu, .geluTanh, .relu, .silu].contains(act) else {
            throw ONNXBuilder.Error.unsupported("config.json hidden_act '\(hiddenAct)' (supported: gelu, gelu_new, relu, silu)")
        }
        let t = tensors, eps = layerNormEps
        b.scope = "/embeddings"
        let ids = b.input("input_ids")
        let positions: String
        if firstPosition == 0 {
            positions = b.positions()
        } else {
            positions = b.offsetPositions(padding: padTokenId)
        }
        var x = b.add(try b.embed(t.name(.tokenEmbedding), ids), try b.embed(t.name(.positionEmbedding), positions))
        if typeVocab > 1 {
            x = b.add(x, try b.embed(t.name(.tokenTypeEmbedding), b.input("token_type_ids")))
        } else if typeVocab == 1 {  // one type: its row is added to every token
            x = b.add(x, b.node("Gather", [try b.weight(t.name(.tokenTypeEmbedding)), b.constant(ints: [0], dims: [])]))
        }
        x = try b.layerNorm(x, weight: t.name(.embeddingNorm), bias: t.name(.embeddingNormBias), eps: eps)
        for l in 0..<dims.layers {
            func n(_ r: TensorRole) -> String { t.name(r, layer: l) }
            b.scope = "/encoder/layer.\(l)"
            let a = try b.selfAttention(x, q: (n(.attnQ), n(.attnQBias)), k: (n(.attnK), n(.attnKBias)), v: (n(.attnV), n(.attnVBias)),
                                        out: (n(.attnOut), n(.attnOutBias)), heads: dims.heads, headDim: dims.headDim)
            x = try b.layerNorm(b.add(a, x), weight: n(.attnOutNorm), bias: n(.attnOutNormBias), eps: eps)
            b.scope = "/encoder/layer.\(l)/intermediate"
            let h = b.activation(try b.linear(x, weight: n(.ffnUp), bias: n(.ffnUpBias)), act)
            b.scope = "/encoder/layer.\(l)/output"
            x = try b.layerNorm(b.add(try b.linear(h, weight: n(.ffnDown), bias: n(.ffnDownBias)), x),
                                weight: n(.layerOutNorm), bias: n(.layerOutNormBias), eps: eps)
        }
        return x
    }
}

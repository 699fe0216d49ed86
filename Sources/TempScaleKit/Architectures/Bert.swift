/// BERT and its descendants with the same layout (RoBERTa, XLM-R: see Roberta.swift).
/// Post-LayerNorm encoder; attention `softmax(QKᵀ/√d + positions + mask)`.
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

    public var tensorTable: [TensorSpec] {
        let h = dims.hidden, i = dims.intermediate, p = dims.maxPositions!
        var table = [
            TensorSpec("embeddings.word_embeddings.weight", [dims.vocab, h]),
            TensorSpec("embeddings.position_embeddings.weight", [p, h]),
            TensorSpec("embeddings.token_type_embeddings.weight", [typeVocab, h], optional: typeVocab == 0),
            TensorSpec("embeddings.LayerNorm.weight", [h]),
            TensorSpec("embeddings.LayerNorm.bias", [h]),
            TensorSpec("embeddings.position_ids", [1, p], optional: true),
            TensorSpec("embeddings.token_type_ids", [1, p], optional: true),
            TensorSpec("pooler.dense.weight", [h, h], optional: true),
            TensorSpec("pooler.dense.bias", [h], optional: true),
        ]
        var layer = [
            TensorSpec("encoder.layer.{L}.attention.self.query.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.self.query.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.self.key.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.self.key.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.self.value.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.self.value.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.output.dense.weight", [h, h]),
            TensorSpec("encoder.layer.{L}.attention.output.dense.bias", [h]),
            TensorSpec("encoder.layer.{L}.attention.output.LayerNorm.weight", [h]),
            TensorSpec("encoder.layer.{L}.attention.output.LayerNorm.bias", [h]),
            TensorSpec("encoder.layer.{L}.intermediate.dense.weight", [i, h]),
            TensorSpec("encoder.layer.{L}.intermediate.dense.bias", [i]),
            TensorSpec("encoder.layer.{L}.output.dense.weight", [h, i]),
            TensorSpec("encoder.layer.{L}.output.dense.bias", [h]),
            TensorSpec("encoder.layer.{L}.output.LayerNorm.weight", [h]),
            TensorSpec("encoder.layer.{L}.output.LayerNorm.bias", [h]),
        ]
        if dims.positionEmbedding != "absolute" {
            layer.append(TensorSpec("encoder.layer.{L}.attention.self.distance_embedding.weight", [2 * p - 1, dims.headDim]))
        }
        table += .perLayer(dims.layers, layer)
        return table
    }
}

// MARK: Forward pass

extension BertFamily: HasEncoderForward {
    struct Forward: EncoderForward, @unchecked Sendable {
        let hidden: Int
        let dims: LayerDims
        let word, position, ln0g, ln0b: UnsafePointer<Float>
        let typeRow: UnsafePointer<Float>?
        let layers: [PostLNLayer]
        /// RoBERTa and XLM-R number positions from padding_idx + 1; BERT from 0.
        let positionOffsetPadding: Int?
        let weights: WeightStore

        func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace: Workspace, probe: (any ForwardProbe)?,
                     into x: UnsafeMutablePointer<Float>) {
            let positions = positionOffsetPadding.map { offsetPositions(ids: ids, shape, padding: $0) }
                ?? (0..<shape.rows).map { $0 % shape.seq }
            embedTokens(ids: ids, positions: positions, word: word, position: position, typeRow: typeRow, hidden: hidden,
                        gamma: ln0g, beta: ln0b, eps: dims.eps, into: x)
            probe?.hiddenStates(layer: 0, x, shape: shape, hidden: hidden)
            for (l, layer) in layers.enumerated() {
                layer.run(x, shape, dims, temperature: temperature, positionBias: nil, workspace: workspace,
                          probe: probe.map { LayerProbe(probe: $0, layer: l) })
            }
        }
    }

    func buildForward(_ w: WeightStore) throws -> any EncoderForward {
        guard dims.positionEmbedding == "absolute" else {
            throw FileError("", WeightStore.Error.unsupported("position_embedding_type '\(dims.positionEmbedding)' has no built-in forward pass yet"))
        }
        guard hiddenAct == "gelu" else {
            throw FileError("", WeightStore.Error.unsupported("hidden_act '\(hiddenAct)' (only exact gelu)"))
        }
        let layers = try (0..<dims.layers).map { l in
            let p = "encoder.layer.\(l)."
            return try PostLNLayer(w, .init(
                q: p + "attention.self.query.weight", qb: p + "attention.self.query.bias",
                k: p + "attention.self.key.weight", kb: p + "attention.self.key.bias",
                v: p + "attention.self.value.weight", vb: p + "attention.self.value.bias",
                o: p + "attention.output.dense.weight", ob: p + "attention.output.dense.bias",
                ln1g: p + "attention.output.LayerNorm.weight", ln1b: p + "attention.output.LayerNorm.bias",
                up: p + "intermediate.dense.weight", upb: p + "intermediate.dense.bias",
                down: p + "output.dense.weight", downb: p + "output.dense.bias",
                ln2g: p + "output.LayerNorm.weight", ln2b: p + "output.LayerNorm.bias"))
        }
        return Forward(
            hidden: dims.hidden,
            dims: dims.layerDims(eps: layerNormEps),
            word: try w.f32("embeddings.word_embeddings.weight"), position: try w.f32("embeddings.position_embeddings.weight"),
            ln0g: try w.f32("embeddings.LayerNorm.weight"), ln0b: try w.f32("embeddings.LayerNorm.bias"),
            typeRow: w.has("embeddings.token_type_embeddings.weight") ? try w.f32("embeddings.token_type_embeddings.weight") : nil,
            layers: layers, positionOffsetPadding: modelType == "bert" ? nil : padTokenId, weights: w)
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
        for l in 0..<dims.layers where layers.contains(l) {
            let p = "encoder.layer.\(l).attention.self."
            if keyQuery {
                let s = 1 / tau.squareRoot()
                for n in ["query.weight", "query.bias", "key.weight", "key.bias", "distance_embedding.weight"] {
                    scales.append(.init(tensor: p + n, factor: s))
                }
            } else {
                scales.append(.init(tensor: p + "query.weight", factor: 1 / tau))
                scales.append(.init(tensor: p + "query.bias", factor: 1 / tau))
            }
        }
        let why = keyQuery
            ? "relative_key_query: query, key (weight and bias) and distance_embedding × τ^-½ in each patched layer, so QKᵀ, Q·Rᵀ and K·Rᵀ each scale by 1/τ"
            : "query weight and bias × 1/τ in each patched layer: Q = XWqᵀ + bq scales by 1/τ, and every score term (QKᵀ/√d\(dims.positionEmbedding == "relative_key" ? ", Q·Rᵀ/√d" : "")) is linear in Q"
        return BakeRule(scales: scales, explanation: why)
    }
}

// MARK: GGUF names (llama.cpp `bert` architecture)

extension BertFamily {
    /// How a tensor is stored in a GGUF file: weight matrices in the file's dtype; vectors, the position and
    /// token-type embeddings always f32 (llama.cpp's converter keeps them f32, and its kernels expect that).
    enum GGUFStorage: Sendable { case fileDType, f32 }

    struct GGUFName: Sendable {
        let hf: String
        let gguf: String
        let storage: GGUFStorage
        init(_ hf: String, _ gguf: String, _ storage: GGUFStorage) {
            self.hf = hf
            self.gguf = gguf
            self.storage = storage
        }
    }

    /// HF tensor name → llama.cpp tensor name, from llama.cpp's `tensor_mapping.py` rows for BERT.
    /// Tensors not listed are not exported: `embeddings.position_ids`, `embeddings.token_type_ids`, `pooler.*`.
    static let ggufEmbeddingNames: [GGUFName] = [
        GGUFName("embeddings.word_embeddings.weight",       "token_embd.weight",      .fileDType),
        GGUFName("embeddings.position_embeddings.weight",   "position_embd.weight",   .f32),
        GGUFName("embeddings.token_type_embeddings.weight", "token_types.weight",     .f32),
        GGUFName("embeddings.LayerNorm.weight",             "token_embd_norm.weight", .f32),
        GGUFName("embeddings.LayerNorm.bias",               "token_embd_norm.bias",   .f32),
    ]

    /// Per layer; `{L}` is the layer index.
    static let ggufLayerNames: [GGUFName] = [
        GGUFName("encoder.layer.{L}.attention.self.query.weight",        "blk.{L}.attn_q.weight",             .fileDType),
        GGUFName("encoder.layer.{L}.attention.self.query.bias",          "blk.{L}.attn_q.bias",               .f32),
        GGUFName("encoder.layer.{L}.attention.self.key.weight",          "blk.{L}.attn_k.weight",             .fileDType),
        GGUFName("encoder.layer.{L}.attention.self.key.bias",            "blk.{L}.attn_k.bias",               .f32),
        GGUFName("encoder.layer.{L}.attention.self.value.weight",        "blk.{L}.attn_v.weight",             .fileDType),
        GGUFName("encoder.layer.{L}.attention.self.value.bias",          "blk.{L}.attn_v.bias",               .f32),
        GGUFName("encoder.layer.{L}.attention.output.dense.weight",      "blk.{L}.attn_output.weight",        .fileDType),
        GGUFName("encoder.layer.{L}.attention.output.dense.bias",        "blk.{L}.attn_output.bias",          .f32),
        GGUFName("encoder.layer.{L}.attention.output.LayerNorm.weight",  "blk.{L}.attn_output_norm.weight",   .f32),
        GGUFName("encoder.layer.{L}.attention.output.LayerNorm.bias",    "blk.{L}.attn_output_norm.bias",     .f32),
        GGUFName("encoder.layer.{L}.intermediate.dense.weight",          "blk.{L}.ffn_up.weight",             .fileDType),
        GGUFName("encoder.layer.{L}.intermediate.dense.bias",            "blk.{L}.ffn_up.bias",               .f32),
        GGUFName("encoder.layer.{L}.output.dense.weight",                "blk.{L}.ffn_down.weight",           .fileDType),
        GGUFName("encoder.layer.{L}.output.dense.bias",                  "blk.{L}.ffn_down.bias",             .f32),
        GGUFName("encoder.layer.{L}.output.LayerNorm.weight",            "blk.{L}.layer_output_norm.weight",  .f32),
        GGUFName("encoder.layer.{L}.output.LayerNorm.bias",              "blk.{L}.layer_output_norm.bias",    .f32),
    ]

    /// The table expanded for this model's layers, embeddings first.
    var ggufNames: [GGUFName] {
        Self.ggufEmbeddingNames + (0..<dims.layers).flatMap { l in
            Self.ggufLayerNames.map {
                GGUFName($0.hf.replacing("{L}", with: String(l)), $0.gguf.replacing("{L}", with: String(l)), $0.storage)
            }
        }
    }

    /// RoBERTa and XLM-R number positions from pad_token_id + 1; llama.cpp numbers them from 0, so a GGUF
    /// file holds the position table without its first pad_token_id + 1 rows.
    var ggufPositionRowsDropped: Int { modelType == "bert" ? 0 : padTokenId + 1 }
}

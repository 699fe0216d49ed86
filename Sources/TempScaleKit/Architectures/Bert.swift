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

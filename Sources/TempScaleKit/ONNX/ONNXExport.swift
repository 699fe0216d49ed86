import Foundation
import ONNXProto

/// `tempscale export MODEL --to onnx -o model.onnx [--dtype f32|f16]`: the encoder, sentence-transformers'
/// pooling, Dense and Normalize as one ONNX graph (IR 8, opset 17, standard operators only) with dynamic batch
/// and sequence axes. Inputs `input_ids`, `attention_mask` (int64) and `token_type_ids` where the model has token
/// types; outputs `last_hidden_state` [batch, seq, hidden] and `sentence_embedding` [batch, dim]. A baked τ
/// travels in the query weights (never in the 1/√d constant) and the τ history in `metadata_props`.
public enum ONNXExport {
    public struct Report: Sendable {
        public let path: String
        public let bytes: Int
        public let nodes: Int
        public let initializers: Int
        public let dtype: String
        public let irVersion: Int
        public let opset: Int
    }

    public static func write(_ model: Model, to path: String, dtype: DType, force: Bool) throws -> Report {
        guard dtype == .f32 || dtype == .f16 else {
            throw FileError(path, ONNXBuilder.Error.unsupported("--dtype \(dtype.rawValue): ONNX export writes f32 or f16"))
        }
        let graph: Onnx_GraphProto
        do { graph = try build(model, dtype: dtype) } catch let e as ONNXBuilder.Error { throw FileError(model.path, e) }
        var m = Onnx_ModelProto()
        m.irVersion = ONNXBuilder.irVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = ONNXBuilder.opset
        m.opsetImport = [opset]
        m.producerName = "tempscale"
        m.producerVersion = TempScale.version
        m.docString = "\(model.family) encoder exported by tempscale from \(basename(model.path))"
        m.graph = graph
        var file = ONNXFile(path: model.path, model: m)
        file.setTemperature(model.temperature)
        for (k, v) in [("tempscale.family", model.family), ("tempscale.source", basename(model.path))] {
            var e = Onnx_StringStringEntryProto()
            e.key = k
            e.value = v
            file.model.metadataProps.append(e)
        }
        let bytes = try file.write(to: path, force: force)
        return Report(path: path, bytes: bytes, nodes: graph.node.count, initializers: graph.initializer.count,
                      dtype: dtype.rawValue.lowercased(), irVersion: Int(ONNXBuilder.irVersion), opset: Int(ONNXBuilder.opset))
    }

    static func build(_ model: Model, dtype: DType) throws -> Onnx_GraphProto {
        let st = model.sentenceTransformers
        if !st.includePrompt {
            throw ONNXBuilder.Error.unsupported("the pooling config sets include_prompt false; an ONNX graph cannot tell the prompt's tokens from the text's")
        }
        var b = ONNXBuilder(weights: WeightStore(model), dtype: dtype)
        let hidden = try model.architecture.onnxEncoder(&b)
        let dim = model.architecture.dims.hidden
        b.scope = "/pooling"
        let last = b.node("Identity", [hidden])
        var pooled: [String] = []
        let modes = st.poolingModes.isEmpty ? [SentenceTransformersConfig.Pooling.mean] : st.poolingModes
        for mode in modes { pooled.append(try pool(&b, last, mode)) }
        var emb = pooled.count == 1 ? pooled[0] : b.node("Concat", pooled, [ONNXBuilder.attr("axis", int: 1)])
        var width = dim * pooled.count
        for step in st.steps {
            switch step {
            case .pooling: break
            case .normalize:
                b.scope = "/normalize"
                let norm = b.node("ReduceL2", [emb], [ONNXBuilder.attr("axes", ints: [-1]), ONNXBuilder.attr("keepdims", int: 1)])
                emb = b.node("Div", [emb, b.node("Max", [norm, b.constant([1e-12])])])
            case .dense(let d):
                b.scope = "/\(d.path)"
                guard d.inFeatures == width else { throw ONNXBuilder.Error.unsupported("\(d.path) takes \(d.inFeatures) features, the pooling gives \(width)") }
                let cls = d.activation.split(separator: ".").last.map(String.init) ?? d.activation
                guard let kernel = SentenceTransformersConfig.denseActivations[cls], let act = Activation(hf: kernel) else {
                    throw ONNXBuilder.Error.unsupported("\(d.path) activation '\(d.activation)'")
                }
                emb = b.activation(try b.linear(emb, weight: d.weightName, bias: d.bias ? d.biasName : nil), act)
                width = d.outFeatures
            }
        }
        b.node("Identity", [emb])
        var g = Onnx_GraphProto()
        g.name = "tempscale_\(model.family)"
        var nodes = b.nodes
        // Name the two outputs as sentence-transformers' ONNX exports do.
        let lastIndex = nodes.firstIndex { $0.output.first == last }!
        nodes[lastIndex].output = ["last_hidden_state"]
        nodes[nodes.count - 1].output = ["sentence_embedding"]
        for i in nodes.indices {
            for j in nodes[i].input.indices where nodes[i].input[j] == last { nodes[i].input[j] = "last_hidden_state" }
        }
        g.node = nodes
        g.initializer = b.initializers
        let order = ["input_ids", "attention_mask", "token_type_ids"]
        g.input = b.inputs.sorted { (order.firstIndex(of: $0.name) ?? 9) < (order.firstIndex(of: $1.name) ?? 9) }
        g.output = [ONNXBuilder.valueInfo("last_hidden_state", .float, ["batch_size", "sequence_length", dim]),
                    ONNXBuilder.valueInfo("sentence_embedding", .float, ["batch_size", width])]
        return g
    }

    /// sentence-transformers' pooling modes over the real tokens (attention_mask = 1).
    static func pool(_ b: inout ONNXBuilder, _ x: String, _ mode: SentenceTransformersConfig.Pooling) throws -> String {
        let m = b.maskColumn()  // [batch, seq, 1]
        let keep0 = ONNXBuilder.attr("keepdims", int: 0)
        switch mode {
        case .cls:
            return b.node("Gather", [x, b.constant(ints: [0], dims: [])], [ONNXBuilder.attr("axis", int: 1)])
        case .max:
            // Padding set to -1e9 before the max, as sentence-transformers does.
            let masked = b.node("Where", [b.node("Equal", [m, b.constant([0])]), b.constant([-1e9]), x])
            return b.node("ReduceMax", [masked], [ONNXBuilder.attr("axes", ints: [1]), keep0])
        case .mean, .meanSqrtLen, .weightedMean:
            var w = m
            if mode == .weightedMean {  // position t (from 1) weighs t
                let pos = b.node("Cast", [b.positions()], [ONNXBuilder.attr("to", int: Int64(ONNXElementType.float.rawValue))])
                let w1 = b.add(pos, b.constant([1]))
                w = b.mul(m, b.node("Unsqueeze", [w1, b.constant(ints: [2])]))
            }
            let sum = b.node("ReduceSum", [b.mul(x, w), b.constant(ints: [1])], [keep0])
            var count = b.node("Clip", [b.node("ReduceSum", [w, b.constant(ints: [1])], [keep0]), b.constant([1e-9], dims: [])])
            if mode == .meanSqrtLen { count = b.node("Sqrt", [count]) }
            return b.node("Div", [sum, count])
        case .lastToken:
            // The last real token: index sum(mask) − 1 per row.
            let n = b.node("ReduceSum", [b.node("Cast", [m], [ONNXBuilder.attr("to", int: Int64(ONNXElementType.int64.rawValue))]), b.constant(ints: [1])], [ONNXBuilder.attr("keepdims", int: 1)])
            let idx = b.node("Max", [b.node("Sub", [n, b.constant(ints: [1], dims: [])]), b.constant(ints: [0], dims: [])])  // [batch, 1, 1]
            let shape = b.node("Shape", [x])
            let hiddenDim = b.node("Slice", [shape, b.constant(ints: [2]), b.constant(ints: [3])])
            let batchDim = b.node("Slice", [shape, b.constant(ints: [0]), b.constant(ints: [1])])
            let expanded = b.node("Expand", [idx, b.node("Concat", [batchDim, b.constant(ints: [1]), hiddenDim], [ONNXBuilder.attr("axis", int: 0)])])
            let picked = b.node("GatherElements", [x, expanded], [ONNXBuilder.attr("axis", int: 1)])
            return b.node("Squeeze", [picked, b.constant(ints: [1])])
        }
    }
}

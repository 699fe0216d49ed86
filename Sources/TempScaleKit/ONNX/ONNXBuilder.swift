import CKernels
import Foundation
import ONNXProto

/// Builds an ONNX graph from named kernels — the same vocabulary the CPU encoder is written in (linear,
/// layer norm, attention, activation, pooling) — in standard operators only (opset 17), in the forms PyTorch's
/// exporter produces and ONNX Runtime's optimizer fuses: `MatMul(x, Wᵀ) → Add(b)`, scores
/// `MatMul(Q, Kᵀ) → Div(√d) → Add(mask) → Softmax`, GELU as `x·½·(1 + erf(x/√2))`.
/// Architectures describe their forward pass with it (`Architecture.onnxEncoder`).
public struct ONNXBuilder {
    public enum Error: ReasonError, Equatable {
        case familyNotExported(String)
        case unsupported(String)
        public var description: String {
            switch self {
            case .familyNotExported(let f): return "ONNX export of the \(f) family is not built yet"
            case .unsupported(let why): return "ONNX export: \(why)"
            }
        }
    }

    public static let opset: Int64 = 17
    public static let irVersion: Int64 = 8

    let weights: WeightStore
    let dtype: DType
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private(set) var inputs: [Onnx_ValueInfoProto] = []
    private var counter = 0
    private var cached: [String: String] = [:]
    /// The node-name prefix (`/encoder/layer.3/attention`), so that names carry the layer as torch's exporter's do.
    var scope = ""

    init(weights: WeightStore, dtype: DType) {
        self.weights = weights
        self.dtype = dtype
    }

    // MARK: Values

    private mutating func fresh(_ op: String) -> String {
        counter += 1
        return "\(scope)/\(op)_\(counter)"
    }

    /// Adds a node; returns its (first) output.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], outputs: Int = 1, _ attributes: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = fresh(op)
        n.input = inputs
        n.output = (0..<outputs).map { $0 == 0 ? n.name + "_output_0" : n.name + "_output_\($0)" }
        n.attribute = attributes
        nodes.append(n)
        return n.output[0]
    }

    static func attr(_ name: String, int v: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = v; return a
    }
    static func attr(_ name: String, ints v: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v; return a
    }
    static func attr(_ name: String, float v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }

    /// A graph input [batch, sequence] of int64.
    mutating func input(_ name: String) -> String {
        if let c = cached["input:" + name] { return c }
        inputs.append(Self.valueInfo(name, .int64, ["batch_size", "sequence_length"]))
        cached["input:" + name] = name
        return name
    }

    static func valueInfo(_ name: String, _ type: ONNXElementType, _ dims: [Any]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        v.type.tensorType.elemType = type.rawValue
        v.type.tensorType.shape.dim = dims.map { d in
            var x = Onnx_TensorShapeProto.Dimension()
            if let s = d as? String { x.dimParam = s } else if let n = d as? Int { x.dimValue = Int64(n) }
            return x
        }
        return v
    }

    /// A constant (an initializer), deduplicated by value: f32 (a scalar unless `dims` says otherwise).
    mutating func constant(_ values: [Float], dims: [Int64] = []) -> String {
        constant(.float, dims: dims, key: "\(values)", raw: values.withUnsafeBytes { Data($0) })
    }

    /// An int64 constant (1-D unless `dims` says otherwise).
    mutating func constant(ints values: [Int64], dims: [Int64]? = nil) -> String {
        constant(.int64, dims: dims ?? [Int64(values.count)], key: "\(values)", raw: values.withUnsafeBytes { Data($0) })
    }

    private mutating func constant(_ type: ONNXElementType, dims: [Int64], key: String, raw: Data) -> String {
        let key = "\(type):\(dims):" + key
        if let c = cached[key] { return c }
        var t = Onnx_TensorProto()
        t.name = "/constants/\(initializers.count)"
        t.dataType = type.rawValue
        t.dims = dims
        t.rawData = raw
        initializers.append(t)
        cached[key] = t.name
        return t.name
    }

    /// A model tensor as an initializer under its own name, in the export dtype (f16 weights are cast to f32 in
    /// the graph, so every runtime computes in f32). `transpose`: a Linear weight [out, in] stored [in, out] for MatMul.
    mutating func weight(_ name: String, transpose: Bool = false) throws -> String {
        if let c = cached["w:" + name + "\(transpose)"] { return c }
        let t = try weights.tensor(name)
        let p = try weights.f32(name)
        var values = [Float](UnsafeBufferPointer(start: p, count: t.count))
        var dims = t.shape.map(Int64.init)
        if transpose {
            guard t.shape.count == 2 else { throw Error.unsupported("'\(name)' is not a matrix") }
            let (r, c) = (t.shape[0], t.shape[1])
            var out = [Float](repeating: 0, count: values.count)
            for i in 0..<r { for j in 0..<c { out[j * r + i] = values[i * c + j] } }
            values = out
            dims = [Int64(c), Int64(r)]
        }
        var tp = Onnx_TensorProto()
        tp.name = name
        tp.dims = dims
        let result: String
        if dtype == .f16 && values.count > 1 {
            tp.dataType = ONNXElementType.float16.rawValue
            var half = [UInt16](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { src in half.withUnsafeMutableBufferPointer { ts_f32_to_f16(src.baseAddress!, $0.baseAddress!, values.count) } }
            tp.rawData = half.withUnsafeBytes { Data($0) }
            initializers.append(tp)
            result = node("Cast", [name], [Self.attr("to", int: Int64(ONNXElementType.float.rawValue))])
        } else {
            tp.dataType = ONNXElementType.float.rawValue
            tp.rawData = values.withUnsafeBytes { Data($0) }
            initializers.append(tp)
            result = name
        }
        cached["w:" + name + "\(transpose)"] = result
        return result
    }

    // MARK: Kernels

    mutating func add(_ a: String, _ b: String) -> String { node("Add", [a, b]) }
    mutating func mul(_ a: String, _ b: String) -> String { node("Mul", [a, b]) }

    /// y = x·Wᵀ + b (W as HF stores a Linear: [out, in]).
    mutating func linear(_ x: String, weight: String, bias: String?) throws -> String {
        let y = node("MatMul", [x, try self.weight(weight, transpose: true)])
        guard let bias else { return y }
        return add(y, try self.weight(bias))
    }

    /// LayerNorm over the last axis; `bias` nil for a norm without one (ModernBERT's norm_bias false).
    mutating func layerNorm(_ x: String, weight: String, bias: String?, eps: Double) throws -> String {
        node("LayerNormalization", [x, try self.weight(weight)] + (try bias.map { [try self.weight($0)] } ?? []),
             [Self.attr("axis", int: -1), Self.attr("epsilon", float: Float(eps))])
    }

    mutating func activation(_ x: String, _ act: Activation) -> String {
        switch act {
        case .gelu:  // x · ½ · (1 + erf(x / √2)), as torch exports nn.GELU()
            let e = node("Erf", [node("Div", [x, constant([Float(2).squareRoot()])])])
            return mul(mul(x, constant([0.5])), add(e, constant([1])))
        case .geluTanh:  // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
            let cube = mul(mul(x, x), x)
            let inner = mul(add(x, mul(cube, constant([0.044715]))), constant([Float((2 / Double.pi).squareRoot())]))
            return mul(mul(x, constant([0.5])), add(node("Tanh", [inner]), constant([1])))
        case .relu: return node("Relu", [x])
        case .silu: return mul(x, node("Sigmoid", [x]))
        case .tanh: return node("Tanh", [x])
        case .identity: return x
        }
    }

    /// The additive attention mask [batch, 1, 1, seq]: 0 for tokens, the lowest float for padding (as transformers).
    mutating func maskBias() -> String {
        if let c = cached["maskBias"] { return c }
        let saved = scope
        scope = "/mask"
        // Unsqueeze → Unsqueeze → Cast → Sub → Mul: the order torch's exporter writes and ORT's attention fusion matches.
        let u = node("Unsqueeze", [node("Unsqueeze", [input("attention_mask"), constant(ints: [1])]), constant(ints: [2])])
        let m = node("Cast", [u], [Self.attr("to", int: Int64(ONNXElementType.float.rawValue))])
        let inv = node("Sub", [constant([1]), m])
        let out = mul(inv, constant([-Float.greatestFiniteMagnitude]))
        scope = saved
        cached["maskBias"] = out
        return out
    }

    /// The attention mask as float [batch, seq, 1] (for pooling).
    mutating func maskColumn() -> String {
        if let c = cached["maskColumn"] { return c }
        let m = node("Cast", [input("attention_mask")], [Self.attr("to", int: Int64(ONNXElementType.float.rawValue))])
        let out = node("Unsqueeze", [m, constant(ints: [2])])
        cached["maskColumn"] = out
        return out
    }

    /// [batch, seq, heads·d] → [batch, heads, seq, d] (or [batch, heads, d, seq] for the keys).
    private mutating func heads(_ x: String, heads: Int, headDim: Int, keys: Bool = false) -> String {
        let r = node("Reshape", [x, constant(ints: [0, 0, Int64(heads), Int64(headDim)])])
        return node("Transpose", [r], [Self.attr("perm", ints: keys ? [0, 2, 3, 1] : [0, 2, 1, 3])])
    }

    /// Multi-head self-attention: softmax(Q·Kᵀ/√d + mask [+ positionBias])·V, then the output projection.
    /// τ is never written here: a baked model carries it in the query weights.
    /// `scaled: false` for T5, whose scores have no 1/√d.
    mutating func selfAttention(_ x: String, q: (String, String?), k: (String, String?), v: (String, String?),
                                out: (String, String?), heads h: Int, headDim d: Int, scaled: Bool = true,
                                positionBias: String? = nil) throws -> String {
        let saved = scope
        scope = saved + "/attention/self"
        let qh = heads(try linear(x, weight: q.0, bias: q.1), heads: h, headDim: d)
        let kt = heads(try linear(x, weight: k.0, bias: k.1), heads: h, headDim: d, keys: true)
        let vh = heads(try linear(x, weight: v.0, bias: v.1), heads: h, headDim: d)
        var scores = node("MatMul", [qh, kt])
        if scaled { scores = node("Div", [scores, constant([Float(Double(d).squareRoot())])]) }
        if let positionBias { scores = add(scores, positionBias) }
        let p = node("Softmax", [add(scores, maskBias())], [Self.attr("axis", int: -1)])
        let ctx = node("Transpose", [node("MatMul", [p, vh])], [Self.attr("perm", ints: [0, 2, 1, 3])])
        let merged = node("Reshape", [ctx, constant(ints: [0, 0, Int64(h * d)])])
        scope = saved + "/attention/output"
        let y = try linear(merged, weight: out.0, bias: out.1)
        scope = saved
        return y
    }

    /// x split along its last axis into parts of `sizes` (a fused projection: ModernBERT's Wqkv, Wi).
    mutating func split(_ x: String, sizes: [Int]) -> [String] {
        let first = node("Split", [x, constant(ints: sizes.map(Int64.init))], outputs: sizes.count, [Self.attr("axis", int: -1)])
        let base = String(first.dropLast("_output_0".count))
        return (0..<sizes.count).map { base + "_output_\($0)" }
    }

    /// RoPE's cos and sin [seq, d] for positions 0..<seq (the d/2 frequencies of `Rotary`, written twice: the
    /// rotate-half layout), one pair per θ.
    private mutating func ropeTables(theta: Double, headDim d: Int) -> (String, String) {
        let key = "rope:\(theta):\(d)"
        if let c = cached[key + ":cos"], let s = cached[key + ":sin"] { return (c, s) }
        let inv = Rotary(theta: theta, headDim: d).invFreq
        let shape = node("Shape", [input("input_ids")])
        let seq = node("Gather", [shape, constant(ints: [1], dims: [])], [Self.attr("axis", int: 0)])
        let pos = node("Cast", [node("Range", [constant(ints: [0], dims: []), seq, constant(ints: [1], dims: [])])],
                       [Self.attr("to", int: Int64(ONNXElementType.float.rawValue))])
        let angles = mul(node("Unsqueeze", [pos, constant(ints: [1])]), constant(inv + inv, dims: [Int64(d)]))  // [seq, d]
        let (c, s) = (node("Cos", [angles]), node("Sin", [angles]))
        cached[key + ":cos"] = c
        cached[key + ":sin"] = s
        return (c, s)
    }

    /// x [batch, heads, seq, d] rotated: x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁].
    private mutating func rotate(_ x: String, theta: Double, headDim d: Int) -> String {
        let (c, s) = ropeTables(theta: theta, headDim: d)
        let halves = split(x, sizes: [d / 2, d / 2])
        let rotated = node("Concat", [node("Neg", [halves[1]]), halves[0]], [Self.attr("axis", int: -1)])
        return add(mul(x, c), mul(rotated, s))
    }

    /// The additive [seq, seq] mask of a span: 0 where query i sees key j, the lowest float elsewhere.
    private mutating func spanMask(_ span: AttentionSpan) -> String? {
        let key = "span:\(span)"
        if let c = cached[key] { return c }
        let far: String
        switch span {
        case .full: return nil
        case .causal, .window:
            let shape = node("Shape", [input("input_ids")])
            let seq = node("Gather", [shape, constant(ints: [1], dims: [])], [Self.attr("axis", int: 0)])
            let pos = node("Range", [constant(ints: [0], dims: []), seq, constant(ints: [1], dims: [])])
            let rel = node("Sub", [node("Unsqueeze", [pos, constant(ints: [0])]), node("Unsqueeze", [pos, constant(ints: [1])])])  // [i, j] = j − i
            if case .window(let r) = span {
                far = node("Greater", [node("Abs", [rel]), constant(ints: [Int64(r)], dims: [])])
            } else {
                far = node("Greater", [rel, constant(ints: [0], dims: [])])
            }
        }
        let out = node("Where", [far, constant([-Float.greatestFiniteMagnitude]), constant([0])])
        cached[key] = out
        return out
    }

    /// Self-attention with RoPE (ModernBERT, Qwen3): q, k, v [batch, seq, ·] already projected; optional per-head
    /// RMSNorms on q and k before RoPE; kv heads repeated to the query heads (repeat_interleave); a span mask besides
    /// the padding mask; 1/√d. τ is never written here (a baked model carries it in Wqkv's rows or q_norm).
    mutating func rotaryAttention(q: String, k: String, v: String, qNorm: String?, kNorm: String?, heads h: Int, kvHeads: Int,
                                  headDim d: Int, theta: Double, span: AttentionSpan, eps: Double) throws -> String {
        func split(_ x: String, _ n: Int, norm: String?) throws -> String {  // [b, s, n·d] → [b, n, s, d]
            var r = node("Reshape", [x, constant(ints: [0, 0, Int64(n), Int64(d)])])
            if let norm { r = try rmsNorm(r, weight: norm, eps: eps) }
            return node("Transpose", [r], [Self.attr("perm", ints: [0, 2, 1, 3])])
        }
        func repeated(_ x: String) -> String {  // [b, kv, s, d] → [b, h, s, d], each kv head g times in a row
            guard kvHeads != h else { return x }
            let u = node("Unsqueeze", [x, constant(ints: [2])])
            let e = node("Expand", [u, constant(ints: [1, 1, Int64(h / kvHeads), 1, 1])])
            return node("Reshape", [e, constant(ints: [0, Int64(h), -1, Int64(d)])])
        }
        let qh = rotate(try split(q, h, norm: qNorm), theta: theta, headDim: d)
        let kh = repeated(rotate(try split(k, kvHeads, norm: kNorm), theta: theta, headDim: d))
        let vh = repeated(try split(v, kvHeads, norm: nil))
        var scores = node("Div", [node("MatMul", [qh, node("Transpose", [kh], [Self.attr("perm", ints: [0, 1, 3, 2])])]),
                                  constant([Float(Double(d).squareRoot())])])
        if let m = spanMask(span) { scores = add(scores, m) }
        let p = node("Softmax", [add(scores, maskBias())], [Self.attr("axis", int: -1)])
        let ctx = node("Transpose", [node("MatMul", [p, vh])], [Self.attr("perm", ints: [0, 2, 1, 3])])
        return node("Reshape", [ctx, constant(ints: [0, 0, Int64(h * d)])])
    }

    /// T5's RMSNorm: x / √(mean(x²) + ε) · w (no mean subtracted, no bias).
    mutating func rmsNorm(_ x: String, weight: String, eps: Double) throws -> String {
        let ms = node("ReduceMean", [mul(x, x)], [Self.attr("axes", ints: [-1]), Self.attr("keepdims", int: 1)])
        let inv = node("Reciprocal", [node("Sqrt", [add(ms, constant([Float(eps)]))])])
        return mul(mul(x, inv), try self.weight(weight))
    }

    /// RoBERTa-style positions: padding_idx + the running count of real tokens, padding_idx at padding.
    mutating func offsetPositions(padding: Int) -> String {
        let ids = input("input_ids")
        let isToken = node("Cast", [node("Not", [node("Equal", [ids, constant(ints: [Int64(padding)], dims: [])])])],
                           [Self.attr("to", int: Int64(ONNXElementType.int64.rawValue))])
        let count = node("CumSum", [isToken, constant(ints: [1], dims: [])])
        return add(mul(count, isToken), constant(ints: [Int64(padding)], dims: []))
    }

    /// T5/MPNet's bidirectional relative-position bias [1, heads, seq, seq] = table[bucket(j − i), head]. The
    /// bucket of every distance is computed here once (the same function the CPU encoder uses) into a lookup
    /// over j − i clipped to ±maxDistance (beyond it the bucket no longer changes); the graph gathers from it.
    mutating func relativePositionBias(table: String, buckets: Int, maxDistance: Int) throws -> String {
        let lookup = (-maxDistance...maxDistance).map { Int64(Kernels.relativePositionBucket($0, buckets: buckets, maxDistance: maxDistance)) }
        let pos = node("Range", [constant(ints: [0], dims: []), node("Gather", [node("Shape", [input("input_ids")]), constant(ints: [1], dims: [])],
                                                                          [Self.attr("axis", int: 0)]), constant(ints: [1], dims: [])])
        let rel = node("Sub", [node("Unsqueeze", [pos, constant(ints: [0])]), node("Unsqueeze", [pos, constant(ints: [1])])])  // [i, j] = j − i
        let clipped = node("Clip", [rel, constant(ints: [Int64(-maxDistance)], dims: []), constant(ints: [Int64(maxDistance)], dims: [])])
        let bucket = node("Gather", [constant(ints: lookup), add(clipped, constant(ints: [Int64(maxDistance)], dims: []))])
        let bias = node("Gather", [try weight(table), bucket])  // [seq, seq, heads]
        return node("Unsqueeze", [node("Transpose", [bias], [Self.attr("perm", ints: [2, 0, 1])]), constant(ints: [0])])
    }

    /// Gathers rows of an embedding table by an int64 index tensor.
    mutating func embed(_ table: String, _ ids: String) throws -> String { node("Gather", [try weight(table), ids]) }

    /// The sequence positions 0..<seq as [1, seq] int64 (from input_ids' shape).
    mutating func positions() -> String {
        let shape = node("Shape", [input("input_ids")])
        let seq = node("Gather", [shape, constant(ints: [1], dims: [])], [Self.attr("axis", int: 0)])
        let range = node("Range", [constant(ints: [0], dims: []), seq, constant(ints: [1], dims: [])])
        return node("Unsqueeze", [range, constant(ints: [0])])
    }
}

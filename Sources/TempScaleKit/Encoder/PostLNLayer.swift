import CBLAS

/// One post-LayerNorm transformer layer, shared by BERT-family models and MPNet:
///   a = softmax((Q·Kᵀ/√d + positionBias + mask) / τ) · V
///   x = LN(x + a·Woᵀ + bo);   x = LN(x + W2·gelu(W1·x + b1) + b2)
struct PostLNLayer {
    let q, qb, k, kb, v, vb, o, ob: UnsafePointer<Float>
    let ln1g, ln1b: UnsafePointer<Float>
    let up, upb, down, downb: UnsafePointer<Float>
    let ln2g, ln2b: UnsafePointer<Float>

    /// The HF names of a layer's tensors, in the order of the fields above.
    struct Names {
        let q, qb, k, kb, v, vb, o, ob, ln1g, ln1b, up, upb, down, downb, ln2g, ln2b: String
    }

    init(_ w: WeightStore, _ n: Names) throws {
        q = try w.f32(n.q); qb = try w.f32(n.qb); k = try w.f32(n.k); kb = try w.f32(n.kb)
        v = try w.f32(n.v); vb = try w.f32(n.vb); o = try w.f32(n.o); ob = try w.f32(n.ob)
        ln1g = try w.f32(n.ln1g); ln1b = try w.f32(n.ln1b)
        up = try w.f32(n.up); upb = try w.f32(n.upb); down = try w.f32(n.down); downb = try w.f32(n.downb)
        ln2g = try w.f32(n.ln2g); ln2b = try w.f32(n.ln2b)
    }
}

/// The shape of a padded batch: `batch` sequences of `seq` positions; `lengths[b]` are real tokens.
struct BatchShape {
    let batch: Int
    let seq: Int
    let lengths: [Int]
    var rows: Int { batch * seq }
}

struct LayerDims {
    let hidden: Int
    let heads: Int
    let headDim: Int
    let intermediate: Int
    let eps: Float
}

extension PostLNLayer {
    /// Runs the layer in place on x [batch·seq, hidden]. `positionBias(head, i, j)`, when given, is
    /// added to the scaled scores (MPNet's relative buckets), laid out [heads, seq, seq].
    func run(_ x: UnsafeMutablePointer<Float>, _ shape: BatchShape, _ d: LayerDims, temperature: Float,
             positionBias: UnsafePointer<Float>?, workspace ws: Workspace, probe: LayerProbe? = nil) {
        let m = shape.rows, h = d.hidden, s = shape.seq
        let qo = ws.buffer(0, count: m * h), ko = ws.buffer(1, count: m * h), vo = ws.buffer(2, count: m * h)
        let ctx = ws.buffer(3, count: m * h), scores = ws.buffer(4, count: s * s), tmp = ws.buffer(5, count: m * max(h, d.intermediate))
        Kernels.linear(x, rows: m, inDim: h, weight: q, bias: qb, outDim: h, into: qo)
        Kernels.linear(x, rows: m, inDim: h, weight: k, bias: kb, outDim: h, into: ko)
        Kernels.linear(x, rows: m, inDim: h, weight: v, bias: vb, outDim: h, into: vo)
        let scale = 1 / Float(d.headDim).squareRoot()
        for b in 0..<shape.batch {
            let len = shape.lengths[b]
            let base = b * s * h
            for head in 0..<d.heads {
                let off = base + head * d.headDim
                // scores[i, j] = q_i · k_j / √d  (only the `len` real query rows are needed)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(d.headDim), scale,
                            qo + off, Int32(h), ko + off, Int32(h), 0, scores, Int32(len))
                if let positionBias {
                    let pb = positionBias + head * s * s
                    for i in 0..<len { for j in 0..<len { scores[i * len + j] += pb[i * s + j] } }
                }
                Kernels.softmaxRows(scores, rows: len, cols: len, valid: len, invTau: 1 / temperature)
                if let probe { probe.probe.attention(layer: probe.layer, head: head, sequence: b, probabilities: scores, length: len) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(d.headDim), Int32(len), 1,
                            scores, Int32(len), vo + off, Int32(h), 0, ctx + off, Int32(h))
            }
            // Padded query rows carry no information; keep them finite.
            if len < s { (ctx + base + len * h).update(repeating: 0, count: (s - len) * h) }
        }
        Kernels.linear(ctx, rows: m, inDim: h, weight: o, bias: ob, outDim: h, into: tmp)
        Kernels.add(x, tmp, count: m * h)
        Kernels.layerNorm(x, rows: m, width: h, gamma: ln1g, beta: ln1b, eps: d.eps)
        Kernels.linear(x, rows: m, inDim: h, weight: up, bias: upb, outDim: d.intermediate, into: tmp)
        Kernels.gelu(tmp, count: m * d.intermediate)
        Kernels.linear(tmp, rows: m, inDim: d.intermediate, weight: down, bias: downb, outDim: h, into: qo)
        Kernels.add(x, qo, count: m * h)
        Kernels.layerNorm(x, rows: m, width: h, gamma: ln2g, beta: ln2b, eps: d.eps)
        if let probe { probe.probe.hiddenStates(layer: probe.layer + 1, x, shape: shape, hidden: h) }
    }
}

/// Watches a forward pass from inside (the spectrum analysis): every head's attention probabilities and
/// every layer's output. Layer 0 is the embeddings' output; layer l ≥ 1 the output of encoder layer l − 1.
protocol ForwardProbe: AnyObject {
    /// `probabilities` is the `length`×`length` row-stochastic matrix of one head, row-major, after the temperature.
    func attention(layer: Int, head: Int, sequence: Int, probabilities: UnsafePointer<Float>, length: Int)
    func hiddenStates(layer: Int, _ x: UnsafePointer<Float>, shape: BatchShape, hidden: Int)
}

/// A probe and the index of the encoder layer being run.
struct LayerProbe {
    let probe: any ForwardProbe
    let layer: Int
}

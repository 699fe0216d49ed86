import CBLAS

/// The building blocks every family's forward pass is written in: a linear layer, a norm, self-attention with a
/// run-time temperature and an optional position term, a feed-forward block. Each binds its weights from the
/// family's tensor table by role, so a forward pass names roles, never tensor strings.

/// The shape of a padded batch: `batch` sequences of `seq` positions; `lengths[b]` are real tokens.
struct BatchShape {
    let batch: Int
    let seq: Int
    let lengths: [Int]
    var rows: Int { batch * seq }
}

/// y = x·Wᵀ + b (PyTorch's nn.Linear layout: W is [out, in]): f32 weights through OpenBLAS, or a matrix packed
/// for oneDNN at bf16/int8 (`WeightStore.linears` decides from the store's precision).
struct Linear {
    enum Weights {
        case f32(UnsafePointer<Float>)
        case packed(PackedMatrix)
    }
    let weights: Weights
    let bias: UnsafePointer<Float>?
    let inDim: Int
    let outDim: Int

    init(_ weights: Weights, bias: UnsafePointer<Float>?, inDim: Int, outDim: Int) {
        self.weights = weights
        self.bias = bias
        self.inDim = inDim
        self.outDim = outDim
    }

    init(_ w: WeightStore, _ table: TensorTable, _ role: TensorRole, bias: TensorRole? = nil, layer: Int? = nil) throws {
        let spec = table.spec(role, layer: layer)!
        var biasName: String?
        if let role = bias, let b = table.spec(role, layer: layer), w.has(b.name) || !b.optional { biasName = b.name }
        self = try w.linears(spec.name, bias: biasName)[0]
    }

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        switch weights {
        case .f32(let w): Kernels.linear(x, rows: rows, inDim: inDim, weight: w, bias: bias, outDim: outDim, into: out)
        case .packed(let p): p.apply(x, rows: rows, bias: bias, into: out)
        }
    }
}

/// LayerNorm (γ, optional β, mean and variance) or RMSNorm (γ only).
struct Norm {
    enum Kind { case layer, rms }
    let kind: Kind
    let gamma: UnsafePointer<Float>
    let beta: UnsafePointer<Float>?
    let width: Int
    let eps: Float

    init(_ kind: Kind, _ w: WeightStore, _ table: TensorTable, _ role: TensorRole, bias: TensorRole? = nil, layer: Int? = nil,
         eps: Double) throws {
        let spec = table.spec(role, layer: layer)!
        self.kind = kind
        gamma = try w.f32(spec.name)
        beta = try bias.map { try w.f32(table.name($0, layer: layer)) }
        width = spec.shape[0]
        self.eps = Float(eps)
    }

    /// In place.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, rows: Int) { apply(x, rows: rows, into: x) }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        switch kind {
        case .rms: Kernels.rmsNorm(x, rows: rows, width: width, gamma: gamma, eps: eps, into: out)
        case .layer:
            if UnsafePointer(out) != x { out.update(from: x, count: rows * width) }
            Kernels.layerNorm(out, rows: rows, width: width, gamma: gamma, beta: beta, eps: eps)
        }
    }
}

/// What is added to q·kᵀ besides the mask.
enum PositionTerm {
    case none
    /// bias [heads, seq, seq], added after the 1/√d scale (T5, MPNet).
    case bias(UnsafePointer<Float>)
    /// BERT relative_key: + q_i·D[i − j + P − 1]; relative_key_query also + k_j·D[i − j + P − 1]; before the 1/√d scale.
    case distance(table: UnsafePointer<Float>, maxPositions: Int, keyQuery: Bool)
}

/// Multi-head self-attention: out = Wo·softmax((q·kᵀ·scale + position + mask) / τ)·v + bo.
struct SelfAttention {
    let q, k, v, o: Linear
    let heads: Int
    let headDim: Int
    /// 1/√d for BERT-style models; 1 for T5.
    let scale: Float

    init(_ w: WeightStore, _ table: TensorTable, layer l: Int, heads: Int, headDim: Int, scale: Float) throws {
        q = try Linear(w, table, .attnQ, bias: .attnQBias, layer: l)
        k = try Linear(w, table, .attnK, bias: .attnKBias, layer: l)
        v = try Linear(w, table, .attnV, bias: .attnVBias, layer: l)
        o = try Linear(w, table, .attnOut, bias: .attnOutBias, layer: l)
        self.heads = heads
        self.headDim = headDim
        self.scale = scale
    }

    /// out [rows, hidden] ← attention over x [rows, hidden] (each sequence sees only its `lengths[b]` real tokens).
    func callAsFunction(_ x: UnsafePointer<Float>, _ shape: BatchShape, position: PositionTerm, temperature: Float,
                        _ ws: Workspace, probe: LayerProbe?, into out: UnsafeMutablePointer<Float>) {
        let m = shape.rows, s = shape.seq, inner = q.outDim
        let qo = ws.buffer(.query, count: m * inner), ko = ws.buffer(.key, count: m * inner)
        let vo = ws.buffer(.value, count: m * inner), ctx = ws.buffer(.context, count: m * inner)
        let scores = ws.buffer(.scores, count: s * s)
        q(x, rows: m, into: qo)
        k(x, rows: m, into: ko)
        v(x, rows: m, into: vo)
        let span = 2 * s - 1
        let qd = ws.buffer(.queryDistance, count: s * span), kd = ws.buffer(.keyDistance, count: s * span)
        for b in 0..<shape.batch {
            let len = shape.lengths[b], base = b * s * inner
            for head in 0..<heads {
                let off = base + head * headDim
                switch position {
                case .distance(let table, let p, let keyQuery):
                    // D rows for distances i − j ∈ [−(len−1), len−1]: index i − j + P − 1, contiguous from P − len.
                    let rows = table + (p - len) * headDim, w = 2 * len - 1
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(w), Int32(headDim), 1,
                                qo + off, Int32(inner), rows, Int32(headDim), 0, qd, Int32(w))
                    if keyQuery {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(w), Int32(headDim), 1,
                                    ko + off, Int32(inner), rows, Int32(headDim), 0, kd, Int32(w))
                    }
                    // scores = (q·kᵀ + q·R + k·R)·scale; t = i − j + len − 1 indexes the D rows taken.
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(headDim), 1,
                                qo + off, Int32(inner), ko + off, Int32(inner), 0, scores, Int32(len))
                    for i in 0..<len {
                        for j in 0..<len {
                            let t = i - j + len - 1
                            var sc = scores[i * len + j] + qd[i * w + t]
                            if keyQuery { sc += kd[j * w + t] }
                            scores[i * len + j] = sc * scale
                        }
                    }
                case .none, .bias:
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(headDim), scale,
                                qo + off, Int32(inner), ko + off, Int32(inner), 0, scores, Int32(len))
                    if case .bias(let bias) = position {
                        let pb = bias + head * s * s
                        for i in 0..<len { for j in 0..<len { scores[i * len + j] += pb[i * s + j] } }
                    }
                }
                Kernels.softmaxRows(scores, rows: len, cols: len, valid: len, invTau: 1 / temperature)
                if let probe { probe.probe.attention(layer: probe.layer, head: head, sequence: b, probabilities: scores, length: len) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(headDim), Int32(len), 1,
                            scores, Int32(len), vo + off, Int32(inner), 0, ctx + off, Int32(inner))
            }
            // Padded query rows carry no information; keep them finite.
            if len < s { (ctx + base + len * inner).update(repeating: 0, count: (s - len) * inner) }
        }
        o(ctx, rows: m, into: out)
    }
}

/// out = down(act(up(x)) [⊙ gate(x)]): the plain (BERT, T5 relu) and gated (T5 gated-gelu) feed-forward.
struct FeedForward {
    let up: Linear
    let gate: Linear?
    let down: Linear
    let activation: Activation

    init(_ w: WeightStore, _ table: TensorTable, layer l: Int, activation: Activation) throws {
        up = try Linear(w, table, .ffnUp, bias: .ffnUpBias, layer: l)
        gate = try table.spec(.ffnGate, layer: l).map { _ in try Linear(w, table, .ffnGate, layer: l) }
        down = try Linear(w, table, .ffnDown, bias: .ffnDownBias, layer: l)
        self.activation = activation
    }

    /// Rows go through in slices of at most `sliceRows`, so the [rows, intermediate] activations stay a few MB
    /// whatever the batch (each row's result does not depend on the others).
    static let sliceRows = 1024

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, _ ws: Workspace, into out: UnsafeMutablePointer<Float>) {
        for start in stride(from: 0, to: rows, by: Self.sliceRows) {
            let m = min(Self.sliceRows, rows - start)
            slice(x + start * up.inDim, rows: m, ws, into: out + start * down.outDim)
        }
    }

    private func slice(_ x: UnsafePointer<Float>, rows m: Int, _ ws: Workspace, into out: UnsafeMutablePointer<Float>) {
        let n = up.outDim
        let h = ws.buffer(.ffn, count: m * n)
        if let gate {
            // HF's gated form: act(wi_0·x) ⊙ (wi_1·x); the activated half is the gate role.
            let g = ws.buffer(.ffnGate, count: m * n)
            gate(x, rows: m, into: g)
            Kernels.activate(g, count: m * n, activation)
            up(x, rows: m, into: h)
            Kernels.multiply(h, g, count: m * n)
        } else {
            up(x, rows: m, into: h)
            Kernels.activate(h, count: m * n, activation)
        }
        down(h, rows: m, into: out)
    }
}

/// A post-LayerNorm layer (BERT family, MPNet): x = LN(x + attention(x)); x = LN(x + ffn(x)).
struct PostNormLayer {
    let attention: SelfAttention
    let attentionNorm: Norm
    let ffn: FeedForward
    let outputNorm: Norm

    init(_ w: WeightStore, _ t: TensorTable, layer l: Int, dims: ModelDims, activation: Activation, eps: Double) throws {
        attention = try SelfAttention(w, t, layer: l, heads: dims.heads, headDim: dims.headDim,
                                      scale: 1 / Float(dims.headDim).squareRoot())
        attentionNorm = try Norm(.layer, w, t, .attnOutNorm, bias: .attnOutNormBias, layer: l, eps: eps)
        ffn = try FeedForward(w, t, layer: l, activation: activation)
        outputNorm = try Norm(.layer, w, t, .layerOutNorm, bias: .layerOutNormBias, layer: l, eps: eps)
    }

    /// In place on x [rows, hidden]; `out` is scratch of the same size.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, _ shape: BatchShape, position: PositionTerm, temperature: Float,
                        _ ws: Workspace, probe: LayerProbe?, scratch out: UnsafeMutablePointer<Float>) {
        let m = shape.rows, h = attention.o.outDim
        attention(x, shape, position: position, temperature: temperature, ws, probe: probe, into: out)
        Kernels.add(x, out, count: m * h)
        attentionNorm(x, rows: m)
        ffn(x, rows: m, ws, into: out)
        Kernels.add(x, out, count: m * h)
        outputNorm(x, rows: m)
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

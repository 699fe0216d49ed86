import CBLAS

#if canImport(Glibc)
import Glibc
#endif

/// Rotary position embedding (RoPE) as transformers computes it (`rope_type` "default"): inverse frequencies
/// 1 / θ^(2i/d) in f32, angles position · inv_freq in f32, and the "rotate half" layout — dimension i pairs with
/// i + d/2, both using frequency i.
struct Rotary {
    let headDim: Int
    let invFreq: [Float]

    init(theta: Double, headDim: Int) {
        self.headDim = headDim
        // torch: 1.0 / (base ** (arange(0, d, 2).float() / d)), every step in f32
        invFreq = (0..<(headDim / 2)).map { i in
            let e = Float(2 * i) / Float(headDim)
            return 1 / Float(pow(theta, Double(e)))
        }
    }

    /// cos and sin [seq, d/2] for positions 0..<seq.
    func table(seq: Int, cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let half = headDim / 2
        for p in 0..<seq {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                c[p * half + i] = Float(Glibc.cos(Double(angle)))
                s[p * half + i] = Float(Glibc.sin(Double(angle)))
            }
        }
    }

    /// In place on x [rows, heads·d] (row r at position r % seq): each head's (x_i, x_{i+d/2}) rotated by angle_i.
    func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, seq: Int, cos c: UnsafePointer<Float>,
               sin s: UnsafePointer<Float>) {
        let half = headDim / 2, width = heads * headDim
        for r in 0..<rows {
            let p = r % seq, cr = c + p * half, sr = s + p * half
            for h in 0..<heads {
                let v = x + r * width + h * headDim
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * cr[i] - b * sr[i]
                    v[i + half] = b * cr[i] + a * sr[i]
                }
            }
        }
    }
}

/// Which keys a query sees: all (bidirectional), the ones within `radius` positions (ModernBERT's local layers:
/// |i − j| ≤ local_attention / 2), or those not after it (causal decoders).
enum AttentionSpan: Equatable {
    case full
    case window(radius: Int)
    case causal

    /// The contiguous key range of query i in a sequence of `length` tokens.
    func keys(of i: Int, length: Int) -> Range<Int> {
        switch self {
        case .full: return 0..<length
        case .window(let r): return max(0, i - r)..<min(length, i + r + 1)
        case .causal: return 0..<(i + 1)
        }
    }
}

/// Self-attention with RoPE on q and k, optional per-head RMSNorms before it (Qwen3's q_norm/k_norm), grouped
/// key/value heads (query head h reads kv head h / (heads / kvHeads), as repeat_kv), and a span mask:
/// out = Wo·softmax((RoPE(q)·RoPE(k)ᵀ·scale + mask) / τ)·v + bo.
struct RotaryAttention {
    let q, k, v, o: Linear
    let qNorm, kNorm: Norm?
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let scale: Float
    let rotary: Rotary
    let span: AttentionSpan

    func callAsFunction(_ x: UnsafePointer<Float>, _ shape: BatchShape, temperature: Float, _ ws: Workspace,
                        probe: LayerProbe?, into out: UnsafeMutablePointer<Float>) {
        let m = shape.rows, s = shape.seq, qw = heads * headDim, kw = kvHeads * headDim
        let qo = ws.buffer(.query, count: m * qw), ko = ws.buffer(.key, count: m * kw)
        let vo = ws.buffer(.value, count: m * kw), ctx = ws.buffer(.context, count: m * qw)
        let scores = ws.buffer(.scores, count: s * s)
        q(x, rows: m, into: qo)
        k(x, rows: m, into: ko)
        v(x, rows: m, into: vo)
        if let qNorm { qNorm.apply(qo, rows: m * heads, into: qo) }
        if let kNorm { kNorm.apply(ko, rows: m * kvHeads, into: ko) }
        let half = headDim / 2
        let cosT = ws.buffer(.ropeCos, count: s * half), sinT = ws.buffer(.ropeSin, count: s * half)
        rotary.table(seq: s, cos: cosT, sin: sinT)
        rotary.apply(qo, rows: m, heads: heads, seq: s, cos: cosT, sin: sinT)
        rotary.apply(ko, rows: m, heads: kvHeads, seq: s, cos: cosT, sin: sinT)
        let group = heads / kvHeads, invTau = 1 / temperature
        for b in 0..<shape.batch {
            let len = shape.lengths[b], row0 = b * s
            for head in 0..<heads {
                let qp = qo + row0 * qw + head * headDim, kvOff = row0 * kw + (head / group) * headDim
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(headDim), scale,
                            qp, Int32(qw), ko + kvOff, Int32(kw), 0, scores, Int32(len))
                for i in 0..<len {
                    let row = scores + i * len, keys = span.keys(of: i, length: len)
                    Kernels.softmaxRange(row, count: len, keys: keys, invTau: invTau)
                }
                if let probe { probe.probe.attention(layer: probe.layer, head: head, sequence: b, probabilities: scores, length: len) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(headDim), Int32(len), 1,
                            scores, Int32(len), vo + kvOff, Int32(kw), 0, ctx + row0 * qw + head * headDim, Int32(qw))
            }
            if len < s { (ctx + (row0 + len) * qw).update(repeating: 0, count: (s - len) * qw) }
        }
        o(ctx, rows: m, into: out)
    }
}

extension FeedForward {
    /// A feed-forward over layers bound by the caller (parts of a fused weight).
    init(up: Linear, gate: Linear?, down: Linear, activation: Activation) {
        self.up = up
        self.gate = gate
        self.down = down
        self.activation = activation
    }
}

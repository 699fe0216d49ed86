import CBLAS
import CKernels

#if canImport(Glibc)
import Glibc
#endif

/// The encoder's numeric kernels over row-major f32 buffers. Matrix products go to CBLAS; the rest
/// is plain loops that the optimiser vectorises.
enum Kernels {
    /// out[M, N] = x[M, K] · W[N, K]ᵀ + bias[N]   (PyTorch's nn.Linear layout)
    static func linear(_ x: UnsafePointer<Float>, rows m: Int, inDim k: Int, weight w: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, outDim n: Int, into out: UnsafeMutablePointer<Float>) {
        if let bias {
            for r in 0..<m { (out + r * n).update(from: bias, count: n) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, x, Int32(k), w, Int32(k),
                    bias == nil ? 0 : 1, out, Int32(n))
    }

    /// In place: x = γ · (x − mean) / sqrt(var + ε) + β over each row of width n (biased variance, as torch);
    /// β may be absent (a LayerNorm without bias).
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows m: Int, width n: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>?, eps: Float) {
        for r in 0..<m {
            let row = x + r * n
            var sum: Float = 0
            for i in 0..<n { sum += row[i] }
            let mean = sum / Float(n)
            var sq: Float = 0
            for i in 0..<n { let d = row[i] - mean; sq += d * d }
            let inv = 1 / (sq / Float(n) + eps).squareRoot()
            if let beta {
                for i in 0..<n { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i] }
            } else {
                for i in 0..<n { row[i] = (row[i] - mean) * inv * gamma[i] }
            }
        }
    }

    /// out = γ · x / sqrt(mean(x²) + ε) over each row (T5's LayerNorm: no mean, no bias). x and out may be the same.
    static func rmsNorm(_ x: UnsafePointer<Float>, rows m: Int, width n: Int, gamma: UnsafePointer<Float>, eps: Float,
                        into out: UnsafeMutablePointer<Float>) {
        for r in 0..<m {
            let row = x + r * n, o = out + r * n
            var sq: Float = 0
            for i in 0..<n { sq += row[i] * row[i] }
            let inv = 1 / (sq / Float(n) + eps).squareRoot()
            for i in 0..<n { o[i] = gamma[i] * (row[i] * inv) }
        }
    }

    /// In place: an activation by its HF name (`ACT2FN`).
    static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ act: Activation) {
        switch act {
        case .gelu: ts_gelu(x, count)
        case .geluTanh:
            // gelu_new / gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            let c = Float((2 / Double.pi).squareRoot())
            for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v))) }
        case .relu: for i in 0..<count { x[i] = max(x[i], 0) }
        case .silu: for i in 0..<count { let v = x[i]; x[i] = v / (1 + expf(-v)) }
        case .tanh: for i in 0..<count { x[i] = tanhf(x[i]) }
        case .identity: break
        }
    }

    /// In place: x *= y (the gate of a gated feed-forward).
    static func multiply(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] *= y[i] }
    }

    /// T5/MPNet's bidirectional relative-position bucket of `relative` = key position − query position, in f32 as
    /// torch computes it: half the buckets per direction, exact below half/2, logarithmic up to `maxDistance`.
    static func relativePositionBucket(_ relative: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        var ret = relative > 0 ? half : 0
        let n = abs(relative)
        let maxExact = half / 2
        if n < maxExact { return ret + n }
        let ratio = logf(Float(n) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
        let large = maxExact + Int(ratio * Float(half - maxExact))
        ret += min(large, half - 1)
        return ret
    }

    /// bias[head, i, j] = table[bucket(j − i), head] for a sequence of `seq` positions (table [buckets, heads]).
    static func relativeBias(table: UnsafePointer<Float>, heads: Int, buckets: Int, maxDistance: Int, seq s: Int,
                             into bias: UnsafeMutablePointer<Float>) {
        for i in 0..<s {
            for j in 0..<s {
                let bucket = relativePositionBucket(j - i, buckets: buckets, maxDistance: maxDistance)
                for h in 0..<heads { bias[(h * s + i) * s + j] = table[bucket * heads + h] }
            }
        }
    }

    /// In place: the exact (erf) GELU, as HF's "gelu".
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ts_gelu(x, count)
    }

    /// In place: x += y.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// Softmax of each row of `scores` (rows × cols) over its first `valid` columns after dividing by τ;
    /// the columns past `valid` (padding) get probability 0, as the additive mask gives them in torch.
    static func softmaxRows(_ scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, valid: Int, invTau: Float) {
        for r in 0..<rows {
            let row = scores + r * cols
            ts_softmax_row(row, valid, invTau)
            for j in valid..<cols { row[j] = 0 }
        }
    }

    /// Softmax of row[keys] after dividing by τ; the other entries of the `count`-wide row get probability 0
    /// (a sliding-window or causal mask).
    static func softmaxRange(_ row: UnsafeMutablePointer<Float>, count: Int, keys: Range<Int>, invTau: Float) {
        ts_softmax_row(row + keys.lowerBound, keys.count, invTau)
        for j in 0..<keys.lowerBound { row[j] = 0 }
        for j in keys.upperBound..<count { row[j] = 0 }
    }
}

/// The activations the encoder computes, by their HF names.
enum Activation: String, Sendable {
    case gelu, geluTanh = "gelu_new", relu, silu, tanh, identity

    /// HF `hidden_act` / `dense_act_fn` names, and sentence-transformers' activation class names.
    init?(hf name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        case "tanh": self = .tanh
        case "linear", "identity": self = .identity
        default: return nil
        }
    }
}

/// Scratch buffers reused across layers and batches (grown, never shrunk), by name.
final class Workspace {
    enum Buffer: Int, CaseIterable {
        /// The hidden states being computed, [rows, hidden].
        case hidden
        /// A normalised copy of the hidden states (pre-norm blocks).
        case normed
        case query, key, value, context
        /// One head's scores, [seq, seq].
        case scores
        /// The position bias for every head, [heads, seq, seq].
        case positionBias
        /// q·R and k·R for BERT's relative_key(_query), [seq, 2·seq − 1].
        case queryDistance, keyDistance
        /// Feed-forward activations, [rows, intermediate]; the gate's second half.
        case ffn, ffnGate
        /// A layer's output before the residual add, [rows, hidden].
        case projection
        /// RoPE's cos and sin tables, [seq, head dim / 2].
        case ropeCos, ropeSin
    }

    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var sizes: [Int] = []

    func buffer(_ name: Buffer, count: Int) -> UnsafeMutablePointer<Float> {
        let index = name.rawValue
        while buffers.count <= index {
            buffers.append(UnsafeMutablePointer<Float>.allocate(capacity: 1))
            sizes.append(1)
        }
        if sizes[index] < count {
            buffers[index].deallocate()
            buffers[index] = UnsafeMutablePointer<Float>.allocate(capacity: count)
            sizes[index] = count
        }
        return buffers[index]
    }

    deinit { for b in buffers { b.deallocate() } }
}

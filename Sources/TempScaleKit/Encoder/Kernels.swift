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

    /// In place: x = γ · (x − mean) / sqrt(var + ε) + β over each row of width n (biased variance, as torch).
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows m: Int, width n: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float) {
        for r in 0..<m {
            let row = x + r * n
            var sum: Float = 0
            for i in 0..<n { sum += row[i] }
            let mean = sum / Float(n)
            var sq: Float = 0
            for i in 0..<n { let d = row[i] - mean; sq += d * d }
            let inv = 1 / (sq / Float(n) + eps).squareRoot()
            for i in 0..<n { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i] }
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
}

/// Scratch buffers reused across layers and batches (grown, never shrunk).
final class Workspace {
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var sizes: [Int] = []

    func buffer(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
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

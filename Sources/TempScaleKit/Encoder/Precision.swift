import CGemm

/// The arithmetic the encoder's linear layers run in. LayerNorm, softmax, GELU, attention scores and pooling stay
/// f32 at every precision; only the weight matrices (and the activations entering them) change.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    /// OpenBLAS sgemm over f32 weights.
    case f32
    /// oneDNN: bf16 weights and activations, f32 accumulation (AVX-512 BF16).
    case bf16
    /// oneDNN: s8 weights with a scale per output row, u8 activations quantised per row at run time, s32
    /// accumulation (VNNI), dequantised to f32.
    case int8

    public var description: String { rawValue }

    /// The precision a model's storage suggests: f32 and f16 files run f32 (f16 weights convert exactly; bf16
    /// arithmetic was faster but not within f16's tolerance: MPNet's worst golden text fell to cosine 0.9934, the
    /// tiny random families to max abs 1.1e-2); bf16 files run bf16; q8 files run int8.
    public static func native(for model: Model) -> Precision {
        var bytes: [DType: Int] = [:]
        for t in model.tensors where t.shape.count == 2 { bytes[t.dtype, default: 0] += t.bytes.count }
        guard let top = bytes.max(by: { $0.value < $1.value })?.key else { return .f32 }
        switch top {
        case .q8: return .int8
        case .bf16: return .bf16
        default: return .f32
        }
    }

    /// Whether this CPU runs it natively (f32 always does).
    public var isSupported: Bool {
        switch self {
        case .f32: return true
        case .bf16: return ts_gemm_supported(TS_GEMM_BF16) != 0
        case .int8: return ts_gemm_supported(TS_GEMM_INT8) != 0
        }
    }

    /// `self` where the CPU has the instructions, else f32 with the reason (printed once by the caller).
    public func resolved() -> (precision: Precision, fallback: String?) {
        if isSupported { return (self, nil) }
        let need = self == .bf16 ? "avx512_bf16" : "AVX-512 VNNI or AVX-VNNI"
        return (.f32, "this CPU (oneDNN ISA \(String(cString: ts_gemm_isa()))) lacks \(need) for \(self): running f32")
    }

    var gemmKind: ts_gemm_kind? {
        switch self {
        case .f32: return nil
        case .bf16: return TS_GEMM_BF16
        case .int8: return TS_GEMM_INT8
        }
    }
}

/// A weight matrix [out, in] converted once for oneDNN (bf16 or s8 + scales); owns the oneDNN primitive.
final class PackedMatrix: @unchecked Sendable {
    let handle: OpaquePointer
    let bytes: Int

    /// `precision` is bf16 or int8 (f32 matrices are not packed).
    init(_ precision: Precision, f32 w: UnsafePointer<Float>, rows: Int, cols: Int) throws(WeightStore.Error) {
        guard let kind = precision.gemmKind else { throw .unsupported("f32 matrices are not packed") }
        var err = [CChar](repeating: 0, count: 256)
        guard let h = ts_gemm_create(kind, w, Int32(rows), Int32(cols), &err, err.count) else {
            throw .unsupported("packing a [\(rows), \(cols)] weight: " + String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        handle = h
        bytes = ts_gemm_bytes(h)
    }

    /// out[m, rows] = x[m, cols] · Wᵀ + bias.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        let status = ts_gemm_run(handle, x, Int32(m), bias, out)
        // The shapes were checked when the primitive was made; a failure here is an allocation failure or a oneDNN bug.
        precondition(status == 0, "oneDNN matmul failed (status \(status))")
    }

    deinit { ts_gemm_free(handle) }
}

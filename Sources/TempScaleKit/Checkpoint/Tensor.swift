import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Owned bytes for tensors that cannot point into a mapping (inflated zip entries, strided views,
/// byte-swapped data, freshly computed weights). 64-byte aligned.
public final class OwnedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    public var mutableBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }
}

/// A named, contiguous, row-major tensor. `bytes` points into a memory mapping or an owned buffer;
/// `owner` keeps that memory alive for as long as the tensor exists.
public struct Tensor: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    let owner: AnyObject

    public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// True when the bytes live in a file mapping (no copy was made).
    public var isMapped: Bool { owner is MappedFile }

    /// Runs `body` over the values as f32: in place when the data is f32 and aligned, converted otherwise.
    public func withFloat32<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        if let f32 = float32InPlace { return try body(UnsafeBufferPointer(start: f32, count: count)) }
        let values = toFloat32()
        return try values.withUnsafeBufferPointer(body)
    }

    /// The values converted to f32 (integers converted exactly where representable).
    public func toFloat32() -> [Float] {
        let n = count
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            convertToFloat32(into: out.baseAddress!)
            initialized = n
        }
    }

    /// Writes the values as f32 into `out` (capacity `count`).
    public func convertToFloat32(into out: UnsafeMutablePointer<Float>) {
        let n = count
        let src = bytes
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: src.baseAddress!, byteCount: n * 4)
        case .f16:
            withAligned16(src, n) { ts_f16_to_f32($0, out, n) }
        case .bf16:
            withAligned16(src, n) { ts_bf16_to_f32($0, out, n) }
        case .f64:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        case .i64:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        case .i32:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .i16:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: src[i])) }
        case .u8, .bool:
            for i in 0..<n { out[i] = Float(src[i]) }
        case .q8:
            Q8.dequantize(src, shape: shape, into: out)
        }
    }

    /// The values themselves when they are f32 and 4-byte aligned (used without a copy), else nil.
    var float32InPlace: UnsafePointer<Float>? {
        guard dtype == .f32, let base = bytes.baseAddress, Int(bitPattern: base) % 4 == 0 else { return nil }
        return UnsafePointer(base.assumingMemoryBound(to: Float.self))
    }

    /// Gives the pages wholly inside this tensor's bytes back to the kernel when they are a read-only file mapping
    /// (PROT_READ: nothing was written, so a later read faults the same bytes back in). For tensors the encoder has
    /// packed into its own copy: otherwise they would count twice in the resident set.
    func releaseMappedPages() {
        guard isMapped, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
    }

    /// Row `r` of a 2-D f32, f16, bf16 or q8 tensor as f32 into `out` (capacity shape[1]).
    func convertRowToFloat32(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let w = shape[1], src = bytes
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: src.baseAddress! + r * w * 4, byteCount: w * 4)
        case .f16, .bf16:
            let row = UnsafeRawBufferPointer(rebasing: src[(r * w * 2)..<((r + 1) * w * 2)])
            withAligned16(row, w) { dtype == .f16 ? ts_f16_to_f32($0, out, w) : ts_bf16_to_f32($0, out, w) }
        case .q8:
            Q8.dequantize(src, shape: shape, rows: r..<(r + 1), into: out)
        default:
            preconditionFailure("row conversion of a \(dtype.name) tensor: EmbeddingRows accepts float matrices only")
        }
    }

    private func withAligned16(_ src: UnsafeRawBufferPointer, _ n: Int, _ body: (UnsafePointer<UInt16>) -> Void) {
        if let base = src.baseAddress, Int(bitPattern: base) % 2 == 0 {
            body(base.assumingMemoryBound(to: UInt16.self))
        } else {
            let tmp = [UInt16](unsafeUninitializedCapacity: n) { buf, c in
                UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: n * 2)
                c = n
            }
            tmp.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
    }

    /// Integer values (for I64/I32 tensors such as position_ids).
    public func toInt64() -> [Int64] {
        switch dtype {
        case .i64: return (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
        case .i32: return (0..<count).map { Int64(bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        default: return toFloat32().map { Int64($0) }
        }
    }

    /// A tensor holding a copy of `values` as f32.
    public static func float32(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) -> Tensor {
        let buf = OwnedBuffer(count: values.count * 4)
        buf.pointer.copyMemory(from: values.baseAddress!, byteCount: values.count * 4)
        return Tensor(name: name, dtype: .f32, shape: shape, bytes: buf.bytes, owner: buf)
    }

    /// The same data under another name.
    public func renamed(_ newName: String) -> Tensor {
        Tensor(name: newName, dtype: dtype, shape: shape, bytes: bytes, owner: owner)
    }
}

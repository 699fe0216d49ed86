/// f32 views of a model's tensors for the encoder: mapped f32 data is used in place; f16, bf16
/// and q8 tensors are converted once, when the encoder is built.
/// At bf16 or int8 the linear layers' matrices are packed for oneDNN instead: the packed copy replaces the f32 one.
final class WeightStore: @unchecked Sendable {
    private var byName: [String: Tensor] = [:]
    private var converted: [OwnedBuffer] = []
    private let path: String
    /// What the linear layers run in.
    let precision: Precision
    /// Bytes held by packed matrices and converted tensors (not the mapped file).
    private(set) var ownedBytes = 0

    init(_ model: Model, precision: Precision = .f32) {
        path = model.path
        self.precision = precision
        for t in model.tensors { byName[t.name] = t }
    }

    enum Error: ReasonError, Equatable {
        case missing(String)
        case unsupported(String)
        var description: String {
            switch self {
            case .missing(let n): return "encoder: tensor '\(n)' is missing"
            case .unsupported(let why): return "encoder: \(why)"
            }
        }
    }

    /// A pointer to the tensor's values as f32, valid for the store's lifetime.
    func f32(_ name: String) throws -> UnsafePointer<Float> {
        guard let t = byName[name] else { throw FileError(path, Error.missing(name)) }
        if let f32 = t.float32InPlace { return f32 }
        let buffer = OwnedBuffer(count: t.count * 4)
        t.convertToFloat32(into: buffer.pointer.assumingMemoryBound(to: Float.self))
        converted.append(buffer)
        ownedBytes += buffer.count
        return UnsafePointer(buffer.pointer.assumingMemoryBound(to: Float.self))
    }

    /// The tensor as f32 for the duration of `body` only: mapped f32 data in place, else a temporary copy.
    func withF32<R>(_ name: String, _ body: (UnsafePointer<Float>) throws -> R) throws -> R {
        guard let t = byName[name] else { throw FileError(path, Error.missing(name)) }
        if let f32 = t.float32InPlace { return try body(f32) }
        let buffer = OwnedBuffer(count: t.count * 4)
        t.convertToFloat32(into: buffer.pointer.assumingMemoryBound(to: Float.self))
        return try withExtendedLifetime(buffer) { try body(UnsafePointer(buffer.pointer.assumingMemoryBound(to: Float.self))) }
    }

    /// Linear layers over row ranges of one [out, in] matrix `name` (the whole of it by default) and of its bias:
    /// f32 views at f32, packed copies at bf16/int8 (a fused Wqkv is packed as three matrices).
    func linears(_ name: String, bias biasName: String?, rows ranges: [Range<Int>]? = nil) throws -> [Linear] {
        let t = try tensor(name)
        guard t.shape.count == 2 else { throw FileError(path, Error.unsupported("'\(name)' is not a matrix: shape \(t.shape)")) }
        let (outDim, inDim) = (t.shape[0], t.shape[1])
        let ranges = ranges ?? [0..<outDim]
        let bias = try biasName.map { try f32($0) }
        guard precision != .f32 else {
            let w = try f32(name)
            return ranges.map { r in Linear(.f32(w + r.lowerBound * inDim), bias: bias.map { $0 + r.lowerBound }, inDim: inDim, outDim: r.count) }
        }
        let layers = try withF32(name) { w in
            try ranges.map { r in
                let packed = try PackedMatrix(precision, f32: w + r.lowerBound * inDim, rows: r.count, cols: inDim)
                ownedBytes += packed.bytes
                return Linear(.packed(packed), bias: bias.map { $0 + r.lowerBound }, inDim: inDim, outDim: r.count)
            }
        }
        t.releaseMappedPages()
        return layers
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    /// The tensor itself, kept alive by the store.
    func tensor(_ name: String) throws -> Tensor {
        guard let t = byName[name] else { throw FileError(path, Error.missing(name)) }
        return t
    }

    deinit { withExtendedLifetime(byName) {} }
}

/// A token-embedding table read a row at a time: f32 data in place; f16, bf16 and q8 rows converted as they are looked
/// up, so a 30k × 384 table is not held as 47 MB of f32 beside a 26 MB q8 file.
struct EmbeddingRows: @unchecked Sendable {
    private let tensor: Tensor
    private let f32: UnsafePointer<Float>?
    let width: Int

    init(_ t: Tensor) throws(WeightStore.Error) {
        guard t.shape.count == 2, [.f32, .f16, .bf16, .q8].contains(t.dtype) else {
            throw .unsupported("embedding table '\(t.name)' is \(t.dtype.name) \(t.shape), not a float matrix")
        }
        tensor = t
        width = t.shape[1]
        f32 = t.float32InPlace
    }

    /// x[r] = table[ids[r]] for every r.
    func gather(_ ids: [Int32], into x: UnsafeMutablePointer<Float>) {
        for (r, id) in ids.enumerated() { copy(Int(id), into: x + r * width) }
    }

    func copy(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        if let f32 { out.update(from: f32 + row * width, count: width) } else { tensor.convertRowToFloat32(row, into: out) }
    }
}

extension WeightStore {
    func embeddingRows(_ name: String) throws -> EmbeddingRows {
        let t = try tensor(name)
        do { return try EmbeddingRows(t) } catch { throw FileError("", error) }
    }
}

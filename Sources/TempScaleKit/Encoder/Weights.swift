/// f32 views of a model's tensors for the encoder: mapped f32 data is used in place; f16, bf16
/// and q8 tensors are converted once, when the encoder is built.
final class WeightStore: @unchecked Sendable {
    private var byName: [String: Tensor] = [:]
    private var converted: [OwnedBuffer] = []
    private let path: String

    init(_ model: Model) {
        path = model.path
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
        if t.dtype == .f32, let base = t.bytes.baseAddress, Int(bitPattern: base) % 4 == 0 {
            return base.assumingMemoryBound(to: Float.self)
        }
        let buffer = OwnedBuffer(count: t.count * 4)
        t.convertToFloat32(into: buffer.pointer.assumingMemoryBound(to: Float.self))
        converted.append(buffer)
        return UnsafePointer(buffer.pointer.assumingMemoryBound(to: Float.self))
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    /// The tensor itself, kept alive by the store.
    func tensor(_ name: String) throws -> Tensor {
        guard let t = byName[name] else { throw FileError(path, Error.missing(name)) }
        return t
    }

    deinit { withExtendedLifetime(byName) {} }
}

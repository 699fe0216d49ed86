/// Element types, each defined once: its safetensors name, its size, its native-format code.
public enum DType: String, CaseIterable, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"
    /// int8 values with one f32 scale per block of `Q8.blockSize` along the last dimension (native format only).
    case q8 = "Q8"

    /// Bytes per element; for q8, the int8 payload only (scales follow, see `Q8`).
    public var itemSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool, .q8: return 1
        }
    }

    public var isFloatingPoint: Bool { [.f32, .f16, .bf16, .f64, .q8].contains(self) }

    /// Lower-case name used on the command line and in reports.
    public var name: String { rawValue.lowercased() }

    /// Stable one-byte code of the native format (specs/native-format.md, "dtype codes").
    public var nativeCode: UInt8 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 2
        case .f64: return 3
        case .i64: return 4
        case .i32: return 5
        case .i16: return 6
        case .i8: return 7
        case .u8: return 8
        case .bool: return 9
        case .q8: return 16
        }
    }

    public init?(nativeCode: UInt8) {
        guard let d = DType.allCases.first(where: { $0.nativeCode == nativeCode }) else { return nil }
        self = d
    }

    /// Byte size of `count` elements, nil on overflow. For q8 this includes the block scales.
    public func byteCount(shape: [Int]) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        if self == .q8 { return Q8.byteCount(shape: shape) }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: itemSize)
        return overflow ? nil : bytes
    }
}

/// Product of the dimensions with overflow checks; nil for a negative dimension or an overflow.
public func elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

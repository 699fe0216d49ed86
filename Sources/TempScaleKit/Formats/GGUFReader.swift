/// Reads GGUF v2/v3 files (ggml `docs/gguf.md`): the header's key/value pairs and tensor infos, every length and
/// offset checked against the file before anything is used, so a damaged or hostile file is an error, never a
/// trap or a huge allocation. Tensor data stays in the mapped file.
public struct GGUFFile: @unchecked Sendable {
    public enum Error: ReasonError, Equatable {
        case notGGUF
        case unsupportedVersion(UInt32)
        case truncated(String)
        case badValue(String)
        case unknownTensorType(tensor: String, type: UInt32)
        case tensorOutOfBounds(String)
        case duplicate(String)

        public var description: String {
            switch self {
            case .notGGUF: return "not a GGUF file (no GGUF magic)"
            case .unsupportedVersion(let v): return "GGUF version \(v) is not read (versions 2 and 3 are)"
            case .truncated(let what): return "GGUF header is truncated or damaged: \(what)"
            case .badValue(let why): return "GGUF header: \(why)"
            case .unknownTensorType(let t, let type): return "tensor '\(t)' has ggml type \(type), which tempscale does not know"
            case .tensorOutOfBounds(let t): return "tensor '\(t)' lies outside the file's data (truncated or damaged)"
            case .duplicate(let name): return "GGUF header names '\(name)' twice"
            }
        }
    }

    /// A metadata value; arrays keep their element type and length (and their values for the small scalar types).
    public enum Value: Equatable, Sendable {
        case uint(UInt64)
        case int(Int64)
        case float(Double)
        case bool(Bool)
        case string(String)
        case array(type: UInt32, count: Int)
    }

    public struct KeyValue: Sendable {
        public let key: String
        public let value: Value
        /// The pair's bytes in the header (copied verbatim when a file is rewritten).
        public let range: Range<Int>
    }

    public struct TensorInfo: Sendable {
        public let name: String
        /// ggml's dims, innermost first (ne[0] is the row length).
        public let ne: [Int]
        public let type: GGMLType
        /// Offset of the data from the start of the data section.
        public let offset: Int
        public let byteCount: Int
        public let range: Range<Int>
        public var rows: Int { ne.dropFirst().reduce(1, *) }
        public var elementCount: Int { ne.reduce(1, *) }
    }

    public let path: String
    public let file: MappedFile
    public let version: UInt32
    public let keyValues: [KeyValue]
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// End of the tensor infos (the header), and the start of the data section (aligned).
    public let headerEnd: Int
    public let dataStart: Int

    public func value(_ key: String) -> Value? { keyValues.first { $0.key == key }?.value }
    public func string(_ key: String) -> String? { if case .string(let s)? = value(key) { return s } else { return nil } }
    public func int(_ key: String) -> Int? {
        switch value(key) {
        case .uint(let u)?: return Int(exactly: u)
        case .int(let i)?: return Int(exactly: i)
        default: return nil
        }
    }
    public func tensor(_ name: String) -> TensorInfo? { tensors.first { $0.name == name } }

    public static func isGGUF(path: String) -> Bool {
        guard let f = try? MappedFile(path: path), let b = f.bytes(0, 4) else { return false }
        return Array(b) == Array("GGUF".utf8)
    }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        do { try self.init(file) } catch { throw FileError(path, error) }
    }

    init(_ file: MappedFile) throws(Error) {
        self.file = file
        path = file.path
        var r = Cursor(file: file)
        guard file.count >= 4, let magic = file.bytes(0, 4), Array(magic) == Array("GGUF".utf8) else { throw .notGGUF }
        r.offset = 4
        version = try r.u32("version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try r.u64("tensor count"), kvCount = try r.u64("key count")
        // Every pair takes ≥ 13 bytes and every tensor info ≥ 24: counts the file cannot hold are refused up front.
        guard kvCount <= UInt64(file.count / 13), tensorCount <= UInt64(file.count / 24) else {
            throw .badValue("\(kvCount) keys and \(tensorCount) tensors cannot fit in \(file.count) bytes")
        }
        var kvs: [KeyValue] = []
        var seen = Set<String>()
        for _ in 0..<Int(kvCount) {
            let start = r.offset
            let key = try r.string("key")
            guard seen.insert(key).inserted else { throw .duplicate(key) }
            let type = try r.u32("type of '\(key)'")
            let value = try r.value(type: type, key: key, depth: 0)
            kvs.append(KeyValue(key: key, value: value, range: start..<r.offset))
        }
        keyValues = kvs
        var align = 32
        if let a = kvs.first(where: { $0.key == "general.alignment" }) {
            guard case .uint(let v) = a.value, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw .badValue("general.alignment must be a power of two ≤ 1 MiB")
            }
            align = Int(v)
        }
        alignment = align
        var infos: [TensorInfo] = []
        seen.removeAll()
        for _ in 0..<Int(tensorCount) {
            let start = r.offset
            let name = try r.string("tensor name")
            guard seen.insert(name).inserted else { throw .duplicate(name) }
            let dims = try r.u32("dims of '\(name)'")
            guard (1...4).contains(dims) else { throw .badValue("tensor '\(name)' has \(dims) dims (ggml has 1 to 4)") }
            var ne: [Int] = []
            var count = 1
            for _ in 0..<dims {
                let d = try r.u64("dims of '\(name)'")
                guard d > 0, d < 1 << 40 else { throw .badValue("tensor '\(name)' has an impossible shape") }
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                guard !o, p < 1 << 48 else { throw .badValue("tensor '\(name)' has an impossible shape") }
                ne.append(Int(d))
                count = p
            }
            let code = try r.u32("type of '\(name)'")
            guard let type = GGMLType(rawValue: code) else { throw .unknownTensorType(tensor: name, type: code) }
            guard ne[0] % type.blockSize == 0 else {
                throw .badValue("tensor '\(name)': row length \(ne[0]) is not a multiple of \(type.name)'s block of \(type.blockSize)")
            }
            let offset = try r.u64("offset of '\(name)'")
            guard offset < 1 << 50, Int(offset) % align == 0 else { throw .badValue("tensor '\(name)' has a misaligned offset") }
            infos.append(TensorInfo(name: name, ne: ne, type: type, offset: Int(offset),
                                    byteCount: count / type.blockSize * type.typeSize, range: start..<r.offset))
        }
        headerEnd = r.offset
        dataStart = (headerEnd + align - 1) / align * align
        for t in infos where t.offset > file.count || t.byteCount > file.count - dataStart - t.offset || dataStart > file.count {
            throw .tensorOutOfBounds(t.name)
        }
        tensors = infos
    }

    /// The bytes of a tensor's data.
    public func data(_ t: TensorInfo) -> UnsafeRawBufferPointer { file.bytes(dataStart + t.offset, t.byteCount)! }

    /// Bounds-checked little-endian reads of the header.
    struct Cursor {
        let file: MappedFile
        var offset = 0

        mutating func take(_ n: Int, _ what: String) throws(Error) -> UnsafeRawBufferPointer {
            guard n >= 0, let b = file.bytes(offset, n) else { throw .truncated(what) }
            offset += n
            return b
        }
        mutating func u8(_ what: String) throws(Error) -> UInt8 { try take(1, what)[0] }
        mutating func u32(_ what: String) throws(Error) -> UInt32 { UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self)) }
        mutating func u64(_ what: String) throws(Error) -> UInt64 { UInt64(littleEndian: try take(8, what).loadUnaligned(as: UInt64.self)) }
        mutating func string(_ what: String) throws(Error) -> String {
            let n = try u64(what)
            guard n <= UInt64(file.count - offset) else { throw .truncated("\(what): a string of \(n) bytes") }
            let b = try take(Int(n), what)
            guard let s = String(validating: b, as: UTF8.self) else { throw .badValue("\(what) is not UTF-8") }
            return s
        }

        /// GGUF value types (`enum gguf_type`) and their sizes.
        static func scalarSize(_ type: UInt32) -> Int? {
            switch type {
            case 0, 1, 7: return 1    // u8, i8, bool
            case 2, 3: return 2       // u16, i16
            case 4, 5, 6: return 4    // u32, i32, f32
            case 10, 11, 12: return 8 // u64, i64, f64
            default: return nil
            }
        }

        mutating func value(type: UInt32, key: String, depth: Int) throws(Error) -> Value {
            let what = "value of '\(key)'"
            switch type {
            case 0: return .uint(UInt64(try u8(what)))
            case 1: return .int(Int64(Int8(bitPattern: try u8(what))))
            case 2: return .uint(UInt64(UInt16(littleEndian: try take(2, what).loadUnaligned(as: UInt16.self))))
            case 3: return .int(Int64(Int16(littleEndian: try take(2, what).loadUnaligned(as: Int16.self))))
            case 4: return .uint(UInt64(try u32(what)))
            case 5: return .int(Int64(Int32(bitPattern: try u32(what))))
            case 6: return .float(Double(Float(bitPattern: try u32(what))))
            case 7:
                let b = try u8(what)
                guard b <= 1 else { throw .badValue("'\(key)' is a bool of \(b)") }
                return .bool(b == 1)
            case 8: return .string(try string(what))
            case 9:
                guard depth < 4 else { throw .badValue("'\(key)' nests arrays more than 4 deep") }
                let element = try u32(what), n = try u64(what)
                if let size = Self.scalarSize(element) {
                    guard n <= UInt64((file.count - offset) / size) else { throw .truncated("\(what): an array of \(n)") }
                    _ = try take(Int(n) * size, what)
                } else {
                    // Strings (8 bytes each at least) and nested arrays (12): read one by one.
                    guard element == 8 || element == 9 else { throw .badValue("'\(key)' is an array of unknown type \(element)") }
                    guard n <= UInt64((file.count - offset) / 8) else { throw .truncated("\(what): an array of \(n)") }
                    for _ in 0..<Int(n) { _ = try value(type: element, key: key, depth: depth + 1) }
                }
                return .array(type: element, count: Int(n))
            case 10: return .uint(try u64(what))
            case 11: return .int(Int64(bitPattern: try u64(what)))
            case 12: return .float(Double(bitPattern: try u64(what)))
            default: throw .badValue("'\(key)' has unknown value type \(type)")
            }
        }
    }
}

/// ggml tensor types (ggml.h `enum ggml_type`) with their block sizes (ggml-common.h).
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30, tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    public var name: String { String(describing: self).uppercased() }

    /// Elements per block and bytes per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl, .mxfp4: return 32
        default: return 256
        }
    }

    public var typeSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8: return 1
        case .i64, .f64: return 8
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        case .iq2_xxs: return 66
        case .iq2_xs: return 74
        case .iq3_xxs: return 98
        case .iq1_s: return 50
        case .iq4_nl: return 18
        case .iq3_s: return 110
        case .iq2_s: return 82
        case .iq4_xs: return 136
        case .iq1_m: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .mxfp4: return 17
        }
    }
}

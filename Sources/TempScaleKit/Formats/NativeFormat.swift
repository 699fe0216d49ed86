/// tempscale's native single-file format (`.tsm`). Byte layout: specs/native-format.md.
/// Everything needed to embed text in one mmap-able, checksummed file: weights, config, tokenizer,
/// pooling, temperature history, provenance.
public enum NativeFormat {
    public static let magic: [UInt8] = [0x89, 0x54, 0x53, 0x43, 0x41, 0x4C, 0x45, 0x0A]  // "\x89TSCALE\n"
    public static let version: UInt32 = 1
    public static let preludeSize = 64
    public static let alignment = 64
    public static let maxHeaderSize = 1 << 30
    public static let maxRank = 8
    public static let fileExtension = "tsm"

    public enum Error: ReasonError, Equatable {
        case badMagic
        case unsupportedVersion(UInt32)
        case unknownFlags(UInt32)
        case preludeCRC
        case truncated(String)
        case headerCRC
        case headerNotJSON(String)
        case headerField(String, String)
        case badTableEntry(index: Int, String)
        case unknownDType(String, UInt8)
        case duplicateName(String)
        case overlapping(String)
        case tensorCRC(String)
        case unsupportedTargetDType(String)

        public var description: String {
            switch self {
            case .badMagic: return "native: not a tempscale file (bad magic)"
            case .unsupportedVersion(let v): return "native: format version \(v) is not one this tempscale reads (\(NativeFormat.version))"
            case .unknownFlags(let f): return "native: unknown flag bits 0x\(String(f, radix: 16))"
            case .preludeCRC: return "native: CRC-32 mismatch in the 64-byte prelude (file corrupt)"
            case .truncated(let what): return "native: file truncated (\(what))"
            case .headerCRC: return "native: CRC-32 mismatch in the header or tensor table (file corrupt)"
            case .headerNotJSON(let why): return "native: header is not valid JSON (\(why))"
            case .headerField(let f, let why): return "native: header field '\(f)' \(why)"
            case .badTableEntry(let i, let why): return "native: tensor table entry \(i): \(why)"
            case .unknownDType(let n, let c): return "native: tensor '\(n)' has unknown dtype code \(c)"
            case .duplicateName(let n): return "native: tensor name '\(n)' appears twice"
            case .overlapping(let n): return "native: tensor '\(n)' overlaps the previous one or runs past the data"
            case .tensorCRC(let n): return "native: CRC-32 mismatch in tensor '\(n)' (file corrupt)"
            case .unsupportedTargetDType(let d): return "native: cannot write dtype '\(d)' (use f32, f16, bf16 or q8)"
            }
        }
    }

    public static func hasMagic(_ path: String) throws -> Bool {
        let f = try MappedFile(path: path)
        guard f.count >= 8 else { return false }
        return Array(f.bytes(0, 8)!) == magic
    }

    // MARK: Layout

    struct Prelude {
        var headerLength: Int
        var tensorCount: Int
        var tableLength: Int
        var dataOffset: Int
        var dataLength: Int
        var bodyCRC: UInt32

        func encoded() -> [UInt8] {
            var b = magic
            b.appendLE(version)
            b.appendLE(UInt32(0))
            for v in [headerLength, tensorCount, tableLength, dataOffset, dataLength] { b.appendLE(UInt64(v)) }
            b.appendLE(bodyCRC)
            let crc = b.withUnsafeBytes { crc32Of($0) }
            b.appendLE(crc)
            return b
        }
    }

    struct TableEntry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var offset: Int
        var length: Int
        var crc: UInt32

        var encodedSize: Int { 2 + name.utf8.count + 2 + 8 * shape.count + 8 + 8 + 4 }

        func encode(into b: inout [UInt8]) {
            b.appendLE(UInt16(name.utf8.count))
            b += Array(name.utf8)
            b.append(dtype.nativeCode)
            b.append(UInt8(shape.count))
            for d in shape { b.appendLE(UInt64(d)) }
            b.appendLE(UInt64(offset))
            b.appendLE(UInt64(length))
            b.appendLE(crc)
        }
    }

    static func align(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

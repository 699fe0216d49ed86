/// The safetensors format (huggingface/safetensors): 8-byte LE header size N, N bytes of JSON, then
/// the byte buffer. Every rule of the reference reader is checked and each has its own error.
public enum SafeTensors {
    /// The reference reader's cap on the header size.
    public static let maxHeaderSize = 100_000_000

    public enum Error: ReasonError, Equatable {
        case fileTooSmall(Int)
        case headerTooLarge(Int)
        case headerPastEnd(header: Int, file: Int)
        case headerNotJSON(String)
        case headerNotObject
        case invalidEntry(String, String)
        case unknownDType(String, String)
        case shapeOverflow(String)
        case sizeMismatch(String, expected: Int, actual: Int)
        case overlappingOffsets(String, String)
        case hole(at: Int)
        case offsetsPastEnd(String, end: Int, buffer: Int)
        case trailingBytes(Int)
        case duplicateName(String)
        case invalidMetadata(String)

        public var description: String {
            switch self {
            case .fileTooSmall(let n): return "safetensors: file is \(n) bytes, too small for the 8-byte header size"
            case .headerTooLarge(let n): return "safetensors: header size \(n) exceeds the cap of \(SafeTensors.maxHeaderSize) bytes"
            case .headerPastEnd(let h, let f): return "safetensors: header of \(h) bytes runs past the end of the \(f)-byte file"
            case .headerNotJSON(let why): return "safetensors: header is not valid JSON (\(why))"
            case .headerNotObject: return "safetensors: header is not a JSON object"
            case .invalidEntry(let name, let why): return "safetensors: tensor '\(name)': \(why)"
            case .unknownDType(let name, let d): return "safetensors: tensor '\(name)' has unknown dtype '\(d)'"
            case .shapeOverflow(let name): return "safetensors: tensor '\(name)': shape size overflows"
            case .sizeMismatch(let name, let e, let a):
                return "safetensors: tensor '\(name)' spans \(a) bytes but its shape and dtype need \(e)"
            case .overlappingOffsets(let a, let b): return "safetensors: tensors '\(a)' and '\(b)' overlap"
            case .hole(let at): return "safetensors: hole in the byte buffer at offset \(at) (no tensor covers it)"
            case .offsetsPastEnd(let name, let end, let buf):
                return "safetensors: tensor '\(name)' ends at \(end), past the \(buf)-byte buffer"
            case .trailingBytes(let n): return "safetensors: \(n) trailing bytes after the last tensor"
            case .duplicateName(let name): return "safetensors: tensor name '\(name)' appears twice in the header"
            case .invalidMetadata(let why): return "safetensors: __metadata__ \(why)"
            }
        }
    }

    public struct File {
        public let tensors: [Tensor]
        public let metadata: [String: String]
    }

    /// Reads and validates a safetensors file; tensors point into the mapping.
    public static func read(path: String) throws -> File {
        let file = try MappedFile(path: path)
        do { return try read(file) } catch { throw FileError(path, error) }
    }

    static func read(_ file: MappedFile) throws(Error) -> File {
        let all = file.all
        guard all.count >= 8 else { throw .fileTooSmall(all.count) }
        let n64: UInt64 = all.le(0)
        guard n64 <= UInt64(maxHeaderSize) else { throw .headerTooLarge(Int(clamping: n64)) }
        let n = Int(n64)
        guard n <= all.count - 8 else { throw .headerPastEnd(header: n, file: all.count) }
        let headerBytes = file.bytes(8, n)!
        guard n > 0, headerBytes[0] == UInt8(ascii: "{") else { throw .headerNotObject }
        let header: JSONValue
        do { header = try JSON.parse(headerBytes) } catch { throw .headerNotJSON(error.description) }
        guard case .object(let entries) = header else { throw .headerNotObject }
        if entries.count != JSON.topLevelKeys(headerBytes).count {
            throw .duplicateName(JSON.firstDuplicateTopLevelKey(headerBytes) ?? "(escaped differently)")
        }

        let bufferStart = 8 + n
        let bufferSize = all.count - bufferStart
        var metadata: [String: String] = [:]
        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var parsed: [Entry] = []
        for (name, value) in entries.pairs {
            if name == "__metadata__" {
                guard case .object(let m) = value else { throw .invalidMetadata("is not an object") }
                for (k, v) in m.pairs {
                    guard case .string(let s) = v else { throw .invalidMetadata("value of '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let e) = value else { throw .invalidEntry(name, "entry is not an object") }
            guard let dt = e["dtype"]?.stringValue else { throw .invalidEntry(name, "missing 'dtype'") }
            guard let dtype = DType(rawValue: dt), dtype != .q8 else { throw .unknownDType(name, dt) }
            guard let shapeJSON = e["shape"]?.arrayValue else { throw .invalidEntry(name, "missing 'shape'") }
            var shape: [Int] = []
            for d in shapeJSON {
                guard case .int(let v) = d, v >= 0 else { throw .invalidEntry(name, "shape has a non-integer or negative dimension") }
                guard let vi = Int(exactly: v) else { throw .shapeOverflow(name) }
                shape.append(vi)
            }
            guard let offs = e["data_offsets"]?.arrayValue, offs.count == 2,
                case .int(let b) = offs[0], case .int(let en) = offs[1], b >= 0, en >= b
            else { throw .invalidEntry(name, "'data_offsets' must be [begin, end] with 0 ≤ begin ≤ end") }
            guard let need = dtype.byteCount(shape: shape) else { throw .shapeOverflow(name) }
            let begin = Int(b), end = Int(en)
            guard end - begin == need else { throw .sizeMismatch(name, expected: need, actual: end - begin) }
            parsed.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // Sorted by offset, the tensors must tile [0, bufferSize) exactly.
        let sorted = parsed.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        var previous: String? = nil
        for e in sorted {
            if e.begin < cursor { throw .overlappingOffsets(previous ?? "", e.name) }
            if e.begin > cursor { throw .hole(at: cursor) }
            if e.end > bufferSize { throw .offsetsPastEnd(e.name, end: e.end, buffer: bufferSize) }
            cursor = e.end
            previous = e.name
        }
        if cursor < bufferSize { throw .trailingBytes(bufferSize - cursor) }

        let tensors = parsed.map { e in
            Tensor(name: e.name, dtype: e.dtype, shape: e.shape,
                   bytes: file.bytes(bufferStart + e.begin, e.end - e.begin)!, owner: file)
        }
        return File(tensors: tensors, metadata: metadata)
    }
}

extension JSON {
    /// The raw (still escaped) keys of the outermost object, in order. Used only to detect duplicate
    /// keys, which a parsed object silently merges.
    static func topLevelKeys(_ bytes: UnsafeRawBufferPointer) -> [ArraySlice<UInt8>] {
        var keys: [ArraySlice<UInt8>] = []
        let raw = Array(bytes)
        var depth = 0
        var i = 0
        var expectKey = false
        while i < raw.count {
            let c = raw[i]
            if c == UInt8(ascii: "\"") {
                let start = i + 1
                i += 1
                while i < raw.count && raw[i] != UInt8(ascii: "\"") { i += raw[i] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && expectKey { keys.append(raw[start..<min(i, raw.count)]); expectKey = false }
            } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                depth += 1
                if depth == 1 { expectKey = true }
            } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                depth -= 1
            } else if c == UInt8(ascii: ",") && depth == 1 {
                expectKey = true
            }
            i += 1
        }
        return keys
    }

    static func firstDuplicateTopLevelKey(_ bytes: UnsafeRawBufferPointer) -> String? {
        var seen = Set<ArraySlice<UInt8>>()
        for k in topLevelKeys(bytes) where !seen.insert(k).inserted { return String(decoding: k, as: UTF8.self) }
        return nil
    }
}

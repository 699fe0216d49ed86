import CZlib

public enum GzipError: ReasonError, Equatable {
    case corrupt(String)
    case tooLarge(Int)
    public var description: String {
        switch self {
        case .corrupt(let why): return "gzip: corrupt (\(why))"
        case .tooLarge(let cap): return "gzip: inflates past \(cap) bytes"
        }
    }
}

/// Inflates a gzip (or zlib) stream, refusing to grow past `cap` bytes.
public func gunzip(_ data: UnsafeRawBufferPointer, cap: Int = 1 << 30) throws(GzipError) -> [UInt8] {
    var stream = z_stream()
    guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw .corrupt("zlib init")
    }
    defer { inflateEnd(&stream) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    stream.next_in = UnsafeMutablePointer(mutating: data.baseAddress?.assumingMemoryBound(to: Bytef.self))
    stream.avail_in = uInt(data.count)
    while true {
        let rc: Int32 = chunk.withUnsafeMutableBufferPointer { c in
            stream.next_out = c.baseAddress
            stream.avail_out = uInt(c.count)
            return CZlib.inflate(&stream, Z_NO_FLUSH)
        }
        let produced = chunk.count - Int(stream.avail_out)
        out += chunk[0..<produced]
        if out.count > cap { throw .tooLarge(cap) }
        if rc == Z_STREAM_END { return out }
        if rc != Z_OK { throw .corrupt(stream.msg.map { String(cString: $0) } ?? "code \(rc)") }
        if produced == 0 && stream.avail_in == 0 { throw .corrupt("truncated") }
    }
}

import CZlib

/// Decompresses a whole .gz file (the tokenizer fixtures are gzipped JSON).
func gunzip(_ data: [UInt8]) -> [UInt8]? {
    var stream = z_stream()
    // windowBits 15 + 16: expect a gzip header and trailer.
    guard inflateInit2_(&stream, 31, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var input = data
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    let rc: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
        stream.next_in = inBuf.baseAddress
        stream.avail_in = UInt32(inBuf.count)
        while true {
            let (code, produced) = chunk.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int) in
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                let code = inflate(&stream, Z_NO_FLUSH)
                return (code, outBuf.count - Int(stream.avail_out))
            }
            out.append(contentsOf: chunk[..<produced])
            if code != Z_OK { return code }
        }
    }
    return rc == Z_STREAM_END ? out : nil
}

import CZlib

/// CRC-32 (zlib's polynomial, as zip and our native format use it), chunked so sizes above 4 GiB work.
public func crc32Of(_ data: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    var crc = UInt(seed)
    var offset = 0
    guard let base = data.baseAddress else { return seed }
    while offset < data.count {
        let n = min(data.count - offset, 1 << 30)
        crc = crc32(crc, base.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
        offset += n
    }
    return UInt32(truncatingIfNeeded: crc)
}

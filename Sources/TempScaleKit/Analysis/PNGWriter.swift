import CZlib

/// Encodes RGB 8-bit pixels (row-major, 3 bytes a pixel) as a PNG: signature, IHDR, one zlib IDAT
/// (filter type 0 on every row), IEND; each chunk carries the CRC-32 of its type and data.
func encodePNG(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
    precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "PNG: pixel buffer does not match its size")
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    var ihdr = bigEndian32(UInt32(width)) + bigEndian32(UInt32(height))
    ihdr += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
    appendChunk(&out, "IHDR", ihdr)

    let rowBytes = width * 3
    var raw = [UInt8](repeating: 0, count: height * (1 + rowBytes))
    for y in 0..<height {
        // raw[y * (1 + rowBytes)] stays 0: filter type None.
        raw.replaceSubrange((y * (1 + rowBytes) + 1)...(y * (1 + rowBytes) + rowBytes), with: rgb[(y * rowBytes)..<((y + 1) * rowBytes)])
    }
    appendChunk(&out, "IDAT", deflate(raw))
    appendChunk(&out, "IEND", [])
    return out
}

/// zlib-wrapped deflate of `data` (compress2, best compression: charts are mostly flat colour).
private func deflate(_ data: [UInt8]) -> [UInt8] {
    var size = compressBound(uLong(data.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let rc = out.withUnsafeMutableBufferPointer { o in
        data.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(data.count), Z_BEST_COMPRESSION) }
    }
    // compressBound guarantees room, so only memory exhaustion can fail here.
    precondition(rc == Z_OK, "zlib compress2 failed with code \(rc)")
    return Array(out[0..<Int(size)])
}

private func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
    let typeBytes = Array(type.utf8)
    out += bigEndian32(UInt32(data.count))
    let body = typeBytes + data
    out += body
    out += bigEndian32(body.withUnsafeBytes { crc32Of($0) })
}

private func bigEndian32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
}

import CKernels

/// SHA-256 (FIPS 180-4), streaming. The block function is C (SHA-NI when the CPU has it);
/// used for the provenance of source files.
public struct SHA256 {
    private var h: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    private var buffer = [UInt8](repeating: 0, count: 64)
    private var buffered = 0
    private var length: UInt64 = 0

    public init() {}

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        length &+= UInt64(data.count)
        var i = 0
        if buffered > 0 {
            while buffered < 64 && i < data.count { buffer[buffered] = data[i]; buffered += 1; i += 1 }
            if buffered == 64 { buffer.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }; buffered = 0 }
        }
        let blocks = (data.count - i) / 64
        if blocks > 0 { compress(data.baseAddress! + i, blocks: blocks); i += blocks * 64 }
        while i < data.count { buffer[buffered] = data[i]; buffered += 1; i += 1 }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var pad: [UInt8] = [0x80]
        let rem = (buffered + 1) % 64
        pad += [UInt8](repeating: 0, count: rem <= 56 ? 56 - rem : 120 - rem)
        for s in stride(from: 56, through: 0, by: -8) { pad.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(s))) }
        update(pad)
        var out: [UInt8] = []
        for word in h { out += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)] }
        return out
    }

    public static func hex(_ data: UnsafeRawBufferPointer) -> String {
        var s = SHA256()
        s.update(data)
        return s.finalize().map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    private mutating func compress(_ p: UnsafeRawPointer, blocks: Int) {
        h.withUnsafeMutableBufferPointer { ts_sha256_blocks($0.baseAddress!, p.assumingMemoryBound(to: UInt8.self), blocks) }
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

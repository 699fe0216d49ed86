import CZlib
@testable import TempScaleKit

/// Builds zip archives byte by byte, with knobs to break them the ways the reader must catch.
struct ZipBuilder {
    struct Entry {
        var name: String
        var data: [UInt8]
        var deflate = false
        /// Override what the headers declare.
        var declaredSize: Int? = nil
        var crc: UInt32? = nil
        var localOffsetDelta = 0
    }

    var entries: [Entry] = []
    var zip64 = false

    mutating func add(_ name: String, _ data: [UInt8], deflate: Bool = false) {
        entries.append(Entry(name: name, data: data, deflate: deflate))
    }

    static func deflateRaw(_ data: [UInt8]) -> [UInt8] {
        var s = z_stream()
        deflateInit2_(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&s) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, uLong(data.count))) + 64)
        var input = data
        let produced: Int = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                s.next_in = inp.baseAddress
                s.avail_in = uInt(inp.count)
                s.next_out = o.baseAddress
                s.avail_out = uInt(o.count)
                _ = CZlib.deflate(&s, Z_FINISH)
                return Int(s.total_out)
            }
        }
        return Array(out[0..<produced])
    }

    func build() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for e in entries {
            let payload = e.deflate ? ZipBuilder.deflateRaw(e.data) : e.data
            let crc = e.crc ?? e.data.withUnsafeBytes { crc32Of($0) }
            let usize = e.declaredSize ?? e.data.count
            let offset = out.count
            let name = Array(e.name.utf8)
            let method: UInt16 = e.deflate ? 8 : 0
            var extra: [UInt8] = []
            if zip64 { extra = le(UInt16(1)) + le(UInt16(24)) + le(UInt64(usize)) + le(UInt64(payload.count)) + le(UInt64(offset + e.localOffsetDelta)) }
            out += le(UInt32(0x0403_4b50)) + le(UInt16(45)) + le(UInt16(0)) + le(method) + le(UInt32(0)) + le(crc)
            out += zip64 ? le(UInt32.max) + le(UInt32.max) : le(UInt32(payload.count)) + le(UInt32(usize))
            out += le(UInt16(name.count)) + le(UInt16(0)) + name + payload
            central += le(UInt32(0x0201_4b50)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt16(0)) + le(method) + le(UInt32(0)) + le(crc)
            central += zip64 ? le(UInt32.max) + le(UInt32.max) : le(UInt32(payload.count)) + le(UInt32(usize))
            central += le(UInt16(name.count)) + le(UInt16(extra.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            central += zip64 ? le(UInt32.max) : le(UInt32(offset + e.localOffsetDelta))
            central += name + extra
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let z64 = out.count
            out += le(UInt32(0x0606_4b50)) + le(UInt64(44)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt32(0)) + le(UInt32(0))
            out += le(UInt64(entries.count)) + le(UInt64(entries.count)) + le(UInt64(central.count)) + le(UInt64(cdOffset))
            out += le(UInt32(0x0706_4b50)) + le(UInt32(0)) + le(UInt64(z64)) + le(UInt32(1))
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16.max) + le(UInt16.max)
            out += le(UInt32.max) + le(UInt32.max) + le(UInt16(0))
        } else {
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
            out += le(UInt32(central.count)) + le(UInt32(cdOffset)) + le(UInt16(0))
        }
        return out
    }
}

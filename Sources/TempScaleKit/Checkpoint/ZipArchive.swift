#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// A zip reader for PyTorch checkpoints: central directory (zip64 too), stored entries used in place
/// through the mapping, deflated entries inflated by zlib under a size cap. Names are checked before
/// anything is read: no duplicates, no `..`, no absolute paths.
public final class ZipArchive: @unchecked Sendable {
    public enum Error: ReasonError, Equatable {
        case notAZip
        case centralDirectoryMissing
        case centralDirectoryTruncated
        case badCentralEntry(index: Int)
        case entryPastEnd(String)
        case localHeaderMismatch(String)
        case duplicateName(String)
        case unsafeName(String)
        case outsideTopFolder(String, top: String)
        case encrypted(String)
        case unsupportedMethod(String, Int)
        case deflateBomb(String, declared: Int, compressed: Int)
        case inflateFailed(String, String)
        case inflatedSizeMismatch(String, declared: Int)
        case crcMismatch(String)
        case noSuchEntry(String)

        public var description: String {
            switch self {
            case .notAZip: return "zip: not a zip archive (no end-of-central-directory record)"
            case .centralDirectoryMissing: return "zip: central directory missing or outside the file"
            case .centralDirectoryTruncated: return "zip: central directory truncated"
            case .badCentralEntry(let i): return "zip: central directory entry \(i) is malformed"
            case .entryPastEnd(let n): return "zip: entry '\(n)' extends past the end of the file"
            case .localHeaderMismatch(let n): return "zip: local header of '\(n)' does not match the central directory"
            case .duplicateName(let n): return "zip: entry name '\(n)' appears twice"
            case .unsafeName(let n): return "zip: unsafe entry name '\(n)' (absolute, '..' or backslash)"
            case .outsideTopFolder(let n, let top): return "zip: entry '\(n)' is outside the top folder '\(top)/'"
            case .encrypted(let n): return "zip: entry '\(n)' is encrypted"
            case .unsupportedMethod(let n, let m): return "zip: entry '\(n)' uses compression method \(m) (only stored and deflate are read)"
            case .deflateBomb(let n, let d, let c):
                return "zip: entry '\(n)' would inflate \(c) bytes to \(d) bytes, past the cap (deflate bomb?)"
            case .inflateFailed(let n, let why): return "zip: entry '\(n)' does not inflate (\(why))"
            case .inflatedSizeMismatch(let n, let d): return "zip: entry '\(n)' does not inflate to its declared \(d) bytes"
            case .crcMismatch(let n): return "zip: CRC-32 mismatch in entry '\(n)'"
            case .noSuchEntry(let n): return "zip: no entry '\(n)'"
            }
        }
    }

    public struct Entry: Sendable {
        public let name: String
        public let method: Int
        public let crc32: UInt32
        public let compressedSize: Int
        public let uncompressedSize: Int
        public let dataOffset: Int
    }

    /// Inflated entries may be at most this many times their compressed size (beyond 1 MiB) — real
    /// data deflates far less than this; zeros deflate ~1000:1. And never more than `maxInflatedSize`.
    public static let maxInflateRatio = 100
    public static let maxInflatedSize = 4 << 30

    public let file: MappedFile
    public let entries: [Entry]
    private let index: [String: Int]
    private var verified = Set<Int>()
    private let lock = Lock()

    public init(_ file: MappedFile) throws(Error) {
        self.file = file
        let all = file.all
        let (entries, index) = try ZipArchive.readCentralDirectory(all)
        self.entries = entries
        self.index = index
    }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Runs `body` over the entry's bytes, which stay valid for the duration of the call.
    public func withContents<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (bytes, owner) = try contents(of: name)
        return try withExtendedLifetime(owner) { try body(bytes) }
    }

    /// The entry's bytes and the object that keeps them alive (hold both): in place for stored
    /// entries (CRC checked on first use), inflated for deflated ones.
    public func contents(of name: String) throws(Error) -> (bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        guard let i = index[name] else { throw .noSuchEntry(name) }
        let e = entries[i]
        guard let raw = file.bytes(e.dataOffset, e.compressedSize) else { throw .entryPastEnd(name) }
        switch e.method {
        case 0:
            if !lock.withLock({ verified.contains(i) }) {
                guard crc32Of(raw) == e.crc32 else { throw .crcMismatch(name) }
                lock.withLock { _ = verified.insert(i) }
            }
            return (raw, file)
        case 8:
            let out = try ZipArchive.inflate(raw, name: name, declared: e.uncompressedSize)
            guard crc32Of(out.bytes) == e.crc32 else { throw .crcMismatch(name) }
            return (out.bytes, out)
        default:
            throw .unsupportedMethod(name, e.method)
        }
    }

    static func inflate(_ raw: UnsafeRawBufferPointer, name: String, declared: Int) throws(Error) -> OwnedBuffer {
        let cap = min(maxInflatedSize, max(1 << 20, raw.count.multipliedReportingOverflow(by: maxInflateRatio).partialValue))
        guard declared <= cap else { throw .deflateBomb(name, declared: declared, compressed: raw.count) }
        let out = OwnedBuffer(count: declared)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .inflateFailed(name, "zlib init")
        }
        defer { inflateEnd(&stream) }
        var probe: UInt8 = 0
        stream.next_in = UnsafeMutablePointer(mutating: raw.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(raw.count)
        stream.next_out = out.pointer.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(declared)
        var rc = CZlib.inflate(&stream, Z_FINISH)
        if rc == Z_BUF_ERROR && stream.avail_out == 0 {
            // Output is full: the stream must end here, or it inflates past its declared size.
            withUnsafeMutablePointer(to: &probe) { p in
                stream.next_out = p
                stream.avail_out = 1
                rc = CZlib.inflate(&stream, Z_FINISH)
            }
            if rc != Z_STREAM_END || stream.avail_out == 0 { throw .inflatedSizeMismatch(name, declared: declared) }
        }
        guard rc == Z_STREAM_END else {
            if rc == Z_BUF_ERROR || rc == Z_OK { throw .inflatedSizeMismatch(name, declared: declared) }
            throw .inflateFailed(name, stream.msg.map { String(cString: $0) } ?? "code \(rc)")
        }
        guard Int(stream.total_out) == declared else { throw .inflatedSizeMismatch(name, declared: declared) }
        return out
    }

    private static func readCentralDirectory(_ all: UnsafeRawBufferPointer) throws(Error) -> ([Entry], [String: Int]) {
        // End of central directory: 22 bytes + a comment of up to 65535 bytes, at the very end.
        guard all.count >= 22 else { throw .notAZip }
        var eocd = -1
        let lowest = max(0, all.count - 22 - 65535)
        var p = all.count - 22
        while p >= lowest {
            if all.le(p, as: UInt32.self) == 0x0605_4b50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw .notAZip }
        var count = Int(all.le(eocd + 10, as: UInt16.self))
        var cdSize = Int(all.le(eocd + 12, as: UInt32.self))
        var cdOffset = Int(all.le(eocd + 16, as: UInt32.self))
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // zip64: a locator right before the EOCD points at the zip64 EOCD record.
            let loc = eocd - 20
            guard loc >= 0, all.le(loc, as: UInt32.self) == 0x0706_4b50 else { throw .centralDirectoryMissing }
            let z64 = all.le(loc + 8, as: UInt64.self)
            guard z64 <= UInt64(all.count - 56), all.le(Int(z64), as: UInt32.self) == 0x0606_4b50 else {
                throw .centralDirectoryMissing
            }
            let r = Int(z64)
            let c64 = all.le(r + 32, as: UInt64.self), s64 = all.le(r + 40, as: UInt64.self), o64 = all.le(r + 48, as: UInt64.self)
            guard c64 < UInt64(all.count), s64 <= UInt64(all.count), o64 <= UInt64(all.count) else { throw .centralDirectoryMissing }
            count = Int(c64); cdSize = Int(s64); cdOffset = Int(o64)
        }
        guard cdOffset <= all.count, cdSize <= all.count - cdOffset else { throw .centralDirectoryMissing }
        // Each central entry is at least 46 bytes: a count that cannot fit is a lie, not an allocation.
        guard count <= cdSize / 46 else { throw .centralDirectoryTruncated }

        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var index: [String: Int] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<count {
            guard q + 46 <= cdEnd else { throw .centralDirectoryTruncated }
            guard all.le(q, as: UInt32.self) == 0x0201_4b50 else { throw .badCentralEntry(index: i) }
            let flags = all.le(q + 8, as: UInt16.self)
            let method = Int(all.le(q + 10, as: UInt16.self))
            let crc = all.le(q + 16, as: UInt32.self)
            var csize = UInt64(all.le(q + 20, as: UInt32.self))
            var usize = UInt64(all.le(q + 24, as: UInt32.self))
            let nameLen = Int(all.le(q + 28, as: UInt16.self))
            let extraLen = Int(all.le(q + 30, as: UInt16.self))
            let commentLen = Int(all.le(q + 32, as: UInt16.self))
            var local = UInt64(all.le(q + 42, as: UInt32.self))
            let varStart = q + 46
            guard varStart + nameLen + extraLen + commentLen <= cdEnd else { throw .centralDirectoryTruncated }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: all[varStart..<varStart + nameLen]), as: UTF8.self)
            // zip64 extended information (header id 1) replaces the fields that are all ones.
            var x = varStart + nameLen
            let xEnd = x + extraLen
            while x + 4 <= xEnd {
                let id = all.le(x, as: UInt16.self), size = Int(all.le(x + 2, as: UInt16.self))
                guard x + 4 + size <= xEnd else { throw .badCentralEntry(index: i) }
                if id == 1 {
                    var f = x + 4
                    func next() throws(Error) -> UInt64 {
                        guard f + 8 <= x + 4 + size else { throw .badCentralEntry(index: i) }
                        defer { f += 8 }
                        return all.le(f, as: UInt64.self)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                x += 4 + size
            }
            if flags & 1 != 0 { throw .encrypted(name) }
            try checkName(name)
            if index[name] != nil { throw .duplicateName(name) }
            guard local <= UInt64(all.count), csize <= UInt64(all.count), usize <= UInt64(Int.max / 2) else {
                throw .entryPastEnd(name)
            }
            let lo = Int(local)
            guard lo + 30 <= all.count, all.le(lo, as: UInt32.self) == 0x0403_4b50 else { throw .entryPastEnd(name) }
            let lName = Int(all.le(lo + 26, as: UInt16.self)), lExtra = Int(all.le(lo + 28, as: UInt16.self))
            let dataStart = lo + 30 + lName + lExtra
            guard dataStart <= all.count, Int(csize) <= all.count - dataStart else { throw .entryPastEnd(name) }
            guard lName == nameLen,
                memcmp(all.baseAddress! + lo + 30, all.baseAddress! + varStart, nameLen) == 0
            else { throw .localHeaderMismatch(name) }
            index[name] = entries.count
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: Int(csize),
                                 uncompressedSize: Int(usize), dataOffset: dataStart))
            q = varStart + nameLen + extraLen + commentLen
        }
        return (entries, index)
    }

    static func checkName(_ name: String) throws(Error) {
        if name.isEmpty || name.hasPrefix("/") || name.contains("\\") || name.contains("\0") { throw .unsafeName(name) }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." }) {
            throw .unsafeName(name)
        }
    }
}


import XCTest
@testable import TempScaleKit

final class ZipArchiveTests: XCTestCase {
    func open(_ bytes: [UInt8]) throws -> ZipArchive {
        let dir = TempDir()
        let f = try MappedFile(path: dir.write("a.zip", bytes))
        do { return try ZipArchive(f) } catch { throw FileError("a.zip", error) }
    }

    func contents(_ bytes: [UInt8], _ name: String) throws -> [UInt8] {
        let z = try open(bytes)
        do { return try z.withContents(of: name) { Array($0) } } catch let e as ZipArchive.Error { throw FileError("a.zip", e) }
    }

    func testReadsStoredEntriesInPlaceAndDeflatedOnesInflated() throws {
        var b = ZipBuilder()
        b.add("top/a", Array("hello".utf8))
        b.add("top/b", [UInt8](repeating: 7, count: 5000), deflate: true)
        let z = try open(b.build())
        XCTAssertEqual(z.entries.map(\.name), ["top/a", "top/b"])
        let a = try z.contents(of: "top/a")
        XCTAssertTrue(a.owner === z.file, "stored entry should be the mapping itself")
        XCTAssertEqual(Array(a.bytes), Array("hello".utf8))
        XCTAssertTrue(try z.withContents(of: "top/b") { Array($0) } == [UInt8](repeating: 7, count: 5000))
    }

    func testReadsZip64Records() throws {
        var b = ZipBuilder()
        b.zip64 = true
        b.add("top/x", Array("zip64 payload".utf8))
        b.add("top/y", [1, 2, 3])
        XCTAssertEqual(try contents(b.build(), "top/x"), Array("zip64 payload".utf8))
        XCTAssertEqual(try contents(b.build(), "top/y"), [1, 2, 3])
    }

    func testRejectsMissingCentralDirectory() {
        var b = ZipBuilder()
        b.add("top/a", [1, 2, 3])
        let bytes = b.build()
        // Drop the end-of-central-directory record.
        assertReason(ZipArchive.Error.notAZip) { _ = try open(Array(bytes.dropLast(22))) }
    }

    func testRejectsTruncatedCentralDirectory() {
        var b = ZipBuilder()
        b.add("top/a", [1, 2, 3])
        b.add("top/b", [4, 5, 6])
        var bytes = b.build()
        // Claim more entries than the central directory holds.
        let eocd = bytes.count - 22
        bytes[eocd + 10] = 9
        bytes[eocd + 8] = 9
        assertReason(ZipArchive.Error.centralDirectoryTruncated) { _ = try open(bytes) }
        // A central directory said to start past the end of the file.
        var far = b.build()
        far.replaceSubrange((far.count - 6)..<(far.count - 2), with: le(UInt32(far.count + 100)))
        assertReason(ZipArchive.Error.centralDirectoryMissing) { _ = try open(far) }
    }

    func testRejectsEntryOffsetsPastTheEnd() {
        var b = ZipBuilder()
        b.add("top/a", [1, 2, 3])
        b.entries[0].localOffsetDelta = 1_000_000
        assertReason(ZipArchive.Error.entryPastEnd("top/a")) { _ = try open(b.build()) }
        var c = ZipBuilder()
        c.add("top/a", [1, 2, 3])
        c.entries[0].declaredSize = 3
        var bytes = c.build()
        // Compressed size in the central directory far beyond the file.
        let cd = bytes.count - 22 - (46 + 5)
        bytes.replaceSubrange((cd + 20)..<(cd + 24), with: le(UInt32(1 << 30)))
        assertReason(ZipArchive.Error.entryPastEnd("top/a")) { _ = try open(bytes) }
    }

    func testRejectsDuplicateNames() {
        var b = ZipBuilder()
        b.add("top/a", [1])
        b.add("top/a", [2])
        assertReason(ZipArchive.Error.duplicateName("top/a")) { _ = try open(b.build()) }
    }

    func testRejectsDotDotAndAbsoluteNames() {
        for name in ["top/../etc/passwd", "../x", "/etc/passwd", "top\\..\\x", "top/a/.."] {
            var b = ZipBuilder()
            b.add(name, [1])
            assertReason(ZipArchive.Error.unsafeName(name)) { _ = try open(b.build()) }
        }
    }

    func testRejectsNamesOutsideTheTopFolderOfATorchArchive() {
        var b = ZipBuilder()
        b.add("model/data.pkl", [0x80, 0x02, 0x7D, 0x2E])
        b.add("other/data/0", [0, 0, 0, 0])
        let dir = TempDir()
        let p = dir.write("m.bin", b.build())
        assertReason(ZipArchive.Error.outsideTopFolder("other/data/0", top: "model")) { _ = try TorchCheckpoint.read(path: p) }
    }

    func testRejectsADeflateBomb() {
        // 8 MiB of zeros deflates to ~8 KB: a 1000:1 ratio no checkpoint has.
        var b = ZipBuilder()
        b.add("top/bomb", [UInt8](repeating: 0, count: 8 << 20), deflate: true)
        assertReason(ZipArchive.Error.self, matches: { if case .deflateBomb("top/bomb", _, _) = $0 { return true }; return false }) {
            _ = try contents(b.build(), "top/bomb")
        }
    }

    func testRejectsAnEntryThatInflatesPastItsDeclaredSize() {
        var b = ZipBuilder()
        b.add("top/liar", [UInt8](repeating: 1, count: 100_000), deflate: true)
        b.entries[0].declaredSize = 100
        assertReason(ZipArchive.Error.inflatedSizeMismatch("top/liar", declared: 100)) { _ = try contents(b.build(), "top/liar") }
    }

    func testRejectsCRCMismatch() {
        var b = ZipBuilder()
        b.add("top/a", [1, 2, 3])
        b.entries[0].crc = 0xDEAD_BEEF
        assertReason(ZipArchive.Error.crcMismatch("top/a")) { _ = try contents(b.build(), "top/a") }
        var d = ZipBuilder()
        d.add("top/d", [UInt8](repeating: 3, count: 1000), deflate: true)
        d.entries[0].crc = 1
        assertReason(ZipArchive.Error.crcMismatch("top/d")) { _ = try contents(d.build(), "top/d") }
    }

    func testRejectsCorruptDeflateStreams() {
        var b = ZipBuilder()
        b.add("top/a", [UInt8](repeating: 9, count: 1000), deflate: true)
        var bytes = b.build()
        bytes[30 + 5] ^= 0xFF  // first byte of the deflate stream
        assertReason(ZipArchive.Error.self) { _ = try contents(bytes, "top/a") }
    }
}

import Foundation
import XCTest
@testable import TempScaleKit

final class NativeFormatTests: XCTestCase {
    let fixtureModels = ["tiny-bert", "tiny-bert-rkq", "tiny-roberta", "tiny-xlmr", "tiny-mpnet", "tiny-t5", "tiny-bert-sharded",
                         "tiny-bert-f16", "tiny-bert-bf16"]

    func convert(_ src: String, _ dtype: DType = .f32, in dir: TempDir, name: String = "m.tsm") throws -> (Model, Model) {
        let model = try ModelLoader.open(src)
        _ = try NativeFormat.write(model, to: dir.file(name), options: .init(dtype: dtype))
        return (model, try ModelLoader.open(dir.file(name)))
    }

    func testF32RoundTripIsBitIdenticalForEveryTensor() throws {
        for name in fixtureModels {
            let dir = TempDir()
            let (src, back) = try convert(Paths.fixture("models/" + name), in: dir)
            XCTAssertEqual(back.sourceKind, .native)
            XCTAssertEqual(back.tensors.map(\.name), src.tensors.map(\.name), name)
            for (a, b) in zip(src.tensors, back.tensors) {
                XCTAssertEqual(a.shape, b.shape)
                if a.dtype.isFloatingPoint {
                    XCTAssertEqual(b.dtype, .f32)
                    XCTAssertEqual(a.toFloat32().withUnsafeBytes { Array($0) }, Array(b.bytes), "\(name): \(a.name)")
                } else {
                    XCTAssertEqual(a.dtype, b.dtype)
                    XCTAssertTrue(a.bytes.elementsEqual(b.bytes), "\(name): \(a.name)")
                }
                XCTAssertTrue(b.isMapped)
                XCTAssertEqual(Int(bitPattern: b.bytes.baseAddress!) % 64, 0, "tensor data is 64-byte aligned in the mapping")
            }
            XCTAssertEqual(back.config, src.config)
            XCTAssertEqual(back.files, src.files)
            XCTAssertEqual(back.sentenceTransformers, src.sentenceTransformers)
            XCTAssertEqual(back.originFormat, src.sourceKind.rawValue)
        }
    }

    func testF16AndBF16EqualTorchRoundingToNearestEven() throws {
        for (dtype, key) in [(DType.f16, "models/tiny-bert-f16/model.safetensors"), (.bf16, "models/tiny-bert-bf16/model.safetensors")] {
            let dir = TempDir()
            let (_, back) = try convert(Paths.fixture("models/tiny-bert"), dtype, in: dir)
            let expected = try loadExpected(Paths.fixture("expected.json"), key: key)
            assertMatchesExpected(back.tensors, expected)
        }
    }

    func testQ8QuantisesMatricesWithinHalfAScaleAndKeepsTheRestF32() throws {
        let dir = TempDir()
        let (src, back) = try convert(Paths.fixture("models/tiny-bert"), .q8, in: dir)
        var quantised = 0
        for (a, b) in zip(src.tensors, back.tensors) {
            let x = a.toFloat32(), y = b.toFloat32()
            if Q8.quantises(a) {
                quantised += 1
                XCTAssertEqual(b.dtype, .q8, a.name)
                let cols = a.shape.last!
                for start in stride(from: 0, to: x.count, by: Q8.blockSize) {
                    let rowEnd = (start / cols + 1) * cols
                    let end = min(start + Q8.blockSize, rowEnd)
                    let scale = x[start..<end].map(abs).max()! / 127
                    for i in start..<end { XCTAssertLessThanOrEqual(abs(x[i] - y[i]), scale / 2 * 1.0001 + 1e-12, a.name) }
                }
            } else {
                XCTAssertNotEqual(b.dtype, .q8, a.name)
                XCTAssertEqual(x, y, a.name)
            }
        }
        XCTAssertGreaterThan(quantised, 5)
    }

    func testHeaderCarriesProvenance() throws {
        let dir = TempDir()
        let (_, back) = try convert(Paths.fixture("models/tiny-bert"), in: dir)
        XCTAssertEqual(back.sources.count, 1)
        XCTAssertEqual(back.sources[0].path, "model.safetensors")
        let file = try MappedFile(path: Paths.fixture("models/tiny-bert/model.safetensors"))
        XCTAssertEqual(back.sources[0].sha256, SHA256.hex(file.all))
        XCTAssertEqual(back.sources[0].bytes, file.count)
        XCTAssertFalse(back.temperature.isPatched)
        // native → native keeps the original provenance
        let again = try NativeFormat.write(back, to: dir.file("again.tsm"), options: .init())
        XCTAssertGreaterThan(again.bytes, 0)
        let twice = try ModelLoader.open(dir.file("again.tsm"))
        XCTAssertEqual(twice.sources, back.sources)
        XCTAssertEqual(twice.originFormat, "safetensors")
    }

    func testRefusesAnExistingOutputUnlessForcedAndNeverOverwritesItsInput() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        _ = try NativeFormat.write(model, to: dir.file("m.tsm"))
        let before = readBytes(dir.file("m.tsm"))
        assertReason(IOError.outputExists) { _ = try NativeFormat.write(model, to: dir.file("m.tsm")) }
        XCTAssertEqual(readBytes(dir.file("m.tsm")), before)
        _ = try NativeFormat.write(model, to: dir.file("m.tsm"), options: .init(dtype: .f16, force: true))
        XCTAssertLessThan(readBytes(dir.file("m.tsm")).count, before.count)
        let native = try ModelLoader.open(dir.file("m.tsm"))
        assertReason(IOError.outputIsInput) { _ = try NativeFormat.write(native, to: dir.file("m.tsm"), options: .init(force: true)) }
        XCTAssertNoThrow(try ModelLoader.open(dir.file("m.tsm")))
        XCTAssertEqual(dir.listing, ["m.tsm"], "no temp files left")
    }

    func testAFailedWriteLeavesNoPartialOutput() throws {
        let dir = TempDir()
        var model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        model.sources = [SourceFile(path: "vanished.safetensors", bytes: 1)]  // its digest cannot be computed
        XCTAssertThrowsError(try NativeFormat.write(model, to: dir.file("out.tsm")))
        XCTAssertEqual(dir.listing, [])
        assertReason(NativeFormat.Error.unsupportedTargetDType("i8")) {
            _ = try NativeFormat.write(model, to: dir.file("out.tsm"), options: .init(dtype: .i8))
        }
        assertReason(IOError.self) { _ = try NativeFormat.write(model, to: dir.file("no/such/folder/out.tsm")) }
        XCTAssertEqual(dir.listing, [])
    }

    /// Writes `m.tsm` for tiny-bert and returns its bytes.
    func tinyFile(_ dir: TempDir) throws -> [UInt8] {
        _ = try convert(Paths.fixture("models/tiny-bert"), in: dir)
        return readBytes(dir.file("m.tsm"))
    }

    func reopen(_ bytes: [UInt8], _ dir: TempDir) throws { _ = try NativeFormat.read(path: dir.write("x.tsm", bytes)) }

    /// Recomputes the prelude CRC after a deliberate edit, so a later rule is what fails.
    func fixPreludeCRC(_ b: inout [UInt8]) {
        let crc = b[0..<60].withUnsafeBytes { crc32Of($0) }
        b.replaceSubrange(60..<64, with: le(crc))
    }

    func testCorruptionIsANamedChecksumError() throws {
        let dir = TempDir()
        let good = try tinyFile(dir)
        let model = try NativeFormat.read(path: dir.file("m.tsm"))
        let dataOffset = Int(good.withUnsafeBytes { $0.le(40, as: UInt64.self) })
        var tensor = good
        tensor[dataOffset + 5] ^= 0x40
        assertReason(NativeFormat.Error.tensorCRC(model.tensors[0].name)) { try reopen(tensor, dir) }
        // Commands that only read weights (embed, …) skip the per-tensor CRC pass; the file's structure and the
        // prelude and header CRCs are still checked, and verify/inspect/convert/patch/export check every tensor.
        XCTAssertNoThrow(try ModelLoader.open(dir.write("t.tsm", tensor), checksums: false))
        var header = good
        header[70] ^= 0x01
        assertReason(NativeFormat.Error.headerCRC) { try reopen(header, dir) }
        assertReason(NativeFormat.Error.headerCRC) { _ = try ModelLoader.open(dir.write("h.tsm", header), checksums: false) }
        var prelude = good
        prelude[20] ^= 0x01
        assertReason(NativeFormat.Error.preludeCRC) { try reopen(prelude, dir) }
        assertReason(NativeFormat.Error.preludeCRC) { _ = try ModelLoader.open(dir.write("p.tsm", prelude), checksums: false) }
        var magic = good
        magic[1] = UInt8(ascii: "X")
        assertReason(NativeFormat.Error.badMagic) { try reopen(magic, dir) }
    }

    func testRejectsNewerVersionsUnknownFlagsAndTrailingBytes() throws {
        let dir = TempDir()
        let good = try tinyFile(dir)
        var v2 = good
        v2.replaceSubrange(8..<12, with: le(UInt32(2)))
        fixPreludeCRC(&v2)
        assertReason(NativeFormat.Error.unsupportedVersion(2)) { try reopen(v2, dir) }
        var flags = good
        flags.replaceSubrange(12..<16, with: le(UInt32(4)))
        fixPreludeCRC(&flags)
        assertReason(NativeFormat.Error.unknownFlags(4)) { try reopen(flags, dir) }
        assertReason(NativeFormat.Error.self, matches: { if case .headerField("data_length", _) = $0 { return true }; return false }) {
            try reopen(good + [0, 0, 0], dir)
        }
    }

    func testSHA256MatchesTheStandardVectors() {
        XCTAssertEqual(SHA256.hex(UnsafeRawBufferPointer(start: nil, count: 0)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Array("abc".utf8).withUnsafeBytes { SHA256.hex($0) }, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(million.withUnsafeBytes { SHA256.hex($0) }, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var s = SHA256()
        for chunk in stride(from: 0, to: million.count, by: 777) { million[chunk..<min(chunk + 777, million.count)].withUnsafeBytes { s.update($0) } }
        XCTAssertEqual(s.finalize().map { String(format: "%02x", $0) }.joined(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

final class NativeFormatEdgeTests: XCTestCase {
    func testQ8OfAQ8FileStaysQ8() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let first = try NativeFormat.write(model, to: dir.file("a.tsm"), options: .init(dtype: .q8))
        let second = try NativeFormat.write(try ModelLoader.open(dir.file("a.tsm")), to: dir.file("b.tsm"), options: .init(dtype: .q8))
        XCTAssertEqual(first.dtypes, second.dtypes)
        XCTAssertEqual(first.bytes, second.bytes)
    }

    func testAFileNamedTsmWithBadMagicSaysSo() throws {
        let dir = TempDir()
        let p = dir.write("broken.tsm", [UInt8](repeating: 0x41, count: 200))
        assertReason(NativeFormat.Error.badMagic) { _ = try ModelLoader.open(p) }
    }
}

import CKernels

final class KernelTests: XCTestCase {
    func testSHANIAndPortableBlockFunctionsAgree() {
        var rng = SplitMix(seed: 7)
        let data = (0..<(64 * 97)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for blocks in [1, 2, 5, 97] {
            var a: [UInt32] = [1, 2, 3, 4, 5, 6, 7, 8], b = a
            data.withUnsafeBufferPointer { d in
                ts_sha256_blocks(&a, d.baseAddress!, blocks)
                ts_sha256_blocks_portable(&b, d.baseAddress!, blocks)
            }
            XCTAssertEqual(a, b, "\(blocks) blocks")
        }
    }
}

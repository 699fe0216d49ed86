import XCTest
@testable import TempScaleKit

final class PickleTests: XCTestCase {
    func load(_ file: String) throws(Pickle.Error) -> Pickle.Value {
        let bytes = readBytes(Paths.fixture("pickles/" + file))
        precondition(!bytes.isEmpty, "missing fixture \(file)")
        let r = bytes.withUnsafeBytes { b in Result { () throws(Pickle.Error) -> Pickle.Value in try Pickle.load(b) } }
        return try r.get()
    }

    func testEveryMaliciousPickleIsRejectedNamingTheGlobalOrOpcode() throws {
        let manifest = try JSON.parse(readBytes(Paths.fixture("pickles/manifest.json"))).objectValue!
        XCTAssertGreaterThanOrEqual(manifest.count, 12)
        for (file, entry) in manifest.pairs {
            let expect = entry["expect"]!.stringValue!
            do {
                let v = try load(file)
                XCTAssertEqual(expect, "ok", "\(file) was accepted as \(v.kind)")
            } catch {
                switch (expect, error) {
                case ("global", .disallowedGlobal(let g)):
                    XCTAssertEqual(g, entry["names"]!.stringValue!, file)
                    XCTAssertTrue(error.description.contains(g), "the message names the global")
                case ("opcode", .unknownOpcode(let op, _)):
                    XCTAssertEqual(Int(op), entry["names"]!.intValue!, file)
                    XCTAssertTrue(error.description.contains("0xff"), error.description)
                case ("setitem", .setItemOnNonDict): break
                case ("stack_underflow", .stackUnderflow(let op, _)): XCTAssertEqual(op, "TUPLE2", file)
                case ("memo_underflow", .memoMissing(5, _)): break
                default: XCTFail("\(file): expected \(expect), got \(error)")
                }
            }
        }
    }

    func testReadsABenignOrderedDictSymbolically() throws {
        guard case .dict(let d) = try load("ok_ordereddict.pkl") else { return XCTFail("not a dict") }
        XCTAssertEqual(d.items.count, 2)
        guard case .string("a") = d.items[0].0, case .int(1) = d.items[0].1 else { return XCTFail("a: 1") }
        guard case .list(let l) = d.items[1].1, l.items.count == 4, case .float(1.5) = l.items[0],
            case .string("x") = l.items[1], case .none = l.items[2], case .bool(true) = l.items[3]
        else { return XCTFail("b: [1.5, 'x', None, True]") }
    }

    func testDeepNestingIsAnErrorNotARecursion() {
        // PROTO 2, then 100 000 × (EMPTY_LIST, TUPLE1) — nesting far beyond any state dict.
        var bytes: [UInt8] = [0x80, 0x02, 0x5D]
        for _ in 0..<100_000 { bytes.append(0x85) }
        bytes.append(0x2E)
        XCTAssertThrowsError(try bytes.withUnsafeBytes { b in try Pickle.load(b) }) { e in
            guard case .tooDeep = e as? Pickle.Error else { return XCTFail("\(e)") }
        }
    }

    func testRefusesObjectBuildingOpcodesByName() {
        // PROTO 2, GLOBAL collections OrderedDict, EMPTY_TUPLE, NEWOBJ, STOP
        let bytes: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x81, 0x2E]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { b in try Pickle.load(b) }) { e in
            guard case .disallowedOpcode("NEWOBJ", _) = e as? Pickle.Error else { return XCTFail("\(e)") }
        }
    }

    func testTruncatedStreamsAndHugeLengthsAreErrors() {
        for bytes: [UInt8] in [[0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x41], [0x80], [0x80, 0x02, 0x4A, 1], [0x80, 0x02, 0x4E]] {
            XCTAssertThrowsError(try bytes.withUnsafeBytes { b in try Pickle.load(b) }, "\(bytes)")
        }
    }
}

final class TorchCheckpointTests: XCTestCase {
    func testReadsEveryBinFixtureExactlyAsPyTorchReportsIt() throws {
        let keys = try JSON.parse(readBytes(Paths.fixture("expected.json"))).objectValue!.keys.filter { $0.hasSuffix(".bin") }
        XCTAssertGreaterThanOrEqual(keys.count, 10)
        for key in keys {
            let tensors = try TorchCheckpoint.read(path: Paths.fixture(key))
            assertMatchesExpected(tensors, try loadExpected(Paths.fixture("expected.json"), key: key))
        }
    }

    func testMaterialisesStridedViewsAndKeepsContiguousOnesInPlace() throws {
        let tensors = try TorchCheckpoint.read(path: Paths.fixture("models/tiny-bert-views/pytorch_model.bin"))
        let t = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let base = t["base"]!.toFloat32()
        // transposed = base.t(): a copy, element (i, j) = base (j, i)
        XCTAssertFalse(t["transposed"]!.isMapped)
        XCTAssertEqual(t["transposed"]!.shape, [8, 6])
        let tr = t["transposed"]!.toFloat32()
        for i in 0..<8 { for j in 0..<6 { XCTAssertEqual(tr[i * 6 + j], base[j * 8 + i]) } }
        // slice = base[2:5, 1:7]: offset 17, stride (8, 1) — not contiguous, copied
        let sl = t["slice"]!.toFloat32()
        for i in 0..<3 { for j in 0..<6 { XCTAssertEqual(sl[i * 6 + j], base[(i + 2) * 8 + j + 1]) } }
        // row = base[3]: contiguous with a storage offset, used in place
        XCTAssertTrue(t["row"]!.isMapped)
        XCTAssertEqual(t["row"]!.toFloat32(), Array(base[24..<32]))
        // shared_a and shared_b share one storage: the same bytes
        XCTAssertEqual(t["shared_a"]!.bytes.baseAddress, t["shared_b"]!.bytes.baseAddress)
    }

    func testT5TiedEmbeddingsShareOneStorage() throws {
        let tensors = try TorchCheckpoint.read(path: Paths.fixture("models/tiny-t5/pytorch_model.bin"))
        let a = tensors.first { $0.name == "shared.weight" }!, b = tensors.first { $0.name == "encoder.embed_tokens.weight" }!
        XCTAssertEqual(a.bytes.baseAddress, b.bytes.baseAddress)
        XCTAssertTrue(a.isMapped)
        let model = try ModelLoader.open(Paths.fixture("models/tiny-t5/pytorch_model.bin"))
        let st = try ModelLoader.open(Paths.fixture("models/tiny-t5"))
        XCTAssertEqual(model.parameterCount, st.parameterCount, "a tied storage counts once")
    }

    func testBrokenArchivesFailWithNamedErrors() throws {
        let dir = Paths.fixture("archives/")
        assertReason(Pickle.Error.disallowedGlobal("posix.system")) { _ = try TorchCheckpoint.read(path: dir + "evil_system.bin") }
        assertReason(TorchCheckpoint.Error.missingRecord("0")) { _ = try TorchCheckpoint.read(path: dir + "storage_missing_record.bin") }
        assertReason(TorchCheckpoint.Error.recordTooShort("0", need: 16, have: 8)) {
            _ = try TorchCheckpoint.read(path: dir + "storage_short_record.bin")
        }
        assertReason(TorchCheckpoint.Error.viewOutOfBounds("w")) { _ = try TorchCheckpoint.read(path: dir + "view_past_storage.bin") }
        assertReason(TorchCheckpoint.Error.legacyFormat) { _ = try TorchCheckpoint.read(path: dir + "legacy.bin") }
        do {
            _ = try TorchCheckpoint.read(path: dir + "legacy.bin")
        } catch {
            XCTAssertTrue("\(error)".contains("re-save it with torch >= 1.6"), "\(error)")
        }
    }
}

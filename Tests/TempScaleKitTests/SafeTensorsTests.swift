import XCTest
@testable import TempScaleKit

final class SafeTensorsTests: XCTestCase {
    /// 8-byte LE header size, the header, the buffer.
    func file(_ header: String, _ data: [UInt8]) -> [UInt8] { le(UInt64(header.utf8.count)) + Array(header.utf8) + data }

    func testReadsEveryFixtureExactlyAsPyTorchReportsIt() throws {
        let keys = try JSON.parse(readBytes(Paths.fixture("expected.json"))).objectValue!.keys.filter { $0.hasSuffix(".safetensors") }
        XCTAssertGreaterThanOrEqual(keys.count, 10)
        for key in keys {
            let f = try SafeTensors.read(path: Paths.fixture(key))
            assertMatchesExpected(f.tensors, try loadExpected(Paths.fixture("expected.json"), key: key))
            XCTAssertTrue(f.tensors.allSatisfy(\.isMapped), "\(key): tensors should point into the mapping")
            XCTAssertEqual(f.metadata["format"], "pt")
        }
    }

    func read(_ bytes: [UInt8]) throws {
        let dir = TempDir()
        _ = try SafeTensors.read(path: dir.write("x.safetensors", bytes))
    }

    func testRejectsFileTooSmallForHeaderSize() {
        assertReason(SafeTensors.Error.fileTooSmall(4)) { try read([1, 2, 3, 4]) }
    }

    func testRejectsHeaderLengthPastEndOfFile() {
        assertReason(SafeTensors.Error.headerPastEnd(header: 1000, file: 20)) { try read(le(UInt64(1000)) + [UInt8](repeating: 0x20, count: 12)) }
    }

    func testRejectsHeaderOverTheCap() {
        assertReason(SafeTensors.Error.headerTooLarge(100_000_001)) { try read(le(UInt64(100_000_001)) + Array("{}".utf8)) }
        assertReason(SafeTensors.Error.headerTooLarge(Int.max)) { try read(le(UInt64.max) + Array("{}".utf8)) }
    }

    func testRejectsHeaderThatIsNotJSON() {
        assertReason(SafeTensors.Error.self, matches: { if case .headerNotJSON = $0 { return true }; return false }) {
            try read(file("{not json", []))
        }
    }

    func testRejectsHeaderThatIsNotAnObject() {
        assertReason(SafeTensors.Error.headerNotObject) { try read(file("[1, 2]", [])) }
        assertReason(SafeTensors.Error.headerNotObject) { try read(file("", [])) }
    }

    func testRejectsOverlappingOffsets() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertReason(SafeTensors.Error.overlappingOffsets("a", "b")) { try read(file(h, [UInt8](repeating: 0, count: 12))) }
    }

    func testRejectsHoles() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        assertReason(SafeTensors.Error.hole(at: 8)) { try read(file(h, [UInt8](repeating: 0, count: 20))) }
        let late = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertReason(SafeTensors.Error.hole(at: 0)) { try read(file(late, [UInt8](repeating: 0, count: 12))) }
    }

    func testRejectsTrailingBytes() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.trailingBytes(4)) { try read(file(h, [UInt8](repeating: 0, count: 12))) }
    }

    func testRejectsOffsetsPastTheBuffer() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.offsetsPastEnd("a", end: 8, buffer: 4)) { try read(file(h, [0, 0, 0, 0])) }
    }

    func testRejectsSizeThatDoesNotMatchShapeTimesDType() {
        let h = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.sizeMismatch("a", expected: 12, actual: 8)) { try read(file(h, [UInt8](repeating: 0, count: 8))) }
    }

    func testRejectsUnknownDType() {
        let h = #"{"a":{"dtype":"F8_E9M9","shape":[2],"data_offsets":[0,2]}}"#
        assertReason(SafeTensors.Error.unknownDType("a", "F8_E9M9")) { try read(file(h, [0, 0])) }
    }

    func testRejectsShapeProductsThatOverflow() {
        let h = #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.shapeOverflow("a")) { try read(file(h, [UInt8](repeating: 0, count: 8))) }
        // The element count fits, the byte count does not.
        let h2 = #"{"a":{"dtype":"F32","shape":[3074457345618258602],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.shapeOverflow("a")) { try read(file(h2, [UInt8](repeating: 0, count: 8))) }
    }

    func testRejectsDuplicateNames() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        assertReason(SafeTensors.Error.duplicateName("a")) { try read(file(h, [UInt8](repeating: 0, count: 8))) }
    }

    func testRejectsNegativeOffsetsAndNonStringMetadata() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#
        assertReason(SafeTensors.Error.self, matches: { if case .invalidEntry("a", _) = $0 { return true }; return false }) {
            try read(file(h, []))
        }
        let m = #"{"__metadata__":{"format":1}}"#
        assertReason(SafeTensors.Error.self, matches: { if case .invalidMetadata = $0 { return true }; return false }) {
            try read(file(m, []))
        }
    }

    func testAcceptsSpacePaddedHeaderAndEmptyTensors() throws {
        let h = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}   "#
        let dir = TempDir()
        let f = try SafeTensors.read(path: dir.write("x.safetensors", file(h, le(Int64(-7)))))
        XCTAssertEqual(f.tensors.count, 2)
        XCTAssertEqual(f.tensors.first { $0.name == "b" }!.toInt64(), [-7])
    }
}

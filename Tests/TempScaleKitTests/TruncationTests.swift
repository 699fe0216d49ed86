import Foundation
import XCTest
@testable import TempScaleKit

/// Cutting any valid file at many points gives an error — never a crash, a hang or a huge allocation.
final class TruncationTests: XCTestCase {
    func assertEveryCutFails(_ bytes: [UInt8], ext: String, read: (String) throws -> Void) {
        let dir = TempDir()
        var cuts = Set((0..<64).map { bytes.count * $0 / 64 })
        cuts.formUnion([1, 7, 8, 9, bytes.count - 1, bytes.count - 22])
        for cut in cuts.sorted() where cut >= 0 && cut < bytes.count {
            let p = dir.write("cut-\(cut).\(ext)", Array(bytes[0..<cut]))
            XCTAssertThrowsError(try read(p), "\(ext) cut at \(cut) of \(bytes.count) was accepted")
        }
    }

    func testTruncatedSafetensorsFail() {
        for m in ["tiny-bert", "tiny-t5", "tiny-bert-f16"] {
            assertEveryCutFails(readBytes(Paths.fixture("models/\(m)/model.safetensors")), ext: "safetensors") { _ = try SafeTensors.read(path: $0) }
        }
    }

    func testTruncatedTorchZipsFail() {
        for p in ["models/tiny-bert/pytorch_model.bin", "models/tiny-t5/pytorch_model.bin", "models/tiny-bert-views/pytorch_model.bin"] {
            assertEveryCutFails(readBytes(Paths.fixture(p)), ext: "bin") { _ = try TorchCheckpoint.read(path: $0) }
        }
    }

    func testTruncatedPicklesFail() throws {
        let data = try Paths.fixture("models/tiny-bert/pytorch_model.bin").withCString { _ in
            try TorchCheckpoint.read(path: Paths.fixture("models/tiny-bert/pytorch_model.bin"))
        }
        XCTAssertFalse(data.isEmpty)
        // The data.pkl of a real torch.save, cut at every byte boundary in 64 steps.
        let file = try MappedFile(path: Paths.fixture("models/tiny-bert/pytorch_model.bin"))
        let zip = try ZipArchive(file)
        let pkl = try zip.withContents(of: zip.entries.first { $0.name.hasSuffix("/data.pkl") }!.name) { Array($0) }
        for i in 0..<64 {
            let cut = Array(pkl[0..<(pkl.count * i / 64)])
            XCTAssertThrowsError(try cut.withUnsafeBytes { try Pickle.load($0) }, "pickle cut at \(cut.count)")
        }
    }

    func testTruncatedNativeFilesFail() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        for dtype in [DType.f32, .q8] {
            _ = try NativeFormat.write(model, to: dir.file("m.tsm"), options: .init(dtype: dtype, force: true))
            assertEveryCutFails(readBytes(dir.file("m.tsm")), ext: "tsm") { _ = try NativeFormat.read(path: $0) }
        }
    }

    /// Random byte flips: any outcome but a crash is acceptable; most must be caught.
    func testRandomCorruptionNeverCrashes() throws {
        var rng = SplitMix(seed: 42)
        let dir = TempDir()
        let inputs: [(String, String, (String) throws -> Void)] = [
            ("models/tiny-bert/model.safetensors", "safetensors", { _ = try SafeTensors.read(path: $0) }),
            ("models/tiny-bert/pytorch_model.bin", "bin", { _ = try TorchCheckpoint.read(path: $0) }),
        ]
        for (path, ext, read) in inputs {
            let bytes = readBytes(Paths.fixture(path))
            for i in 0..<150 {
                var b = bytes
                // Flips land in the first 4 KiB (headers, pickle, zip records) half the time.
                for _ in 0..<3 {
                    let at = i % 2 == 0 ? Int(rng.next() % UInt64(min(4096, b.count))) : Int(rng.next() % UInt64(b.count))
                    b[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
                _ = try? read(dir.write("f.\(ext)", b))
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

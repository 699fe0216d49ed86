import Foundation
import XCTest
@testable import TempScaleKit

/// The real all-MiniLM-L6-v2, fetched by `make test` (scripts/fetch-minilm.sh) along with the
/// expectations the reference stack wrote for it (scripts/real_model_expectations.py).
final class RealModelTests: XCTestCase {
    override func setUpWithError() throws {
        for p in [Paths.minilm + "/model.safetensors", Paths.realExpected, Paths.minilmBin + "/pytorch_model.bin"] {
            guard FileManager.default.fileExists(atPath: p) else {
                // Not a skip: the real model is part of the suite. `make test` fetches it.
                XCTFail("\(p) is missing; run `make test`, which fetches the real model and its expectations")
                throw NSError(domain: "tempscale", code: 1)
            }
        }
    }

    func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
        return (Int(statm.split(separator: " ")[1]) ?? 0) * 4096
    }

    func testMiniLMHasItsHundredAndFourTensorsExactlyAsTheReferenceReadsThem() throws {
        let before = residentBytes()
        let m = try ModelLoader.open(Paths.minilm)
        let grown = residentBytes() - before
        XCTAssertLessThan(grown, 16 << 20, "opening the 90 MB model must not copy it (RSS grew \(grown) bytes)")
        XCTAssertEqual(m.tensors.count, 104)
        XCTAssertTrue(m.tensors.allSatisfy(\.isMapped))
        XCTAssertEqual(m.family, "bert")
        XCTAssertEqual(m.architecture.dims, ModelDims(hidden: 384, layers: 6, heads: 12, headDim: 32, intermediate: 1536, vocab: 30522,
                                                      maxPositions: 512, positionEmbedding: "absolute"))
        XCTAssertEqual(m.sentenceTransformers.pooling, .mean)
        XCTAssertTrue(m.sentenceTransformers.normalize)
        XCTAssertEqual(m.sentenceTransformers.maxSeqLength, 256)
        assertMatchesExpected(m.tensors, try loadExpected(Paths.realExpected, key: "model.safetensors"))
    }

    func testATorchSaveOfTheSameWeightsReadsIdentically() throws {
        let st = try ModelLoader.open(Paths.minilm)
        let bin = try ModelLoader.open(Paths.minilmBin)
        XCTAssertEqual(bin.sourceKind, .pytorchBin)
        XCTAssertEqual(Set(bin.tensors.map(\.name)), Set(st.tensors.map(\.name)))
        XCTAssertTrue(bin.tensors.allSatisfy(\.isMapped), "stored zip entries are used in place")
        for t in bin.tensors {
            XCTAssertTrue(t.bytes.elementsEqual(st.tensor(t.name)!.bytes), t.name)
        }
    }

    func testNativeRoundTripOfMiniLM() throws {
        let dir = TempDir()
        let src = try ModelLoader.open(Paths.minilm)
        _ = try NativeFormat.write(src, to: dir.file("f32.tsm"))
        _ = try NativeFormat.write(src, to: dir.file("f16.tsm"), options: .init(dtype: .f16))
        let f32 = try ModelLoader.open(dir.file("f32.tsm"))
        let f16 = try ModelLoader.open(dir.file("f16.tsm"))
        XCTAssertEqual(f32.sources.first?.sha256, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
        for t in src.tensors {
            let a = f32.tensor(t.name)!, h = f16.tensor(t.name)!
            XCTAssertTrue(a.bytes.elementsEqual(t.bytes), "f32 \(t.name) is bit-identical")
            guard t.dtype == .f32 else { continue }
            XCTAssertEqual(h.dtype, .f16)
            // f16 within f16 rounding: each value is the nearest half (ties to even) of the original.
            let x = t.toFloat32(), y = h.toFloat32()
            var mismatches = 0
            for i in 0..<x.count where Float(Float16(x[i])) != y[i] { mismatches += 1 }
            XCTAssertEqual(mismatches, 0, t.name)
        }
        XCTAssertEqual(f32.files, src.files)
        XCTAssertLessThan(fileSizeOf(dir.file("f16.tsm")), fileSizeOf(dir.file("f32.tsm")) / 2 + (2 << 20))
    }

    func fileSizeOf(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
}

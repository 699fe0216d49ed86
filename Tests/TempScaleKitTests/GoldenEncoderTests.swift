import Foundation
import XCTest
@testable import TempScaleKit

/// Our encoder against golden embeddings written by the reference stack (golden/generate.py):
/// PyTorch + transformers + sentence-transformers, TempScale applied at run time.
final class GoldenEncoderTests: XCTestCase {
    static let goldens: [(file: String, model: String, pad: Int32)] = [
        ("minilm", Paths.minilm, 0), ("mpnet", Paths.mpnet, 1),
        ("tiny-bert", Paths.fixture("models/tiny-bert"), 0), ("tiny-mpnet", Paths.fixture("models/tiny-mpnet"), 1),
    ]

    func golden(_ name: String) throws -> GoldenFile { try GoldenFile.read(path: Paths.package + "/golden/\(name).json.gz") }

    /// Runs the encoder on the golden's own token ids (so this isolates the encoder from the tokenizer).
    func verify(_ name: String, model: Model, pad: Int32, atol: Float, minCosine: Float, temperatures: [String]? = nil,
                limit: Int? = nil) throws -> Verification {
        var g = try golden(name)
        XCTAssertGreaterThanOrEqual(g.temperatures.count, 3)
        if let limit { g = g.prefix(limit) }
        let idsByText = Dictionary(g.texts.map { ($0.text, $0.ids) }, uniquingKeysWith: { a, _ in a })
        return Verifier.run(encoder: try Encoder(model: model, options: .init(batchSize: 16, threads: 2)), golden: g,
                            temperatures: temperatures, atol: atol, minCosine: minCosine, padId: pad, tokenize: { idsByText[$0]! })
    }

    func report(_ v: Verification) -> String {
        v.temperatures.map { "τ \($0.tau): worst cosine \($0.worstCosine), max abs \($0.maxAbsDiff)" }.joined(separator: "; ")
    }

    func testF32MatchesTheReferenceAtEveryTemperature() throws {
        for (name, path, pad) in Self.goldens {
            let v = try verify(name, model: try ModelLoader.open(path), pad: pad, atol: 2e-5, minCosine: 0.99999)
            print("golden \(name) f32: \(report(v))")
            XCTAssertGreaterThan(v.temperatures.first!.rows.count, 0)
            XCTAssertTrue(v.passed, "\(name): \(report(v))")
        }
    }

    func testRunTimeTemperatureChangesTheEmbeddings() throws {
        let g = try golden("minilm")
        let enc = try Encoder(model: try ModelLoader.open(Paths.minilm))
        let ids = g.texts.filter { $0.ids.count > 40 }.prefix(8).map(\.ids)
        let a = enc.embed(ids: Array(ids), temperature: 1), b = enc.embed(ids: Array(ids), temperature: 0.5)
        for (x, y) in zip(a, b) { XCTAssertLessThan(Verifier.cosine(x, y), 0.999) }
    }

    /// f16 and q8 on every MiniLM text and τ; on MPNet (4.6× the compute) the first 40 texts at τ = 1 and 0.5.
    func testNativeF16AndQ8StayCloseToTheReference() throws {
        let dir = TempDir()
        for (name, path, pad) in Self.goldens.prefix(2) {
            let src = try ModelLoader.open(path)
            for (dtype, minCos) in [(DType.f16, Float(0.9999)), (.q8, Float(0.995))] {
                let out = dir.file("\(name)-\(dtype.name).tsm")
                _ = try NativeFormat.write(src, to: out, options: .init(dtype: dtype))
                let subset = name == "mpnet"
                let v = try verify(name, model: try ModelLoader.open(out), pad: pad, atol: 1, minCosine: minCos,
                                   temperatures: subset ? ["1.0", "0.5"] : nil, limit: subset ? 40 : nil)
                print("golden \(name) \(dtype.name): \(report(v))")
                XCTAssertTrue(v.temperatures.allSatisfy { $0.worstCosine >= minCos }, "\(name) \(dtype.name): \(report(v))")
            }
        }
    }
}

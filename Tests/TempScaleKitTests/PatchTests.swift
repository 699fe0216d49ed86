import Foundation
import XCTest
@testable import TempScaleKit

final class PatchTests: XCTestCase {
    func testBakedMiniLMMatchesRunTimeTemperatureAndTheGolden() throws {
        let original = try ModelLoader.open(Paths.minilm)
        let patched = try Patcher.patch(original, tau: 0.8).model
        let golden = try GoldenFile.read(path: Paths.package + "/golden/minilm.json.gz")
        let ids = golden.texts.map(\.ids)
        let runtime = try Encoder(model: original).embed(ids: ids, temperature: 0.8)
        let baked = try Encoder(model: patched).embed(ids: ids, temperature: 1)
        var worst: Float = 0
        for (a, b) in zip(runtime, baked) { worst = max(worst, zip(a, b).map { abs($0 - $1) }.max()!) }
        XCTAssertLessThan(worst, 2e-6, "baked τ equals run-time τ up to f32 rounding of the scaled weights")
        let v = Verifier.run(encoder: try Encoder(model: patched), golden: golden, temperatures: ["0.8"], atol: 2e-5,
                             minCosine: 0.99999, padId: 0, tokenize: { text in golden.texts.first { $0.text == text }!.ids })
        XCTAssertTrue(v.passed, "baked model vs the reference's run-time τ = 0.8: \(v.temperatures.map(\.maxAbsDiff))")
    }

    func testRulesScaleExactlyTheTensorsTheArchitectureNeeds() throws {
        let bert = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let r = try Patcher.patch(bert, tau: 0.5)
        XCTAssertEqual(Set(r.rule.scales.map(\.tensor)), Set((0..<2).flatMap { l in
            ["query.weight", "query.bias"].map { "encoder.layer.\(l).attention.self.\($0)" } }))
        for t in bert.tensors {
            let after = r.model.tensor(t.name)!.toFloat32(), before = t.toFloat32()
            let factor: Float = t.name.contains(".query.") ? 2 : 1
            XCTAssertEqual(after, before.map { $0 * factor }, t.name)
        }
        let rkq = try Patcher.patch(try ModelLoader.open(Paths.fixture("models/tiny-bert-rkq")), tau: 0.25).rule
        XCTAssertEqual(rkq.scales.count, 2 * 5)
        XCTAssertTrue(rkq.scales.allSatisfy { $0.factor == 2 }, "τ^-½ for q, k and the distance embedding")
        let mpnet = try Patcher.patch(try ModelLoader.open(Paths.fixture("models/tiny-mpnet")), tau: 0.5).rule
        XCTAssertTrue(mpnet.scales.contains(.init(tensor: "encoder.relative_attention_bias.weight", factor: 2)))
        let t5 = try Patcher.patch(try ModelLoader.open(Paths.fixture("models/tiny-t5")), tau: 0.5).rule
        XCTAssertEqual(Set(t5.scales.map(\.tensor)), ["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.1.layer.0.SelfAttention.q.weight"])
    }

    func testLayerSubsetsAreBakedOrRefusedWithTheReason() throws {
        let bert = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let one = try Patcher.patch(bert, tau: 0.5, layers: LayerSelection(parsing: "1", layerCount: 2))
        XCTAssertEqual(one.rule.scales.map(\.tensor), ["encoder.layer.1.attention.self.query.weight", "encoder.layer.1.attention.self.query.bias"])
        XCTAssertEqual(one.model.temperature.steps.last?.layers, "1")
        for model in ["tiny-mpnet", "tiny-t5"] {
            let m = try ModelLoader.open(Paths.fixture("models/" + model))
            assertReason(BakeError.self, matches: { if case .notBakeable = $0 { return true }; return false }) {
                _ = try Patcher.patch(m, tau: 0.5, layers: LayerSelection(parsing: "0", layerCount: 2))
            }
        }
        XCTAssertThrowsError(try LayerSelection(parsing: "0-9", layerCount: 2))
        XCTAssertThrowsError(try LayerSelection(parsing: "x", layerCount: 2))
        XCTAssertEqual(try LayerSelection(parsing: "0,1", layerCount: 2), .all)
    }

    func testBadTemperaturesAreRefused() throws {
        let bert = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        for tau in [0, -1, Double.nan, Double.infinity] {
            assertReason(BakeError.badTemperature("\(tau)")) { _ = try Patcher.patch(bert, tau: tau) }
        }
        XCTAssertTrue(try Patcher.patch(bert, tau: 1.5).warnings.first!.contains("sharpens"))
        XCTAssertTrue(try Patcher.patch(bert, tau: 0.01).warnings.first!.contains("saturate"))
    }

    func testPatchingComposesAndTheHistoryTravels() throws {
        let dir = TempDir()
        let bert = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let once = try Patcher.patch(bert, tau: 0.8).model
        _ = try NativeFormat.write(once, to: dir.file("a.tsm"))
        let reread = try ModelLoader.open(dir.file("a.tsm"))
        XCTAssertEqual(reread.temperature.steps.map(\.tau), [0.8])
        let twice = try Patcher.patch(reread, tau: 0.5)
        XCTAssertEqual(twice.model.temperature.total, 0.4, accuracy: 1e-12)
        XCTAssertTrue(twice.warnings.contains { $0.contains("composes") })
        _ = try HFExport.write(twice.model, to: dir.file("hf"), dtype: nil, force: false)
        let hf = try ModelLoader.open(dir.file("hf"))
        XCTAssertEqual(hf.temperature.steps.map(\.tau), [0.8, 0.5])
        let q = twice.model.tensor("encoder.layer.0.attention.self.query.weight")!.toFloat32()
        let q0 = bert.tensor("encoder.layer.0.attention.self.query.weight")!.toFloat32()
        for (a, b) in zip(q, q0) { XCTAssertEqual(a, Float(Float(b * 1.25) * 2)) }
    }

    func testF16AndQ8TensorsRoundOnce() throws {
        let f16 = try ModelLoader.open(Paths.fixture("models/tiny-bert-f16"))
        let p = try Patcher.patch(f16, tau: 0.7).model
        let name = "encoder.layer.0.attention.self.query.weight"
        XCTAssertEqual(p.tensor(name)!.dtype, .f16)
        let want = f16.tensor(name)!.toFloat32().map { Float(Float16($0 * Float(1 / 0.7))) }
        XCTAssertEqual(p.tensor(name)!.toFloat32(), want)
        let dir = TempDir()
        _ = try NativeFormat.write(try ModelLoader.open(Paths.fixture("models/tiny-bert")), to: dir.file("q.tsm"), options: .init(dtype: .q8))
        let q8 = try ModelLoader.open(dir.file("q.tsm"))
        let pq = try Patcher.patch(q8, tau: 0.5).model
        XCTAssertEqual(pq.tensor(name)!.dtype, .q8)
        XCTAssertEqual(pq.tensor(name)!.toFloat32(), q8.tensor(name)!.toFloat32().map { $0 * 2 })
    }

    func testARefusedPatchWritesNothing() throws {
        let dir = TempDir()
        let r = try runCLI(["patch", Paths.fixture("models/tiny-mpnet"), "-t", "0.8", "--layers", "0", "-o", dir.file("x.tsm")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cannot bake the temperature exactly"), r.stderr)
        XCTAssertEqual(dir.listing, [])
        let bad = try runCLI(["patch", Paths.fixture("models/tiny-bert"), "-t", "0", "-o", dir.file("x.tsm")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--temperature must be a finite number > 0"), bad.stderr)
        XCTAssertEqual(dir.listing, [])
    }
}

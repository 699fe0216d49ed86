import Foundation
import XCTest
@testable import TempScaleKit

/// `tempscale export MODEL --to onnx` for every family the built-in encoder runs, checked in onnxruntime against
/// the reference stack's goldens at τ = 1 and at a baked τ, before and after ONNX Runtime's transformer optimizer
/// fuses the graph, and re-patched by `tempscale patch model.onnx`.
final class ONNXExportTests: XCTestCase {
    func cosine(_ model: Model, _ path: String, tau: Double, min: Double = 0.99999, line: UInt = #line) throws -> Double {
        let r = try onnxCheck(["golden", path, "--golden", goldenFile(model), "--tau", "\(tau)"], line: line)
        let c = r["min_cosine"]?.doubleValue ?? 0
        XCTAssertGreaterThanOrEqual(c, min, "\(basename(path)) τ = \(tau)", line: line)
        XCTAssertGreaterThan(r["texts"]?.intValue ?? 0, 50, line: line)
        return c
    }

    var goldens: [String: String] = [:]
    func goldenFile(_ m: Model) -> String { goldens[m.path]! }

    func load(_ folder: String, golden: String) throws -> Model {
        guard FileManager.default.fileExists(atPath: folder), FileManager.default.fileExists(atPath: golden) else {
            XCTFail("\(folder) or \(golden) is missing; run `make test`")
            throw CancellationError()
        }
        let m = try ModelLoader.open(folder)
        goldens[m.path] = golden
        return m
    }

    /// The real models (MiniLM: BERT; multilingual-e5-small: XLM-R positions, Unigram; MPNet: relative bias)
    /// at τ = 1 and 0.5 (patch --format onnx), then fused by optimize_model, then the τ = 1 export patched.
    func testRealModelsMatchTheGoldensBeforeAndAfterFusion() throws {
        let dir = TempDir()
        var lines: [String] = []
        for (folder, golden) in [(Paths.minilm, Paths.package + "/golden/minilm.json.gz"),
                                 (Paths.mpnet, Paths.package + "/golden/mpnet.json.gz"),
                                 (Paths.cache + "/models/multilingual-e5-small", Paths.cache + "/golden/e5-small.json.gz")] {
            let model = try load(folder, golden: golden)
            let name = basename(folder)
            let plain = dir.file("\(name).onnx"), baked = dir.file("\(name)-05.onnx")
            _ = try ONNXExport.write(model, to: plain, dtype: .f32, force: false)
            let patched = try Patcher.patch(model, tau: 0.5, layers: .all).model
            _ = try ONNXExport.write(patched, to: baked, dtype: .f32, force: false)
            let c1 = try cosine(model, plain, tau: 1), c05 = try cosine(model, baked, tau: 0.5)
            let info = try onnxCheck(["check", baked])
            XCTAssertEqual(info["ir_version"]?.intValue, 8)
            XCTAssertEqual(info["opsets"]?["ai.onnx"]?.intValue, 17)
            XCTAssertEqual(info["domains"]?.arrayValue?.compactMap(\.stringValue), [""], "standard operators only")
            XCTAssertEqual(info["metadata"]?["tempscale.temperature"]?.stringValue, "0.5")
            XCTAssertEqual(info["outputs"]?.objectValue?.pairs.map(\.0), ["last_hidden_state", "sentence_embedding"])
            XCTAssertEqual(info["inputs"]?.objectValue?.pairs.first?.0, "input_ids")
            var line = "\(name): τ1 \(c1), τ0.5 \(c05)"
            if model.family == "bert" {
                // ORT's optimizer matches the Div by √d and rebuilds attention with its default scale: τ survives
                // only because it is in the query weights.
                let fused = dir.file("\(name)-05-fused.onnx")
                let o = try onnxCheck(["optimize", baked, fused, "--heads", "\(model.architecture.dims.heads)",
                                       "--hidden", "\(model.architecture.dims.hidden)"])
                XCTAssertTrue(o["fused"]?.arrayValue?.contains(.string("Attention")) ?? false, "\(name): \(o)")
                line += ", fused \(try cosine(model, fused, tau: 0.5))"
            }
            let repatched = dir.file("\(name)-p05.onnx")
            let r = try ONNXPatcher.patch(plain, tau: 0.5, to: repatched, force: false)
            XCTAssertEqual(r.sites.count, model.architecture.dims.layers)
            line += ", patched export \(try cosine(model, repatched, tau: 0.5))"
            lines.append(line)
        }
        print("ONNX export, min cosine vs goldens: " + lines.joined(separator: "; "))
    }

    /// Every tiny family and sentence-transformers module layout (RoBERTa BPE, XLM-R, T5, sentence-T5 with Dense,
    /// gated mT5, UMT5 with a bias per block; every pooling mode, Dense) at τ = 1 and a baked 0.5.
    func testEveryFamilyAndPoolingMode() throws {
        let dir = TempDir()
        let cases = ["tiny-roberta-bpe", "tiny-xlmr", "tiny-t5", "tiny-st5", "tiny-mt5-gated", "tiny-umt5",
                     "tiny-modernbert", "tiny-modernbert-bias", "tiny-qwen3", "tiny-qwen3-lm"].map { ($0, "tiny/\($0)") }
            + ["cls", "max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean", "multi"].map { ("tiny-bert-pool-\($0)", "st-variants/tiny-bert-pool-\($0)") }
            + [("tiny-bert-dense", "st-variants/tiny-bert-dense")]
        var worst = 1.0
        for (key, folder) in cases {
            let model = try load(Paths.cache + "/" + folder, golden: Paths.cache + "/golden/\(key).json.gz")
            let a = dir.file("\(key).onnx"), b = dir.file("\(key)-05.onnx")
            _ = try ONNXExport.write(model, to: a, dtype: .f32, force: false)
            _ = try ONNXExport.write(try Patcher.patch(model, tau: 0.5, layers: .all).model, to: b, dtype: .f32, force: false)
            worst = min(worst, try cosine(model, a, tau: 1), try cosine(model, b, tau: 0.5))
        }
        print("ONNX export of \(cases.count) tiny families and module layouts: worst cosine vs goldens \(worst)")
    }

    /// RoPE graphs (ModernBERT, Qwen3) export with τ baked (above); `patch model.onnx` does not walk through RoPE's
    /// rotation yet and refuses by node name, writing nothing.
    func testPatchingARoPEGraphIsRefusedByName() throws {
        let dir = TempDir()
        for key in ["tiny-modernbert", "tiny-qwen3"] {
            let model = try load(Paths.cache + "/tiny/" + key, golden: Paths.cache + "/golden/\(key).json.gz")
            let a = dir.file("\(key).onnx"), out = dir.file("\(key)-p.onnx")
            _ = try ONNXExport.write(model, to: a, dtype: .f32, force: false)
            XCTAssertThrowsError(try ONNXPatcher.patch(a, tau: 0.5, to: out, force: false)) { e in
                XCTAssertTrue("\(e)".contains("adds two computed tensors on the query path"), "\(e)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), key)
        }
    }

    /// f16 storage (cast to f32 in the graph) halves the file and stays within f16 rounding of the golden.
    func testF16StorageAndRefusals() throws {
        let dir = TempDir()
        let model = try load(Paths.minilm, golden: Paths.package + "/golden/minilm.json.gz")
        let r16 = try ONNXExport.write(model, to: dir.file("f16.onnx"), dtype: .f16, force: false)
        let r32 = try ONNXExport.write(model, to: dir.file("f32.onnx"), dtype: .f32, force: false)
        XCTAssertLessThan(Double(r16.bytes), 0.55 * Double(r32.bytes))
        _ = try cosine(model, dir.file("f16.onnx"), tau: 1, min: 0.9999)
        XCTAssertThrowsError(try ONNXExport.write(model, to: dir.file("q8.onnx"), dtype: .q8, force: false)) { e in
            XCTAssertTrue("\(e)".contains("ONNX export writes f32 or f16"), "\(e)")
        }
        // relative_key BERT is refused by name, nothing written.
        let rk = try ModelLoader.open(Paths.cache + "/tiny/tiny-bert-rk")
        XCTAssertThrowsError(try ONNXExport.write(rk, to: dir.file("rk.onnx"), dtype: .f32, force: false)) { e in
            XCTAssertTrue("\(e)".contains("position_embedding_type 'relative_key' is not exported"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("rk.onnx")))
    }
}

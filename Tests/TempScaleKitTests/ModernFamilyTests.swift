import Foundation
import XCTest
@testable import TempScaleKit

/// ModernBERT and Qwen3 beyond the goldens (FamilyGoldenTests, HFExportTests): the bake rules touch exactly the
/// tensors they name, a layer subset only its layers, a causal-LM checkpoint loses its head, and every model the
/// rules cannot bake exactly is refused by name with nothing written.
final class ModernFamilyTests: XCTestCase {
    private func tiny(_ name: String) throws -> String {
        let p = Paths.cache + "/tiny/" + name
        guard FileManager.default.fileExists(atPath: p + "/config.json") else {
            XCTFail("\(p) is missing; run `make test` (it builds the tiny ModernBERT and Qwen3 models)")
            throw CancellationError()
        }
        return p
    }

    private func values(_ t: Tensor) -> [Float] {
        var out = [Float](repeating: 0, count: t.count)
        out.withUnsafeMutableBufferPointer { t.convertToFloat32(into: $0.baseAddress!) }
        return out
    }

    /// Which tensors differ between two models, by name.
    private func changed(_ a: Model, _ b: Model) -> [String] {
        let before = Dictionary(uniqueKeysWithValues: a.tensors.map { ($0.name, $0) })
        return b.tensors.filter { values($0) != values(before[$0.name]!) }.map(\.name).sorted()
    }

    func testModernBertScalesOnlyTheQueryRowsOfWqkvInTheChosenLayers() throws {
        let model = try ModelLoader.open(try tiny("tiny-modernbert-bias"))
        let all = try Patcher.patch(model, tau: 0.5).model
        XCTAssertEqual(changed(model, all), (0..<5).flatMap { ["layers.\($0).attn.Wqkv.bias", "layers.\($0).attn.Wqkv.weight"] }.sorted())
        let w0 = values(model.tensors.first { $0.name == "layers.0.attn.Wqkv.weight" }!)
        let p0 = values(all.tensors.first { $0.name == "layers.0.attn.Wqkv.weight" }!)
        let h = 32
        XCTAssertEqual(Array(p0[0..<(h * h)]), w0[0..<(h * h)].map { $0 * 2 }, "q rows × 1/τ")
        XCTAssertEqual(Array(p0[(h * h)...]), Array(w0[(h * h)...]), "k and v rows untouched")
        let sub = try Patcher.patch(model, tau: 0.5, layers: LayerSelection(indices: [1, 3])).model
        XCTAssertEqual(changed(model, sub), ["layers.1.attn.Wqkv.bias", "layers.1.attn.Wqkv.weight", "layers.3.attn.Wqkv.bias", "layers.3.attn.Wqkv.weight"])
        // A subset is a different model from both ends.
        let texts = ["a long enough sentence to cross the local attention window of this tiny model, twice over and then some more"]
        let e = try [model, sub, all].map { try TextEmbedder(model: $0).embed(texts).embeddings[0] }
        XCTAssertLessThan(Verifier.cosine(e[0], e[1]), 0.9999)
        XCTAssertLessThan(Verifier.cosine(e[1], e[2]), 0.9999)
    }

    /// q_norm undoes a scale on q_proj: scaling q_proj × 2 leaves the embeddings as they were (so it is not the rule),
    /// while q_norm.weight × 2 is run-time τ = 0.5.
    func testQwen3BakesIntoQNormBecauseQNormUndoesAScaleOnQProj() throws {
        let model = try ModelLoader.open(try tiny("tiny-qwen3"))
        let rule = try model.architecture.bakeRule(tau: 0.5, layers: .all)
        XCTAssertEqual(rule.scales.map(\.tensor), (0..<3).map { "layers.\($0).self_attn.q_norm.weight" })
        XCTAssertTrue(rule.explanation.contains("q_norm") && rule.explanation.contains("undo"), rule.explanation)
        var qProj = model
        qProj.tensors = try model.tensors.map { $0.name.hasSuffix("q_proj.weight") ? try Patcher.scaled($0, by: 2) : $0 }
        let texts = ["Instruct: find the answer\nQuery: what is the length collapse of embeddings?", "short"]
        let plain = try TextEmbedder(model: model).embed(texts).embeddings
        let scaledQ = try TextEmbedder(model: qProj).embed(texts).embeddings
        let runTime = try TextEmbedder(model: model).embed(texts, temperature: 0.5).embeddings
        let baked = try TextEmbedder(model: try Patcher.patch(model, tau: 0.5).model).embed(texts).embeddings
        for i in texts.indices {
            XCTAssertGreaterThan(Verifier.cosine(plain[i], scaledQ[i]), 0.999999, "q_norm normalises the q_proj scale away")
            XCTAssertLessThan(Verifier.cosine(plain[0], runTime[0]), 0.9999, "τ = 0.5 moves the embedding")
            XCTAssertGreaterThan(Verifier.cosine(runTime[i], baked[i]), 0.999999)
        }
        let sub = try Patcher.patch(model, tau: 0.5, layers: LayerSelection(indices: [2])).model
        XCTAssertEqual(changed(model, sub), ["layers.2.self_attn.q_norm.weight"])
    }

    /// Qwen3ForCausalLM: `model.` names are read, lm_head is left out, and the HF export is a Qwen3Model folder.
    func testACausalLMCheckpointIsReadWithoutItsHead() throws {
        let src = try tiny("tiny-qwen3-lm")
        let raw = try SafeTensors.read(path: src + "/model.safetensors")
        XCTAssertTrue(raw.tensors.contains { $0.name == "lm_head.weight" }, "the fixture holds an untied head")
        XCTAssertTrue(raw.tensors.contains { $0.name == "model.embed_tokens.weight" })
        let model = try ModelLoader.open(src)
        XCTAssertFalse(model.tensors.contains { $0.name.hasPrefix("lm_head") || $0.name.hasPrefix("model.") })
        XCTAssertEqual(model.tensors.count, raw.tensors.count - 1)
        let dir = TempDir()
        _ = try HFExport.write(model, to: dir.file("out"), dtype: nil, force: false)
        let config = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("out/config.json")))))
        XCTAssertEqual(config["architectures"], .array([.string("Qwen3Model")]))
        XCTAssertFalse(try SafeTensors.read(path: dir.file("out/model.safetensors")).tensors.contains { $0.name.hasPrefix("lm_head") })
    }

    /// `inspect` says what the attention is beyond heads × head size.
    func testInspectDescribesTheAttention() throws {
        let q = try runCLI(["inspect", try tiny("tiny-qwen3")])
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertTrue(q.stdout.contains("causal; 2 key/value heads for 4 query heads (grouped-query); q_norm/k_norm per head; RoPE θ 1000000"), q.stdout)
        let m = try runCLI(["inspect", try tiny("tiny-modernbert"), "--json"])
        XCTAssertEqual(try JSON.parse(m.stdout)["attention"]?.stringValue,
                       "bidirectional; global layers 0, 3, the others local (±8 tokens); RoPE θ 160000 global, 10000 local")
    }

    /// Records every attention matrix of one forward pass.
    final class AttentionRecorder: ForwardProbe {
        var matrices: [(layer: Int, head: Int, n: Int, a: [Float])] = []
        func attention(layer: Int, head: Int, sequence: Int, probabilities: UnsafePointer<Float>, length: Int) {
            matrices.append((layer, head, length, Array(UnsafeBufferPointer(start: probabilities, count: length * length))))
        }
        func hiddenStates(layer: Int, _ x: UnsafePointer<Float>, shape: BatchShape, hidden: Int) {}
    }

    /// The lab's probes see what the models compute: Qwen3's attention is lower-triangular (causal), ModernBERT's
    /// local layers are zero outside |i − j| ≤ 8 and its global layers are not; every row sums to 1; and `spectrum`
    /// and `collapse` run on both (σ_a of a causal model is the same definition on its lower-triangular A).
    func testTheLabRunsOnCausalAndWindowedAttention() throws {
        let text = "Length collapse: embeddings of long texts crowd together, because self-attention is a low-pass filter that gets stronger as the sequence grows."
        for (name, check) in [("tiny-qwen3", { (l: Int, i: Int, j: Int) in j <= i }),
                              ("tiny-modernbert", { (l: Int, i: Int, j: Int) in l == 0 || l == 3 || abs(i - j) <= 8 })] {
            let model = try ModelLoader.open(try tiny(name))
            let embedder = try TextEmbedder(model: model)
            let ids = embedder.tokenizer.encode(text, maxLength: 48).ids
            XCTAssertGreaterThan(ids.count, 20, name)
            let rec = AttentionRecorder()
            _ = embedder.encoder.embed(probing: ids, temperature: 0.8, probe: rec)
            XCTAssertEqual(rec.matrices.count, model.architecture.dims.layers * model.architecture.dims.heads, name)
            var outside = 0, inside = 0
            for m in rec.matrices {
                for i in 0..<m.n {
                    var sum: Float = 0
                    for j in 0..<m.n {
                        let v = m.a[i * m.n + j]
                        sum += v
                        if check(m.layer, i, j) { if v > 0 { inside += 1 } } else { XCTAssertEqual(v, 0, "\(name) layer \(m.layer) (\(i), \(j))"); outside += 1 }
                    }
                    XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(name) row sums")
                }
            }
            XCTAssertGreaterThan(outside, 0, "\(name): the mask removes entries")
            XCTAssertGreaterThan(inside, outside / 4, name)
            let s = Spectrum.measure(embedder.encoder, ids: ids, temperature: 1, layers: nil)
            XCTAssertTrue(s.sigma.joined().allSatisfy { $0.isFinite && $0 > 0 }, "\(name): σ_a \(s.sigma)")
            let r = try runCLI(["collapse", try tiny(name), "--texts", Paths.package + "/golden/texts.jsonl", "--temperatures", "1,0.5"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("τ=0.5"), r.stdout)
        }
    }

    /// Each refusal names the file and the reason, exits non-zero and writes nothing.
    func testModelsThatCannotBeBakedExactlyAreRefusedByName() throws {
        let dir = TempDir()
        func folder(_ name: String, from base: String?, _ edit: (inout [String: Any]) -> Void) throws -> String {
            let p = dir.file(name)
            if let base { try FileManager.default.copyItem(atPath: base, toPath: p) } else {
                try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
            }
            var c: [String: Any] = [:]
            if let data = FileManager.default.contents(atPath: p + "/config.json") {
                c = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            }
            edit(&c)
            try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: p + "/config.json"))
            return p
        }
        let mb = try tiny("tiny-modernbert"), qw = try tiny("tiny-qwen3")
        let cases: [(String, String, [String])] = [
            (try folder("gemma2", from: nil) { $0 = ["model_type": "gemma2", "attn_logit_softcapping": 50.0, "hidden_size": 32] },
             "gemma2", ["attn_logit_softcapping", "tanh is not linear"]),
            (try folder("jina-bert-v2", from: Paths.fixture("models/tiny-bert")) { $0["position_embedding_type"] = "alibi" },
             "jina", ["ALiBi", "stored in no weight"]),
            (try folder("persimmon", from: nil) { $0 = ["model_type": "persimmon", "qk_layernorm": true] },
             "persimmon", ["LayerNorm whose bias", "unscaled"]),
            (try folder("llama", from: nil) { $0 = ["model_type": "llama"] }, "llama", ["unsupported architecture 'llama'", "modernbert", "qwen3"]),
            (try folder("qwen3-swa", from: qw) { $0["use_sliding_window"] = true }, "qwen3 sliding window", ["use_sliding_window", "full causal attention only"]),
            (try folder("qwen3-yarn", from: qw) { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0] },
             "qwen3 yarn", ["rope_type", "'yarn'"]),
            (try folder("modernbert-linear", from: mb) { c in
                c["rope_parameters"] = ["full_attention": ["rope_type": "linear", "rope_theta": 160000.0, "factor": 2.0],
                                        "sliding_attention": ["rope_type": "default", "rope_theta": 10000.0]]
            }, "modernbert linear rope", ["full_attention.rope_type", "'linear'"]),
        ]
        for (path, what, needles) in cases {
            let out = dir.file("out-" + URL(fileURLWithPath: path).lastPathComponent)
            let before = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            let r = try runCLI(["patch", path, "--temperature", "0.8", "-o", out])
            XCTAssertNotEqual(r.status, 0, what)
            let line = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertFalse(line.contains("\n"), "\(what): one line: \(line)")
            XCTAssertTrue(line.contains(path + "/config.json"), "\(what): names the file: \(line)")
            for n in needles { XCTAssertTrue(line.contains(n), "\(what): '\(n)' in: \(line)") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(what): nothing written")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path).sorted(), before, "\(what): input untouched")
        }
    }
}

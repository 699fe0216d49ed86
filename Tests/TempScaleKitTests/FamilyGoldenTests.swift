import Foundation
import XCTest
@testable import TempScaleKit

/// Every family the built-in encoder runs, against goldens the reference stack writes at test time
/// (golden/tiny_families.py: tiny random RoBERTa, XLM-R, T5, sentence-T5, mT5, UMT5 and relative-position BERT with
/// the real tokenizers' vocabularies; golden/st_modules.py: tiny-bert with every pooling mode, prompts, Dense).
/// `make test` builds them into .cache (tiny-bert-rk/-rkq with transformers 4.57 in .venv-tf4).
final class FamilyGoldenTests: XCTestCase {
    /// golden key → model folder.
    static let families: [(golden: String, model: String)] = [
        ("tiny-roberta-bpe", "tiny/tiny-roberta-bpe"), ("tiny-xlmr", "tiny/tiny-xlmr"), ("tiny-t5", "tiny/tiny-t5"),
        ("tiny-st5", "tiny/tiny-st5"), ("tiny-mt5-gated", "tiny/tiny-mt5-gated"), ("tiny-umt5", "tiny/tiny-umt5"),
        ("tiny-bert-rk", "tiny/tiny-bert-rk"), ("tiny-bert-rkq", "tiny/tiny-bert-rkq"),
    ]
    /// ModernBERT and Qwen3 (golden/tiny_modern.py): goldens at τ 1, 0.8, 0.5, 0.2 — these models move by > 0.1
    /// at τ 0.8 already, and at τ 0.1 the reference's own two exact forms differ by more than the bound.
    static let modern: [(golden: String, model: String)] = [
        ("tiny-modernbert", "tiny/tiny-modernbert"), ("tiny-modernbert-bias", "tiny/tiny-modernbert-bias"),
        ("tiny-qwen3", "tiny/tiny-qwen3"), ("tiny-qwen3-query", "tiny/tiny-qwen3"), ("tiny-qwen3-lm", "tiny/tiny-qwen3-lm"),
    ]
    static let modules: [(golden: String, model: String)] = [
        "pool-cls", "pool-max", "pool-mean", "pool-mean_sqrt_len_tokens", "pool-weightedmean", "pool-lasttoken", "pool-multi",
        "dense",
    ].map { ("tiny-bert-\($0)", "st-variants/tiny-bert-\($0)") } + [
        ("tiny-bert-prompts", "st-variants/tiny-bert-prompts"), ("tiny-bert-prompts-passage", "st-variants/tiny-bert-prompts"),
        ("tiny-bert-prompts-none", "st-variants/tiny-bert-prompts"),
        ("tiny-bert-noprompt-pool", "st-variants/tiny-bert-noprompt-pool"),
        ("tiny-bert-noprompt-pool-passage", "st-variants/tiny-bert-noprompt-pool"),
        ("tiny-bert-noprompt-pool-none", "st-variants/tiny-bert-noprompt-pool"),
    ]

    private func inputs(_ golden: String, _ model: String) throws -> (Model, GoldenFile) {
        let g = Paths.cache + "/golden/\(golden).json.gz", m = Paths.cache + "/" + model
        for p in [g, m + "/config.json"] where !FileManager.default.fileExists(atPath: p) {
            XCTFail("\(p) is missing; run `make test` (it builds the tiny families and their goldens)")
            throw CancellationError()
        }
        return (try ModelLoader.open(m), try GoldenFile.read(path: g))
    }

    /// Our tokenizer and encoder against the reference at every golden τ; `bounds` per storage.
    @discardableResult
    private func verify(_ model: Model, _ g: GoldenFile, atol: Float, minCosine: Float, temperatures: [String]? = nil,
                        precision: Precision? = .f32, _ what: String) throws -> Verification {
        let embedder = try TextEmbedder(model: model, maxLength: g.maxSeqLength,
                                        options: .init(batchSize: 16, threads: 2, precision: precision))
        let v = Verifier.run(encoder: embedder.encoder, golden: g, temperatures: temperatures, atol: max(atol, 5e-5), minCosine: minCosine,
                             padId: embedder.tokenizer.padId, promptLength: embedder.promptLength(g.prompt),
                             tokenize: { embedder.tokenizer.encode($0, maxLength: g.maxSeqLength).ids })
        XCTAssertEqual(v.tokenMismatches.count, 0, "\(what): token ids")
        for r in v.temperatures {
            // τ = 0.02 multiplies every score by 50, and f32 rounding with it: tiny-umt5 reaches 3.1e-5 there (the
            // f32 reference is 3e-6 from float64 on the same texts; the gap is not explained yet — see the issue notes).
            let bound = r.tau == "0.02" ? max(atol, 5e-5) : atol
            XCTAssertTrue(r.passes(atol: bound, minCosine: minCosine),
                          "\(what) τ=\(r.tau): worst cosine \(r.worstCosine), max abs \(r.maxAbsDiff)")
        }
        return v
    }

    /// The golden itself shows that τ moves the output (so an encoder ignoring τ cannot pass).
    private func assertTemperatureMatters(_ g: GoldenFile, _ what: String) {
        guard let low = g.temperatures.last, low != "1.0" else { return XCTFail("\(what): golden has one τ") }
        let moved = g.texts.map { t in zip(t.embeddings["1.0"]!, t.embeddings[low]!).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        XCTAssertGreaterThan(moved, 5e-4, "\(what): τ = \(low) must change the reference embeddings (25× the f32 bound)")
    }

    func testEveryFamilyMatchesTheReferenceAtEveryTemperature() throws {
        for (key, folder) in Self.families {
            let (model, g) = try inputs(key, folder)
            assertTemperatureMatters(g, key)
            XCTAssertEqual(g.temperatures, ["1.0", "0.8", "0.5", "0.1", "0.02"], key)
            try verify(model, g, atol: 2e-5, minCosine: 0.99999, key)
        }
    }

    /// RoPE encoders (global and local layers, sequences past the window) and a GQA causal decoder with last-token
    /// pooling and the instruction prompt, at every golden τ.
    func testModernBertAndQwen3MatchTheReferenceAtEveryTemperature() throws {
        for (key, folder) in Self.modern {
            let (model, g) = try inputs(key, folder)
            assertTemperatureMatters(g, key)
            XCTAssertEqual(g.temperatures, ["1.0", "0.8", "0.5", "0.2"], key)
            XCTAssertTrue(g.texts.contains { $0.ids.count > 17 }, "\(key): texts longer than the local window")
            try verify(model, g, atol: 2e-5, minCosine: 0.99999, key)
        }
        let (_, query) = try inputs("tiny-qwen3-query", "tiny/tiny-qwen3")
        XCTAssertTrue(query.prompt.hasPrefix("Instruct: ") && query.prompt.hasSuffix("\nQuery:"), query.prompt)
    }

    /// Baked τ (ModernBERT: Wqkv's query rows; Qwen3: q_norm) equals run-time τ on the original.
    func testModernBakedTemperatureEqualsRunTimeTemperature() throws {
        for (key, folder) in Self.modern {
            let (model, g) = try inputs(key, folder)
            for tau in [0.5, 0.2] {
                let patched = try Patcher.patch(model, tau: tau).model
                try verify(patched, g, atol: 2e-5, minCosine: 0.99999, temperatures: [GoldenFile.tauKey(tau)], "\(key) baked τ=\(tau)")
            }
        }
    }

    func testEverySentenceTransformersModuleMatchesTheReference() throws {
        for (key, folder) in Self.modules {
            let (model, g) = try inputs(key, folder)
            assertTemperatureMatters(g, key)
            try verify(model, g, atol: 2e-5, minCosine: 0.99999, key)
        }
    }

    /// τ baked into the weights (patch) equals run-time τ on the original, for every family's bake rule.
    func testBakedTemperatureEqualsRunTimeTemperature() throws {
        for (key, folder) in Self.families {
            let (model, g) = try inputs(key, folder)
            for tau in [0.5, 0.1] {
                let patched = try Patcher.patch(model, tau: tau).model
                // The verifier runs a patched model at τ_golden / τ_baked: 1 for the golden of the baked τ.
                try verify(patched, g, atol: 2e-5, minCosine: 0.99999, temperatures: [GoldenFile.tauKey(tau)], "\(key) baked τ=\(tau)")
            }
        }
    }

    /// Every family's forward pass with its linear layers packed for oneDNN (fused Wqkv/Wi split, gated FFNs, Dense
    /// modules, GQA): bf16 and int8 arithmetic on the f32 weights at τ 1 and 0.5. The bounds are wide for int8 — these
    /// random weights give far sharper attention than trained models (MiniLM's real bounds: PrecisionTests).
    func testEveryFamilyAtBF16AndInt8Arithmetic() throws {
        for (key, folder) in Self.families + Self.modern + [("tiny-bert-dense", "st-variants/tiny-bert-dense")] {
            let (model, g) = try inputs(key, folder)
            let oneToken = model.sentenceTransformers.poolingModes == [.lastToken]
            for (p, cos) in [(Precision.bf16, Float(oneToken ? 0.999 : 0.9995)), (.int8, Float(oneToken ? 0.97 : 0.99))] {
                guard p.isSupported else { continue }
                let v = try verify(model, g, atol: 1, minCosine: cos, temperatures: ["1.0", "0.5"], precision: p, "\(key) \(p)")
                print("family \(key) \(p): " + v.temperatures.map { "τ \($0.tau) worst cosine \($0.worstCosine)" }.joined(separator: ", "))
                XCTAssertTrue(v.temperatures.allSatisfy { $0.worstCosine < 0.9999999 }, "\(key) \(p): exact — not packed?")
            }
        }
    }

    /// f16 and q8 storage through the native file, within their bounds, Dense modules included; the arithmetic is
    /// f32 here (storage alone: the default for q8 files, int8, is checked above and in PrecisionTests).
    func testHalfAndEightBitStorage() throws {
        let dir = TempDir()
        for (key, folder) in Self.families + Self.modern + [("tiny-bert-dense", "st-variants/tiny-bert-dense")] {
            let (model, g) = try inputs(key, folder)
            // Last-token pooling (Qwen3) embeds one token's state: no mean over the tokens averages the storage
            // rounding out, so its bounds are wider (measured 2026-12-03: f16 max abs 2.4e-3, q8 cosine 0.9936).
            let oneToken = model.sentenceTransformers.poolingModes == [.lastToken]
            let bounds: [(DType, Float, Float)] = oneToken ? [(.f16, 4e-3, 0.9999), (.q8, 0.08, 0.99)] : [(.f16, 2e-3, 0.9999), (.q8, 0.05, 0.995)]
            for (dtype, atol, cos) in bounds {
                let path = dir.file("\(key)-\(dtype.name).tsm")
                _ = try NativeFormat.write(model, to: path, options: .init(dtype: dtype, force: true))
                let stored = try ModelLoader.open(path)
                XCTAssertEqual(stored.sentenceTransformers, model.sentenceTransformers, "\(key) \(dtype.name): modules survive")
                // These random weights (std 1/√fan-in, embeddings std 1) give far sharper attention than trained
                // models, and τ = 0.1 amplifies storage rounding past the bounds; τ 1 and 0.5 are checked here.
                try verify(stored, g, atol: atol, minCosine: cos, temperatures: ["1.0", "0.5"], "\(key) \(dtype.name)")
            }
        }
    }

    /// An HF export of a patched model keeps its modules (Dense weights in their folder) and its numbers.
    func testHFExportCarriesDenseModulesAndPrompts() throws {
        let dir = TempDir()
        for (key, folder) in [("tiny-xlmr", "tiny/tiny-xlmr"), ("tiny-bert-dense", "st-variants/tiny-bert-dense"),
                              ("tiny-bert-noprompt-pool", "st-variants/tiny-bert-noprompt-pool")] {
            let (model, g) = try inputs(key, folder)
            let out = dir.file(key)
            _ = try HFExport.write(try Patcher.patch(model, tau: 0.5).model, to: out, dtype: nil, force: false)
            for d in model.sentenceTransformers.denseModules {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + d.path + "/model.safetensors"), "\(key): \(d.path) weights")
            }
            let back = try ModelLoader.open(out)
            XCTAssertEqual(back.sentenceTransformers, model.sentenceTransformers, key)
            try verify(back, g, atol: 2e-5, minCosine: 0.99999, temperatures: ["0.5"], "\(key) hf export")
        }
    }

    /// `embed` applies the default prompt as sentence-transformers' encode does; an unknown prompt name is refused.
    func testPromptsAreAppliedAsSentenceTransformersDoes() throws {
        let (model, g) = try inputs("tiny-bert-prompts", "st-variants/tiny-bert-prompts")
        let embedder = try TextEmbedder(model: model, maxLength: g.maxSeqLength)
        XCTAssertEqual(g.prompt, "query: ")
        XCTAssertEqual(try embedder.promptText(named: nil), "query: ", "default_prompt_name")
        XCTAssertEqual(try embedder.promptText(named: "passage"), "passage: ")
        XCTAssertEqual(embedder.promptLength("query: "), 6, "sentence-transformers' prompt_length: [CLS] + prompt tokens")
        XCTAssertThrowsError(try embedder.promptText(named: "document")) { e in
            XCTAssertEqual("\(e)", "no prompt named 'document' (config_sentence_transformers.json has query, passage)")
        }
        let texts = g.texts.prefix(8).map(\.text)
        let got = try embedder.embed(texts).embeddings
        for (i, t) in g.texts.prefix(8).enumerated() {
            XCTAssertEqual(got[i].count, g.dimension)
            XCTAssertGreaterThan(Verifier.cosine(got[i], t.embeddings["1.0"]!), 0.99999, t.id)
        }
        let none = try embedder.embed(texts, prompt: "").embeddings
        XCTAssertLessThan(Verifier.cosine(none[0], got[0]), 0.9999, "the prompt changes the embedding")
    }

    /// Modules, activations and settings the encoder does not run are refused by name before any work.
    func testUnrunnableModulesAreRefusedByName() throws {
        let dir = TempDir()
        let src = Paths.cache + "/st-variants/tiny-bert-dense"
        guard FileManager.default.fileExists(atPath: src) else { return XCTFail("\(src) is missing; run `make test`") }
        func variant(_ name: String, edit: (String) throws -> Void) throws -> String {
            let p = dir.file(name)
            try FileManager.default.copyItem(atPath: src, toPath: p)
            try edit(p)
            return p
        }
        func rewrite(_ file: String, _ old: String, _ new: String) throws {
            let s = try String(contentsOfFile: file, encoding: .utf8)
            XCTAssertTrue(s.contains(old), "\(file) has \(old)")
            try s.replacingOccurrences(of: old, with: new).write(toFile: file, atomically: true, encoding: .utf8)
        }
        let swish = try variant("swish") { try rewrite($0 + "/2_Dense/config.json", "torch.nn.modules.activation.Tanh", "mypkg.Swish") }
        XCTAssertThrowsError(try TextEmbedder(model: try ModelLoader.open(swish))) { e in
            XCTAssertTrue("\(e)".contains("2_Dense/config.json") && "\(e)".contains("mypkg.Swish"), "\(e)")
        }
        let layerNorm = try variant("layernorm") { try rewrite($0 + "/modules.json", "sentence_transformers.models.Dense", "sentence_transformers.models.LayerNorm") }
        let m = try ModelLoader.open(layerNorm)
        XCTAssertThrowsError(try TextEmbedder(model: m)) { e in XCTAssertTrue("\(e)".contains("LayerNorm") && "\(e)".contains("modules.json"), "\(e)") }
        XCTAssertThrowsError(try ModelWriter.write(m, format: .native, to: dir.file("x.tsm"), dtype: nil, force: false)) { e in
            XCTAssertTrue("\(e)".contains("LayerNorm"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("x.tsm")), "no partial output")
        let token = try variant("token-input") {
            try rewrite($0 + "/3_Dense/config.json", "\"module_input_name\": \"sentence_embedding\"", "\"module_input_name\": \"token_embeddings\"")
        }
        XCTAssertThrowsError(try ModelLoader.open(token)) { e in XCTAssertTrue("\(e)".contains("token_embeddings"), "\(e)") }
        let noWeights = try variant("no-weights") { try FileManager.default.removeItem(atPath: $0 + "/2_Dense/model.safetensors") }
        XCTAssertThrowsError(try ModelLoader.open(noWeights)) { e in XCTAssertTrue("\(e)".contains("2_Dense"), "\(e)") }
        // llama.cpp cannot run a Dense module: GGUF refuses instead of writing a model without it.
        assertReason(GGUF.Error.unsupportedModule("the Dense module in 2_Dense (32 → 16)")) {
            _ = try GGUF.write(try ModelLoader.open(src), to: dir.file("d.gguf"), dtype: .f32, force: false)
        }
    }
}

import Foundation
import XCTest
@testable import TempScaleKit

/// GGUF for the families beyond WordPiece BERT, run in llama.cpp (llama-cpp-python) against the reference goldens:
/// RoBERTa (byte-level BPE, llama.cpp `bert` + "gpt2" vocabulary), multilingual-e5-small (BERT with XLM-R's
/// Unigram, `bert` + "t5" UGM vocabulary), T5 and mT5 encoders (`t5encoder`). Each at τ = 1 and with τ baked by
/// `patch`; the goldens' own τ shift is checked first, so that a τ lost on the way would fail.
extension GGUFTests {
    static let goldens = Paths.cache + "/golden"
    static let tiny = Paths.cache + "/tiny"

    /// The model (patched at `tau` unless 1) written as GGUF and embedded by llama.cpp; returns check_gguf's report.
    @discardableResult
    func assertInLlamaCpp(_ folder: String, golden: String, tau: Double, minCosine: Double, maxIds: Int? = nil,
                          expectedPooling: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        for p in [folder + "/config.json", golden] where !FileManager.default.fileExists(atPath: p) {
            XCTFail("\(p) is missing; run `make test` (it builds the tiny families and the goldens)", file: file, line: line)
            throw CancellationError()
        }
        var model = try ModelLoader.open(folder)
        if tau != 1 { model = try Patcher.patch(model, tau: tau).model }
        let dir = TempDir()
        let (path, _) = try write(model, .f32, in: dir)
        let (status, r) = try check(["llama", path, golden, "--tau", "\(tau)", "--min-cosine", "\(minCosine)"]
                                    + (maxIds.map { ["--max-ids", "\($0)"] } ?? []))
        let name = basename(folder)
        print("GGUF \(name) (τ = \(tau) baked) in llama.cpp vs golden: compared \(r["compared"]?.intValue ?? -1) of \(r["texts"]?.intValue ?? -1), "
              + "\(r["long"]?.intValue ?? 0) left out as long, set aside \(r["set_aside"]?.intValue ?? -1) \(r["set_aside_ids"]?.serialized() ?? ""), "
              + "worst cosine \(r["worst_cosine"]?.doubleValue ?? 0) (\(r["worst_id"]?.stringValue ?? "?")), mean \(r["mean_cosine"]?.doubleValue ?? 0)")
        XCTAssertEqual(status, 0, r.serialized(), file: file, line: line)
        XCTAssertEqual(r["pooling_type"]?.intValue, expectedPooling, "pooling read from the file", file: file, line: line)
        XCTAssertGreaterThanOrEqual(r["worst_cosine"]?.doubleValue ?? 0, minCosine, file: file, line: line)
        let texts = r["texts"]?.intValue ?? 0, considered = texts - (r["long"]?.intValue ?? 0)
        XCTAssertGreaterThan(texts, 100, file: file, line: line)
        // Texts llama.cpp tokenizes differently are set aside (see testLlamaCppTokenizesAsTheModelDoes): here the
        // golden's literal special tokens (not parsed by llama-cpp-python) and, for UGM, whitespace-only texts.
        XCTAssertLessThanOrEqual(r["set_aside"]?.intValue ?? texts, 4, file: file, line: line)
        XCTAssertGreaterThan(r["compared"]?.intValue ?? 0, considered * 9 / 10, file: file, line: line)
        return r
    }

    /// The worst cosine between the golden's τ = 1 and τ embeddings: a llama.cpp result that ignored τ would score this.
    func goldenShift(_ golden: String, tau: Double) throws -> Double {
        let g = try GoldenFile.read(path: golden)
        let key = GoldenFile.tauKey(tau), one = GoldenFile.tauKey(1)
        XCTAssertNotNil(g.texts.first?.embeddings[key], "golden has τ = \(key)")
        return g.texts.compactMap { t -> Double? in
            guard let a = t.embeddings[one], let b = t.embeddings[key] else { return nil }
            return Double(Verifier.cosine(a, b))
        }.min() ?? 1
    }

    func assertFamily(_ name: String, golden: String? = nil, minCosine: Double, tau: Double = 0.5, maxIds: Int? = nil,
                      pooling: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = name.hasPrefix("/") ? name : Self.tiny + "/" + name
        let goldenPath = golden ?? Self.goldens + "/\(basename(folder)).json.gz"
        try assertInLlamaCpp(folder, golden: goldenPath, tau: 1, minCosine: minCosine, maxIds: maxIds, expectedPooling: pooling, file: file, line: line)
        let shift = try goldenShift(goldenPath, tau: tau)
        print("  golden τ = 1 vs τ = \(tau): worst cosine \(shift)")
        XCTAssertLessThan(shift, minCosine, "τ = \(tau) must move the reference more than the tolerance", file: file, line: line)
        try assertInLlamaCpp(folder, golden: goldenPath, tau: tau, minCosine: minCosine, maxIds: maxIds, expectedPooling: pooling, file: file, line: line)
    }

    // MARK: embeddings

    func testRobertaWithByteLevelBPEInLlamaCpp() throws {
        try assertFamily("tiny-roberta-bpe", minCosine: 0.99999)
    }

    func testT5EncoderReluInLlamaCpp() throws {
        try assertFamily("tiny-t5", minCosine: 0.99999)
    }

    func testMT5GatedGeluInLlamaCpp() throws {
        try assertFamily("tiny-mt5-gated", minCosine: 0.99999)
    }

    /// llama.cpp `modern-bert`: global and local layers (sliding_window, its pattern, two RoPE bases), GeGLU.
    func testModernBertInLlamaCpp() throws {
        try assertFamily("tiny-modernbert", minCosine: 0.99999)
    }

    /// llama.cpp `qwen3`: causal GQA with q/k norms, last-token pooling, Qwen2's BPE ("qwen2" pre-tokenizer); the
    /// causal-LM checkpoint (head left out) too.
    func testQwen3InLlamaCpp() throws {
        try assertFamily("tiny-qwen3", minCosine: 0.99999, pooling: 3)
        try assertFamily("tiny-qwen3-lm", minCosine: 0.99999, pooling: 3)
    }

    /// A real trained model: BERT with XLM-R's SentencePiece vocabulary (llama.cpp's UGM tokenizer).
    func testMultilingualE5InLlamaCpp() throws {
        try assertFamily(MultilingualE5Tests.model, golden: MultilingualE5Tests.golden, minCosine: 0.99999, tau: 0.5, maxIds: 256)
    }

    // MARK: tokenizers

    /// llama.cpp's BPE and UGM tokenizers, steered by the keys we write, against ours (= HF, RealTokenizerTests) on
    /// the 17,591-text multilingual corpus. Two differences are llama.cpp's own rules, and each is checked as a rule:
    /// the text of a special token is not parsed as that token (llama-cpp-python tokenizes with special = false), and
    /// UGM drops whitespace at the end of the normalized text where HF keeps one ▁ piece — so there llama.cpp's ids
    /// must be ours without that ▁. Anything else must stay below 0.1 % of the real texts (Debian, man pages, CLDR,
    /// iso-codes in many languages) and 3 % of the synthetic edge cases (random code points, combining-mark stacks:
    /// HF's charsmap works on grapheme clusters, llama.cpp's on code-point prefixes).
    func testLlamaCppTokenizesAsTheModelDoes() throws {
        let corpus = Paths.cache + "/tokenizers/corpus.jsonl.gz"
        guard FileManager.default.fileExists(atPath: corpus) else { return XCTFail("\(corpus) is missing; run `make test`") }
        let rows = try gunzipFile(corpus).split(separator: UInt8(ascii: "\n")).map { try JSON.parse(Array($0)) }
        let texts = rows.map { $0["text"]!.stringValue! }
        let synthetic = rows.map { $0["source"]?.stringValue?.hasPrefix("synthetic") ?? false }
        let syntheticCount = synthetic.filter { $0 }.count
        XCTAssertGreaterThan(syntheticCount, 1000)
        XCTAssertGreaterThanOrEqual(texts.count, 10_000)
        var summary: [String] = []
        for (name, folder) in [("roberta", Self.tiny + "/tiny-roberta-bpe"), ("qwen2", Self.tiny + "/tiny-qwen3"), ("t5", Self.tiny + "/tiny-t5"),
                               ("umt5", Self.tiny + "/tiny-mt5-gated"), ("xlm-r", MultilingualE5Tests.model)] {
            let model = try ModelLoader.open(folder)
            let tok = try Tokenizer.load(from: model)
            let specials = tok.addedTokens.filter(\.special).map(\.content)
            let space = tok.id(for: "\u{2581}")
            let dir = TempDir()
            let (path, _) = try write(model, .f16, in: dir)
            let (status, r) = try check(["tokenize", path, corpus])
            XCTAssertEqual(status, 0)
            let llama = try XCTUnwrap(r["ids"]?.arrayValue)
            XCTAssertEqual(llama.count, texts.count)
            var same = 0, specialText = 0, trailing = 0, notNFC = 0, other: [Int] = []
            for (i, t) in texts.enumerated() where i < llama.count {
                let ours = tok.encode(t, maxLength: nil).ids, theirs = llama[i].arrayValue!.map { Int32($0.intValue!) }
                if ours == theirs { same += 1; continue }
                if specials.contains(where: { t.contains($0) }) { specialText += 1; continue }
                // Qwen2's tokenizer.json normalises to NFC first; llama.cpp's qwen2 pre-tokenizer does not (every real
                // text that differs was measured to be one that NFC changes).
                if name == "qwen2", Array(t.unicodeScalars) != Array(t.precomposedStringWithCanonicalMapping.unicodeScalars) {
                    notNFC += 1
                    continue
                }
                // UGM: ours end "… ▁ </s>"; llama.cpp's "… </s>".
                if let space, ours.count >= 2, ours[ours.count - 2] == space, Array(ours[..<(ours.count - 2)]) + [ours.last!] == theirs {
                    trailing += 1
                    continue
                }
                other.append(i)
            }
            let otherReal = other.filter { !synthetic[$0] }
            summary.append("\(name): \(same) identical, \(specialText) with special-token text, \(trailing) by the trailing-▁ rule, \(notNFC) not in NFC, "
                           + "\(other.count - otherReal.count) synthetic and \(otherReal.count) real otherwise")
            for i in otherReal.prefix(3) { print("  \(name) differs on real text \(i): \(show(texts[i]))") }
            XCTAssertGreaterThan(same, texts.count * 9 / 10, name)
            XCTAssertLessThanOrEqual(otherReal.count, (texts.count - syntheticCount) / 1000, "\(name): \(otherReal.count) real texts differ otherwise")
            XCTAssertLessThanOrEqual(other.count - otherReal.count, syntheticCount * 3 / 100, "\(name): synthetic texts")
            if name == "roberta" { XCTAssertEqual(trailing, 0, "byte-level BPE keeps trailing whitespace as HF does") }
        }
        print("llama.cpp tokenizers vs ours on the multilingual corpus (\(texts.count) texts): " + summary.joined(separator: "; "))
    }

    // MARK: refusals

    /// llama.cpp's modern-bert graph has no bias tensors: a ModernBERT with biases is refused, nothing written.
    func testModernBertWithBiasesIsRefused() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Self.tiny + "/tiny-modernbert-bias")
        assertReason(GGUF.Error.unsupportedLayout("its modern-bert graph has no bias tensors; config.json sets norm_bias, attention_bias, mlp_bias")) {
            _ = try GGUF.write(model, to: dir.file("m.gguf"), dtype: .f32, force: false)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("m.gguf")))
    }

    func testWhatLlamaCppCannotRunIsRefusedByName() throws {
        let dir = TempDir()
        func refused(_ folder: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try GGUF.write(try ModelLoader.open(folder), to: dir.file("x.gguf"), dtype: .f32, force: false), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e)", file: file, line: line)
                XCTAssertEqual("\(e)".split(separator: "\n").count, 1, file: file, line: line)
            }
            XCTAssertEqual(dir.listing, [], file: file, line: line)
        }
        refused(Self.tiny + "/tiny-umt5", "relative_attention_max_distance at 128; config.json has 24")
        refused(Self.tiny + "/tiny-st5", "the Dense module in 2_Dense")
        refused(Self.tiny + "/tiny-xlmr", "the Dense module in 2_Dense")
        refused(Self.tiny + "/tiny-bert-rk", "position_embedding_type is 'relative_key'")

        // Tokenizer pipelines llama.cpp's tokenizers would run differently.
        let work = TempDir()
        func variant(_ source: String, _ name: String, _ edit: (inout String) -> Void) throws -> String {
            let folder = work.file(name)
            try FileManager.default.copyItem(atPath: source, toPath: folder)
            var s = try String(contentsOfFile: folder + "/tokenizer.json", encoding: .utf8)
            let before = s
            edit(&s)
            XCTAssertNotEqual(s, before, "\(name): the edit changed nothing")
            try s.write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
            return folder
        }
        let prefixSpace = try variant(Self.tiny + "/tiny-roberta-bpe", "bpe-prefix") {
            $0 = $0.replacingOccurrences(of: #""add_prefix_space":false"#, with: #""add_prefix_space":true"#)
                .replacingOccurrences(of: #""add_prefix_space": false"#, with: #""add_prefix_space": true"#)
        }
        refused(prefixSpace, "never adds a prefix space")
        let byteFallback = try variant(Self.tiny + "/tiny-t5", "ugm-bytes") {
            $0 = $0.replacingOccurrences(of: #""type": "Unigram","#, with: #""type": "Unigram", "byte_fallback": true,"#)
        }
        refused(byteFallback, "no byte fallback")
    }
}

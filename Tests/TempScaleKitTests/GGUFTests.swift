import Foundation
import XCTest
@testable import TempScaleKit

/// GGUF export, checked by llama.cpp's own tools (scripts/check_gguf.py in the package's .venv:
/// `gguf` for the file structure, `llama-cpp-python` for the embeddings; see scripts/gguf-requirements.txt).
final class GGUFTests: XCTestCase {
    static let python = Paths.package + "/.venv/bin/python"
    static let script = Paths.package + "/scripts/check_gguf.py"
    static let minilmGolden = Paths.package + "/golden/minilm.json.gz"

    /// Runs check_gguf.py and returns its JSON report and exit status.
    func check(_ args: [String]) throws -> (status: Int32, report: JSONValue) {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw NSError(domain: "tempscale", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "\(Self.python) is missing; make venv, then .venv/bin/pip install -r scripts/gguf-requirements.txt"])
        }
        let r = runTool(Self.python, [Self.script] + args)
        guard let report = try? JSON.parse(Array(r.stdout.utf8)) else {
            throw NSError(domain: "tempscale", code: 2, userInfo: [NSLocalizedDescriptionKey:
                "check_gguf.py \(args.first ?? "") printed no JSON (status \(r.status)): \(r.stderr.suffix(2000))"])
        }
        return (r.status, report)
    }

    func write(_ model: Model, _ dtype: DType, in dir: TempDir, name: String = "m.gguf") throws -> (String, GGUF.WriteReport) {
        let path = dir.file(name)
        return (path, try GGUF.write(model, to: path, dtype: dtype, force: false))
    }

    /// The model's tensor values as f32 after rounding to `dtype`, digested like check_gguf.py does.
    func digest(_ t: Tensor, storedAs dtype: DType) throws -> String {
        try NativeFormat.withConverted(t, to: dtype) { bytes in
            let stored = Tensor(name: t.name, dtype: dtype, shape: t.shape, bytes: bytes, owner: t.owner)
            return stored.toFloat32().withUnsafeBytes { SHA256.hex($0) }
        }
    }

    // MARK: (a) the file, as gguf-py reads it

    func assertStructure(_ model: Model, _ dtype: DType, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = TempDir()
        let (path, report) = try write(model, dtype, in: dir)
        let (status, r) = try check(["read", path])
        XCTAssertEqual(status, 0, file: file, line: line)
        let bert = try XCTUnwrap(model.architecture as? BertFamily)
        let keys = try XCTUnwrap(r["keys"]?.objectValue)
        XCTAssertEqual(Set(keys.keys), Set(report.keys), "keys gguf-py reads = keys written", file: file, line: line)
        func value(_ k: String) -> JSONValue? { keys[k]?["value"] }
        func type(_ k: String) -> String? { keys[k]?["type"]?.stringValue }

        XCTAssertEqual(value("general.architecture")?.stringValue, "bert", file: file, line: line)
        XCTAssertEqual(value("general.name")?.stringValue, "all-MiniLM-L6-v2", file: file, line: line)
        XCTAssertEqual(value("general.alignment")?.intValue, 32, file: file, line: line)
        XCTAssertEqual(r["alignment"]?.intValue, 32, file: file, line: line)
        XCTAssertEqual(value("general.file_type")?.intValue, dtype == .f16 ? 1 : 0, file: file, line: line)
        let expectedInts: [(String, Int)] = [
            ("bert.context_length", 512), ("bert.embedding_length", 384), ("bert.block_count", 6),
            ("bert.feed_forward_length", 1536), ("bert.attention.head_count", 12), ("bert.pooling_type", 1),
            ("tokenizer.ggml.token_type_count", 2), ("tokenizer.ggml.bos_token_id", 101), ("tokenizer.ggml.cls_token_id", 101),
            ("tokenizer.ggml.eos_token_id", 102), ("tokenizer.ggml.seperator_token_id", 102),
            ("tokenizer.ggml.unknown_token_id", 100), ("tokenizer.ggml.padding_token_id", 0), ("tokenizer.ggml.mask_token_id", 103),
        ]
        for (k, v) in expectedInts {
            XCTAssertEqual(value(k)?.intValue, v, k, file: file, line: line)
            XCTAssertEqual(type(k), "uint32", k, file: file, line: line)
        }
        XCTAssertEqual(type("bert.attention.layer_norm_epsilon"), "float32", file: file, line: line)
        XCTAssertEqual(value("bert.attention.layer_norm_epsilon")?.doubleValue ?? 0, 1e-12, accuracy: 1e-18, file: file, line: line)
        XCTAssertEqual(value("bert.attention.causal"), .bool(false), file: file, line: line)
        XCTAssertEqual(value("tokenizer.ggml.model")?.stringValue, "bert", file: file, line: line)
        let tokens = try XCTUnwrap(keys["tokenizer.ggml.tokens"])
        XCTAssertEqual(tokens["length"]?.intValue, 30522, file: file, line: line)
        XCTAssertEqual(tokens["item_type"]?.stringValue, "string", file: file, line: line)
        // [PAD] is CONTROL (kept as is); [unused0] is an ordinary word-initial piece.
        XCTAssertEqual(tokens["first"]?.arrayValue?.prefix(2).compactMap(\.stringValue), ["[PAD]", "\u{2581}[unused0]"], file: file, line: line)
        let types = try XCTUnwrap(keys["tokenizer.ggml.token_type"])
        XCTAssertEqual(types["item_type"]?.stringValue, "int32", file: file, line: line)
        XCTAssertEqual(types["first"]?.arrayValue?.prefix(2).compactMap(\.intValue), [3, 1], file: file, line: line)
        XCTAssertEqual(value("tempscale.version")?.stringValue, TempScale.version, file: file, line: line)
        XCTAssertEqual(type("tempscale.temperature"), "float64", file: file, line: line)
        XCTAssertEqual(value("tempscale.temperature")?.doubleValue, 1.0, file: file, line: line)
        XCTAssertEqual(value("tempscale.history")?.stringValue.flatMap { try? JSON.parse($0) }, model.temperature.json, file: file, line: line)

        let tensors = try XCTUnwrap(r["tensors"]?.objectValue)
        XCTAssertEqual(Set(tensors.keys), Set(bert.tensors.gguf.compactMap(\.gguf)), file: file, line: line)
        XCTAssertEqual(report.skipped.sorted(), ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
            .filter { model.tensor($0) != nil }, file: file, line: line)
        for entry in bert.tensors.gguf {
            let gguf = entry.gguf!
            let t = try XCTUnwrap(model.tensor(entry.name)), g = try XCTUnwrap(tensors[gguf], gguf)
            let stored: DType = entry.ggufStorage == .fileDType ? dtype : .f32
            XCTAssertEqual(g["type"]?.stringValue, stored.rawValue, gguf, file: file, line: line)
            XCTAssertEqual(g["shape"]?.arrayValue?.compactMap(\.intValue), t.shape, gguf, file: file, line: line)
            XCTAssertEqual(g["ne"]?.arrayValue?.compactMap(\.intValue), t.shape.reversed(), "dims stored innermost first", file: file, line: line)
            XCTAssertEqual((g["offset"]?.intValue ?? 1) % 32, 0, "\(gguf) is 32-byte aligned", file: file, line: line)
            XCTAssertEqual(g["sha256_f32"]?.stringValue, try digest(t, storedAs: stored), "values of \(gguf)", file: file, line: line)
        }
        XCTAssertEqual(report.bytes, Int((try FileManager.default.attributesOfItem(atPath: path))[.size] as! UInt64), file: file, line: line)
        XCTAssertEqual(dir.listing, ["m.gguf"], "no temp file left", file: file, line: line)
    }

    func testMiniLMF32HasEveryKeyAndTensorGGUFReaderExpects() throws {
        try assertStructure(try ModelLoader.open(Paths.minilm), .f32)
    }

    func testMiniLMF16StoresMatricesF16AndKeepsVectorsAndPositionTablesF32() throws {
        try assertStructure(try ModelLoader.open(Paths.minilm), .f16)
    }

    func testRobertaDropsThePaddingPositionRows() throws {
        // tiny-roberta has no tokenizer; give it tiny-bert's WordPiece files (same vocabulary size).
        let dir = TempDir()
        let folder = dir.file("tiny-roberta-wp")
        try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-roberta"), toPath: folder)
        for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-bert/" + f), toPath: folder + "/" + f)
        }
        let model = try ModelLoader.open(folder)
        let bert = try XCTUnwrap(model.architecture as? BertFamily)
        XCTAssertEqual(bert.padTokenId, 1)
        let (path, _) = try write(model, .f32, in: dir)
        let (status, r) = try check(["read", path])
        XCTAssertEqual(status, 0)
        let positions = try XCTUnwrap(model.tensor("embeddings.position_embeddings.weight"))
        XCTAssertEqual(r["keys"]?["bert.context_length"]?["value"]?.intValue, positions.shape[0] - 2)
        let g = try XCTUnwrap(r["tensors"]?["position_embd.weight"])
        XCTAssertEqual(g["shape"]?.arrayValue?.compactMap(\.intValue), [positions.shape[0] - 2, positions.shape[1]])
        let kept = Array(positions.toFloat32().dropFirst(2 * positions.shape[1]))
        XCTAssertEqual(g["sha256_f32"]?.stringValue, kept.withUnsafeBytes { SHA256.hex($0) }, "rows pad+1… of the HF table")
    }

    // MARK: (b) llama.cpp's embeddings

    /// `maxIds` leaves out the longer golden texts (llama.cpp's portable CPU build takes ~1 s for 256 ids).
    func assertLlamaMatchesGolden(_ model: Model, _ dtype: DType = .f32, tau: Double, maxIds: Int? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = TempDir()
        let (path, _) = try write(model, dtype, in: dir)
        let (status, r) = try check(["llama", path, Self.minilmGolden, "--tau", "\(tau)", "--min-cosine", "0.9999"]
                                    + (maxIds.map { ["--max-ids", "\($0)"] } ?? []))
        let worst = r["worst_cosine"]?.doubleValue ?? 0
        print("GGUF \(dtype.name) in llama.cpp vs golden τ=\(tau): compared \(r["compared"]?.intValue ?? -1) of \(r["texts"]?.intValue ?? -1) "
              + "(\(r["long"]?.intValue ?? 0) longer than --max-ids left out), "
              + "set aside \(r["set_aside"]?.intValue ?? -1) \(r["set_aside_ids"]?.serialized() ?? ""), "
              + "worst cosine \(worst) (\(r["worst_id"]?.stringValue ?? "?")), mean \(r["mean_cosine"]?.doubleValue ?? 0)")
        XCTAssertEqual(status, 0, r.serialized(), file: file, line: line)
        XCTAssertEqual(r["pooling_type"]?.intValue, 1, "mean pooling read from the file", file: file, line: line)
        XCTAssertGreaterThanOrEqual(worst, 0.9999, file: file, line: line)
        // llama.cpp's WordPiece differs from HF's on a few texts only (reference-notes §8; on the MiniLM golden: 6 of 123).
        let texts = r["texts"]?.intValue ?? 0
        XCTAssertGreaterThan(texts, 100, file: file, line: line)
        XCTAssertLessThanOrEqual(r["set_aside"]?.intValue ?? texts, texts / 10, file: file, line: line)
        XCTAssertGreaterThan(r["compared"]?.intValue ?? 0, maxIds == nil ? texts * 9 / 10 : 20, file: file, line: line)
    }

    func testMiniLMInLlamaCppMatchesTheGoldenAtTau1() throws {
        try assertLlamaMatchesGolden(try ModelLoader.open(Paths.minilm), tau: 1.0)
    }

    /// f16 matrices cost llama.cpp's embeddings ~1e-6 of cosine here (worst 0.999996 over all 117 texts).
    func testMiniLMF16InLlamaCppMatchesTheGoldenAtTau1() throws {
        try assertLlamaMatchesGolden(try ModelLoader.open(Paths.minilm), .f16, tau: 1.0, maxIds: 64)
    }

    /// τ reaches llama.cpp only through attn_q (its graph hard-codes 1/√d): a model with τ = 0.5 baked into
    /// the query projection must give the golden's τ = 0.5 embeddings there.
    func testTauBakedIntoTheQueryReachesLlamaCpp() throws {
        var model = try ModelLoader.open(Paths.minilm)
        let tau = 0.5
        model.tensors = model.tensors.map { t in
            guard t.name.hasSuffix("attention.self.query.weight") || t.name.hasSuffix("attention.self.query.bias") else { return t }
            return t.toFloat32().map { $0 / Float(tau) }.withUnsafeBufferPointer { Tensor.float32(name: t.name, shape: t.shape, values: $0) }
        }
        model.temperature = TemperatureHistory(steps: [.init(tau: tau, layers: "all", tool: "GGUFTests")])
        try assertLlamaMatchesGolden(model, tau: tau, maxIds: 64)
    }

    // MARK: (c) refusals write nothing

    func testMPNetIsRefusedAndNothingIsWritten() throws {
        for folder in [Paths.fixture("models/tiny-mpnet"), Paths.mpnet] where FileManager.default.fileExists(atPath: folder + "/config.json") {
            let dir = TempDir()
            let model = try ModelLoader.open(folder)
            XCTAssertThrowsError(try GGUF.write(model, to: dir.file("m.gguf"), dtype: .f32, force: false)) { error in
                XCTAssertEqual(error.underlyingReason as? GGUF.Error, .noLlamaArchitecture("MPNet"))
                XCTAssertTrue("\(error)".hasSuffix("gguf: llama.cpp has no MPNet architecture; export to hf or native instead"), "\(error)")
            }
            XCTAssertEqual(dir.listing, [])
        }
    }

    func testModelsWithoutATokenizerAndOtherDTypesAreRefused() throws {
        let dir = TempDir()
        assertReason(GGUF.Error.tokenizerUnsupported("there is none (no tokenizer.json or vocab.txt)")) {
            _ = try GGUF.write(try ModelLoader.open(Paths.fixture("models/tiny-t5")), to: dir.file("t5.gguf"), dtype: .f32, force: false)
        }
        assertReason(GGUF.Error.tokenizerUnsupported("there is none (no tokenizer.json or vocab.txt)")) {
            _ = try GGUF.write(try ModelLoader.open(Paths.fixture("models/tiny-roberta")), to: dir.file("r.gguf"), dtype: .f32, force: false)
        }
        assertReason(GGUF.Error.unsupportedTargetDType("q8")) {
            _ = try GGUF.write(try ModelLoader.open(Paths.fixture("models/tiny-bert")), to: dir.file("q.gguf"), dtype: .q8, force: false)
        }
        XCTAssertEqual(dir.listing, [])
    }

    func testRefusesAnExistingOutputUnlessForcedAndNeverItsInput() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let existing = dir.write("m.gguf", "keep me")
        assertReason(IOError.outputExists) { _ = try GGUF.write(model, to: existing, dtype: .f32, force: false) }
        XCTAssertEqual(readBytes(existing), Array("keep me".utf8))
        _ = try GGUF.write(model, to: existing, dtype: .f16, force: true)
        XCTAssertEqual(Array(readBytes(existing).prefix(4)), Array("GGUF".utf8))
        let input = Paths.fixture("models/tiny-bert/model.safetensors")
        let before = readBytes(input)
        assertReason(IOError.outputIsInput) { _ = try GGUF.write(model, to: input, dtype: .f32, force: true) }
        XCTAssertEqual(readBytes(input), before)
    }
}

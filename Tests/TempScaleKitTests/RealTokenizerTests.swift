import Foundation
import XCTest
@testable import TempScaleKit

/// The real tokenizer files `make test` fetches (scripts/fetch-tokenizers.sh) against the ids HF `tokenizers`
/// gives them (golden/tokenizer_ids.py) and against llama.cpp's own expected ids (.inp/.out beside its vocab GGUFs).
final class RealTokenizerTests: XCTestCase {
    static let dir = Paths.cache + "/tokenizers"
    /// Every tokenizer the id checks run on, with the kind each must load as.
    static let expectedKinds = [
        "t5": "Unigram", "umt5": "Unigram", "xlmr": "Unigram", "nomic-bert-moe": "Unigram",
        "gpt2": "BPE", "qwen2": "BPE", "qwen35": "BPE", "llama-bpe": "BPE", "llama-spm": "BPE", "phi-3": "BPE",
        "falcon": "BPE", "refact": "BPE", "starcoder": "BPE", "command-r": "BPE", "mpt": "BPE", "bert-bge": "WordPiece",
    ]
    /// Files whose pre-tokenizer uses a regex tempscale does not implement: refused, naming it.
    static let refused = ["deepseek-coder", "deepseek-llm"]

    private func tokenizer(_ name: String) throws -> Tokenizer {
        let path = Self.dir + "/\(name)/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("\(path) is missing; run `make test` (it runs scripts/fetch-tokenizers.sh)")
            throw CancellationError()
        }
        return try Tokenizer(tokenizerJSON: readBytes(path))
    }

    func testEveryRealTokenizerLoadsAsItsKind() throws {
        for (name, kind) in Self.expectedKinds.sorted(by: { $0.key < $1.key }) {
            guard let tok = try? tokenizer(name) else { XCTFail("\(name) does not load: \(String(describing: Result { try tokenizer(name) }))"); continue }
            XCTAssertEqual(tok.kind, kind, name)
            XCTAssertTrue(tok.pipeline.first!.value.hasPrefix(kind), "\(name): \(tok.pipeline.first!.value)")
        }
    }

    func testLlamaCppCasesReproduce() throws {
        var total = 0
        for name in Self.expectedKinds.keys.sorted() {
            let path = Self.dir + "/\(name)/llama-cases.json"
            guard FileManager.default.fileExists(atPath: path) else { continue }  // T5/XLM-R files have no llama.cpp cases
            guard let tok = try? tokenizer(name) else { XCTFail("\(name) does not load"); continue }
            let doc = try JSON.parse(readBytes(path))
            let special = doc["add_special_tokens"]?.boolValue ?? false
            var mismatches = 0
            for c in doc["cases"]!.arrayValue! {
                let text = c["text"]!.stringValue!
                let got = tok.encode(text, maxLength: nil, addSpecialTokens: special).ids
                total += 1
                if got != ids(c["ids"]!) {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(name) llama.cpp case \(show(text)):\n  expected \(clip(ids(c["ids"]!)))\n  got      \(clip(got))") }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) llama.cpp cases differ")
        }
        XCTAssertGreaterThan(total, 400)
        print("llama.cpp cases: \(total) compared")
    }

    /// ≥ 10,000 multilingual texts per tokenizer, with and without truncation, against HF `tokenizers`.
    func testMultilingualCorpusMatchesHFIdForId() throws {
        let corpusPath = Self.dir + "/corpus.jsonl.gz"
        guard FileManager.default.fileExists(atPath: corpusPath) else {
            return XCTFail("\(corpusPath) is missing; run `make test` (golden/tokenizer_corpus.py)")
        }
        let texts = try gunzipFile(corpusPath).split(separator: UInt8(ascii: "\n")).map { line in
            try JSON.parse(Array(line))["text"]!.stringValue!
        }
        XCTAssertGreaterThanOrEqual(texts.count, 10_000)
        var summary: [String] = []
        for name in Self.expectedKinds.keys.sorted() + ["minilm", "mpnet"] {
            let expectedPath = Self.dir + "/\(name)/expected.jsonl.gz"
            guard FileManager.default.fileExists(atPath: expectedPath) else {
                XCTFail("\(expectedPath) is missing; run `make test` (golden/tokenizer_ids.py)")
                continue
            }
            let tok = name == "minilm" || name == "mpnet"
                ? try realTokenizer(name == "minilm" ? "all-MiniLM-L6-v2" : "all-mpnet-base-v2") : try tokenizer(name)
            let lines = try gunzipFile(expectedPath).split(separator: UInt8(ascii: "\n"))
            XCTAssertEqual(lines.count, texts.count, name)
            var mismatches = 0, compared = 0
            for (i, line) in lines.enumerated() where i < texts.count {
                let e = try JSON.parse(Array(line))
                let full = tok.encode(texts[i], maxLength: nil)
                let maxLength = e["max_length"]!.intValue!
                let cut = tok.encode(texts[i], maxLength: maxLength)
                compared += 2
                for (got, key) in [(full.ids, "ids"), (cut.ids, "truncated")] where got != ids(e[key]!) {
                    mismatches += 1
                    if mismatches <= 5 {
                        var detail = ""
                        if let tokens = e["tokens"]?.arrayValue {
                            detail = "\n  HF tokens  \(clip(tokens.map { $0.stringValue! }))\n  our tokens \(clip(full.tokens))"
                        }
                        XCTFail("\(name) \(key) (max_length \(maxLength)) text \(i) \(show(texts[i])):\n  expected \(clip(ids(e[key]!)))\n  got      \(clip(got))\(detail)")
                    }
                }
                XCTAssertEqual(full.fullLength, full.ids.count)
            }
            XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) of \(compared) encodings differ from HF")
            summary.append("\(name) \(mismatches)/\(compared)")
        }
        print("multilingual corpus (\(texts.count) texts): mismatches " + summary.joined(separator: ", "))
    }

    func testUnsupportedRegexesAreRefusedByName() throws {
        for name in Self.refused {
            let path = Self.dir + "/\(name)/tokenizer.json"
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: readBytes(path)), name) { e in
                let message = "\(e)"
                XCTAssertTrue(message.contains("regex") && message.contains("pre_tokenizer"), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }
}

/// `tempscale tokenize` and `inspect` on the new kinds: the pipeline is shown, ids match the library, bad files
/// are one-line errors, and the class-pipeline note appears exactly when sentence-transformers would differ.
final class TokenizeCLITests: XCTestCase {
    func testTokenizeATokenizerJSONShowsThePipelineAndTheIds() throws {
        let path = Paths.cache + "/tokenizers/xlmr/tokenizer.json"
        let r = try runCLI(["tokenize", path, "--ids-only", "--threads", "2"], stdin: "Ünïcode test, it's 2026\nСлово\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let tok = try Tokenizer(tokenizerJSON: readBytes(path))
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map { Int32($0)! } }
        XCTAssertEqual(lines, [tok.encode("Ünïcode test, it's 2026", maxLength: nil).ids, tok.encode("Слово", maxLength: nil).ids])
        let shown = try runCLI(["tokenize", path], stdin: "x\n")
        XCTAssertTrue(shown.stderr.contains("model: Unigram, 250002 pieces"), shown.stderr)
        XCTAssertTrue(shown.stderr.contains("pre-tokenizer: Metaspace"), shown.stderr)
        XCTAssertTrue(shown.stderr.contains("normalizer: Sequence[Precompiled(224711 rules)"), shown.stderr)
        let noSpecial = try runCLI(["tokenize", path, "--ids-only", "--no-special-tokens"], stdin: "Слово\n")
        XCTAssertEqual(noSpecial.stdout.split(separator: " ").count + 2, lines[1].count)
    }

    func testABrokenTokenizerJSONIsAOneLineError() throws {
        let dir = try TempDir()
        let bad = dir.write("tokenizer.json", #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#)
        let r = try runCLI(["tokenize", bad], stdin: "x\n")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "tempscale: error: \(bad): model.merges[0] right token 'b' is not in the vocabulary\n")
        XCTAssertEqual(r.stdout, "")
    }

    func testClassPipelineNoteFollowsWhatSentenceTransformersWouldDo() throws {
        func note(_ config: String?, _ modelType: String?) throws -> String? {
            TokenizerSummary.classPipelineNote(tokenizerConfig: try config.map { try JSON.parse($0) }, modelType: modelType)
        }
        XCTAssertNotNil(try note(#"{"tokenizer_class": "XLMRobertaTokenizer"}"#, "xlm-roberta"))
        XCTAssertNotNil(try note(#"{"tokenizer_class": "T5TokenizerFast"}"#, "t5"))
        XCTAssertNotNil(try note(nil, "xlm-roberta"))
        XCTAssertNotNil(try note("{}", "umt5"))
        XCTAssertNil(try note(#"{"tokenizer_class": "PreTrainedTokenizerFast"}"#, "xlm-roberta"))
        XCTAssertNil(try note(#"{"tokenizer_class": "BertTokenizer"}"#, "bert"))
        XCTAssertNil(try note(nil, "bert"))
        XCTAssertTrue(try note(nil, "t5")!.contains("958 of 17,591"))
    }

    func testInspectShowsEachStageOfTheTokenizer() throws {
        let r = try runCLI(["inspect", Paths.mpnet])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("tokenizer     WordPiece"), r.stdout)
        XCTAssertTrue(r.stdout.contains("post-processor RobertaProcessing (<s> $A </s>)"), r.stdout)
        let j = try runCLI(["inspect", Paths.mpnet, "--json"])
        let tok = try JSON.parse(j.stdout)["tokenizer"]!
        XCTAssertEqual(tok["pre-tokenizer"]?.stringValue, "BertPreTokenizer")
    }
}

import Foundation
import XCTest
@testable import TempScaleKit

final class TokenizerTests: XCTestCase {
    static let realModels = ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]

    func testTinyFixtureTokenizesHelloDogs() throws {
        let tok = try Tokenizer(tokenizerJSON: readBytes(Paths.fixture("models/tiny-bert/tokenizer.json")))
        let e = tok.encode("Hello dogs!", maxLength: nil)
        XCTAssertEqual(e.ids, [2, 54, 57, 75, 72, 3])
        XCTAssertEqual(e.fullLength, 6)
        XCTAssertFalse(e.truncated)
    }

    func testEveryExpectationTextMatchesHF() throws {
        let doc = try loadGzippedJSON(Paths.fixture("tokenizer/expectations.json.gz"))
        let texts = doc["texts"]!.arrayValue!.map { $0.stringValue! }
        var compared = 0
        for m in doc["models"]!.arrayValue! {
            let name = m["name"]!.stringValue!
            let maxLength = m["max_length"]!.intValue!
            let tok = try realTokenizer(name)
            var mismatches = 0
            for (i, expected) in m["truncated"]!.arrayValue!.enumerated() {
                let got = tok.encode(texts[i], maxLength: maxLength)
                compared += 1
                if !check(got.ids, ids(expected), texts[i], "\(name) max_length \(maxLength)") { mismatches += 1 }
            }
            let full = m["untruncated"]!
            for (i, expected) in zip(full["indices"]!.arrayValue!, full["ids"]!.arrayValue!) {
                let text = texts[i.intValue!]
                let got = tok.encode(text, maxLength: nil)
                compared += 1
                if !check(got.ids, ids(expected), text, "\(name) untruncated") { mismatches += 1 }
                XCTAssertEqual(got.fullLength, got.ids.count)
            }
            let withTokens = m["tokens"]!
            for (i, expected) in zip(withTokens["indices"]!.arrayValue!, withTokens["tokens"]!.arrayValue!) {
                let text = texts[i.intValue!]
                let got = tok.encode(text, maxLength: nil).tokens
                let want = expected.arrayValue!.map { $0.stringValue! }
                if got != want { XCTFail("\(name) tokens of \(show(text)):\n  expected \(clip(want))\n  got      \(clip(got))") }
            }
            XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) texts differ from HF")
        }
        print("tokenizer expectations: compared \(compared) encodings of \(texts.count) texts")
    }

    /// Every code point through BertNormalizer (clean, strip accents, lowercase), Lowercase and NFD,
    /// against what HF gives for that single character.
    func testEveryCodePointNormalizesAsHF() throws {
        let doc = try loadGzippedJSON(Paths.fixture("tokenizer/unicode-behaviour.json.gz"))
        let normalizers: [(String, Normalizer)] = [
            ("bert", .bert(BertNormalizer(cleanText: true, handleChineseChars: false, stripAccents: true, lowercase: true))),
            ("lowercase", .lowercase), ("nfd", .nfd),
        ]
        for (key, normalizer) in normalizers {
            assertEveryCodePoint(normalizer, matches: doc[key]!, key)
        }
    }

    /// Every code point through NFC, NFKC, NFKD and NFD, against what HF gives for that single character
    /// (Tests/Fixtures/tokenizer/unicode-nfk.json.gz, written by golden/hf_regex_tables.py).
    func testEveryCodePointComposesAndDecomposesAsHF() throws {
        let doc = try loadGzippedJSON(Paths.fixture("tokenizer/unicode-nfk.json.gz"))
        let normalizers: [(String, Normalizer)] = [("nfc", .nfc), ("nfkc", .nfkc), ("nfkd", .nfkd), ("nfd", .nfd)]
        for (key, normalizer) in normalizers {
            assertEveryCodePoint(normalizer, matches: doc[key]!, key, atLeast: 1000)
        }
    }

    /// The regex classes built from RegexCharacterTables agree with HF's probe (golden/out/regex-classes.json)
    /// for every code point.
    func testRegexClassesMatchHFForEveryCodePoint() throws {
        let doc = try JSON.parse(readBytes(Paths.package + "/golden/out/regex-classes.json"))
        let classes: [(String, UInt8)] = [("onig:\\p{L}", CharacterClasses.letter), ("onig:\\p{N}", CharacterClasses.number),
                                          ("onig:\\p{M}", CharacterClasses.mark), ("onig:\\s", CharacterClasses.whitespace),
                                          ("whitespace-pretok:\\w", CharacterClasses.word), ("rust:is_numeric", CharacterClasses.numeric)]
        for (key, flag) in classes {
            var members = Set<UInt32>()
            for r in doc["classes"]![key]!.arrayValue! {
                let pair = r.arrayValue!
                for v in UInt32(pair[0].intValue!)...UInt32(pair[1].intValue!) { members.insert(v) }
            }
            XCTAssertGreaterThan(members.count, 20, key)
            var differ = 0
            for v in UInt32(0)...0x10FFFF {
                guard let c = Unicode.Scalar(v) else { continue }
                if (CharacterClasses.flags(c) & flag != 0) != members.contains(v) { differ += 1 }
            }
            XCTAssertEqual(differ, 0, key)
        }
        // The punctuation the Punctuation pre-tokenizer isolates is BertPreTokenizer's.
        var punct = Set<UInt32>()
        for r in doc["classes"]!["punctuation-pretok"]!.arrayValue! {
            let pair = r.arrayValue!
            for v in UInt32(pair[0].intValue!)...UInt32(pair[1].intValue!) { punct.insert(v) }
        }
        for v in UInt32(0)...0x10FFFF {
            guard let c = Unicode.Scalar(v) else { continue }
            if BertCharacterClasses.isPunctuation(c) != punct.contains(v) { XCTFail("U+\(String(v, radix: 16)) punctuation differs"); break }
        }
    }

    func testAddedTokensHonourSingleWordLstripRstripAndNormalizedAsHF() throws {
        let flags = try loadGzippedJSON(Paths.fixture("tokenizer/expectations.json.gz"))["added_token_flags"]!
        let tok = try Tokenizer(tokenizerJSON: Array(flags["tokenizer_json"]!.stringValue!.utf8))
        let texts = flags["texts"]!.arrayValue!.map { $0.stringValue! }
        XCTAssertGreaterThan(texts.count, 5)
        for (i, text) in texts.enumerated() {
            let got = tok.encode(text, maxLength: nil)
            XCTAssertEqual(got.ids, ids(flags["ids"]!.arrayValue![i]), show(text))
            XCTAssertEqual(got.tokens, flags["tokens"]!.arrayValue![i].arrayValue!.map { $0.stringValue! }, show(text))
        }
    }

    func testLoadFromModelReadsTokenizerJSON() throws {
        let model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        let tok = try Tokenizer.load(from: model)
        XCTAssertEqual(tok.encode("Hello dogs!", maxLength: nil).ids, [2, 54, 57, 75, 72, 3])
        XCTAssertEqual(tok.padId, 0)
        XCTAssertEqual(tok.vocabSize, 100)
    }

    func testLoadFromModelFallsBackToVocabTxt() throws {
        var model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        model.files["tokenizer.json"] = nil
        let tok = try Tokenizer.load(from: model)
        XCTAssertEqual(tok.encode("Hello dogs!", maxLength: nil).ids, [2, 54, 57, 75, 72, 3])
        model.files["vocab.txt"] = nil
        XCTAssertThrowsError(try Tokenizer.load(from: model)) { e in
            XCTAssertEqual(e.underlyingReason as? TokenizerError, .noTokenizerFiles)
        }
    }

    /// transformers' BertTokenizer / MPNetTokenizer rebuilt from vocab.txt + tokenizer_config.json
    /// must tokenize like the model's tokenizer.json.
    func testVocabTxtPipelineMatchesTokenizerJSONOnRealModels() throws {
        let texts = try loadGzippedJSON(Paths.fixture("tokenizer/expectations.json.gz"))["texts"]!.arrayValue!.map { $0.stringValue! }
        for name in Self.realModels {
            let fromJSON = try realTokenizer(name)
            let dir = Paths.cache + "/models/\(name)"
            let fromVocab = try Tokenizer(vocabTxt: readBytes(dir + "/vocab.txt"),
                                          config: JSON.parse(readBytes(dir + "/tokenizer_config.json")))
            XCTAssertEqual(fromVocab.padId, fromJSON.padId, name)
            // MPNet's tokenizer.json also registers "<unk>" (id 3) as a normalized added token;
            // vocab.txt and its tokenizer_config.json do not say so.
            let comparable = name.contains("mpnet") ? texts.filter { !$0.lowercased().contains("<unk>") } : texts
            var mismatches = 0
            for text in comparable where fromVocab.encode(text, maxLength: nil).ids != fromJSON.encode(text, maxLength: nil).ids {
                mismatches += 1
                if mismatches <= 5 { XCTFail("\(name) vocab.txt pipeline differs on \(show(text))") }
            }
            XCTAssertEqual(mismatches, 0, name)
        }
    }

    func testTruncationCountsSpecialTokensAndKeepsSeparatorLast() throws {
        let tok = try realTokenizer("all-MiniLM-L6-v2")
        let text = String(repeating: "word ", count: 1000)
        let e = tok.encode(text, maxLength: 256)
        XCTAssertEqual(e.ids.count, 256)
        XCTAssertEqual(e.tokens.count, 256)
        XCTAssertEqual(e.ids.first, 101)
        XCTAssertEqual(e.ids.last, 102)
        XCTAssertTrue(e.truncated)
        XCTAssertEqual(e.fullLength, 1002)
        let short = tok.encode("word", maxLength: 256)
        XCTAssertEqual(short.ids, [101, 2773, 102])
        XCTAssertFalse(short.truncated)
        XCTAssertEqual(tok.encode(text, maxLength: 2).ids, [101, 102])
        XCTAssertEqual(tok.encodeBatch(["word", text], maxLength: 256), [short, e])
    }

    func testRealModelsPadAndVocabularySizes() throws {
        let minilm = try realTokenizer("all-MiniLM-L6-v2"), mpnet = try realTokenizer("all-mpnet-base-v2")
        XCTAssertEqual(minilm.padId, 0)
        XCTAssertEqual(minilm.vocabSize, 30522)
        XCTAssertEqual(mpnet.padId, 1)
        XCTAssertEqual(mpnet.vocabSize, 30527)
    }

    func testUnsupportedComponentsAreNamed() throws {
        let base = try JSON.parse(readBytes(Paths.fixture("models/tiny-bert/tokenizer.json"))).objectValue!
        func error(_ key: String, _ value: JSONValue) -> String {
            var o = base
            o[key] = value
            do {
                _ = try Tokenizer(tokenizerJSON: Array(JSONValue.object(o).serialized().utf8))
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(error("normalizer", ["type": "Nmt"]),
                       "tokenizer.json: normalizer 'Nmt' is not supported (supported: \(Normalizer.supported.joined(separator: ", ")))")
        XCTAssertEqual(error("pre_tokenizer", ["type": "UnicodeScripts"]),
                       "tokenizer.json: pre_tokenizer 'UnicodeScripts' is not supported (supported: \(PreTokenizer.supported.joined(separator: ", ")))")
        XCTAssertEqual(error("model", ["type": "WordLevel", "vocab": [:]]),
                       "tokenizer.json: model 'WordLevel' is not supported (supported: WordPiece, BPE, Unigram)")
        XCTAssertEqual(error("post_processor", ["type": "Custom"]),
                       "tokenizer.json: post_processor 'Custom' is not supported (supported: \(PostProcessor.supported.joined(separator: ", ")))")
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Array("{".utf8))) { e in
            guard case .invalidJSON = e.underlyingReason as? TokenizerError else { return XCTFail("\(e)") }
        }
    }

    func testWordLongerThanMaxInputCharsBecomesUnknown() throws {
        let tok = try realTokenizer("all-MiniLM-L6-v2")
        XCTAssertEqual(tok.encode(String(repeating: "a", count: 101), maxLength: nil).ids, [101, 100, 102])
        XCTAssertEqual(tok.encode(String(repeating: "a", count: 100), maxLength: nil).ids.count, 2 + 50)
    }

    /// 10,000 Debian descriptions (golden/debian_corpus_ids.py; ~5 MB, so it lives in .cache/tokenizer
    /// unless it fits the fixtures' budget), both real models at their max_seq_length.
    func testTenThousandDebianDescriptionsMatchHF() throws {
        let candidates = [Paths.fixture("tokenizer/debian-10k.jsonl.gz"), Paths.cache + "/tokenizer/debian-10k.jsonl.gz"]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            // Not a skip: `make test` writes it with the reference stack before the tests run.
            return XCTFail("no debian-10k.jsonl.gz; run `make test` (it runs golden/debian_corpus_ids.py)")
        }
        let raw = try gunzipFile(path)
        let models = [("minilm", try realTokenizer("all-MiniLM-L6-v2"), 256), ("mpnet", try realTokenizer("all-mpnet-base-v2"), 384)]
        var compared = 0, mismatches = 0
        for line in raw.split(separator: UInt8(ascii: "\n")) {
            let entry = try JSON.parse(Array(line))
            let text = entry["text"]!.stringValue!
            for (key, tok, maxLength) in models {
                compared += 1
                if !check(tok.encode(text, maxLength: maxLength).ids, ids(entry[key]!), text, "debian-10k \(key)") { mismatches += 1 }
            }
        }
        XCTAssertEqual(compared, 20_000)
        XCTAssertEqual(mismatches, 0)
        print("debian-10k: compared \(compared) encodings, \(mismatches) mismatches")
    }

    // MARK: helpers

    /// `runs` is HF's per-code-point result as [first, last, deltas] runs (code points in no run are unchanged).
    private func assertEveryCodePoint(_ normalizer: Normalizer, matches runs: JSONValue, _ key: String, atLeast: Int = 0) {
        var expected: [UInt32: [UInt32]] = [:]
        for run in runs.arrayValue! {
            let r = run.arrayValue!
            let deltas = r[2].arrayValue!.map { $0.intValue! }
            for c in UInt32(r[0].intValue!)...UInt32(r[1].intValue!) { expected[c] = deltas.map { UInt32(Int(c) + $0) } }
        }
        XCTAssertGreaterThanOrEqual(expected.count, atLeast, key)
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let c = Unicode.Scalar(v) else { continue }
            var text = [c]
            normalizer.normalize(&text)
            let want = expected[v] ?? [v]
            if text.map(\.value) != want {
                mismatches.append("U+\(String(v, radix: 16)): expected \(want.map { String($0, radix: 16) }) got \(text.map { String($0.value, radix: 16) })")
            }
        }
        XCTAssertEqual(mismatches.count, 0, "\(key): \(mismatches.count) code points differ from HF, e.g.\n" + mismatches.prefix(20).joined(separator: "\n"))
    }

    private func check(_ got: [Int32], _ expected: [Int32], _ text: String, _ what: String) -> Bool {
        if got == expected { return true }
        XCTFail("\(what): \(show(text))\n  expected \(clip(expected))\n  got      \(clip(got))")
        return false
    }
}

func ids(_ v: JSONValue) -> [Int32] { v.arrayValue!.map { Int32($0.intValue!) } }

func show(_ text: String) -> String {
    let escaped = text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    return "\"" + (escaped.count > 200 ? String(escaped.prefix(200)) + "…(\(text.unicodeScalars.count) scalars)" : escaped) + "\""
}

func clip<T>(_ xs: [T]) -> String {
    xs.count > 40 ? "\(Array(xs.prefix(40)))…(\(xs.count))" : "\(xs)"
}

func gunzipFile(_ path: String) throws -> [UInt8] {
    let bytes = readBytes(path)
    return try bytes.withUnsafeBytes { try TempScaleKit.gunzip($0) }
}

func loadGzippedJSON(_ path: String) throws -> JSONValue { try JSON.parse(try gunzipFile(path)) }

/// The tokenizer of a cached real model (`make test` fetches both real models; a missing one fails).
func realTokenizer(_ name: String) throws -> Tokenizer {
    let path = Paths.cache + "/models/\(name)/tokenizer.json"
    guard FileManager.default.fileExists(atPath: path) else {
        throw NSError(domain: "tempscale", code: 1, userInfo: [NSLocalizedDescriptionKey: "no cached model at \(path); run `make test`"])
    }
    return try Tokenizer(tokenizerJSON: readBytes(path))
}

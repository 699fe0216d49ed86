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
            var expected: [UInt32: [UInt32]] = [:]
            for run in doc[key]!.arrayValue! {
                let r = run.arrayValue!
                let deltas = r[2].arrayValue!.map { $0.intValue! }
                for c in UInt32(r[0].intValue!)...UInt32(r[1].intValue!) { expected[c] = deltas.map { UInt32(Int(c) + $0) } }
            }
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
    }

    // MARK: helpers

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

func loadGzippedJSON(_ path: String) throws -> JSONValue {
    guard let raw = gunzip(readBytes(path)) else { throw XCTSkip("cannot gunzip \(path)") }
    return try JSON.parse(raw)
}

/// The tokenizer of a cached real model; skips when the model cache is absent.
func realTokenizer(_ name: String) throws -> Tokenizer {
    let path = Paths.cache + "/models/\(name)/tokenizer.json"
    guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no cached model at \(path)") }
    return try Tokenizer(tokenizerJSON: readBytes(path))
}

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

import Foundation
import XCTest
@testable import TempScaleKit

/// Every pipeline component the real files do not use, in 99 small tokenizer.json variants made and run by HF
/// `tokenizers` (golden/tokenizer_components.py → Tests/Fixtures/tokenizer/components.json.gz): Split with string
/// and regex patterns in every behaviour and inverted, Whitespace, Punctuation, Digits, Metaspace schemes, the
/// normalizers, BPE affixes/byte fallback/ignore_merges/legacy merges, Unigram byte fallback, pair templates and
/// added-token flags. Each variant's ids on 320 texts, without special tokens, truncated, and for pairs.
final class TokenizerComponentTests: XCTestCase {
    func testEveryComponentVariantMatchesHF() throws {
        let doc = try loadGzippedJSON(Paths.fixture("tokenizer/components.json.gz"))
        let texts = doc["texts"]!.arrayValue!.map { $0.stringValue! }
        let variants = doc["variants"]!.arrayValue!
        XCTAssertGreaterThan(variants.count, 90)
        var compared = 0, failedVariants: [String] = []
        for v in variants {
            let name = v["name"]!.stringValue!
            let tok: Tokenizer
            do {
                tok = try Tokenizer(tokenizerJSON: Array(v["tokenizer"]!.serialized().utf8))
            } catch {
                failedVariants.append(name)
                XCTFail("\(name) does not load: \(error)")
                continue
            }
            var mismatches = 0
            func expect(_ got: [Int32], _ want: JSONValue, _ what: String) {
                compared += 1
                let w = ids(want)
                if got != w {
                    mismatches += 1
                    if mismatches <= 3 { XCTFail("\(name) \(what):\n  expected \(clip(w))\n  got      \(clip(got))") }
                }
            }
            let noSpecial = v["ids_no_special"].flatMap { $0 == .null ? nil : $0.arrayValue }
            for (i, want) in v["ids"]!.arrayValue!.enumerated() {
                expect(tok.encode(texts[i], maxLength: nil).ids, want, "text \(i) \(show(texts[i]))")
                if let noSpecial {
                    expect(tok.encode(texts[i], maxLength: nil, addSpecialTokens: false).ids, noSpecial[i], "no special tokens, text \(i) \(show(texts[i]))")
                }
            }
            for t in v["truncated"]!.arrayValue! {
                let e = t.arrayValue!
                let i = e[0].intValue!, limit = e[1].intValue!
                expect(tok.encode(texts[i], maxLength: limit).ids, e[2], "truncated at \(limit), text \(i) \(show(texts[i]))")
            }
            for p in v["pairs"]?.arrayValue ?? [] {
                let e = p.arrayValue!
                let a = e[0].intValue!, b = e[1].intValue!
                expect(tok.encodePair(texts[a], texts[b]), e[2], "pair (\(a), \(b))")
            }
            if mismatches > 0 { failedVariants.append("\(name) (\(mismatches))") }
        }
        XCTAssertEqual(failedVariants, [], "variants that differ from HF")
        print("tokenizer components: \(variants.count) variants, \(compared) encodings compared")
    }

    func testFormsTokenizersRefusesAreRefused() throws {
        let doc = try loadGzippedJSON(Paths.fixture("tokenizer/components.json.gz"))
        let base = doc["variants"]!.arrayValue!.first { $0["name"]!.stringValue! == "metaspace-always-split" }!["tokenizer"]!
        for r in doc["refused"]!.arrayValue! {
            var o = base.objectValue!
            o["pre_tokenizer"] = r["pre_tokenizer"]!
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Array(JSONValue.object(o).serialized().utf8)), r["what"]!.stringValue!) { e in
                XCTAssertTrue("\(e)".contains("add_prefix_space"), "\(e)")
            }
        }
    }
}

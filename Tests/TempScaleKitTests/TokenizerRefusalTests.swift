import Foundation
import XCTest
@testable import TempScaleKit

/// A malformed or unsupported tokenizer.json is refused with one line naming the file and the component;
/// nothing crashes. The broken files are real ones (from `make test`'s fetch) with one thing changed.
final class TokenizerRefusalTests: XCTestCase {
    private func real(_ name: String) throws -> JSONObject {
        let path = Paths.cache + "/tokenizers/\(name)/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("\(path) is missing; run `make test`")
            throw CancellationError()
        }
        return try JSON.parse(readBytes(path)).objectValue!
    }

    /// The one-line error for `json` loaded through a model folder, or "no error".
    private func refusal(_ json: JSONObject, file: StaticString = #filePath, line: UInt = #line) -> String {
        let bytes = Array(JSONValue.object(json).serialized().utf8)
        do {
            _ = try Tokenizer(tokenizerJSON: bytes)
            return "no error"
        } catch {
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
            XCTAssertTrue(message.hasPrefix("tokenizer.json: "), message, file: file, line: line)
            return message
        }
    }

    private func modifying(_ o: JSONObject, _ path: [String], _ change: (inout JSONValue) -> Void) -> JSONObject {
        var root = JSONValue.object(o)
        func go(_ v: inout JSONValue, _ rest: ArraySlice<String>) {
            guard let key = rest.first else { change(&v); return }
            if case .object(var obj) = v {
                var child = obj[key] ?? .null
                go(&child, rest.dropFirst())
                obj[key] = child
                v = .object(obj)
            } else if case .array(var arr) = v, let i = Int(key) {
                go(&arr[i], rest.dropFirst())
                v = .array(arr)
            }
        }
        go(&root, path[...])
        return root.objectValue!
    }

    func testBadBase64InThePrecompiledCharsmapIsRefused() throws {
        let t5 = try real("t5")
        let broken = modifying(t5, ["normalizer", "normalizers", "0", "precompiled_charsmap"]) { $0 = .string("not*base64!") }
        XCTAssertEqual(refusal(broken), "tokenizer.json: 'normalizer.normalizers[0].precompiled_charsmap' is not valid base64")
    }

    func testTruncatedOrDamagedCharsmapIsRefused() throws {
        let t5 = try real("t5")
        let map = t5["normalizer"]!["normalizers"]!.arrayValue![0]["precompiled_charsmap"]!.stringValue!
        let blob = Base64.decode(map)!
        // Cut inside the trie, inside the replacement pool, and to almost nothing.
        for cut in [3, 1000, blob.count / 4, blob.count - 10] {
            let broken = modifying(t5, ["normalizer", "normalizers", "0", "precompiled_charsmap"]) {
                $0 = .string(Base64.encode(Array(blob.prefix(cut))))
            }
            let message = refusal(broken)
            XCTAssertTrue(message.contains("precompiled_charsmap"), "cut at \(cut): \(message)")
        }
        // Random damage inside the trie never crashes: it is refused or, if still consistent, loads.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            var damaged = blob
            for _ in 0..<8 { damaged[Int.random(in: 4..<min(blob.count, 4 + 44288 * 4), using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            let broken = modifying(t5, ["normalizer", "normalizers", "0", "precompiled_charsmap"]) { $0 = .string(Base64.encode(damaged)) }
            let message = refusal(broken)
            if message != "no error" { XCTAssertTrue(message.contains("precompiled_charsmap"), message) }
        }
    }

    func testMergesNamingUnknownTokensAreRefused() throws {
        let gpt2 = try real("gpt2")
        let broken = modifying(gpt2, ["model", "merges"]) { v in
            var a = v.arrayValue!
            a[7] = .array([.string("zzqx-not-a-token"), .string("a")])
            v = .array(a)
        }
        XCTAssertEqual(refusal(broken), "tokenizer.json: model.merges[7] left token 'zzqx-not-a-token' is not in the vocabulary")
        let badShape = modifying(gpt2, ["model", "merges"]) { v in
            var a = v.arrayValue!
            a[3] = .string("nospace")
            v = .array(a)
        }
        XCTAssertEqual(refusal(badShape), "tokenizer.json: 'model.merges[3]' \"nospace\" is not two tokens separated by a space")
    }

    func testBPEDropoutIsRefused() throws {
        let gpt2 = try real("gpt2")
        let broken = modifying(gpt2, ["model", "dropout"]) { $0 = .double(0.1) }
        XCTAssertEqual(refusal(broken), "tokenizer.json: 'model.dropout' is 0.1; BPE dropout is random and is not supported (it must be null)")
    }

    func testARegexOutsideTheSupportedOnesIsRefusedByItsText() throws {
        let qwen = try real("qwen2")
        let broken = modifying(qwen, ["pre_tokenizer", "pretokenizers", "0", "pattern", "Regex"]) { $0 = .string("\\p{Han}+") }
        let message = refusal(broken)
        XCTAssertTrue(message.hasPrefix("tokenizer.json: pre_tokenizer.pretokenizers[0].pattern: the regex \"\\\\p{Han}+\" is not supported"), message)
        let replace = modifying(try real("t5"), ["normalizer", "normalizers", "1", "pattern", "Regex"]) { $0 = .string(" {3,}") }
        XCTAssertTrue(refusal(replace).contains("normalizer.normalizers[1].pattern: the regex \" {3,}\" is not supported"))
    }

    func testUnknownBehaviourSchemeAndMissingUnkAreRefused() throws {
        let qwen = try real("qwen2")
        let behaviour = modifying(qwen, ["pre_tokenizer", "pretokenizers", "0", "behavior"]) { $0 = .string("Sideways") }
        XCTAssertEqual(refusal(behaviour),
                       "tokenizer.json: pre_tokenizer.pretokenizers[0].behavior 'Sideways' is not supported (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)")
        let t5 = try real("t5")
        let scheme = modifying(t5, ["pre_tokenizer", "prepend_scheme"]) { $0 = .string("sometimes") }
        XCTAssertEqual(refusal(scheme),
                       "tokenizer.json: pre_tokenizer.prepend_scheme 'sometimes' is not supported (supported: always, first, never)")
        let noUnk = modifying(t5, ["model", "unk_id"]) { $0 = .null }
        XCTAssertEqual(refusal(noUnk), "tokenizer.json: 'model.unk_id' is missing (a Unigram model needs an unk piece)")
        let badPiece = modifying(t5, ["model", "vocab", "5"]) { $0 = .array([.string("x")]) }
        XCTAssertEqual(refusal(badPiece), "tokenizer.json: 'model.vocab[5]' is not a [piece, finite score] pair")
    }

    func testLegacyMergeStringsGiveTheSameIdsAsPairs() throws {
        let gpt2 = try real("gpt2")
        let asStrings = modifying(gpt2, ["model", "merges"]) { v in
            v = .array(v.arrayValue!.map { .string($0.arrayValue![0].stringValue! + " " + $0.arrayValue![1].stringValue!) })
        }
        let a = try Tokenizer(tokenizerJSON: Array(JSONValue.object(gpt2).serialized().utf8))
        let b = try Tokenizer(tokenizerJSON: Array(JSONValue.object(asStrings).serialized().utf8))
        for text in ["Hello world, it's 2026!", "  spaced\tout\n\nlines", "naïve café 東京 🤖"] {
            XCTAssertEqual(a.encode(text, maxLength: nil).ids, b.encode(text, maxLength: nil).ids, text)
        }
    }

    func testTheRefusalNamesTheModelFolderFile() throws {
        var model = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        model.files["tokenizer.json"] = Array(#"{"model": {"type": "WordLevel", "vocab": {}}}"#.utf8)
        XCTAssertThrowsError(try Tokenizer.load(from: model)) { e in
            XCTAssertEqual("\(e)", Paths.fixture("models/tiny-bert") + "/tokenizer.json: model 'WordLevel' is not supported (supported: WordPiece, BPE, Unigram)")
        }
    }
}

/// tokenizer.json `model`: turns one pre-tokenized word into vocabulary ids.
///
/// A model is one file (WordPiece.swift, BPE.swift, Unigram.swift) plus one line in `TokenizerModels.all`.
/// Everything else in tempscale reaches the vocabulary through this protocol: the pipeline (`Tokenizer`),
/// the reports (`kind`, `summary`) and, for the kinds llama.cpp has, the GGUF writer (`GGUFTokenizerModel`).
protocol TokenizerModel: Sendable {
    /// tokenizer.json's `model.type` ("WordPiece", "BPE", "Unigram").
    static var typeName: String { get }
    init(json: JSONValue) throws(TokenizerError)

    /// Appends the ids of one word (the pre-tokenizer's output, already normalized) to `ids`.
    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32], scratch: inout TokenizerScratch)
    /// The vocabulary's text of an id, or nil for an id it does not have.
    func tokenText(_ id: Int32) -> String?
    /// The vocabulary's id of a token text, or nil.
    func id(for token: String) -> Int32?
    var unkId: Int32? { get }
    /// One more than the largest id in the vocabulary.
    var idCount: Int { get }
    /// The options that change ids, for `inspect`/`tokenize` ("byte_fallback, fuse_unk").
    var options: [String] { get }
}

/// Per-call buffers a model may reuse between words (one per encode call, never shared across threads).
struct TokenizerScratch {
    var bytes: [UInt8] = []
    var ints: [Int32] = []
    var ints2: [Int32] = []
    var scores: [Double] = []
}

/// The tokenizer models tempscale implements, by tokenizer.json `model.type`: one line per model.
enum TokenizerModels {
    typealias Builder = @Sendable (JSONValue) throws(TokenizerError) -> any TokenizerModel
    static let all: [(type: String, build: Builder)] = [
        (WordPiece.typeName, { json throws(TokenizerError) in try WordPiece(json: json) }),
        (BPE.typeName, { json throws(TokenizerError) in try BPE(json: json) }),
        (Unigram.typeName, { json throws(TokenizerError) in try Unigram(json: json) }),
    ]

    static func model(json: JSONValue) throws(TokenizerError) -> any TokenizerModel {
        // HF infers the model from its fields when `type` is absent; we ask for it to be named.
        guard let type = json["type"]?.stringValue else { throw .badField("model.type", "is missing") }
        guard let entry = all.first(where: { $0.type == type }) else {
            throw .unsupported(component: "model", type: type, supported: all.map(\.type))
        }
        return try entry.build(json)
    }
}

extension TokenizerModel {
    var kind: String { Self.typeName }
}

/// Token text → id, compared byte for byte. (A `[String: Int32]` would merge canonically equivalent tokens:
/// Swift's String equality treats "έ" and "ε\u{301}" as one key, and real vocabularies hold both.)
struct TokenIds: Sendable {
    private var map: [[UInt8]: Int32] = [:]

    /// The first id of a repeated token wins unless `lastWins` (HF's maps keep the last insert).
    init<S: Sequence<(String, Int32)>>(_ pairs: S, lastWins: Bool = true) {
        for (token, id) in pairs {
            let key = Array(token.utf8)
            if lastWins || map[key] == nil { map[key] = id }
        }
    }

    subscript(_ token: String) -> Int32? { map[Array(token.utf8)] }
    subscript(bytes key: [UInt8]) -> Int32? { map[key] }
    var count: Int { map.count }
    var pairs: [(String, Int32)] { map.map { (String(decoding: $0.key, as: UTF8.self), $0.value) } }
}

/// Reads tokenizer.json's vocabulary object (token → id) in file order, refusing ids that are not 0…Int32.max.
func readVocabularyObject(_ json: JSONValue?, path: String) throws(TokenizerError) -> [(String, Int32)] {
    guard let entries = json?.objectValue else { throw .badField(path, "is not an object of token → id") }
    var vocab: [(String, Int32)] = []
    vocab.reserveCapacity(entries.count)
    for (token, id) in entries.pairs {
        guard let i = id.intValue, let i32 = Int32(exactly: i), i32 >= 0 else {
            throw .badField("\(path)[\"\(token)\"]", "is not an id ≥ 0")
        }
        vocab.append((token, i32))
    }
    return vocab
}

/// Token text by id ("" where the vocabulary has no entry).
func tokenTextTable(_ vocab: [(String, Int32)]) -> [String] {
    var text = [String](repeating: "", count: Int(vocab.map(\.1).max() ?? -1) + 1)
    for (token, id) in vocab where id >= 0 { text[Int(id)] = token }
    return text
}

/// Optional flags in a model or component, refusing a value that is present but not a boolean.
func readFlag(_ json: JSONValue, _ key: String, path: String, default value: Bool) throws(TokenizerError) -> Bool {
    guard let v = json[key], v != .null else { return value }
    guard let b = v.boolValue else { throw .badField("\(path).\(key)", "is not true or false") }
    return b
}

/// An optional string field, refusing a value that is present but not a string.
func readString(_ json: JSONValue, _ key: String, path: String) throws(TokenizerError) -> String? {
    guard let v = json[key], v != .null else { return nil }
    guard let s = v.stringValue else { throw .badField("\(path).\(key)", "is not a string") }
    return s
}

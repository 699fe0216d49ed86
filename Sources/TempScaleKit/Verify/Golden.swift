/// A golden file made by the reference stack (golden/generate.py; format: specs/golden-format.md).
public struct GoldenFile: Sendable {
    public struct Text: Sendable {
        public let id: String
        public let source: String
        public let text: String
        public let ids: [Int32]
        public let truncated: Bool
        /// τ (as written in the file, e.g. "0.8") → embedding.
        public let embeddings: [String: [Float]]
    }

    public let path: String
    public let modelName: String
    public let weightsSHA256: String?
    public let maxSeqLength: Int
    public let dimension: Int
    public let temperatures: [String]
    public let reference: [String: String]
    public let texts: [Text]
    /// The prompt sentence-transformers put in front of every text (`settings.prompt`); "" for none.
    public var prompt: String = ""

    public enum Error: ReasonError, Equatable {
        case notGolden(String)
        case badField(String)
        public var description: String {
            switch self {
            case .notGolden(let why): return "golden: not a tempscale golden file (\(why))"
            case .badField(let f): return "golden: field '\(f)' is missing or malformed"
            }
        }
    }

    public static func read(path: String) throws -> GoldenFile {
        let file = try MappedFile(path: path)
        do {
            let raw = file.count >= 2 && file.all[0] == 0x1F && file.all[1] == 0x8B ? try gunzip(file.all) : Array(file.all)
            return try parse(try JSON.parse(raw), path: path)
        } catch let e as any ReasonError {
            throw FileError(path, e)
        }
    }

    static func parse(_ j: JSONValue, path: String) throws(Error) -> GoldenFile {
        guard j["format"]?.stringValue == "tempscale-golden" else { throw .notGolden("format is not 'tempscale-golden'") }
        guard let settings = j["settings"], let maxLen = settings["max_seq_length"]?.intValue,
            let dim = settings["dimension"]?.intValue
        else { throw .badField("settings") }
        guard let temps = j["temperatures"]?.arrayValue?.compactMap({ $0.doubleValue }) else { throw .badField("temperatures") }
        let keys = temps.map { tauKey($0) }
        guard let list = j["texts"]?.arrayValue else { throw .badField("texts") }
        var texts: [Text] = []
        for (n, t) in list.enumerated() {
            guard let text = t["text"]?.stringValue, let ids = t["ids"]?.arrayValue, let emb = t["embeddings"]?.objectValue else {
                throw .badField("texts[\(n)]")
            }
            var embeddings: [String: [Float]] = [:]
            for (k, v) in emb.pairs {
                guard let s = v.stringValue, let bytes = Base64.decode(s), bytes.count == dim * 4 else {
                    throw .badField("texts[\(n)].embeddings.\(k)")
                }
                embeddings[k] = bytes.withUnsafeBytes { b in (0..<dim).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            }
            texts.append(Text(id: t["id"]?.stringValue ?? "\(n)", source: t["source"]?.stringValue ?? "?", text: text,
                              ids: ids.compactMap { $0.intValue.map(Int32.init) }, truncated: t["truncated"]?.boolValue ?? false,
                              embeddings: embeddings))
        }
        var reference: [String: String] = [:]
        for (k, v) in j["reference"]?.objectValue?.pairs ?? [] { reference[k] = v.stringValue ?? v.serialized() }
        var g = GoldenFile(path: path, modelName: j["model"]?["name"]?.stringValue ?? "?",
                           weightsSHA256: j["model"]?["weights_sha256"]?.stringValue, maxSeqLength: maxLen, dimension: dim,
                           temperatures: keys, reference: reference, texts: texts)
        g.prompt = settings["prompt"]?.stringValue ?? ""
        return g
    }

    /// The same golden with only its first `n` texts.
    public func prefix(_ n: Int) -> GoldenFile {
        var g = GoldenFile(path: path, modelName: modelName, weightsSHA256: weightsSHA256, maxSeqLength: maxSeqLength,
                           dimension: dimension, temperatures: temperatures, reference: reference, texts: Array(texts.prefix(n)))
        g.prompt = prompt
        return g
    }

    /// The key a temperature has in a golden file: "1.0", "0.8", "0.5".
    public static func tauKey(_ tau: Double) -> String {
        let s = "\(tau)"
        return s.contains(".") ? s : s + ".0"
    }
}

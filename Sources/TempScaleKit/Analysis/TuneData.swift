#if canImport(Glibc)
import Glibc
#endif

/// The labelled data `tempscale tune` reads (layouts in specs/tune-data.md). Splits are part of the data.
public enum TuneTask: String, Sendable, CaseIterable {
    case retrieval, similarity, classification
}

public enum TuneDataError: ReasonError, Equatable {
    case missing(String)
    case badLine(line: Int, String)
    case badQrels(line: Int, String)
    case unknownId(line: Int, String)
    case queryInBothSplits(String)
    case emptySplit(String)
    case duplicateId(String)

    public var description: String {
        switch self {
        case .missing(let what): return "missing \(what) (layouts: specs/tune-data.md)"
        case .badLine(let l, let why): return "line \(l): \(why)"
        case .badQrels(let l, let why): return "line \(l): \(why) (expected query-id<TAB>corpus-id<TAB>integer score)"
        case .unknownId(let l, let id): return "line \(l): unknown id '\(id)'"
        case .queryInBothSplits(let q): return "query '\(q)' is judged in both dev and test"
        case .emptySplit(let s): return "the \(s) split is empty; τ is chosen on dev and reported on test, so both are needed"
        case .duplicateId(let id): return "id '\(id)' appears twice"
        }
    }
}

/// Queries ranked against a corpus; gains from qrels.
public struct RetrievalSet: Sendable {
    public let corpus: [String]
    public let queries: [String]
    /// Per split, per evaluated query: (query index, gains by corpus index).
    public let dev: [(query: Int, gains: [Int: Double])]
    public let test: [(query: Int, gains: [Int: Double])]
}

/// Text pairs with human scores.
public struct SimilaritySet: Sendable {
    public struct Pair: Sendable { public let a, b: Int; public let score: Double }
    /// Unique texts; pairs refer to them by index.
    public let texts: [String]
    public let dev: [Pair]
    public let test: [Pair]
}

/// Labelled texts for kNN classification.
public struct ClassificationSet: Sendable {
    public struct Item: Sendable { public let text: String; public let label: String }
    public let train: [Item]
    public let dev: [Item]
    public let test: [Item]
}

public enum TuneData {
    // MARK: retrieval

    public static func retrieval(at folder: String) throws -> RetrievalSet {
        let corpusPath = folder + "/corpus.jsonl", queriesPath = folder + "/queries.jsonl"
        let (docIds, docs) = try readIdTexts(corpusPath, titled: true)
        let (queryIds, queries) = try readIdTexts(queriesPath, titled: false)
        let docIndex = try index(docIds, corpusPath), queryIndex = try index(queryIds, queriesPath)
        let dev = try readQrels(folder + "/qrels/dev.tsv", docIndex, queryIndex)
        let test = try readQrels(folder + "/qrels/test.tsv", docIndex, queryIndex)
        if let both = dev.keys.first(where: { test[$0] != nil }) {
            throw FileError(folder + "/qrels", TuneDataError.queryInBothSplits(queryIds[both]))
        }
        func list(_ m: [Int: [Int: Double]], _ split: String) throws -> [(query: Int, gains: [Int: Double])] {
            guard !m.isEmpty else { throw FileError(folder + "/qrels/\(split).tsv", TuneDataError.emptySplit(split)) }
            return m.keys.sorted().map { ($0, m[$0]!) }
        }
        return RetrievalSet(corpus: docs, queries: queries, dev: try list(dev, "dev"), test: try list(test, "test"))
    }

    /// Queries with at least one document of score ≥ 1, and their gains.
    static func readQrels(_ path: String, _ docs: [String: Int], _ queries: [String: Int]) throws -> [Int: [Int: Double]] {
        let lines = try readLines(path)
        var out: [Int: [Int: Double]] = [:]
        for (n, line) in lines.enumerated() where !line.isEmpty {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if n == 0 && f.first == "query-id" { continue }
            guard f.count == 3 else { throw FileError(path, TuneDataError.badQrels(line: n + 1, "\(f.count) fields")) }
            guard let score = Int(f[2].trimmingSpaces), score >= 0 else {
                throw FileError(path, TuneDataError.badQrels(line: n + 1, "score '\(f[2])'"))
            }
            guard let q = queries[f[0]] else { throw FileError(path, TuneDataError.unknownId(line: n + 1, f[0])) }
            guard let d = docs[f[1]] else { throw FileError(path, TuneDataError.unknownId(line: n + 1, f[1])) }
            if score >= 1 { out[q, default: [:]][d] = Double(score) }
        }
        return out
    }

    // MARK: similarity

    public static func similarity(at path: String) throws -> SimilaritySet {
        let file = isDirectory(path) ? path + "/pairs.jsonl" : path
        var texts: [String] = [], seen: [String: Int] = [:]
        var dev: [SimilaritySet.Pair] = [], test: [SimilaritySet.Pair] = []
        func intern(_ s: String) -> Int {
            if let i = seen[s] { return i }
            texts.append(s); seen[s] = texts.count - 1
            return texts.count - 1
        }
        for (n, o) in try readObjects(file) {
            guard let a = o["text1"]?.stringValue, let b = o["text2"]?.stringValue else {
                throw FileError(file, TuneDataError.badLine(line: n, "needs string fields \"text1\" and \"text2\""))
            }
            guard let score = o["score"]?.doubleValue, score.isFinite else {
                throw FileError(file, TuneDataError.badLine(line: n, "needs a numeric \"score\""))
            }
            let pair = SimilaritySet.Pair(a: intern(a), b: intern(b), score: score)
            switch o["split"]?.stringValue {
            case "dev": dev.append(pair)
            case "test": test.append(pair)
            default: throw FileError(file, TuneDataError.badLine(line: n, "\"split\" must be \"dev\" or \"test\""))
            }
        }
        if dev.count < 3 { throw FileError(file, TuneDataError.emptySplit("dev")) }
        if test.count < 3 { throw FileError(file, TuneDataError.emptySplit("test")) }
        return SimilaritySet(texts: texts, dev: dev, test: test)
    }

    // MARK: classification

    public static func classification(at path: String) throws -> ClassificationSet {
        let file = isDirectory(path) ? path + "/texts.jsonl" : path
        var train: [ClassificationSet.Item] = [], dev: [ClassificationSet.Item] = [], test: [ClassificationSet.Item] = []
        for (n, o) in try readObjects(file) {
            guard let text = o["text"]?.stringValue else { throw FileError(file, TuneDataError.badLine(line: n, "needs a string \"text\"")) }
            guard let label = idString(o["label"]) else { throw FileError(file, TuneDataError.badLine(line: n, "needs a \"label\"")) }
            let item = ClassificationSet.Item(text: text, label: label)
            switch o["split"]?.stringValue {
            case "train": train.append(item)
            case "dev": dev.append(item)
            case "test": test.append(item)
            default: throw FileError(file, TuneDataError.badLine(line: n, "\"split\" must be \"train\", \"dev\" or \"test\""))
            }
        }
        for (name, items) in [("train", train), ("dev", dev), ("test", test)] where items.isEmpty {
            throw FileError(file, TuneDataError.emptySplit(name))
        }
        return ClassificationSet(train: train, dev: dev, test: test)
    }

    // MARK: reading

    static func readLines(_ path: String) throws -> [String] {
        guard !isDirectory(path) else { throw FileError(path, IOError.cannotOpen("is a folder")) }
        let f: MappedFile
        do { f = try MappedFile(path: path) } catch { throw FileError(path, TuneDataError.missing(path.split(separator: "/").last.map(String.init) ?? path)) }
        do { return try TextInput.lines(Array(f.all)) } catch { throw FileError(path, error) }
    }

    /// (1-based line number, object) for every non-blank line.
    static func readObjects(_ path: String) throws -> [(Int, JSONObject)] {
        try readLines(path).enumerated().compactMap { n, line in
            guard !line.allSatisfy({ $0 == " " || $0 == "\t" }) else { return nil }
            guard let v = try? JSON.parse(line), let o = v.objectValue else {
                throw FileError(path, TuneDataError.badLine(line: n + 1, "not a JSON object"))
            }
            return (n + 1, o)
        }
    }

    static func readIdTexts(_ path: String, titled: Bool) throws -> ([String], [String]) {
        var ids: [String] = [], texts: [String] = []
        for (n, o) in try readObjects(path) {
            guard let id = idString(o["_id"]) ?? idString(o["id"]) else {
                throw FileError(path, TuneDataError.badLine(line: n, "needs an \"_id\" (or \"id\")"))
            }
            guard var text = o["text"]?.stringValue else { throw FileError(path, TuneDataError.badLine(line: n, "needs a string \"text\"")) }
            if titled, let title = o["title"]?.stringValue, !title.isEmpty { text = title + " " + text }
            ids.append(id)
            texts.append(text)
        }
        return (ids, texts)
    }

    static func index(_ ids: [String], _ path: String) throws -> [String: Int] {
        var m: [String: Int] = [:]
        for (i, id) in ids.enumerated() {
            guard m[id] == nil else { throw FileError(path, TuneDataError.duplicateId(id)) }
            m[id] = i
        }
        return m
    }

    static func idString(_ v: JSONValue?) -> String? {
        switch v {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        default: return nil
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces.
    public var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

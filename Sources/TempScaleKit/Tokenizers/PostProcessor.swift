/// tokenizer.json `post_processor`: the special tokens around one sequence (and around a pair).
/// TemplateProcessing, BertProcessing and RobertaProcessing add tokens; ByteLevel changes only offsets;
/// a Sequence applies its parts in order (the later ones wrap the earlier ones' output).
struct PostProcessor: Sendable, Equatable {
    struct Special: Sendable, Equatable {
        var id: Int32
        var token: String
    }
    /// One element of a pair template: a special token, or sequence A or B.
    enum PairPiece: Sendable, Equatable {
        case special(Special)
        case a
        case b
    }
    var prefix: [Special] = []
    var suffix: [Special] = []
    /// The pair template (`$A`/`$B` and the special tokens between), for `encodePair`.
    var pair: [PairPiece] = [.a, .b]
    var summary = "none"

    /// How many ids the processor adds to one sequence; truncation keeps room for them.
    var addedCount: Int { prefix.count + suffix.count }
    var pairAddedCount: Int { pair.filter { if case .special = $0 { return true } else { return false } }.count }

    static let supported = ["TemplateProcessing", "BertProcessing", "RobertaProcessing", "ByteLevel", "Sequence"]
    static let none = PostProcessor()

    init(prefix: [Special] = [], suffix: [Special] = [], pair: [PairPiece]? = nil, summary: String = "none") {
        self.prefix = prefix
        self.suffix = suffix
        self.pair = pair ?? (prefix.map { .special($0) } + [.a] + suffix.map { .special($0) } + [.b] + suffix.map { .special($0) })
        self.summary = summary
    }

    init(json: JSONValue, path: String = "post_processor") throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("\(path).type", "is missing") }
        switch type {
        case "BertProcessing":
            let cls = try Self.pair(json["cls"], "\(path).cls"), sep = try Self.pair(json["sep"], "\(path).sep")
            self.init(prefix: [cls], suffix: [sep], pair: [.special(cls), .a, .special(sep), .b, .special(sep)], summary: type)
        case "RobertaProcessing":
            // add_prefix_space and trim_offsets change offsets only.
            let cls = try Self.pair(json["cls"], "\(path).cls"), sep = try Self.pair(json["sep"], "\(path).sep")
            self.init(prefix: [cls], suffix: [sep],
                      pair: [.special(cls), .a, .special(sep), .special(sep), .b, .special(sep)], summary: type)
        case "ByteLevel":
            self.init(summary: "ByteLevel")
            pair = [.a, .b]
        case "TemplateProcessing":
            try self.init(template: json, path: path)
        case "Sequence":
            guard let items = json["processors"]?.arrayValue else { throw .badField("\(path).processors", "is not a list") }
            var combined = PostProcessor(summary: "")
            combined.pair = [.a, .b]
            var names: [String] = []
            for (i, item) in items.enumerated() {
                let p = try PostProcessor(json: item, path: "\(path).processors[\(i)]")
                names.append(p.summary)
                // p wraps what came before: its specials go outside the earlier ones'.
                combined.prefix = p.prefix + combined.prefix
                combined.suffix += p.suffix
                combined.pair = Self.wrap(combined.pair, in: p.pair)
            }
            combined.summary = "Sequence[" + names.joined(separator: ", ") + "]"
            self = combined
        default:
            throw .unsupported(component: path, type: type, supported: Self.supported)
        }
    }

    /// `outer` applied to the output of `inner` (for pairs: A is inner's A part, B its B part).
    private static func wrap(_ inner: [PairPiece], in outer: [PairPiece]) -> [PairPiece] {
        guard let bAt = inner.firstIndex(of: .b), let aAt = inner.firstIndex(of: .a), aAt < bAt else { return outer }
        let innerA = Array(inner[..<bAt]), innerB = Array(inner[bAt...])
        return outer.flatMap { piece -> [PairPiece] in
            switch piece {
            case .a: return innerA
            case .b: return innerB
            case .special: return [piece]
            }
        }
    }

    /// `["[CLS]", 101]`
    private static func pair(_ v: JSONValue?, _ path: String) throws(TokenizerError) -> Special {
        guard let a = v?.arrayValue, a.count == 2, let token = a[0].stringValue, let id = a[1].intValue,
              let id32 = Int32(exactly: id) else { throw .badField(path, "is not a [token, id] pair") }
        return Special(id: id32, token: token)
    }

    private init(template json: JSONValue, path: String) throws(TokenizerError) {
        func specials(_ name: String) throws(TokenizerError) -> [Special] {
            guard let entry = json["special_tokens"]?[name], let ids = entry["ids"]?.arrayValue,
                  let tokens = entry["tokens"]?.arrayValue, ids.count == tokens.count else {
                throw .badField("\(path).special_tokens[\"\(name)\"]", "is missing or its ids and tokens differ in length")
            }
            var out: [Special] = []
            for (idValue, tokenValue) in zip(ids, tokens) {
                guard let id = idValue.intValue, let id32 = Int32(exactly: id), let token = tokenValue.stringValue else {
                    throw .badField("\(path).special_tokens[\"\(name)\"]", "has an id or token of the wrong type")
                }
                out.append(Special(id: id32, token: token))
            }
            return out
        }
        func pieces(_ key: String, allowB: Bool) throws(TokenizerError) -> [PairPiece] {
            guard let items = json[key]?.arrayValue else { throw .badField("\(path).\(key)", "is not a list") }
            var out: [PairPiece] = []
            for (i, item) in items.enumerated() {
                let itemPath = "\(path).\(key)[\(i)]"
                if let seq = item["Sequence"] {
                    switch seq["id"]?.stringValue {
                    case "A": out.append(.a)
                    case "B" where allowB: out.append(.b)
                    default: throw .badField(itemPath, "names a sequence other than $A\(allowB ? " or $B" : "")")
                    }
                } else if let name = item["SpecialToken"]?["id"]?.stringValue {
                    out += try specials(name).map { .special($0) }
                } else {
                    throw .badField(itemPath, "is neither a Sequence nor a SpecialToken")
                }
            }
            return out
        }
        let single = try pieces("single", allowB: false)
        guard let aAt = single.firstIndex(of: .a), single.lastIndex(of: .a) == aAt else {
            throw .badField("\(path).single", "must hold $A exactly once")
        }
        func specialsOf(_ p: ArraySlice<PairPiece>) -> [Special] {
            p.compactMap { if case .special(let s) = $0 { return s } else { return nil } }
        }
        var pairPieces: [PairPiece]? = nil
        if let p = json["pair"], p != .null {
            let parsed = try pieces("pair", allowB: true)
            guard parsed.filter({ $0 == .a }).count == 1, parsed.filter({ $0 == .b }).count == 1 else {
                throw .badField("\(path).pair", "must hold $A once and $B once")
            }
            pairPieces = parsed
        }
        self.init(prefix: specialsOf(single[..<aAt]), suffix: specialsOf(single[(aAt + 1)...]), pair: pairPieces,
                  summary: "TemplateProcessing")
    }
}

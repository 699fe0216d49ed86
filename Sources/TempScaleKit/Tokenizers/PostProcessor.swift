/// tokenizer.json `post_processor`, for a single sequence: special tokens before and after it.
/// TemplateProcessing `[CLS] $A [SEP]`, BertProcessing and RobertaProcessing (`<s> $A </s>`) all reduce to this.
struct PostProcessor: Sendable, Equatable {
    struct Special: Sendable, Equatable {
        var id: Int32
        var token: String
    }
    var prefix: [Special] = []
    var suffix: [Special] = []

    /// How many ids the processor adds; truncation keeps room for them.
    var addedCount: Int { prefix.count + suffix.count }

    static let supported = ["TemplateProcessing", "BertProcessing", "RobertaProcessing"]
    static let none = PostProcessor()

    init(prefix: [Special] = [], suffix: [Special] = []) {
        self.prefix = prefix
        self.suffix = suffix
    }

    init(json: JSONValue) throws(TokenizerError) {
        guard let type = json["type"]?.stringValue else { throw .badField("post_processor.type", "is missing") }
        switch type {
        case "BertProcessing", "RobertaProcessing":
            let cls = try Self.pair(json["cls"], "post_processor.cls")
            let sep = try Self.pair(json["sep"], "post_processor.sep")
            self.init(prefix: [cls], suffix: [sep])
        case "TemplateProcessing":
            try self.init(template: json)
        default:
            throw .unsupported(component: "post_processor", type: type, supported: Self.supported)
        }
    }

    /// `["[CLS]", 101]`
    private static func pair(_ v: JSONValue?, _ path: String) throws(TokenizerError) -> Special {
        guard let a = v?.arrayValue, a.count == 2, let token = a[0].stringValue, let id = a[1].intValue,
              let id32 = Int32(exactly: id) else { throw .badField(path, "is not a [token, id] pair") }
        return Special(id: id32, token: token)
    }

    private init(template json: JSONValue) throws(TokenizerError) {
        guard let items = json["single"]?.arrayValue else { throw .badField("post_processor.single", "is not a list") }
        var seenSequence = false
        for (i, item) in items.enumerated() {
            let path = "post_processor.single[\(i)]"
            if let seq = item["Sequence"] {
                guard seq["id"]?.stringValue == "A", !seenSequence else {
                    throw .badField(path, "is a second sequence or not $A; only single-sequence templates are supported")
                }
                seenSequence = true
            } else if let name = item["SpecialToken"]?["id"]?.stringValue {
                guard let entry = json["special_tokens"]?[name], let ids = entry["ids"]?.arrayValue,
                      let tokens = entry["tokens"]?.arrayValue, ids.count == tokens.count else {
                    throw .badField("post_processor.special_tokens[\"\(name)\"]", "is missing or its ids and tokens differ in length")
                }
                for (idValue, tokenValue) in zip(ids, tokens) {
                    guard let id = idValue.intValue, let id32 = Int32(exactly: id), let token = tokenValue.stringValue else {
                        throw .badField("post_processor.special_tokens[\"\(name)\"]", "has an id or token of the wrong type")
                    }
                    if seenSequence { suffix.append(Special(id: id32, token: token)) } else { prefix.append(Special(id: id32, token: token)) }
                }
            } else {
                throw .badField(path, "is neither a Sequence nor a SpecialToken")
            }
        }
        guard seenSequence else { throw .badField("post_processor.single", "has no $A") }
    }
}

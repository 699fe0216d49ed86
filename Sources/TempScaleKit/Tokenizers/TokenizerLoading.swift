extension Tokenizer {
    /// The model's tokenizer: tokenizer.json when present, else the BERT pipeline rebuilt from
    /// vocab.txt and tokenizer_config.json (what transformers' BertTokenizer/MPNetTokenizer do).
    public static func load(from model: Model) throws -> Tokenizer {
        var config: JSONValue?
        if let bytes = model.files["tokenizer_config.json"] {
            do { config = try JSON.parse(bytes) } catch { throw FileError(model.path + "/tokenizer_config.json", TokenizerError.invalidJSON(error)) }
        }
        if let json = model.files["tokenizer.json"] {
            do {
                return try Tokenizer(parsing: json, padToken: config?["pad_token"]?.stringValue)
            } catch {
                throw FileError(model.path + "/tokenizer.json", error)
            }
        }
        if let vocab = model.files["vocab.txt"] {
            do {
                return try Tokenizer(vocabTxt: vocab, config: config ?? .object(JSONObject()))
            } catch {
                throw FileError(model.path + "/vocab.txt", error)
            }
        }
        throw FileError(model.path, TokenizerError.noTokenizerFiles)
    }

    /// BertTokenizer (`[CLS] $A [SEP]`) or MPNetTokenizer (`<s> $A </s>`, `<mask>` strips spaces on its left)
    /// from vocab.txt (one token per line, id = line number) and tokenizer_config.json.
    convenience init(vocabTxt: [UInt8], config: JSONValue) throws(TokenizerError) {
        var vocab: [(String, Int32)] = []
        var seen = Set<[UInt8]>()
        var lines = vocabTxt.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the newline ending the last line
        var id: Int32 = 0
        for line in lines {
            if seen.insert(Array(line)).inserted { vocab.append((String(decoding: line, as: UTF8.self), id)) }  // first wins
            id += 1
        }
        let isMPNet = config["tokenizer_class"]?.stringValue == "MPNetTokenizer"
        func name(_ key: String, _ bert: String, _ mpnet: String) -> String {
            config[key]?.stringValue ?? config[key]?["content"]?.stringValue ?? (isMPNet ? mpnet : bert)
        }
        let unk = name("unk_token", "[UNK]", "[UNK]"), cls = name("cls_token", "[CLS]", "<s>")
        let sep = name("sep_token", "[SEP]", "</s>"), pad = name("pad_token", "[PAD]", "<pad>")
        let mask = name("mask_token", "[MASK]", "<mask>")
        let lowercase = config["do_lower_case"]?.boolValue ?? true
        let normalizer = Normalizer.bert(BertNormalizer(
            cleanText: true, handleChineseChars: config["tokenize_chinese_chars"]?.boolValue ?? true,
            stripAccents: config["strip_accents"]?.boolValue, lowercase: lowercase))
        let model = try WordPiece(vocab: vocab, unkToken: unk)
        let ids = model.vocab
        func special(_ token: String, lstrip: Bool = false) throws(TokenizerError) -> AddedToken {
            guard let id = ids[token] else { throw .unknownToken(role: "special token", token: token) }
            return AddedToken(content: token, id: id, lstrip: lstrip, normalized: false, special: true)
        }
        let specials = [try special(pad), try special(unk), try special(cls), try special(sep), try special(mask, lstrip: isMPNet)]
        let post = PostProcessor(prefix: [.init(id: specials[2].id, token: cls)], suffix: [.init(id: specials[3].id, token: sep)])
        self.init(normalizer: normalizer, preTokenizer: .bert, model: model, postProcessor: post,
                  addedTokens: specials, padToken: pad)
    }
}

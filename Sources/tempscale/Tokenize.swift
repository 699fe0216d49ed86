import ArgumentParser
import TempScaleKit

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids (and tokens) the model sees for each text, and where truncation cuts.",
        discussion: """
            Examples:
              echo "café naïve Ångström" | tempscale tokenize models/all-MiniLM-L6-v2
              tempscale tokenize minilm.tsm --input docs.txt --json
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @Option(help: "Input file (one text per line or JSONL with \"text\"); - for stdin.") var input = "-"
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Flag(help: "One JSON object per text: ids, tokens, truncated, full_length.") var json = false

    func run() throws {
        try runReportingErrors {
            let texts = try readTexts(input)
            let m = try ModelLoader.open(model)
            let tokenizer = try Tokenizer.load(from: m)
            let limit = maxLength ?? m.sentenceTransformers.maxSeqLength ?? TextEmbedder.positionLimit(m) ?? 512
            var truncated = 0
            for (i, text) in texts.enumerated() {
                let e = tokenizer.encode(text, maxLength: limit)
                if e.truncated { truncated += 1 }
                if json {
                    let o: JSONValue = .object(JSONObject([
                        ("index", .int(Int64(i))), ("ids", .array(e.ids.map { .int(Int64($0)) })),
                        ("tokens", .array(e.tokens.map { .string($0) })), ("truncated", .bool(e.truncated)),
                        ("full_length", .int(Int64(e.fullLength))),
                    ]))
                    print(o.serialized())
                } else {
                    let cut = e.truncated ? "  [truncated: \(e.fullLength) → \(e.ids.count) tokens]" : ""
                    print("\(i)\t\(e.ids.count) tokens\(cut)")
                    print("  ids:    " + e.ids.map(String.init).joined(separator: " "))
                    print("  tokens: " + e.tokens.joined(separator: " "))
                }
            }
            reportTruncation(truncated, of: texts.count, maxLength: limit)
        }
    }
}

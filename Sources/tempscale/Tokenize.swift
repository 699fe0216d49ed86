import ArgumentParser
import TempScaleKit
#if canImport(Glibc)
import Glibc
#endif

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids (and tokens) the model sees for each text, and where truncation cuts.",
        discussion: """
            MODEL is a model folder, weight file or .tsm file, or a tokenizer.json file. The tokenizer's pipeline
            (WordPiece, BPE or Unigram; normalizer, pre-tokenizer, post-processor) goes to stderr first.

            Examples:
              echo "café naïve Ångström" | tempscale tokenize models/all-MiniLM-L6-v2
              tempscale tokenize minilm.tsm --input docs.txt --json
              tempscale tokenize multilingual-e5-small/tokenizer.json --input texts.txt --ids-only --threads 2
            """
    )

    @Argument(help: "Model folder, weight file, .tsm file or tokenizer.json.") var model: String
    @Option(help: "Input file (one text per line or JSONL with \"text\"); - for stdin.") var input = "-"
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length; none for a bare tokenizer.json).") var maxLength: Int?
    @Flag(help: "One JSON object per text: ids, tokens, truncated, full_length.") var json = false
    @Flag(help: "Only the ids, space-separated, one line per text.") var idsOnly = false
    @Flag(help: "Leave out the special tokens the post-processor adds.") var noSpecialTokens = false
    @Option(help: "Threads to tokenize on.") var threads = 1
    @Flag(help: "Report load and tokenization times (and texts/s) on stderr.") var timing = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            let start = now()
            let tokenizer: Tokenizer
            let summary: TokenizerSummary
            var limit = maxLength
            if model.hasSuffix(".json") {
                tokenizer = try Tokenizer.load(path: model)
                summary = TokenizerSummary(tokenizer)
            } else {
                let m = try ModelLoader.open(model, checksums: false)
                tokenizer = try Tokenizer.load(from: m)
                summary = TokenizerSummary(tokenizer, model: m)
                limit = limit ?? m.sentenceTransformers.maxSeqLength ?? TextEmbedder.positionLimit(m) ?? 512
            }
            let loaded = now()
            let texts = try readTexts(input)
            if !idsOnly && !json {
                writeStderr(summary.rows.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n")
            }
            if let note = summary.pipelineNote { printWarning(note) }

            let t0 = now()
            let encodings = tokenizer.encodeBatch(texts, maxLength: limit, addSpecialTokens: !noSpecialTokens, threads: threads)
            let t1 = now()
            var out = ""
            var truncated = 0
            for (i, e) in encodings.enumerated() {
                if e.truncated { truncated += 1 }
                if idsOnly {
                    out += e.ids.map(String.init).joined(separator: " ") + "\n"
                } else if json {
                    let o: JSONValue = .object(JSONObject([
                        ("index", .int(Int64(i))), ("ids", .array(e.ids.map { .int(Int64($0)) })),
                        ("tokens", .array(e.tokens.map { .string($0) })), ("truncated", .bool(e.truncated)),
                        ("full_length", .int(Int64(e.fullLength))),
                    ]))
                    out += o.serialized() + "\n"
                } else {
                    let cut = e.truncated ? "  [truncated: \(e.fullLength) → \(e.ids.count) tokens]" : ""
                    out += "\(i)\t\(e.ids.count) tokens\(cut)\n"
                    out += "  ids:    " + e.ids.map(String.init).joined(separator: " ") + "\n"
                    out += "  tokens: " + e.tokens.joined(separator: " ") + "\n"
                }
                if out.utf8.count > 1 << 20 { print(out, terminator: ""); out = "" }
            }
            print(out, terminator: "")
            if let limit { reportTruncation(truncated, of: texts.count, maxLength: limit) }
            if timing {
                let tokens = encodings.reduce(0) { $0 + $1.ids.count }
                writeStderr("timing: load \(formatFixed(loaded - start, 3)) s, tokenize \(formatFixed(t1 - t0, 3)) s for \(texts.count) texts "
                    + "(\(tokens) tokens, \(formatFixed(Double(texts.count) / max(t1 - t0, 1e-9), 0)) texts/s, \(threads) thread\(threads == 1 ? "" : "s"))\n")
            }
        }
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

import ArgumentParser
import TempScaleKit

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts with the built-in CPU encoder (optionally with a run-time attention temperature).",
        discussion: """
            Input: one text per line, or JSON Lines with a "text" field. Texts longer than the model's
            max sequence length are truncated as sentence-transformers does, and the count of truncated
            texts is reported on stderr. Prompts come from config_sentence_transformers.json as
            sentence-transformers applies them: its default_prompt_name unless --prompt names another
            (--prompt "" for none), or --prompt-text gives the text itself.

            Examples:
              echo "This is an example sentence." | tempscale embed models/all-MiniLM-L6-v2
              tempscale embed minilm.tsm --input docs.txt --output docs.npy --format npy
              tempscale embed minilm.tsm --input docs.jsonl --temperature 0.8 --threads 2
              tempscale embed minilm-q8.tsm --input docs.txt --format npy --output docs.npy   # runs int8
              tempscale embed minilm.tsm --input docs.txt --precision bf16
              tempscale embed e5-small/ --input passages.txt --prompt passage
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @Option(help: "Input file (one text per line or JSONL with \"text\"); - for stdin.") var input = "-"
    @Option(help: "Output file (written atomically); stdout when absent.") var output: String?
    @Option(help: "Output format: jsonl or npy.") var format: EmbeddingOutput.Format = .jsonl
    @Option(help: "Attention temperature τ applied at run time (τ < 1 counters length collapse).") var temperature: Double = 1
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Option(help: "Sequences per batch.") var batch = 32
    @Option(help: "Worker threads.") var threads = 1
    @OptionGroup var precision: PrecisionOption
    @OptionGroup var prompt: PromptOptions

    func validate() throws {
        guard temperature.isFinite, temperature > 0 else { throw ValidationError("--temperature must be a finite number > 0") }
        guard batch > 0, threads > 0 else { throw ValidationError("--batch and --threads must be positive") }
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2") }
    }

    func run() throws {
        try runReportingErrors {
            let texts = try readTexts(input)
            let embedder = try TextEmbedder(model: try ModelLoader.open(model, checksums: false), maxLength: maxLength,
                                            options: precision.options(batchSize: batch, threads: threads))
            announcePrecision(embedder.encoder)
            let bar = ProgressBar("embed", unit: "texts", minimum: 256)
            let text: String
            do { text = try embedder.promptText(prompt.choice) } catch let e as TextEmbedder.Error {
                throw FileError(model + "/config_sentence_transformers.json", e)
            }
            let result = try embedder.embed(texts, temperature: temperature, prompt: text, progress: bar.update)
            try writeOutput(EmbeddingOutput.encode(result.embeddings, format: format), to: output, inputs: [input, model])
            reportTruncation(result.truncated.count, of: texts.count, maxLength: embedder.maxLength)
        }
    }
}

func reportTruncation(_ count: Int, of total: Int, maxLength: Int) {
    if count > 0 {
        writeStderr("tempscale: \(count) of \(total) texts were longer than \(maxLength) tokens and were truncated\n")
    }
}

extension EmbeddingOutput.Format: ExpressibleByArgument {}

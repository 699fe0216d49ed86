import ArgumentParser
import TempScaleKit
#if canImport(Glibc)
import Glibc
#endif

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Choose τ on labelled data: grid search on a dev split, result on a test split with a 95% interval.",
        discussion: """
            Tasks and metrics: retrieval (nDCG@10 chooses, MRR@10 also shown), similarity (Spearman),
            classification (kNN accuracy). Data layouts: specs/tune-data.md; `make data` builds four real
            sets in .cache/data. The dev score only chooses τ; the result is τ = 1 against the chosen τ on
            the test split, with a paired bootstrap interval on the difference. For retrieval,
            --query-temperature gives queries their own τ grid (every query τ × document τ pair is tried).
            Prompts (config_sentence_transformers.json) are applied as sentence-transformers' encode does:
            the model's default_prompt_name unless --prompt names another ("" for none); for retrieval,
            --query-prompt and --document-prompt give each side its own (E5: query / passage). The
            *-text forms take the prompt text itself.

            Examples:
              tempscale tune models/all-MiniLM-L6-v2 --task classification --data .cache/data/bbc-classification
              tempscale tune minilm.tsm --task retrieval --data .cache/data/debian-retrieval --grid 0.6,0.8,1
              tempscale tune minilm.tsm --task retrieval --data beir/scifact --query-temperature 0.8,1 --grid 0.6,0.8,1
              tempscale tune minilm.tsm --task similarity --data .cache/data/lee-similarity --bake -o minilm-tuned.tsm
              tempscale tune e5-small/ --task retrieval --data .cache/data/debian-retrieval --query-prompt query --document-prompt passage
              tempscale tune e5-small/ --task similarity --data .cache/data/lee-similarity --prompt-text "query: "
            """
    )

    @Argument(help: "Model folder, weight file or .tsm file.") var model: String
    @Option(help: "retrieval, similarity or classification.") var task: TuneTask
    @Option(help: "Data folder or file (specs/tune-data.md).") var data: String
    @Option(help: "Candidate τ (documents, and queries unless --query-temperature is given).") var grid = "0.1,0.5,0.6,0.7,0.8,0.9,1.0"
    @Option(help: "Retrieval only: candidate τ for the queries.") var queryTemperature: String?
    @Option(help: "Neighbours for kNN classification.") var k = 5
    @Option(help: "Bootstrap resamples for the interval.") var bootstrap = 1000
    @Flag(help: "Write the model patched with the chosen τ to --output.") var bake = false
    @Option(name: .shortAndLong, help: "Output of --bake: file (native, gguf) or folder (hf).") var output: String?
    @Option(help: "Format of --bake's output: native, hf or gguf.") var format: OutputFormat = .native
    @Flag(help: "Replace the --bake output if it exists.") var force = false
    @Option(help: "Truncate at N tokens (default: the model's max_seq_length).") var maxLength: Int?
    @Option(help: "Worker threads.") var threads = 1
    @OptionGroup var precision: PrecisionOption
    @OptionGroup var prompt: PromptOptions
    @Option(help: "Retrieval: prompt name for the queries.") var queryPrompt: String?
    @Option(help: "Retrieval: prompt text for the queries.") var queryPromptText: String?
    @Option(help: "Retrieval: prompt name for the documents.") var documentPrompt: String?
    @Option(help: "Retrieval: prompt text for the documents.") var documentPromptText: String?
    @Option(help: "Also write the JSON report to this file.") var jsonFile: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        _ = try parseTemperatures(grid, option: "--grid")
        if let queryTemperature { _ = try parseTemperatures(queryTemperature, option: "--query-temperature") }
        guard k > 0 else { throw ValidationError("--k must be positive") }
        guard bootstrap >= 100 else { throw ValidationError("--bootstrap needs at least 100 resamples") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        if bake && output == nil { throw ValidationError("--bake needs -o/--output") }
        if output != nil && !bake { throw ValidationError("-o/--output is the destination of --bake; add --bake") }
        for (flag, named, text) in [("query-prompt", queryPrompt, queryPromptText), ("document-prompt", documentPrompt, documentPromptText)]
        where named != nil && text != nil {
            throw ValidationError("give --\(flag) or --\(flag)-text, not both")
        }
    }

    func run() throws {
        try runReportingErrors {
            // Refuse an existing --bake output before the grid search, not after it.
            if bake, let output, !force, access(output, F_OK) == 0 { throw FileError(output, IOError.outputExists) }
            let source = try ModelLoader.open(model)
            let embedder = try TextEmbedder(model: source, maxLength: maxLength, options: precision.options(threads: threads))
            announcePrecision(embedder.encoder)
            let options = Tuner.Options(grid: try parseTemperatures(grid, option: "--grid"),
                                        queryGrid: try queryTemperature.map { try parseTemperatures($0, option: "--query-temperature") },
                                        k: k, resamples: bootstrap,
                                        prompt: prompt.choice,
                                        queryPrompt: TextEmbedder.Prompt(name: queryPrompt, text: queryPromptText),
                                        documentPrompt: TextEmbedder.Prompt(name: documentPrompt, text: documentPromptText))
            let bar = ProgressBar("tune", unit: "embeddings", minimum: 64)
            let result: TuneResult
            do { result = try Tuner.run(embedder, task: task, data: data, options: options, progress: bar.update) } catch let e as Tuner.Error {
                throw FileError(data, e)
            } catch let e as TextEmbedder.Error {
                throw FileError(model + "/config_sentence_transformers.json", e)
            }
            let report = TuneReport(result, model: embedder.model.displayName, data: data)
            try printReport(text: report.text(), json: report.json(), asJSON: json, jsonFile: jsonFile, inputs: [model])
            if bake, let output {
                let tau = result.best.tau
                let patched = try Patcher.patch(source, tau: tau)
                for w in patched.warnings { printWarning(w) }
                let written = try ModelWriter.write(patched.model, format: format, to: output, dtype: nil, force: force)
                writeStderr("tempscale: baked τ = \(formatTemperature(tau)) (the documents' τ): \(written)\n")
                if let q = result.best.queryTau, q != tau {
                    writeStderr("tempscale: queries were best at τ = \(formatTemperature(q)): embed them from the baked model with --temperature \(formatTemperature(q / tau))\n")
                }
            }
        }
    }
}

extension TuneTask: ExpressibleByArgument {}

import ArgumentParser
import TempScaleKit

struct Patch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bake an attention temperature τ into a model's weights (TempScale), exactly, per architecture.",
        discussion: """
            Every patched layer's softmax input becomes S/τ, in any runtime, with no code change:
            BERT/RoBERTa/XLM-R scale the query projection by 1/τ (relative_key_query: query, key and
            distance embedding by τ^-½); MPNet also scales its shared relative-position bias; T5 its
            block-0 position bias. τ < 1 counters length collapse; patching a patched model composes
            (τ_total = τ₁·τ₂) and the history travels with the model.

            A deployed .onnx file (PyTorch export, onnxruntime-optimized, int8-quantized) is patched in
            its own form: each attention softmax is traced back to its query projection (weight and
            bias, packed QKV columns, or int8 weight scale), or a fused Attention/QAttention's scale;
            a learned position bias is scaled with it; anything that cannot be made exact is refused
            with the node named. A .gguf file is patched in its own tensor types.

            Examples:
              tempscale patch models/all-MiniLM-L6-v2 --temperature 0.8 -o minilm-t08.tsm
              tempscale patch models/all-MiniLM-L6-v2 --temperature 0.8 --format hf -o minilm-t08/
              tempscale patch models/all-MiniLM-L6-v2 -t 0.8 --format gguf --dtype f16 -o minilm-t08.gguf
              tempscale patch bert-base/ -t 0.7 --layers 6-11 -o bert-late.tsm
              tempscale patch minilm-q8_0.gguf -t 0.8 -o minilm-q8_0-t08.gguf
              tempscale patch model.onnx -t 0.8 -o model-t08.onnx
            """
    )

    @Argument(help: "Model folder, weight file, .tsm file, or a .gguf / .onnx file (patched in its own format into a new file).") var model: String
    @Option(name: .shortAndLong, help: "Temperature τ > 0 (the paper searches 0.5 – 0.9).") var temperature: Double
    @Option(name: .shortAndLong, help: "Output file (native, gguf) or folder (hf).") var output: String
    @Option(help: "Output format: native (default), hf, gguf or onnx; a .gguf / .onnx input gives its own format.") var format: OutputFormat?
    @Option(help: "Layers to patch: all, or indices and ranges like 0-5,8.") var layers = "all"
    @Option(help: "Storage type: f32, f16, bf16 or q8 (native only); default f32 (native) / source type (hf).")
    var dtype: DType?
    @Flag(help: "Replace the output if it exists.") var force = false

    func validate() throws {
        guard temperature.isFinite, temperature > 0 else {
            throw ValidationError("--temperature must be a finite number > 0 (got \(temperature))")
        }
    }

    func run() throws {
        try runReportingErrors {
            if GGUFFile.isGGUF(path: model) { return try patchGGUF() }
            if ONNXFile.isONNX(path: model) { return try patchONNX() }
            let source = try ModelLoader.open(model)
            let selection: LayerSelection
            do { selection = try LayerSelection(parsing: layers, layerCount: source.architecture.dims.layers) } catch let e as BakeError {
                throw FileError(model, e)
            }
            let result = try Patcher.patch(source, tau: temperature, layers: selection)
            for w in result.warnings { printWarning(w) }
            let bar = ProgressBar("patch")
            print(try ModelWriter.write(result.model, format: format ?? .native, to: output, dtype: dtype, force: force, progress: bar.update))
            print("baked τ = \(temperature) into layers \(selection) (τ_total = \(result.model.temperature.total)): \(result.rule.explanation)")
        }
    }

    /// An ONNX graph as it was deployed (exported, fused or quantized): each attention layer by its own exact rule.
    func patchONNX() throws {
        if let format, format != .onnx { throw ValidationError("\(model) is an ONNX file: it is patched into ONNX (drop --format, or export the checkpoint instead)") }
        if dtype != nil { throw ValidationError("\(model) is an ONNX file: it is patched in its own tensor types (drop --dtype)") }
        let r = try ONNXPatcher.patch(model, tau: temperature, layers: layers, to: output, force: force)
        let rules = Dictionary(grouping: r.sites, by: \.rule).sorted { $0.key < $1.key }.map { "\($0.value.count) × \($0.key)" }
        print("wrote \(output): \(formatBytes(r.bytes)), \(r.sites.count) attention layers patched, \(r.scaledTensors) tensors scaled"
              + (r.copiedTensors > 0 ? " (\(r.copiedTensors) copied first: also read outside the query path)" : "") + ", every other node and tensor unchanged")
        print("baked τ = \(temperature) (τ_total = \(r.temperature.total)): " + rules.joined(separator: "; "))
    }

    /// A GGUF file as llama.cpp wrote it: only the query path's scales change, in the file's own types.
    func patchGGUF() throws {
        if let format, format != .gguf { throw ValidationError("\(model) is a GGUF file: it is patched into GGUF (drop --format, or export the checkpoint instead)") }
        if dtype != nil { throw ValidationError("\(model) is a GGUF file: it is patched in its own tensor types (drop --dtype)") }
        let r = try GGUFPatcher.patch(model, tau: temperature, layers: layers, to: output, force: force)
        let types = r.types.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("wrote \(output): \(formatBytes(r.bytes)), \(r.scales.count) tensors scaled (\(types)), every other byte copied")
        print("baked τ = \(temperature) (τ_total = \(r.temperature.total)) into llama.cpp's \(r.architecture): \(r.explanation)")
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model (patched or not) for another runtime: an HF folder, GGUF for llama.cpp, or ONNX.",
        discussion: """
            hf: model.safetensors, config.json (with the temperature history), the tokenizer files and
            the sentence-transformers modules — AutoModel and SentenceTransformer load it unchanged.
            gguf: llama.cpp's bert architecture for BERT, RoBERTa and XLM-R (WordPiece, byte-level BPE and
            Unigram vocabularies) and t5encoder for T5/mT5 encoders. Refused, with the reason: MPNet (no
            llama.cpp architecture), relative-position BERT, a Dense module, pooling llama.cpp lacks, and
            tokenizer pipelines llama.cpp's tokenizers would run differently.
            onnx: every family the encoder runs (not relative-position BERT), IR 8 / opset 17, standard
            operators only, dynamic batch and sequence; inputs input_ids, attention_mask (and
            token_type_ids where the model has token types), outputs last_hidden_state and
            sentence_embedding (pooling, Dense and Normalize in the graph). τ is in the query weights, so
            onnxruntime's transformer optimizer keeps it when it fuses attention; the τ history is in
            metadata_props. --dtype f16 stores weights in f16 and computes in f32.

            Examples:
              tempscale export minilm-t08.tsm --to hf -o minilm-t08/
              tempscale export minilm-t08.tsm --to gguf --dtype f16 -o minilm-t08.gguf
              tempscale export minilm-t08.tsm --to onnx -o minilm-t08.onnx
              tempscale patch e5-small/ -t 0.8 --format gguf -o e5-small-t08.gguf
              tempscale export minilm.tsm --to onnx --temperatures 0.6,0.8,1 -o minilm-grid/

            --temperatures writes one export per τ into the folder -o names (NAME-t0.6.onnx, …; τ 1 is the
            model as it is) and temperatures.json listing them: sweep τ in a runtime that scales, then
            give the embeddings back to collapse or tune.
            """
    )

    @Argument(help: "Model folder, weight file, .tsm file or .gguf file (patched in place into a new .gguf).") var model: String
    @Option(help: "Target: hf, gguf or onnx.") var to: OutputFormat
    @Option(name: .shortAndLong, help: "Output folder (hf) or file (gguf, onnx).") var output: String
    @Option(help: "f32 or f16 (hf also bf16).") var dtype: DType?
    @Option(help: "One export per τ (comma-separated) into the folder -o names, with temperatures.json.") var temperatures: String?
    @Flag(help: "Replace the output if it exists.") var force = false

    func validate() throws {
        if let temperatures { _ = try parseTemperatures(temperatures, option: "--temperatures") }
    }

    func run() throws {
        try runReportingErrors {
            if GGUFFile.isGGUF(path: model) { throw ValidationError("\(model) is a GGUF file; export reads checkpoints and .tsm files (to bake τ into a GGUF, use patch)") }
            if ONNXFile.isONNX(path: model) { throw ValidationError("\(model) is an ONNX file; export reads checkpoints and .tsm files (to bake τ into an ONNX file, use patch)") }
            let source = try ModelLoader.open(model)
            if let temperatures {
                let entries = try TemperatureGrid.write(source, temperatures: try parseTemperatures(temperatures, option: "--temperatures"),
                                                        format: to, to: output, dtype: dtype, force: force, log: { print($0) })
                print("wrote \(output): \(entries.count) exports (τ \(entries.map { GoldenFile.tauKey($0.temperature) }.joined(separator: ", "))) and temperatures.json")
                return
            }
            print(try ModelWriter.write(source, format: to, to: output, dtype: dtype, force: force))
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}

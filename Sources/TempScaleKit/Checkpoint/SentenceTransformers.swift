/// What sentence-transformers adds around the transformer: pooling (one or several modes), Dense layers,
/// normalisation, prompts, max length — read from modules.json and the modules' folders, every module honoured or
/// refused by name (golden/st-modules-notes.md has sentence-transformers 6.2's rules with line references).
public struct SentenceTransformersConfig: Sendable, Equatable {
    public enum Pooling: String, Sendable, CaseIterable {
        case mean, cls, max, lastToken = "lasttoken", meanSqrtLen = "mean_sqrt_len_tokens", weightedMean = "weightedmean"
    }

    /// A Dense module: y = act(W·x + b), W [out, in] stored as `<path>/linear.weight` among the model's tensors.
    public struct Dense: Sendable, Equatable {
        public var path: String
        public var inFeatures: Int
        public var outFeatures: Int
        public var bias: Bool
        /// The activation class as saved (`torch.nn.modules.activation.Tanh`).
        public var activation: String
        public var weightName: String { "\(path)/linear.weight" }
        public var biasName: String { "\(path)/linear.bias" }
    }

    /// What runs after the transformer, in modules.json order.
    public enum Step: Sendable, Equatable {
        case pooling
        case dense(Dense)
        case normalize
    }

    /// The first pooling mode; nil when the folder has no modules.json / pooling config (a plain transformers model).
    public var pooling: Pooling? { poolingModes.first }
    /// Every pooling mode, concatenated in this order.
    public var poolingModes: [Pooling] = []
    /// false: the prompt's tokens are left out of pooling (they still take part in attention).
    public var includePrompt = true
    public var normalize: Bool { steps.contains(.normalize) }
    public var steps: [Step] = []
    public var maxSeqLength: Int?
    public var doLowerCase: Bool?
    /// Relative path of the pooling config, as modules.json names it.
    public var poolingPath: String?
    /// Every module modules.json lists, in order.
    public var modules: [Module] = []
    /// `prompts` from config_sentence_transformers.json, in file order, and `default_prompt_name`.
    public var prompts: [(name: String, text: String)] = []
    public var defaultPromptName: String?

    public static func == (a: Self, b: Self) -> Bool {
        a.poolingModes == b.poolingModes && a.includePrompt == b.includePrompt && a.steps == b.steps
            && a.maxSeqLength == b.maxSeqLength && a.doLowerCase == b.doLowerCase && a.poolingPath == b.poolingPath
            && a.modules == b.modules && a.prompts.map(\.name) == b.prompts.map(\.name)
            && a.prompts.map(\.text) == b.prompts.map(\.text) && a.defaultPromptName == b.defaultPromptName
    }

    public var denseModules: [Dense] { steps.compactMap { if case .dense(let d) = $0 { d } else { nil } } }

    /// The text of a named prompt.
    public func prompt(named name: String) -> String? { prompts.first { $0.name == name }?.text }

    /// One entry of modules.json: its class (`sentence_transformers.models.Dense`) and folder (`2_Dense`).
    public struct Module: Sendable, Equatable {
        public var type: String
        public var path: String
        /// The class name without its module path ("Dense").
        public var className: String { type.split(separator: ".").last.map(String.init) ?? type }
        /// Whether `type` names sentence-transformers' own class (any of its module paths), not custom code.
        var isSentenceTransformers: Bool { type == className || type.hasPrefix("sentence_transformers.") }
    }

    /// The module classes tempscale runs and carries.
    static let supportedModuleTypes = ["Transformer", "Pooling", "Dense", "Normalize"]

    /// Modules tempscale neither runs nor carries (LayerNorm, CNN, LSTM, WordEmbeddings, Router, custom code):
    /// embedding or writing such a model is refused by name rather than silently dropping the module.
    public var unsupportedModules: [Module] {
        modules.filter { m in !(m.isSentenceTransformers && Self.supportedModuleTypes.contains(m.className)) }
    }

    public static let none = SentenceTransformersConfig()

    /// The activations a Dense module may name (torch class → our kernel).
    static let denseActivations: [String: String] = [
        "Tanh": "tanh", "Identity": "identity", "ReLU": "relu", "GELU": "gelu", "SiLU": "silu",
    ]

    /// Reads modules.json, each module's config, sentence_bert_config.json and config_sentence_transformers.json
    /// through `readJSON` (relative path → parsed file, nil when absent).
    static func read(_ readJSON: (String) throws -> JSONValue?) throws -> SentenceTransformersConfig {
        var st = SentenceTransformersConfig.none
        if let modules = try readJSON("modules.json") {
            guard let list = modules.arrayValue else { throw CheckpointError.badSidecar("modules.json", "is not a list") }
            st.modules = moduleList(list)
            for m in st.modules where m.isSentenceTransformers {
                let file = m.path.isEmpty ? "config.json" : "\(m.path)/config.json"
                switch m.className {
                case "Pooling":
                    st.poolingPath = m.path.isEmpty ? nil : m.path
                    guard let cfg = try readJSON(file) else { throw CheckpointError.badSidecar(file, "is missing (modules.json names it)") }
                    st.poolingModes = try pooling(from: cfg, file: file)
                    st.includePrompt = cfg["include_prompt"]?.boolValue ?? true
                    st.steps.append(.pooling)
                case "Dense":
                    guard let cfg = try readJSON(file) else { throw CheckpointError.badSidecar(file, "is missing (modules.json names it)") }
                    st.steps.append(.dense(try dense(from: cfg, path: m.path, file: file)))
                case "Normalize":
                    if let cfg = try readJSON(file) { try checkSentenceEmbedding(cfg, file: file) }
                    st.steps.append(.normalize)
                default: break
                }
            }
        }
        if let sb = try readJSON("sentence_bert_config.json") {
            st.maxSeqLength = sb["max_seq_length"]?.intValue
            st.doLowerCase = sb["do_lower_case"]?.boolValue
        }
        if let c = try readJSON("config_sentence_transformers.json") {
            for (name, text) in c["prompts"]?.objectValue?.pairs ?? [] {
                guard let t = text.stringValue else {
                    throw CheckpointError.badSidecar("config_sentence_transformers.json", "prompt '\(name)' is not a string")
                }
                st.prompts.append((name, t))
            }
            st.defaultPromptName = c["default_prompt_name"]?.stringValue
            if let d = st.defaultPromptName, st.prompt(named: d) == nil {
                throw CheckpointError.badSidecar("config_sentence_transformers.json", "default_prompt_name '\(d)' is not among its prompts")
            }
            if let t = c["truncate_dim"], t != .null {
                throw CheckpointError.badSidecar("config_sentence_transformers.json", "sets truncate_dim, which tempscale does not apply")
            }
        }
        return st
    }

    /// modules.json's entries as (class, folder).
    static func moduleList(_ list: [JSONValue]) -> [Module] {
        list.map { Module(type: $0["type"]?.stringValue ?? "", path: $0["path"]?.stringValue ?? "") }
    }

    /// Modules that read or write anything but the sentence embedding are not what tempscale runs.
    static func checkSentenceEmbedding(_ cfg: JSONValue, file: String) throws {
        for key in ["module_input_name", "module_output_name"] {
            if let v = cfg[key]?.stringValue, v != "sentence_embedding" {
                throw CheckpointError.badSidecar(file, "\(key) is '\(v)'; only 'sentence_embedding' is supported")
            }
        }
    }

    static func dense(from cfg: JSONValue, path: String, file: String) throws -> Dense {
        guard let i = cfg["in_features"]?.intValue, i > 0, let o = cfg["out_features"]?.intValue, o > 0 else {
            throw CheckpointError.badSidecar(file, "has no positive in_features/out_features")
        }
        try checkSentenceEmbedding(cfg, file: file)
        if cfg["use_residual"]?.boolValue == true { throw CheckpointError.badSidecar(file, "sets use_residual, which tempscale does not run") }
        let act = cfg["activation_function"]?.stringValue ?? "torch.nn.modules.activation.Tanh"
        return Dense(path: path, inFeatures: i, outFeatures: o, bias: cfg["bias"]?.boolValue ?? true, activation: act)
    }

    static func pooling(from cfg: JSONValue, file: String) throws -> [Pooling] {
        func mode(_ m: String) throws -> Pooling {
            let name = m == "mean_tokens" ? "mean" : m == "cls_token" ? "cls" : m == "max_tokens" ? "max" : m
            guard let p = Pooling(rawValue: name) else { throw CheckpointError.badSidecar(file, "has unknown pooling_mode '\(m)'") }
            return p
        }
        if let m = cfg["pooling_mode"], m != .null {
            if let s = m.stringValue { return [try mode(s)] }
            guard let list = m.arrayValue?.compactMap(\.stringValue), !list.isEmpty else {
                throw CheckpointError.badSidecar(file, "pooling_mode is neither a mode nor a list of modes")
            }
            return try list.map(mode)
        }
        // The boolean form, in sentence-transformers' fixed order; none set means mean.
        let flags: [(String, Pooling)] = [
            ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_tokens", .mean),
            ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLen), ("pooling_mode_weightedmean_tokens", .weightedMean),
            ("pooling_mode_lasttoken", .lastToken),
        ]
        let on = flags.filter { cfg[$0.0]?.boolValue == true }.map(\.1)
        return on.isEmpty ? [.mean] : on
    }
}

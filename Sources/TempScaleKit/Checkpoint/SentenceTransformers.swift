/// What sentence-transformers adds around the transformer: pooling, normalisation, max length.
public struct SentenceTransformersConfig: Sendable, Equatable {
    public enum Pooling: String, Sendable, CaseIterable {
        case mean, cls, max, lastToken = "lasttoken", meanSqrtLen = "mean_sqrt_len_tokens", weightedMean = "weightedmean"
    }

    /// nil when the folder has no modules.json / pooling config (a plain transformers model).
    public var pooling: Pooling?
    public var normalize: Bool
    public var maxSeqLength: Int?
    public var doLowerCase: Bool?
    /// Relative path of the pooling config, as modules.json names it.
    public var poolingPath: String?
    /// Every module modules.json lists, in order.
    public var modules: [Module] = []

    /// One entry of modules.json: its class (`sentence_transformers.models.Dense`) and folder (`2_Dense`).
    public struct Module: Sendable, Equatable {
        public var type: String
        public var path: String
    }

    /// The module classes tempscale runs and carries: the transformer, pooling and normalisation.
    static let supportedModuleTypes = ["Transformer", "Pooling", "Normalize"]

    /// Modules tempscale neither runs nor carries (Dense, LayerNorm, CNN, LSTM, WordEmbeddings, custom code):
    /// embedding or writing such a model is refused by name rather than silently dropping the module.
    public var unsupportedModules: [Module] {
        modules.filter { m in !Self.supportedModuleTypes.contains { m.type == "sentence_transformers.models.\($0)" || m.type == $0 } }
    }

    public static let none = SentenceTransformersConfig(pooling: nil, normalize: false, maxSeqLength: nil,
                                                         doLowerCase: nil, poolingPath: nil, modules: [])

    /// Reads modules.json, the pooling config and sentence_bert_config.json through `readJSON`
    /// (relative path → parsed file, nil when absent).
    static func read(_ readJSON: (String) throws -> JSONValue?) throws -> SentenceTransformersConfig {
        var st = SentenceTransformersConfig.none
        if let modules = try readJSON("modules.json") {
            guard let list = modules.arrayValue else { throw CheckpointError.badSidecar("modules.json", "is not a list") }
            st.modules = moduleList(list)
            for m in list {
                let type = m["type"]?.stringValue ?? ""
                let path = m["path"]?.stringValue ?? ""
                if type.hasSuffix(".Pooling") {
                    st.poolingPath = path.isEmpty ? nil : path
                    let file = path.isEmpty ? "config.json" : "\(path)/config.json"
                    guard let cfg = try readJSON(file) else { throw CheckpointError.badSidecar(file, "is missing (modules.json names it)") }
                    st.pooling = try pooling(from: cfg, file: file)
                } else if type.hasSuffix(".Normalize") {
                    st.normalize = true
                }
            }
        }
        if let sb = try readJSON("sentence_bert_config.json") {
            st.maxSeqLength = sb["max_seq_length"]?.intValue
            st.doLowerCase = sb["do_lower_case"]?.boolValue
        }
        return st
    }

    /// modules.json's entries as (class, folder).
    static func moduleList(_ list: [JSONValue]) -> [Module] {
        list.map { Module(type: $0["type"]?.stringValue ?? "", path: $0["path"]?.stringValue ?? "") }
    }

    static func pooling(from cfg: JSONValue, file: String) throws -> Pooling {
        if let mode = cfg["pooling_mode"]?.stringValue {
            let m = mode == "mean_tokens" ? "mean" : mode == "cls_token" ? "cls" : mode == "max_tokens" ? "max" : mode
            guard let p = Pooling(rawValue: m) else { throw CheckpointError.badSidecar(file, "has unknown pooling_mode '\(mode)'") }
            return p
        }
        let flags: [(String, Pooling)] = [
            ("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean), ("pooling_mode_max_tokens", .max),
            ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLen), ("pooling_mode_weightedmean_tokens", .weightedMean),
            ("pooling_mode_lasttoken", .lastToken),
        ]
        let on = flags.filter { cfg[$0.0]?.boolValue == true }.map(\.1)
        guard on.count == 1 else {
            throw CheckpointError.badSidecar(file, on.isEmpty ? "enables no pooling mode" : "enables several pooling modes (\(on.map(\.rawValue))); only one is supported")
        }
        return on[0]
    }
}

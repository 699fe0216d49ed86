/// What `tempscale inspect` shows, as text or JSON.
public struct ModelReport {
    public let model: Model

    public init(_ model: Model) { self.model = model }

    var fileBytes: Int {
        model.sourceKind == .native ? fileSize(model.path) : model.sources.reduce(0) { $0 + $1.bytes }
    }

    var dtypeCounts: [(String, Int)] {
        var c: [String: Int] = [:]
        for t in model.tensors { c[t.dtype.name, default: 0] += 1 }
        return c.keys.sorted().map { ($0, c[$0]!) }
    }

    /// The tokenizer's pipeline, or why it cannot be read (the model is still described).
    var tokenizer: Result<TokenizerSummary, any Error> { Result { try TokenizerSummary(model: model) } }

    var tokenizerLine: String {
        switch tokenizer {
        case .success(let t):
            var parts = t.rows.filter { $0.0 != "added tokens" }.map { $0.0 == "model" ? $0.1 : "\($0.0) \($0.1)" }
            if let note = t.pipelineNote { parts.append("note: " + note) }
            return parts.joined(separator: "\n" + String(repeating: " ", count: 16))
        case .failure(let e):
            return (model.tokenizerKind ?? "none found") + (model.tokenizerKind == nil ? "" : " (cannot be used: \(e))")
        }
    }

    var tokenizerJSON: JSONValue {
        switch tokenizer {
        case .success(let t): return t.json
        case .failure(let e):
            return .object(JSONObject([("kind", model.tokenizerKind.map { .string($0) } ?? .null), ("error", .string("\(e)"))]))
        }
    }

    public func json(tensors: Bool) -> JSONValue {
        let d = model.architecture.dims
        let st = model.sentenceTransformers
        var o = JSONObject([
            ("path", .string(model.path)),
            ("format", .string(model.sourceKind.rawValue)),
            ("origin_format", .string(model.originFormat)),
            ("architecture", .string(model.family)),
            ("model_type", model.config["model_type"] ?? .null),
            ("hidden_size", .int(Int64(d.hidden))),
            ("layers", .int(Int64(d.layers))),
            ("heads", .int(Int64(d.heads))),
            ("head_dim", .int(Int64(d.headDim))),
            ("intermediate_size", .int(Int64(d.intermediate))),
            ("vocab_size", .int(Int64(d.vocab))),
            ("max_position_embeddings", d.maxPositions.map { .int(Int64($0)) } ?? .null),
            ("position_embedding", .string(d.positionEmbedding)),
            ("attention", model.architecture.attentionSummary.map { .string($0) } ?? .null),
            ("parameters", .int(Int64(model.parameterCount))),
            ("tensor_count", .int(Int64(model.tensors.count))),
            ("dtypes", .object(JSONObject(dtypeCounts.map { ($0.0, .int(Int64($0.1))) }))),
            ("file_bytes", .int(Int64(fileBytes))),
            ("pooling", st.pooling.map { .string($0.rawValue) } ?? .null),
            ("normalize", .bool(st.normalize)),
            ("max_seq_length", st.maxSeqLength.map { .int(Int64($0)) } ?? .null),
            ("tokenizer", tokenizerJSON),
            ("temperature", model.temperature.json),
            ("sources", .array(model.sources.map {
                .object(JSONObject([("path", .string($0.path)), ("bytes", .int(Int64($0.bytes))), ("sha256", $0.sha256.map { .string($0) } ?? .null)]))
            })),
        ])
        if tensors {
            o["tensors"] = .array(model.tensors.map { t in
                .object(JSONObject([("name", .string(t.name)), ("dtype", .string(t.dtype.name)),
                                    ("shape", .array(t.shape.map { .int(Int64($0)) })), ("bytes", .int(Int64(t.bytes.count))),
                                    ("mapped", .bool(t.isMapped))]))
            })
        }
        return .object(o)
    }

    public func text(tensors: Bool) -> String {
        let d = model.architecture.dims
        let st = model.sentenceTransformers
        let params = model.parameterCount
        var rows: [(String, String)] = [
            ("format", model.sourceKind == .native ? "\(model.sourceKind.rawValue) (from \(model.originFormat))" : model.sourceKind.rawValue),
            ("architecture", "\(model.family) (model_type \(model.config["model_type"]?.stringValue ?? "?"))"),
            ("dimensions", "hidden \(d.hidden), layers \(d.layers), heads \(d.heads) × \(d.headDim), intermediate \(d.intermediate), vocab \(formatCount(d.vocab))"),
            ("positions", (d.maxPositions.map { "\($0), " } ?? "") + d.positionEmbedding),
            ("parameters", "\(formatCount(params)) (\(formatFixed(Double(params) / 1e6, 1)) M)"),
            ("tensors", "\(model.tensors.count): " + dtypeCounts.map { "\($0.0) \($0.1)" }.joined(separator: ", ")),
            ("file size", formatBytes(fileBytes) + (model.sourceKind == .native ? "" : " (" + model.sources.map(\.path).joined(separator: ", ") + ")")),
            ("pooling", st.pooling.map { "\($0.rawValue)" + (st.normalize ? ", normalized" : "") } ?? "none (not a sentence-transformers folder)"),
            ("max length", st.maxSeqLength.map { "\($0) tokens" } ?? "not set (model limit \(d.maxPositions.map(String.init) ?? "none"))"),
            ("tokenizer", tokenizerLine),
            ("temperature", model.temperature.isPatched
                ? "τ = \(model.temperature.total) (" + model.temperature.steps.map { "τ \($0.tau) on layers \($0.layers) by \($0.tool)" }.joined(separator: "; ") + ")"
                : "τ = 1 (not patched)"),
        ]
        if let a = model.architecture.attentionSummary { rows.insert(("attention", a), at: 4) }
        for s in model.sources where s.sha256 != nil { rows.append(("source", "\(s.path) sha256 \(s.sha256!)")) }
        let width = rows.map(\.0.count).max()!
        var out = model.path + "\n" + rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")
        if tensors {
            let nameWidth = model.tensors.map(\.name.count).max() ?? 4
            out += "\n\n  " + "name".padding(nameWidth) + "  dtype  shape" + String(repeating: " ", count: 14) + "bytes"
            for t in model.tensors {
                let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                out += "\n  " + t.name.padding(nameWidth) + "  " + t.dtype.name.padding(5) + "  " + shape.padding(18) + " " + formatCount(t.bytes.count)
            }
        }
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// The output formats a model can be written to, one entry point for patch and export.
public enum OutputFormat: String, CaseIterable, Sendable {
    case native, hf, gguf, onnx
}

public enum ModelWriter {
    public enum Error: ReasonError, Equatable {
        case unavailable(String)
        public var description: String {
            switch self {
            case .unavailable(let why): return why
            }
        }
    }

    /// Writes `model` as `format`; returns a one-line summary.
    public static func write(_ model: Model, format: OutputFormat, to path: String, dtype: DType?, force: Bool,
                             progress: ((Int, Int) -> Void)? = nil) throws -> String {
        // A module tempscale does not know is not carried: refuse rather than write a model that has lost it.
        if let m = model.sentenceTransformers.unsupportedModules.first {
            throw FileError(model.path + "/modules.json", Error.unavailable(
                "modules.json names \(m.type) (\(m.path.isEmpty ? "no folder" : m.path)), which tempscale does not carry; "
                + "writing \(format.rawValue) would lose it (supported: Transformer, Pooling, Dense, Normalize)"))
        }
        switch format {
        case .native:
            let r = try NativeFormat.write(model, to: path, options: .init(dtype: dtype ?? .f32, force: force, progress: progress))
            let kinds = r.dtypes.keys.sorted().map { "\($0) \(r.dtypes[$0]!)" }.joined(separator: ", ")
            return "wrote \(r.path): \(formatBytes(r.bytes)), \(r.tensors) tensors (\(kinds))"
        case .hf:
            let r = try HFExport.write(model, to: path, dtype: dtype, force: force)
            let dropped = r.dropped.isEmpty ? "" : "; left out \(r.dropped.count) tensors outside the base model (\(r.dropped.prefix(3).joined(separator: ", "))\(r.dropped.count > 3 ? ", …" : ""))"
            return "wrote \(r.path)/: \(r.tensors) tensors in model.safetensors, \(r.files.count) files\(dropped)"
        case .onnx:
            let r = try ONNXExport.write(model, to: path, dtype: dtype ?? .f32, force: force)
            return "wrote \(r.path): \(formatBytes(r.bytes)), \(r.nodes) nodes, \(r.initializers) initializers (\(r.dtype)), IR \(r.irVersion), opset \(r.opset)"
        case .gguf:
            let r = try GGUF.write(model, to: path, dtype: dtype ?? .f32, force: force)
            let kinds = r.dtypes.keys.sorted().map { "\($0) \(r.dtypes[$0]!)" }.joined(separator: ", ")
            return "wrote \(r.path): \(formatBytes(r.bytes)), \(r.tensors) tensors (\(kinds)), \(r.keys.count) metadata keys"
        }
    }
}

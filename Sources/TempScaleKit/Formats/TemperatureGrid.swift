#if canImport(Glibc)
import Glibc
#endif

/// One export per temperature, for sweeping τ in a runtime that already scales (ONNX Runtime under Ray or Spark,
/// TEI, llama.cpp servers): `DIR/<name>-t<τ>.<ext>` (an HF folder per τ for hf) and `DIR/temperatures.json`, which
/// lists them. τ = 1 is the model as it is. Written into a temporary folder and renamed: a failure leaves nothing.
public enum TemperatureGrid {
    public enum Error: ReasonError, Equatable {
        case badTemperature(String)
        case native
        public var description: String {
            switch self {
            case .badTemperature(let t): return "temperature must be a finite number > 0 (got \(t))"
            case .native: return "a grid export is for other runtimes (hf, gguf, onnx); tempscale itself takes --temperature at run time"
            }
        }
    }

    public struct Entry: Sendable {
        public let temperature: Double
        public let path: String
    }

    /// The file (or folder) name of τ's export of a model called `stem`.
    public static func entryName(stem: String, tau: Double, format: OutputFormat) -> String {
        let ext: String
        switch format {
        case .hf: ext = ""
        case .gguf: ext = ".gguf"
        case .onnx: ext = ".onnx"
        case .native: ext = ".tsm"
        }
        return "\(stem)-t\(GoldenFile.tauKey(tau))\(ext)"
    }

    @discardableResult
    public static func write(_ model: Model, temperatures: [Double], format: OutputFormat, to requested: String, dtype: DType?,
                             force: Bool, log: ((String) -> Void)? = nil) throws -> [Entry] {
        var path = requested
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard format != .native else { throw FileError(path, Error.native) }
        for t in temperatures where !(t.isFinite && t > 0) { throw FileError(path, Error.badTemperature("\(t)")) }
        if fileExists(path) && !force { throw FileError(path, IOError.outputExists) }
        return try HFExport.staged(path) { tmp in
            let stem = modelStem(model.path)
            var entries: [Entry] = []
            for tau in temperatures {
                let source = tau == 1 ? model : try Patcher.patch(model, tau: tau).model
                let name = entryName(stem: stem, tau: tau, format: format)
                let line = try ModelWriter.write(source, format: format, to: join(tmp, name), dtype: dtype, force: false)
                let summary = line.split(separator: ":", maxSplits: 1).dropFirst().first.map { String($0) } ?? ""
                log?("wrote \(join(path, name)):\(summary)")
                entries.append(Entry(temperature: tau, path: name))
            }
            let manifest = JSONValue.object(JSONObject([
                ("source", .string(model.path)), ("format", .string(format.rawValue)),
                ("exports", .array(entries.map { .object(JSONObject([("temperature", .double($0.temperature)), ("path", .string($0.path))])) })),
                ("tempscale_version", .string(TempScale.version)),
            ]))
            try HFExport.writeFile(join(tmp, "temperatures.json"), Array(manifest.serialized(pretty: true).utf8) + [0x0A])
            return entries
        }
    }

    /// "models/all-MiniLM-L6-v2" → "all-MiniLM-L6-v2"; "minilm.tsm" → "minilm".
    static func modelStem(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        let base = basename(p)
        for ext in [".tsm", ".safetensors", ".bin", ".pt", ".pth"] where base.hasSuffix(ext) && base.count > ext.count {
            return String(base.dropLast(ext.count))
        }
        return base.isEmpty ? "model" : base
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Exports a model as a Hugging Face folder that transformers and sentence-transformers load
/// unchanged: model.safetensors, config.json (with a `tempscale` provenance block), the tokenizer
/// files and the sentence-transformers modules, verbatim. The folder is built beside the
/// destination and renamed into place.
public enum HFExport {
    public enum Error: ReasonError, Equatable {
        case unsupportedDType(String)
        public var description: String {
            switch self {
            case .unsupportedDType(let d): return "hf export: dtype \(d) (use f32, f16 or bf16; transformers cannot read q8)"
            }
        }
    }

    public struct Report: Sendable {
        public let path: String
        public let tensors: Int
        public let dropped: [String]
        public let files: [String]
    }

    /// config.json as the model has it, plus `tempscale`: {version, temperature: {tau, history}}.
    /// A task checkpoint whose head was left out (Qwen3ForCausalLM) is written as the base model it now is.
    public static func config(for model: Model) -> JSONValue {
        var c = model.config
        if let base = type(of: model.architecture).baseModelClass {
            c["architectures"] = .array([.string(base)])
        }
        if model.temperature.isPatched {
            c["tempscale"] = .object(JSONObject([("version", .string(TempScale.version)), ("temperature", model.temperature.json)]))
        } else {
            c["tempscale"] = nil
        }
        return .object(c)
    }

    public static func write(_ model: Model, to requested: String, dtype: DType?, force: Bool) throws -> Report {
        // "out/" names the folder "out": without this the temp folder would land inside it.
        var path = requested
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if let dtype, ![.f32, .f16, .bf16].contains(dtype) { throw FileError(path, Error.unsupportedDType(dtype.name)) }
        let inputs = NativeFormat.inputPaths(model)
        if fileExists(path) {
            if !force { throw FileError(path, IOError.outputExists) }
            if let id = identity(path), inputs.contains(where: { identity($0) == id || identity(parentDirectory($0)) == id }) {
                throw FileError(path, IOError.outputIsInput)
            }
        }
        return try staged(path) { tmp in
            // Only the base model's tensors: anything else would be "unexpected" to AutoModel.
            let known = Set(model.architecture.tensors.all.flatMap { [$0.name] + $0.alternatives })
            let kept = model.tensors.filter { known.contains($0.name) }
            // Dense modules' weights go back into their own folders, as sentence-transformers saves them.
            let dense = model.sentenceTransformers.denseModules
            let denseNames = Set(dense.flatMap { [$0.weightName, $0.biasName] })
            let dropped = model.tensors.map(\.name).filter { !known.contains($0) && !denseNames.contains($0) }
            var metadata = ["format": "pt"]
            if model.temperature.isPatched {
                metadata["tempscale_temperature"] = "\(model.temperature.total)"
                metadata["tempscale_history"] = model.temperature.json.serialized()
                metadata["tempscale_version"] = TempScale.version
            }
            try SafeTensors.write(kept, metadata: metadata, to: join(tmp, "model.safetensors"), dtype: dtype, force: false, inputs: [])
            var written = ["model.safetensors", "config.json"]
            for d in dense {
                let ts = model.tensors.filter { $0.name.hasPrefix(d.path + "/linear.") }
                    .map { $0.renamed(String($0.name.dropFirst(d.path.count + 1))) }
                try makeDirectories(join(tmp, d.path))
                try SafeTensors.write(ts, metadata: ["format": "pt"], to: join(tmp, join(d.path, "model.safetensors")), dtype: dtype,
                                      force: false, inputs: [])
                written.append(join(d.path, "model.safetensors"))
            }
            try writeFile(join(tmp, "config.json"), Array(config(for: model).serialized(pretty: true).utf8) + [0x0A])
            for (name, bytes) in model.files.sorted(by: { $0.key < $1.key }) where name != "config.json" {
                guard !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else { continue }
                if name.contains("/") { try makeDirectories(join(tmp, parentDirectory(name))) }
                try writeFile(join(tmp, name), bytes)
                written.append(name)
            }
            return Report(path: path, tensors: kept.count, dropped: dropped, files: written)
        }
    }

    /// Builds the folder `path` by way of a temporary sibling that `body` fills; it is renamed into place (replacing
    /// an old folder, which the caller has agreed to) only when `body` returns, so a failure leaves nothing behind.
    static func staged<R>(_ path: String, _ body: (String) throws -> R) throws -> R {
        let parent = parentDirectory(path)
        guard isDirectory(parent) else { throw FileError(path, IOError.cannotWrite("folder \(parent) does not exist")) }
        var template = Array(join(parent, ".\(basename(path)).tmp-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw FileError(path, IOError.cannotWrite(String(cString: strerror(errno))))
        }
        let tmp = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var committed = false
        defer { if !committed { removeTree(tmp) } }
        let result = try body(tmp)
        if fileExists(path) {
            let old = join(parent, ".\(basename(path)).old-\(getpid())")
            guard rename(path, old) == 0 else { throw FileError(path, IOError.cannotWrite(String(cString: strerror(errno)))) }
            guard rename(tmp, path) == 0 else {
                rename(old, path)
                throw FileError(path, IOError.cannotWrite(String(cString: strerror(errno))))
            }
            removeTree(old)
        } else {
            guard rename(tmp, path) == 0 else { throw FileError(path, IOError.cannotWrite(String(cString: strerror(errno)))) }
        }
        chmod(path, 0o755)
        committed = true
        return result
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let w = try AtomicFileWriter(destination: path, force: false, inputs: [])
        try w.write(bytes)
        try w.commit()
    }

    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            current = current.isEmpty ? String(part) : join(current, String(part))
            if !isDirectory(current) && mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw FileError(current, IOError.cannotWrite(String(cString: strerror(errno))))
            }
        }
    }

    /// rm -r of a folder we created (no symlinks are followed: lstat).
    static func removeTree(_ path: String) {
        guard let dir = opendir(path) else { unlink(path); return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let child = join(path, name)
            var st = stat()
            if lstat(child, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
        }
        closedir(dir)
        rmdir(path)
    }
}

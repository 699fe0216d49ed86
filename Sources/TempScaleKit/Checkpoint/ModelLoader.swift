#if canImport(Glibc)
import Glibc
#endif

/// Opens anything tempscale reads: an HF model folder (safetensors, sharded or not; PyTorch zip
/// `.bin`, sharded or not; the sentence-transformers files), a single weight file with its
/// config.json beside it, or a native `.tsm` file.
public enum ModelLoader {
    /// Side files carried along verbatim (tokenizer, sentence-transformers layout). The pooling
    /// config is added from modules.json.
    public static let sideFiles = [
        "config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
        "added_tokens.json", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    ]
    static let maxSideFile = 64 << 20

    /// `checksums: false` skips the CRC-32 of every tensor of a native file (structure, prelude and header are still
    /// checked): commands that only read the weights (embed, tokenize, collapse, spectrum, tune) start faster;
    /// verify, inspect, convert, patch and export check every tensor.
    public static func open(_ path: String, checksums: Bool = true) throws -> Model {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError(path, IOError.notFound) }
        if (st.st_mode & S_IFMT) == S_IFDIR { return try openFolder(path, weights: nil) }
        if try path.hasSuffix(".\(NativeFormat.fileExtension)") || NativeFormat.hasMagic(path) {
            return try NativeFormat.read(path: path, verifyTensorChecksums: checksums)
        }
        let dir = parentDirectory(path)
        return try openFolder(dir, weights: path)
    }

    static func openFolder(_ dir: String, weights explicit: String?) throws -> Model {
        let configPath = join(dir, "config.json")
        guard fileExists(configPath) else { throw FileError(explicit ?? dir, CheckpointError.noConfig(dir)) }
        let configJSON = try readJSON(configPath)
        guard case .object(let config) = configJSON else {
            throw FileError(configPath, CheckpointError.badSidecar("config.json", "is not a JSON object"))
        }
        let arch: any Architecture
        do { arch = try Architectures.resolve(config) } catch { throw FileError(configPath, error) }

        var (tensors, kind, sources, metadata) = try readWeights(dir: dir, explicit: explicit)
        tensors = stripPrefixes(tensors, arch: arch)
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        do { try Architectures.validate(arch, tensors: byName) } catch {
            throw FileError(sources.first.map { join(dir, $0.path) } ?? dir, error)
        }

        var files: [String: [UInt8]] = [:]
        for name in sideFiles {
            let p = join(dir, name)
            if fileExists(p) { files[name] = try readSmallFile(p) }
        }
        let stConfig: SentenceTransformersConfig
        do {
            stConfig = try SentenceTransformersConfig.read { rel in
                let p = join(dir, rel)
                guard fileExists(p) else { return nil }
                if files[rel] == nil { files[rel] = try readSmallFile(p) }
                return try readJSON(p)
            }
        } catch let e as CheckpointError {
            throw FileError(dir, e)
        }
        for dense in stConfig.denseModules {
            let (t, _, src) = try readDense(dense, dir: dir)
            tensors += t
            sources += src
        }
        let temperature: TemperatureHistory
        do { temperature = try TemperatureHistory(json: config["tempscale"]?["temperature"]) } catch {
            throw FileError(configPath, error)
        }
        return Model(path: explicit ?? dir, sourceKind: kind, config: config, architecture: arch, tensors: tensors,
                     sentenceTransformers: stConfig, files: files, temperature: temperature, sources: sources,
                     metadata: metadata, originFormat: kind.rawValue)
    }

    typealias Weights = ([Tensor], Model.SourceKind, [SourceFile], [String: String])

    static func readWeights(dir: String, explicit: String?) throws -> Weights {
        if let explicit {
            if explicit.hasSuffix(".index.json") { return try readSharded(dir: dir, index: explicit) }
            return try readWeightFile(explicit, relative: basename(explicit))
        }
        for name in ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"] {
            let p = join(dir, name)
            guard fileExists(p) else { continue }
            return name.hasSuffix(".index.json") ? try readSharded(dir: dir, index: p) : try readWeightFile(p, relative: name)
        }
        throw FileError(dir, CheckpointError.noWeights(dir))
    }

    /// A Dense module's weights (`<path>/model.safetensors`, else `<path>/pytorch_model.bin`), named `<path>/linear.*`,
    /// checked against its config as sentence-transformers' strict load does.
    static func readDense(_ d: SentenceTransformersConfig.Dense, dir: String) throws -> ([Tensor], Model.SourceKind, [SourceFile]) {
        guard let file = ["model.safetensors", "pytorch_model.bin"].first(where: { fileExists(join(dir, join(d.path, $0))) }) else {
            throw FileError(join(dir, d.path), CheckpointError.badSidecar(d.path, "has no model.safetensors or pytorch_model.bin (modules.json names a Dense module there)"))
        }
        let path = join(dir, join(d.path, file))
        let (tensors, kind, sources, _) = try readWeightFile(path, relative: join(d.path, file))
        var expected = ["linear.weight": [d.outFeatures, d.inFeatures]]
        if d.bias { expected["linear.bias"] = [d.outFeatures] }
        for t in tensors {
            guard let shape = expected[t.name] else { throw FileError(path, CheckpointError.badSidecar(d.path, "Dense weights hold an unexpected tensor '\(t.name)'")) }
            guard t.shape == shape else { throw FileError(path, ArchitectureError.wrongShape(t.name, expected: shape, actual: t.shape)) }
        }
        for name in expected.keys where !tensors.contains(where: { $0.name == name }) {
            throw FileError(path, ArchitectureError.missingTensor(name))
        }
        return (tensors.map { $0.renamed(d.path + "/" + $0.name) }, kind, sources)
    }

    static func readWeightFile(_ path: String, relative: String) throws -> Weights {
        let size = fileSize(path)
        if isSafeTensors(path) {
            let f = try SafeTensors.read(path: path)
            return (f.tensors, .safetensors, [SourceFile(path: relative, bytes: size)], f.metadata)
        }
        return (try TorchCheckpoint.read(path: path), .pytorchBin, [SourceFile(path: relative, bytes: size)], [:])
    }

    /// safetensors by name, or by content: a zip starts with "PK", a legacy torch file with 0x80.
    static func isSafeTensors(_ path: String) -> Bool {
        if path.hasSuffix(".safetensors") { return true }
        if path.hasSuffix(".bin") || path.hasSuffix(".pt") || path.hasSuffix(".pth") { return false }
        guard let f = try? MappedFile(path: path), f.count >= 2 else { return false }
        return !(f.all[0] == 0x50 && f.all[1] == 0x4B) && f.all[0] != 0x80
    }

    static func readSharded(dir: String, index: String) throws -> Weights {
        let json = try readJSON(index)
        guard let map = json["weight_map"]?.objectValue else {
            throw FileError(index, CheckpointError.shardIndex("no 'weight_map' object"))
        }
        var shardOrder: [String] = []
        var wanted: [String: [String]] = [:]
        for (tensor, v) in map.pairs {
            guard let shard = v.stringValue, !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                throw FileError(index, CheckpointError.shardIndex("tensor '\(tensor)' maps to an unsafe shard name"))
            }
            if wanted[shard] == nil { shardOrder.append(shard) }
            wanted[shard, default: []].append(tensor)
        }
        var all: [Tensor] = []
        var seen = Set<String>()
        var sources: [SourceFile] = []
        var metadata: [String: String] = [:]
        var kind = Model.SourceKind.shardedSafetensors
        for shard in shardOrder {
            let p = join(dir, shard)
            guard fileExists(p) else { throw FileError(p, IOError.notFound) }
            let (tensors, k, src, meta) = try readWeightFile(p, relative: shard)
            kind = k == .safetensors ? .shardedSafetensors : .shardedPytorchBin
            sources += src
            metadata.merge(meta) { a, _ in a }
            let names = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for name in wanted[shard]! {
                guard let t = names[name] else { throw FileError(p, CheckpointError.shardMissing(shard, name)) }
                guard seen.insert(name).inserted else { throw FileError(p, CheckpointError.duplicateTensor(name)) }
                all.append(t)
            }
        }
        return (all, kind, sources, metadata)
    }

    /// Task checkpoints (BertForMaskedLM, …) prefix the base model's names; strip the prefix when
    /// the first required tensor of the table is found under it.
    /// The family's task heads (`headPrefixes`: Qwen3ForCausalLM's lm_head) are left out.
    static func stripPrefixes(_ tensors: [Tensor], arch: any Architecture) -> [Tensor] {
        let heads = type(of: arch).headPrefixes
        func base(_ ts: [Tensor]) -> [Tensor] { heads.isEmpty ? ts : ts.filter { t in !heads.contains { t.name.hasPrefix($0) } } }
        guard let anchor = arch.tensors.all.first(where: { !$0.optional })?.name else { return base(tensors) }
        let names = Set(tensors.map(\.name))
        if names.contains(anchor) { return base(tensors) }
        for prefix in type(of: arch).namePrefixes where names.contains(prefix + anchor) {
            return base(tensors.map { $0.name.hasPrefix(prefix) ? $0.renamed(String($0.name.dropFirst(prefix.count))) : $0 })
        }
        return base(tensors)
    }

    // MARK: Files

    static func readSmallFile(_ path: String) throws -> [UInt8] {
        let f = try MappedFile(path: path)
        guard f.count <= maxSideFile else { throw FileError(path, CheckpointError.fileTooLarge(basename(path), f.count)) }
        return Array(f.all)
    }

    static func readJSON(_ path: String) throws -> JSONValue {
        let bytes = try readSmallFile(path)
        do { return try JSON.parse(bytes) } catch {
            throw FileError(path, error)
        }
    }
}

// MARK: Path helpers (POSIX; the library does not need Foundation)

func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }
func basename(_ p: String) -> String { p.split(separator: "/").last.map(String.init) ?? p }
func parentDirectory(_ p: String) -> String {
    guard let i = p.lastIndex(of: "/") else { return "." }
    return i == p.startIndex ? "/" : String(p[..<i])
}
func fileExists(_ p: String) -> Bool { var st = stat(); return stat(p, &st) == 0 }
func isDirectory(_ p: String) -> Bool { var st = stat(); return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR }
func fileSize(_ p: String) -> Int { var st = stat(); return stat(p, &st) == 0 ? Int(st.st_size) : 0 }

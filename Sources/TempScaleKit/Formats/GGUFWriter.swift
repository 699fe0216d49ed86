/// GGUF v3 for llama.cpp (`bert` and `t5encoder` architectures) (ggml `docs/gguf.md`; keys from llama.cpp `gguf-py/gguf/constants.py`).
///
/// Layout: magic `GGUF`, version 3, tensor count (u64), key count (u64), the key/value pairs, the tensor infos
/// (name, dims innermost first, ggml type, offset into the data), zero padding to `alignment`, then the
/// tensor data, each tensor starting at a multiple of `alignment`. All integers little-endian.
///
/// τ reaches llama.cpp only through the weights: its BERT graph hard-codes 1/√d and reads no attention-scale
/// key, so the model's baked `attn_q` is what carries the temperature. `tempscale.*` keys record it.
public enum GGUF {
    public static let version: UInt32 = 3
    public static let alignment = 32

    public struct WriteReport: Sendable {
        public let path: String
        public let bytes: Int
        public let tensors: Int
        /// The metadata keys written, in file order.
        public let keys: [String]
        public let dtypes: [String: Int]
        /// Model tensors left out (position_ids, token_type_ids, the pooler: llama.cpp's graph does not use them).
        public let skipped: [String]
    }

    public enum Error: ReasonError, Equatable {
        case noLlamaArchitecture(String)
        case familyNotExported(String)
        case unsupportedTargetDType(String)
        case unsupportedPooling(String)
        case unsupportedActivation(String)
        case unsupportedPositions(String)
        case tokenizerUnsupported(String)
        case noSpecialToken(String)
        case vocabularyLargerThanEmbeddings(tokenizer: Int, embeddings: Int)
        case missingTensor(String)
        case tooManyPositionRowsDropped(Int, rows: Int)
        case unsupportedModule(String)
        /// A model llama.cpp's graph for the family cannot run as it is (biases it has no tensor for, a layer pattern).
        case unsupportedLayout(String)

        public var description: String {
            switch self {
            case .noLlamaArchitecture(let name): return "gguf: llama.cpp has no \(name) architecture; export to hf or native instead"
            case .familyNotExported(let family):
                return "gguf: the \(family) family has no llama.cpp architecture tempscale writes; export to hf or native instead"
            case .unsupportedTargetDType(let d): return "gguf: dtype \(d) is not written; use f32 or f16"
            case .unsupportedPooling(let p):
                return "gguf: llama.cpp pools by mean, cls or last token; this model pools by '\(p)', which llama.cpp would silently replace"
            case .unsupportedActivation(let why): return "gguf: llama.cpp's graph cannot run the activation: \(why)"
            case .unsupportedPositions(let why): return "gguf: llama.cpp's graph cannot run the positions: \(why)"
            case .tokenizerUnsupported(let why): return "gguf: the tokenizer cannot be exported: \(why)"
            case .noSpecialToken(let role): return "gguf: the tokenizer has no \(role) token, which llama.cpp adds to every input"
            case .vocabularyLargerThanEmbeddings(let t, let e):
                return "gguf: the tokenizer has ids up to \(t - 1) but the word embeddings have \(e) rows"
            case .missingTensor(let n): return "gguf: tensor '\(n)' is missing"
            case .unsupportedModule(let why): return "gguf: llama.cpp's embedding graph cannot run \(why); export to hf or native instead"
            case .unsupportedLayout(let why): return "gguf: llama.cpp's graph cannot run this model: \(why); export to hf or native instead"
            case .tooManyPositionRowsDropped(let n, let rows):
                return "gguf: dropping pad_token_id + 1 = \(n) position rows leaves none of \(rows)"
            }
        }
    }

    /// Writes `model` as GGUF. Everything is checked before the output is opened, so a refused model writes nothing;
    /// tensors then stream out one at a time into a temp file renamed into place on success.
    public static func write(_ model: Model, to path: String, dtype: DType, force: Bool) throws -> WriteReport {
        guard dtype == .f32 || dtype == .f16 else { throw FileError(path, Error.unsupportedTargetDType(dtype.name)) }
        let plan: Plan
        // What llama.cpp cannot run is the model's, so the error names the model.
        do { plan = try Plan(model, dtype: dtype) } catch { throw FileError(model.path, error) }

        var header = Encoder()
        header.u32(0x4655_4747)  // "GGUF"
        header.u32(version)
        header.u64(UInt64(plan.tensors.count))
        header.u64(UInt64(plan.metadata.count))
        for (key, value) in plan.metadata { header.keyValue(key, value) }
        var offset = 0
        for t in plan.tensors {
            header.string(t.name)
            header.u32(UInt32(t.source.shape.count))
            for d in t.source.shape.reversed() { header.u64(UInt64(d)) }  // ggml's ne[0] is the innermost dim
            header.u32(t.dtype == .f16 ? GGMLType.f16 : GGMLType.f32)
            header.u64(UInt64(offset))
            offset = align(offset + t.byteCount)
        }
        let dataStart = align(header.bytes.count)

        let out = try AtomicFileWriter(destination: path, force: force, inputs: NativeFormat.inputPaths(model))
        try out.write(header.bytes)
        try out.writeZeros(dataStart - out.position)
        for t in plan.tensors {
            try NativeFormat.withConverted(t.source, to: t.dtype) { bytes in
                precondition(bytes.count == t.byteCount)
                try out.write(bytes)
            }
            try out.writeZeros(align(out.position - dataStart) + dataStart - out.position)
        }
        let bytes = out.position
        try out.commit()
        var dtypes: [String: Int] = [:]
        for t in plan.tensors { dtypes[t.dtype.name, default: 0] += 1 }
        return WriteReport(path: path, bytes: bytes, tensors: plan.tensors.count, keys: plan.metadata.map(\.0),
                           dtypes: dtypes, skipped: plan.skipped)
    }

    static func align(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// ggml tensor types (ggml.h `enum ggml_type`).
    enum GGMLType {
        static let f32: UInt32 = 0
        static let f16: UInt32 = 1
    }

    /// `general.file_type` (llama.h `enum llama_ftype`).
    static func fileType(_ dtype: DType) -> UInt32 { dtype == .f16 ? 1 : 0 }

    /// `bert.pooling_type` (llama.h `enum llama_pooling_type`).
    static func poolingType(_ p: SentenceTransformersConfig.Pooling) -> UInt32? {
        switch p {
        case .mean: return 1
        case .cls: return 2
        case .lastToken: return 3
        case .max, .meanSqrtLen, .weightedMean: return nil
        }
    }

    /// `tokenizer.ggml.token_type` (llama.h `enum llama_token_type`).
    enum TokenType {
        static let normal: Int32 = 1
        static let unknown: Int32 = 2
        static let control: Int32 = 3
        static let userDefined: Int32 = 4
        static let unused: Int32 = 5
    }

    /// A metadata value, typed as llama.cpp's loader expects each key (it checks the type).
    public enum Value: Equatable, Sendable {
        case u32(UInt32)
        case f32(Float)
        case f64(Double)
        case bool(Bool)
        case string(String)
        case strings([String])
        case i32s([Int32])
        case f32s([Float])
        case u8s([UInt8])
    }

    struct PlannedTensor {
        let name: String
        let source: Tensor
        let dtype: DType
        var byteCount: Int { dtype.byteCount(shape: source.shape)! }
    }

    /// What goes into the file: every key and tensor, decided (and every refusal made) before writing starts.
    struct Plan {
        var metadata: [(String, Value)] = []
        var tensors: [PlannedTensor] = []
        var skipped: [String] = []

        init(_ model: Model, dtype: DType) throws(Error) {
            let arch = try model.architecture.ggufArchitecture()
            let dims = model.architecture.dims
            let st = model.sentenceTransformers
            if let d = st.denseModules.first { throw .unsupportedModule("the Dense module in \(d.path) (\(d.inFeatures) → \(d.outFeatures))") }
            if st.poolingModes.count > 1 { throw .unsupportedModule("several pooling modes at once (\(st.poolingModes.map(\.rawValue).joined(separator: ", ")))") }
            if !st.includePrompt { throw .unsupportedModule("pooling that leaves out the prompt (include_prompt false)") }
            var pooling: UInt32?
            if let p = model.sentenceTransformers.pooling {
                guard let type = poolingType(p) else { throw .unsupportedPooling(p.rawValue) }
                pooling = type
            }
            let vocab = try GGUFVocabulary(model, size: dims.vocab)

            let temperature = model.temperature
            metadata = [
                ("general.architecture", .string(arch.name)),
                ("general.name", .string(Self.modelName(model))),
                ("general.alignment", .u32(UInt32(alignment))),
                ("general.file_type", .u32(fileType(dtype))),
            ] + arch.keys
            if let pooling, arch.writesPooling { metadata.append(("\(arch.name).pooling_type", .u32(pooling))) }
            metadata += vocab.metadata
            metadata += [
                ("tempscale.version", .string(TempScale.version)),
                ("tempscale.temperature", .f64(temperature.total)),
                ("tempscale.history", .string(temperature.json.serialized())),
            ]

            let table = model.architecture.tensors
            let exported = table.gguf
            var used = Set<String>()
            for spec in exported {
                guard let name = spec.present(in: { model.tensor($0) != nil }), var t = model.tensor(name) else {
                    if spec.optional { continue }
                    throw .missingTensor(spec.name)
                }
                used.insert(name)
                if spec.role == .positionEmbedding && arch.positionRowsDropped > 0 {
                    t = Self.droppingRows(t, arch.positionRowsDropped)
                }
                let stored: DType = spec.ggufStorage == .fileDType ? dtype : .f32
                tensors.append(PlannedTensor(name: spec.gguf!, source: t, dtype: stored))
            }
            skipped = model.tensors.map(\.name).filter { !used.contains($0) }
        }

        /// The tensor without its first `rows` rows, as f32.
        static func droppingRows(_ t: Tensor, _ rows: Int) -> Tensor {
            let width = t.shape.dropFirst().reduce(1, *)
            let values = t.toFloat32()
            return values[(rows * width)...].withUnsafeBufferPointer {
                Tensor.float32(name: t.name, shape: [t.shape[0] - rows] + t.shape.dropFirst(), values: $0)
            }
        }

        /// The folder or file name, without a `.tsm` extension.
        static func modelName(_ model: Model) -> String {
            let name = basename(model.path)
            return name.hasSuffix(".tsm") ? String(name.dropLast(4)) : name
        }
    }

    /// Little-endian GGUF encoding of the header.
    struct Encoder {
        var bytes: [UInt8] = []

        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            bytes += s.utf8
        }

        /// GGUF value types (`enum gguf_type`), the ones written here.
        enum ValueType {
            static let u8: UInt32 = 0
            static let u32: UInt32 = 4
            static let i32: UInt32 = 5
            static let f32: UInt32 = 6
            static let bool: UInt32 = 7
            static let string: UInt32 = 8
            static let array: UInt32 = 9
            static let f64: UInt32 = 12
        }

        static func typeCode(_ v: Value) -> UInt32 {
            switch v {
            case .u32: return ValueType.u32
            case .f32: return ValueType.f32
            case .bool: return ValueType.bool
            case .string: return ValueType.string
            case .strings, .i32s, .f32s, .u8s: return ValueType.array
            case .f64: return ValueType.f64
            }
        }

        mutating func keyValue(_ key: String, _ value: Value) {
            string(key)
            u32(Self.typeCode(value))
            switch value {
            case .u32(let v): u32(v)
            case .f32(let v): u32(v.bitPattern)
            case .f64(let v): u64(v.bitPattern)
            case .bool(let v): bytes.append(v ? 1 : 0)
            case .string(let s): string(s)
            case .strings(let list):
                u32(ValueType.string)
                u64(UInt64(list.count))
                for s in list { string(s) }
            case .i32s(let list):
                u32(ValueType.i32)
                u64(UInt64(list.count))
                for v in list { u32(UInt32(bitPattern: v)) }
            case .f32s(let list):
                u32(ValueType.f32)
                u64(UInt64(list.count))
                for v in list { u32(v.bitPattern) }
            case .u8s(let list):
                u32(ValueType.u8)
                u64(UInt64(list.count))
                bytes += list
            }
        }
    }
}

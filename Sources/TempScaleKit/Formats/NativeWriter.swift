import CKernels

extension NativeFormat {
    public struct WriteOptions {
        /// f32, f16, bf16 or q8 for floating-point tensors; integer tensors keep their type.
        public var dtype: DType = .f32
        public var force = false
        /// Called with (bytes written, total bytes) as tensors stream out.
        public var progress: ((Int, Int) -> Void)? = nil
        public init(dtype: DType = .f32, force: Bool = false, progress: ((Int, Int) -> Void)? = nil) {
            self.dtype = dtype
            self.force = force
            self.progress = progress
        }
    }

    public struct WriteReport: Sendable {
        public let path: String
        public let bytes: Int
        public let tensors: Int
        public let dtypes: [String: Int]
    }

    /// The dtype a tensor is stored in for a target dtype.
    static func storedDType(_ t: Tensor, target: DType) -> DType {
        guard t.dtype.isFloatingPoint else { return t.dtype }
        if target == .q8 { return t.dtype == .q8 || Q8.quantises(t) ? .q8 : .f32 }
        return target
    }

    /// Streams `model` into `path`: one tensor converted at a time (f32 → f32 straight from the
    /// mapping), CRCs filled in at the end, temp file renamed into place on success only.
    public static func write(_ model: Model, to path: String, options: WriteOptions = WriteOptions()) throws -> WriteReport {
        guard [.f32, .f16, .bf16, .q8].contains(options.dtype) else {
            throw FileError(path, Error.unsupportedTargetDType(options.dtype.name))
        }
        let out = try AtomicFileWriter(destination: path, force: options.force, inputs: inputPaths(model))
        let sources = try sourcesWithDigests(model)
        let header = headerJSON(model, dtype: options.dtype, sources: sources)
        let headerBytes = Array(header.serialized().utf8)

        var entries: [TableEntry] = []
        var offset = 0
        for t in model.tensors {
            guard t.name.utf8.count <= Int(UInt16.max), !t.name.isEmpty, t.shape.count <= maxRank else {
                throw FileError(path, Error.badTableEntry(index: entries.count, "'\(t.name)' has an empty or over-long name or rank above \(maxRank)"))
            }
            let stored = storedDType(t, target: options.dtype)
            guard let length = stored.byteCount(shape: t.shape) else {
                throw FileError(path, Error.badTableEntry(index: entries.count, "shape of '\(t.name)' overflows"))
            }
            entries.append(TableEntry(name: t.name, dtype: stored, shape: t.shape, offset: offset, length: length, crc: 0))
            offset = align(offset + length)
        }
        let tableLength = entries.reduce(0) { $0 + $1.encodedSize }
        let dataOffset = align(preludeSize + headerBytes.count + tableLength)
        let dataLength = entries.last.map { $0.offset + $0.length } ?? 0

        try out.write([UInt8](repeating: 0, count: preludeSize))
        try out.write(headerBytes)
        try out.writeZeros(tableLength)
        try out.writeZeros(dataOffset - out.position)

        for i in entries.indices {
            try out.writeZeros(dataOffset + entries[i].offset - out.position)
            let t = model.tensors[i]
            entries[i].crc = try withConverted(t, to: entries[i].dtype) { bytes in
                precondition(bytes.count == entries[i].length)
                try out.write(bytes)
                return crc32Of(bytes)
            }
            options.progress?(entries[i].offset + entries[i].length, dataLength)
        }

        var table: [UInt8] = []
        table.reserveCapacity(tableLength)
        for e in entries { e.encode(into: &table) }
        try out.write(table, at: preludeSize + headerBytes.count)
        let crc = table.withUnsafeBytes { t in headerBytes.withUnsafeBytes { h in crc32Of(t, seed: crc32Of(h)) } }
        let prelude = Prelude(headerLength: headerBytes.count, tensorCount: entries.count, tableLength: tableLength,
                              dataOffset: dataOffset, dataLength: dataLength, bodyCRC: crc)
        try out.write(prelude.encoded(), at: 0)
        try out.commit()
        var dtypes: [String: Int] = [:]
        for e in entries { dtypes[e.dtype.name, default: 0] += 1 }
        return WriteReport(path: path, bytes: dataOffset + dataLength, tensors: entries.count, dtypes: dtypes)
    }

    static func sourceFolder(_ model: Model) -> String { isDirectory(model.path) ? model.path : parentDirectory(model.path) }

    /// Every file the model was read from (and its folder), none of which a writer may replace.
    static func inputPaths(_ model: Model) -> [String] {
        model.sources.map { model.sourceKind == .native ? model.path : join(sourceFolder(model), $0.path) } + [model.path]
    }

    /// Source files with their sha256 (computed here for HF inputs; a native input carries its own).
    static func sourcesWithDigests(_ model: Model) throws -> [SourceFile] {
        try model.sources.map { s in
            if s.sha256 != nil { return s }
            let f = try MappedFile(path: join(sourceFolder(model), s.path))
            var d = s
            d.sha256 = SHA256.hex(f.all)
            return d
        }
    }

    /// Runs `body` over the tensor's bytes in `dtype`: the source bytes themselves when no conversion is needed.
    static func withConverted<R>(_ t: Tensor, to dtype: DType, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        if dtype == t.dtype { return try body(t.bytes) }
        let n = t.count
        let out = OwnedBuffer(count: dtype.byteCount(shape: t.shape)!)
        try t.withFloat32 { src in
            switch dtype {
            case .f32: out.pointer.copyMemory(from: src.baseAddress!, byteCount: n * 4)
            case .f16: ts_f32_to_f16(src.baseAddress!, out.pointer.assumingMemoryBound(to: UInt16.self), n)
            case .bf16: ts_f32_to_bf16(src.baseAddress!, out.pointer.assumingMemoryBound(to: UInt16.self), n)
            case .q8: Q8.quantize(src, shape: t.shape, into: out.mutableBytes)
            default: throw Error.unsupportedTargetDType(dtype.name)
            }
        }
        return try body(out.bytes)
    }

    static func headerJSON(_ model: Model, dtype: DType, sources: [SourceFile]) -> JSONValue {
        let st = model.sentenceTransformers
        var files = JSONObject()
        for name in model.files.keys.sorted() {
            let bytes = model.files[name]!
            if let text = String(validating: bytes, as: UTF8.self) {
                files[name] = .object(JSONObject([("encoding", "utf-8"), ("data", .string(text))]))
            } else {
                files[name] = .object(JSONObject([("encoding", "base64"), ("data", .string(Base64.encode(bytes)))]))
            }
        }
        var metadata = JSONObject()
        for k in model.metadata.keys.sorted() { metadata[k] = .string(model.metadata[k]!) }
        return .object(JSONObject([
            ("format", "tempscale-native"),
            ("format_version", .int(Int64(version))),
            ("tool", .string(TempScale.toolName)),
            ("architecture", .string(model.family)),
            ("dtype", .string(dtype.name)),
            ("config", .object(model.config)),
            ("pooling", st.pooling.map { .string($0.rawValue) } ?? .null),
            ("normalize", .bool(st.normalize)),
            ("max_seq_length", st.maxSeqLength.map { .int(Int64($0)) } ?? .null),
            ("do_lower_case", st.doLowerCase.map { .bool($0) } ?? .null),
            ("pooling_path", st.poolingPath.map { .string($0) } ?? .null),
            ("tokenizer", .object(JSONObject([("kind", model.tokenizerKind.map { .string($0) } ?? .null)]))),
            ("temperature", model.temperature.json),
            ("sources", .array(sources.map {
                .object(JSONObject([("path", .string($0.path)), ("bytes", .int(Int64($0.bytes))), ("sha256", .string($0.sha256 ?? ""))]))
            })),
            ("source_format", .string(model.originFormat)),
            ("metadata", .object(metadata)),
            ("files", .object(files)),
        ]))
    }
}

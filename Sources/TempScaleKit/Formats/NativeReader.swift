extension NativeFormat {
    /// Opens a native file: every structural rule and the prelude and header CRCs are checked, and
    /// (by default) every tensor's CRC. Tensors point into the mapping — f32 data is used in place.
    public static func read(path: String, verifyTensorChecksums: Bool = true) throws -> Model {
        let file = try MappedFile(path: path)
        do {
            return try read(file, path: path, verifyTensorChecksums: verifyTensorChecksums)
        } catch let e as Error {
            throw FileError(path, e)
        } catch let e as ArchitectureError {
            throw FileError(path, e)
        } catch let e as CheckpointError {
            throw FileError(path, e)
        }
    }

    static func read(_ file: MappedFile, path: String, verifyTensorChecksums: Bool) throws -> Model {
        let all = file.all
        guard all.count >= preludeSize else {
            if all.count >= 8, Array(file.bytes(0, 8)!) != magic { throw Error.badMagic }
            throw Error.truncated("\(all.count) bytes, shorter than the \(preludeSize)-byte prelude")
        }
        guard Array(file.bytes(0, 8)!) == magic else { throw Error.badMagic }
        guard crc32Of(file.bytes(0, 60)!) == all.le(60, as: UInt32.self) else { throw Error.preludeCRC }
        let v: UInt32 = all.le(8)
        guard v == version else { throw Error.unsupportedVersion(v) }
        let flags: UInt32 = all.le(12)
        guard flags == 0 else { throw Error.unknownFlags(flags) }
        func field(_ o: Int, _ name: String, max: Int) throws -> Int {
            let x: UInt64 = all.le(o)
            guard x <= UInt64(max) else { throw Error.headerField(name, "is \(x), out of range") }
            return Int(x)
        }
        let headerLength = try field(16, "header_length", max: maxHeaderSize)
        let tensorCount = try field(24, "tensor_count", max: 1 << 24)
        let tableLength = try field(32, "table_length", max: maxHeaderSize)
        let dataOffset = try field(40, "data_offset", max: Int.max / 4)
        let dataLength = try field(48, "data_length", max: Int.max / 4)
        guard dataOffset % alignment == 0, dataOffset >= preludeSize + headerLength + tableLength else {
            throw Error.headerField("data_offset", "is \(dataOffset), not 64-aligned after the header and table")
        }
        guard all.count >= dataOffset + dataLength else {
            throw Error.truncated("\(all.count) bytes, the prelude says \(dataOffset + dataLength)")
        }
        guard all.count == dataOffset + dataLength else {
            throw Error.headerField("data_length", "leaves \(all.count - dataOffset - dataLength) trailing bytes")
        }
        let body = file.bytes(preludeSize, headerLength + tableLength)!
        guard crc32Of(body) == all.le(56, as: UInt32.self) else { throw Error.headerCRC }

        let header: JSONValue
        do { header = try JSON.parse(file.bytes(preludeSize, headerLength)!) } catch { throw Error.headerNotJSON(error.description) }
        guard header["format"]?.stringValue == "tempscale-native" else { throw Error.headerField("format", "is not 'tempscale-native'") }

        let entries = try parseTable(file.bytes(preludeSize + headerLength, tableLength)!, count: tensorCount, dataLength: dataLength)
        var tensors: [Tensor] = []
        tensors.reserveCapacity(entries.count)
        for e in entries {
            let bytes = file.bytes(dataOffset + e.offset, e.length)!
            if verifyTensorChecksums && crc32Of(bytes) != e.crc { throw Error.tensorCRC(e.name) }
            tensors.append(Tensor(name: e.name, dtype: e.dtype, shape: e.shape, bytes: bytes, owner: file))
        }
        return try model(from: header, tensors: tensors, path: path, fileBytes: all.count)
    }

    static func parseTable(_ t: UnsafeRawBufferPointer, count: Int, dataLength: Int) throws -> [TableEntry] {
        var entries: [TableEntry] = []
        var names = Set<String>()
        var p = 0
        var end = 0
        for i in 0..<count {
            func need(_ k: Int) throws { if k > t.count - p { throw Error.badTableEntry(index: i, "runs past the table") } }
            try need(2)
            let n = Int(t.le(p, as: UInt16.self)); p += 2
            try need(n + 2)
            guard n > 0, let name = String(validating: UnsafeRawBufferPointer(rebasing: t[p..<p + n]), as: UTF8.self) else {
                throw Error.badTableEntry(index: i, "empty or non-UTF-8 name")
            }
            p += n
            let code = t[p], rank = Int(t[p + 1]); p += 2
            guard let dtype = DType(nativeCode: code) else { throw Error.unknownDType(name, code) }
            guard rank <= maxRank else { throw Error.badTableEntry(index: i, "rank \(rank) above \(maxRank)") }
            try need(8 * rank + 20)
            var shape: [Int] = []
            for _ in 0..<rank {
                let d: UInt64 = t.le(p); p += 8
                guard d <= UInt64(Int.max) else { throw Error.badTableEntry(index: i, "dimension out of range") }
                shape.append(Int(d))
            }
            let offset: UInt64 = t.le(p), length: UInt64 = t.le(p + 8)
            let crc: UInt32 = t.le(p + 16)
            p += 20
            guard let need = dtype.byteCount(shape: shape), UInt64(need) == length else {
                throw Error.badTableEntry(index: i, "'\(name)' length \(length) does not match its shape and dtype")
            }
            guard offset % UInt64(alignment) == 0 else { throw Error.badTableEntry(index: i, "'\(name)' offset not 64-aligned") }
            guard offset >= UInt64(end), offset <= UInt64(dataLength), length <= UInt64(dataLength) - offset else {
                throw Error.overlapping(name)
            }
            guard names.insert(name).inserted else { throw Error.duplicateName(name) }
            end = Int(offset + length)
            entries.append(TableEntry(name: name, dtype: dtype, shape: shape, offset: Int(offset), length: Int(length), crc: crc))
        }
        guard p == t.count else { throw Error.headerField("table_length", "has \(t.count - p) bytes after the last entry") }
        return entries
    }

    static func model(from header: JSONValue, tensors: [Tensor], path: String, fileBytes: Int) throws -> Model {
        guard let config = header["config"]?.objectValue else { throw Error.headerField("config", "is missing") }
        let arch = try Architectures.resolve(config)
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        try Architectures.validate(arch, tensors: byName)

        var files: [String: [UInt8]] = [:]
        for (name, f) in header["files"]?.objectValue?.pairs ?? [] {
            guard let data = f["data"]?.stringValue else { throw Error.headerField("files", "entry '\(name)' has no data") }
            switch f["encoding"]?.stringValue {
            case "utf-8": files[name] = Array(data.utf8)
            case "base64":
                guard let b = Base64.decode(data) else { throw Error.headerField("files", "entry '\(name)' is not valid base64") }
                files[name] = b
            default: throw Error.headerField("files", "entry '\(name)' has an unknown encoding")
            }
        }
        // The modules travel as their carried files (modules.json, each module's config.json); Dense weights are
        // among the tensors. Files written before that carry only the header's pooling fields.
        var st = try SentenceTransformersConfig.read { rel in try files[rel].map { try JSON.parse($0) } }
        if files["modules.json"] == nil, let p = header["pooling"]?.stringValue {
            guard let pooling = SentenceTransformersConfig.Pooling(rawValue: p) else { throw Error.headerField("pooling", "'\(p)' is unknown") }
            st.poolingModes = [pooling]
            st.steps = [.pooling] + (header["normalize"]?.boolValue == true ? [.normalize] : [])
        }
        st.maxSeqLength = header["max_seq_length"]?.intValue ?? st.maxSeqLength
        st.doLowerCase = header["do_lower_case"]?.boolValue ?? st.doLowerCase
        st.poolingPath = header["pooling_path"]?.stringValue ?? st.poolingPath
        var sources: [SourceFile] = []
        for s in header["sources"]?.arrayValue ?? [] {
            sources.append(SourceFile(path: s["path"]?.stringValue ?? "?", bytes: s["bytes"]?.intValue ?? 0,
                                      sha256: s["sha256"]?.stringValue))
        }
        var metadata: [String: String] = [:]
        for (k, v) in header["metadata"]?.objectValue?.pairs ?? [] { metadata[k] = v.stringValue }
        let temperature = try TemperatureHistory(json: header["temperature"])
        return Model(path: path, sourceKind: .native, config: config, architecture: arch, tensors: tensors,
                     sentenceTransformers: st, files: files, temperature: temperature, sources: sources,
                     metadata: metadata, originFormat: header["source_format"]?.stringValue ?? "unknown")
    }
}

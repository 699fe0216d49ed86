import CKernels

extension SafeTensors {
    /// Writes tensors as a safetensors file (names sorted, header space-padded to 8 bytes, data
    /// streamed one tensor at a time), atomically. `dtype` converts floating-point tensors (f32/f16/bf16).
    public static func write(_ tensors: [Tensor], metadata: [String: String], to path: String, dtype: DType?,
                             force: Bool, inputs: [String]) throws {
        let out = try AtomicFileWriter(destination: path, force: force, inputs: inputs)
        try write(tensors, metadata: metadata, into: out, dtype: dtype)
        try out.commit()
    }

    static func storedType(_ t: Tensor, _ dtype: DType?) -> DType {
        guard let dtype, t.dtype.isFloatingPoint else { return t.dtype == .q8 ? .f32 : t.dtype }
        return dtype
    }

    static func write(_ tensors: [Tensor], metadata: [String: String], into out: AtomicFileWriter, dtype: DType?) throws {
        let sorted = tensors.sorted { $0.name < $1.name }
        var header = JSONObject()
        if !metadata.isEmpty {
            header["__metadata__"] = .object(JSONObject(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) }))
        }
        var offset = 0
        for t in sorted {
            let stored = storedType(t, dtype)
            let bytes = t.count * stored.itemSize
            header[t.name] = .object(JSONObject([
                ("dtype", .string(stored.rawValue)), ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + bytes))])),
            ]))
            offset += bytes
        }
        var json = Array(JSONValue.object(header).serialized().utf8)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var prefix: [UInt8] = []
        prefix.appendLE(UInt64(json.count))
        try out.write(prefix + json)
        for t in sorted {
            try NativeFormat.withConverted(t, to: storedType(t, dtype)) { try out.write($0) }
        }
    }
}

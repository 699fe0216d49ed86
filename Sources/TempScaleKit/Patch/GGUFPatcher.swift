import CKernels

/// `tempscale patch model.gguf -t τ -o out.gguf`: τ baked into a GGUF file as llama.cpp's converter and quantizer
/// wrote it, with no checkpoint. Only the query path's numbers change — each block's scale (and min) for the
/// quantized types, the values for F32/F16/BF16 — and every other byte of the data is copied unchanged; the header
/// is copied pair by pair with the `tempscale.*` keys (the τ history) added or replaced.
///
/// Per llama.cpp architecture (its graphs: golden/gguf-notes.md):
/// - `bert` (BERT, RoBERTa, XLM-R): softmax(QKᵀ·1/√d + mask) — `blk.N.attn_q` weight and bias × 1/τ, or the first
///   n_embd rows of a fused `blk.N.attn_qkv`.
/// - `t5encoder`: softmax(QKᵀ + bias) — `enc.blk.N.attn_q` × 1/τ and the relative bias × 1/τ: block 0's, shared by
///   every block (so only all blocks together), or each block's own.
/// A scale multiplies the stored f16 block scales, so the baked weights equal exactly-scaled ones up to one f16
/// rounding of each scale (≤ 2⁻¹¹ relative), the storage's own precision.
public enum GGUFPatcher {
    public enum Error: ReasonError, Equatable {
        case noArchitecture
        case unknownArchitecture(String)
        case notBakeable(String)
        case missingTensor(String)
        case missingKey(String)
        case unsupportedType(tensor: String, type: String)

        public static let known = ["bert", "t5encoder"]

        public var description: String {
            switch self {
            case .noArchitecture: return "gguf: general.architecture is missing"
            case .unknownArchitecture(let a):
                return "gguf: general.architecture '\(a)' is not one tempscale bakes τ into (known: \(Self.known.joined(separator: ", ")))"
            case .notBakeable(let why): return "gguf: τ cannot be baked exactly: \(why)"
            case .missingTensor(let t): return "gguf: tensor '\(t)' is missing"
            case .missingKey(let k): return "gguf: key '\(k)' is missing or not an integer"
            case .unsupportedType(let t, let type): return "gguf: tensor '\(t)' is \(type); tempscale scales F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K–Q8_K"
            }
        }
    }

    /// One tensor to scale: all of it, or the rows `rows` (ne[1] index; for a 1-D tensor, elements).
    public struct Scale: Sendable, Equatable {
        public let tensor: String
        public let factor: Double
        public let rows: Range<Int>?
    }

    public struct Report: Sendable {
        public let path: String
        public let bytes: Int
        public let architecture: String
        public let scales: [Scale]
        public let types: [String: Int]
        public let explanation: String
        public let temperature: TemperatureHistory
    }

    /// The scales for `file` at τ, or the reason there are none.
    public static func plan(_ file: GGUFFile, tau: Double, layers selection: LayerSelection) throws(Error) -> (scales: [Scale], explanation: String) {
        guard let arch = file.string("general.architecture") else { throw .noArchitecture }
        func int(_ key: String) throws(Error) -> Int {
            guard let v = file.int(key) else { throw .missingKey(key) }
            return v
        }
        func has(_ t: String) -> Bool { file.tensor(t) != nil }
        let s = 1 / tau
        var scales: [Scale] = []
        switch arch {
        case "bert":
            let layers = try int("bert.block_count"), embd = try int("bert.embedding_length")
            for l in 0..<layers where selection.contains(l) {
                if has("blk.\(l).attn_q.weight") {
                    scales.append(Scale(tensor: "blk.\(l).attn_q.weight", factor: s, rows: nil))
                    if has("blk.\(l).attn_q.bias") { scales.append(Scale(tensor: "blk.\(l).attn_q.bias", factor: s, rows: nil)) }
                } else if has("blk.\(l).attn_qkv.weight") {
                    scales.append(Scale(tensor: "blk.\(l).attn_qkv.weight", factor: s, rows: 0..<embd))
                    if has("blk.\(l).attn_qkv.bias") { scales.append(Scale(tensor: "blk.\(l).attn_qkv.bias", factor: s, rows: 0..<embd)) }
                } else {
                    throw .missingTensor("blk.\(l).attn_q.weight")
                }
            }
            return (scales, "attn_q weight and bias × 1/τ in each patched block (llama.cpp's bert graph: softmax(QKᵀ/√d + mask), Q linear in attn_q)")
        case "t5encoder":
            let layers = try int("t5encoder.block_count")
            let own = (0..<layers).allSatisfy { has("enc.blk.\($0).attn_rel_b.weight") }
            guard own || has("enc.blk.0.attn_rel_b.weight") else { throw .missingTensor("enc.blk.0.attn_rel_b.weight") }
            guard own || selection.isAll else {
                throw .notBakeable("the relative-attention bias lives in block 0 and every block reuses it; a block subset cannot be baked exactly")
            }
            for l in 0..<layers where selection.contains(l) {
                guard has("enc.blk.\(l).attn_q.weight") else { throw .missingTensor("enc.blk.\(l).attn_q.weight") }
                scales.append(Scale(tensor: "enc.blk.\(l).attn_q.weight", factor: s, rows: nil))
                if own || l == 0 { scales.append(Scale(tensor: "enc.blk.\(l).attn_rel_b.weight", factor: s, rows: nil)) }
            }
            return (scales, "attn_q × 1/τ in each patched block and the relative-attention bias × 1/τ (llama.cpp's t5encoder graph: softmax(QKᵀ + bias), no 1/√d)")
        case "modern-bert":
            let layers = try int("modern-bert.block_count"), embd = try int("modern-bert.embedding_length")
            for l in 0..<layers where selection.contains(l) {
                guard has("blk.\(l).attn_qkv.weight") else { throw .missingTensor("blk.\(l).attn_qkv.weight") }
                scales.append(Scale(tensor: "blk.\(l).attn_qkv.weight", factor: s, rows: 0..<embd))
            }
            return (scales, "the query rows (0..<\(embd)) of attn_qkv × 1/τ in each patched block (llama.cpp's modern-bert graph: softmax(RoPE(q)·RoPE(k)ᵀ/√d + mask); RoPE is a rotation, linear in q)")
        case "qwen3":
            let layers = try int("qwen3.block_count")
            for l in 0..<layers where selection.contains(l) {
                guard has("blk.\(l).attn_q_norm.weight") else { throw .missingTensor("blk.\(l).attn_q_norm.weight") }
                scales.append(Scale(tensor: "blk.\(l).attn_q_norm.weight", factor: s, rows: nil))
            }
            return (scales, "attn_q_norm × 1/τ in each patched block (llama.cpp's qwen3 graph RMS-normalises q per head before RoPE, which would undo a scale on attn_q; the norm's weight multiplies after it)")
        case "gemma2":
            throw .notBakeable("gemma2 caps the attention logits with c·tanh(S/c) before the softmax; tanh is not linear in q")
        case "jina-bert-v2":
            throw .notBakeable("jina-bert-v2 adds an ALiBi bias to the scores that the query does not reach")
        default:
            throw .unknownArchitecture(arch)
        }
    }

    public static func patch(_ path: String, tau: Double, layers: String = "all", to output: String, force: Bool,
                             tool: String = "tempscale \(TempScale.version)") throws -> Report {
        guard tau.isFinite, tau > 0 else { throw FileError(path, TextEmbedder.Error.badTemperature("\(tau)")) }
        let file = try GGUFFile(path: path)
        let blocks = file.int("\(file.string("general.architecture") ?? "").block_count") ?? 0
        let selection: LayerSelection
        let (scales, explanation): ([Scale], String)
        if blocks == 0 { do { _ = try plan(file, tau: tau, layers: .all) } catch { throw FileError(path, error) } }
        do { selection = try LayerSelection(parsing: layers, layerCount: max(blocks, 1)) } catch { throw FileError(path, error) }
        do { (scales, explanation) = try plan(file, tau: tau, layers: selection) } catch { throw FileError(path, error) }
        return try write(file, scales: scales, explanation: explanation, tau: tau, layers: "\(selection)", to: output,
                         force: force, tool: tool)
    }

    /// Writes `file` with `scales` applied (the plan's, or a test's own) and the τ step added to the history.
    static func write(_ file: GGUFFile, scales: [Scale], explanation: String, tau: Double, layers: String, to output: String,
                      force: Bool, tool: String) throws -> Report {
        let path = file.path
        let arch = file.string("general.architecture") ?? ""

        // Check every scaled tensor's type before anything is written.
        var byName: [String: (GGUFFile.TensorInfo, [Scale])] = [:]
        var types: [String: Int] = [:]
        for sc in scales {
            let t = file.tensor(sc.tensor)!
            guard Self.scaleOffsets(t.type) != nil else { throw FileError(path, Error.unsupportedType(tensor: t.name, type: t.type.name)) }
            if let r = sc.rows, r.upperBound > (t.ne.count == 1 ? t.ne[0] : t.rows) {
                throw FileError(path, Error.notBakeable("'\(t.name)' has fewer than \(r.upperBound) rows"))
            }
            let span = t.offset..<(t.offset + t.byteCount)
            if let other = file.tensors.first(where: { $0.name != t.name && $0.byteCount > 0 && span.overlaps($0.offset..<($0.offset + $0.byteCount)) }) {
                throw FileError(path, Error.notBakeable("tensor '\(t.name)' shares bytes with '\(other.name)': scaling one would change the other"))
            }
            byName[t.name, default: (t, [])].1.append(sc)
            types[t.type.name, default: 0] += 1
        }

        var history = TemperatureHistory()
        if case .string(let h)? = file.value("tempscale.history"), let j = try? JSON.parse(Array(h.utf8)) {
            history = (try? TemperatureHistory(json: j)) ?? TemperatureHistory()
        }
        history.steps.append(.init(tau: tau, layers: layers, tool: tool))

        // The header: every pair but ours verbatim, ours new, the tensor infos verbatim.
        var header = GGUF.Encoder()
        header.u32(0x4655_4747)
        header.u32(file.version)
        header.u64(UInt64(file.tensors.count))
        let kept = file.keyValues.filter { !$0.key.hasPrefix("tempscale.") }
        let ours: [(String, GGUF.Value)] = [
            ("tempscale.version", .string(TempScale.version)),
            ("tempscale.temperature", .f64(history.total)),
            ("tempscale.history", .string(history.json.serialized())),
        ]
        header.u64(UInt64(kept.count + ours.count))
        for kv in kept { header.bytes += file.file.bytes(kv.range.lowerBound, kv.range.count)! }
        for (k, v) in ours { header.keyValue(k, v) }
        for t in file.tensors { header.bytes += file.file.bytes(t.range.lowerBound, t.range.count)! }
        let dataStart = (header.bytes.count + file.alignment - 1) / file.alignment * file.alignment

        let out = try AtomicFileWriter(destination: output, force: force, inputs: [path])
        try out.write(header.bytes)
        try out.writeZeros(dataStart - out.position)
        // The data section in file order, the scaled tensors replaced.
        let dataBytes = file.file.count - file.dataStart
        var at = 0
        for (t, list) in byName.values.sorted(by: { $0.0.offset < $1.0.offset }) {
            try out.write(file.file.bytes(file.dataStart + at, t.offset - at)!)
            var bytes = Array(file.data(t))
            for sc in list { Self.scale(&bytes, t, sc) }
            try out.write(bytes)
            at = t.offset + t.byteCount
        }
        try out.write(file.file.bytes(file.dataStart + at, dataBytes - at)!)
        let size = out.position
        try out.commit()
        return Report(path: output, bytes: size, architecture: arch, scales: scales, types: types, explanation: explanation,
                      temperature: history)
    }

    /// Where a block keeps the scales that multiply all its values: (byte offsets of f16 scales, of f32 scales).
    static func scaleOffsets(_ type: GGMLType) -> (f16: [Int], f32: [Int])? {
        switch type {
        case .q4_0, .q5_0, .q8_0: return ([0], [])
        case .q4_1, .q5_1, .q4_K, .q5_K: return ([0, 2], [])  // d and m (dmin): y = d·q + m, or d·s·q − dmin·m
        case .q2_K: return ([80, 82], [])
        case .q3_K: return ([108], [])
        case .q6_K: return ([208], [])
        case .q8_K: return ([], [0])
        case .f32, .f16, .bf16: return ([], [])
        default: return nil
        }
    }

    /// Multiplies the tensor's values (or its rows `sc.rows`) by `sc.factor` in place, in its own storage.
    static func scale(_ bytes: inout [UInt8], _ t: GGUFFile.TensorInfo, _ sc: Scale) {
        let rowBytes = t.ne[0] / t.type.blockSize * t.type.typeSize
        let range: Range<Int>
        if let r = sc.rows {
            range = t.ne.count == 1 ? (r.lowerBound * t.type.typeSize)..<(r.upperBound * t.type.typeSize)
                                    : (r.lowerBound * rowBytes)..<(r.upperBound * rowBytes)
        } else {
            range = 0..<bytes.count
        }
        let f = Float(sc.factor)
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress! + range.lowerBound, n = range.count
            switch t.type {
            case .f32:
                let v = p.assumingMemoryBound(to: Float.self)
                for i in 0..<(n / 4) { v[i] = Float(bitPattern: UInt32(littleEndian: v[i].bitPattern)) * f }
            case .f16, .bf16:
                let h = p.assumingMemoryBound(to: UInt16.self), count = n / 2
                var tmp = [Float](repeating: 0, count: count)
                if t.type == .f16 { ts_f16_to_f32(h, &tmp, count) } else { ts_bf16_to_f32(h, &tmp, count) }
                for i in 0..<count { tmp[i] *= f }
                if t.type == .f16 { ts_f32_to_f16(tmp, h, count) } else { ts_f32_to_bf16(tmp, h, count) }
            default:
                let (f16, f32) = scaleOffsets(t.type)!
                var block = 0
                while block < n {
                    for o in f16 {
                        var x: Float = 0
                        var h = UInt16(p.load(fromByteOffset: block + o, as: UInt8.self)) | UInt16(p.load(fromByteOffset: block + o + 1, as: UInt8.self)) << 8
                        ts_f16_to_f32(&h, &x, 1)
                        x *= f
                        ts_f32_to_f16(&x, &h, 1)
                        p.storeBytes(of: UInt8(h & 0xFF), toByteOffset: block + o, as: UInt8.self)
                        p.storeBytes(of: UInt8(h >> 8), toByteOffset: block + o + 1, as: UInt8.self)
                    }
                    for o in f32 {
                        let x = Float(bitPattern: p.loadUnaligned(fromByteOffset: block + o, as: UInt32.self)) * f
                        p.storeBytes(of: x.bitPattern, toByteOffset: block + o, as: UInt32.self)
                    }
                    block += t.type.typeSize
                }
            }
        }
    }
}

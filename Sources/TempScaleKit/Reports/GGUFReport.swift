/// What `tempscale inspect FILE.gguf` prints: the architecture and its hyper-parameters, the tensors by ggml type,
/// the τ history, and what `patch` would scale (or why it would refuse).
public struct GGUFReport {
    public let file: GGUFFile
    public init(_ file: GGUFFile) { self.file = file }

    var plan: Result<(scales: [GGUFPatcher.Scale], explanation: String), GGUFPatcher.Error> {
        Result { () throws(GGUFPatcher.Error) in try GGUFPatcher.plan(file, tau: 1, layers: .all) }
    }

    var typeCounts: [(String, Int)] {
        var c: [String: Int] = [:]
        for t in file.tensors { c[t.type.name, default: 0] += 1 }
        return c.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    static func show(_ v: GGUFFile.Value) -> String {
        switch v {
        case .uint(let u): return "\(u)"
        case .int(let i): return "\(i)"
        case .float(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        case .string(let s): return s.count > 80 ? JSONValue.string(String(s.prefix(77)) + "…").serialized() : JSONValue.string(s).serialized()
        case .array(let type, let count): return "[\(count) × type \(type)]"
        }
    }

    public func text(tensors listTensors: Bool) -> String {
        let arch = file.string("general.architecture") ?? "?"
        var out = "\(file.path): GGUF v\(file.version), llama.cpp architecture \(arch), \(formatBytes(file.file.count))\n"
        out += "keys: \(file.keyValues.count); tensors: \(file.tensors.count) (" + typeCounts.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")\n"
        let general: Set = ["general.architecture", "general.name", "general.file_type", "general.quantization_version", "general.alignment"]
        for kv in file.keyValues where kv.key.hasPrefix("\(arch).") || general.contains(kv.key) || kv.key == "tokenizer.ggml.model" {
            out += "  \(kv.key) = \(Self.show(kv.value))\n"
        }
        if case .string(let h)? = file.value("tempscale.history") { out += "temperature: tempscale history \(h)\n" } else { out += "temperature: none baked by tempscale\n" }
        switch plan {
        case .success(let p):
            out += "patch: would scale \(p.scales.count) tensors — \(p.explanation)\n"
        case .failure(let e):
            out += "patch: refused — \(e)\n"
        }
        if listTensors {
            for t in file.tensors { out += "  \(t.name)  \(t.type.name)  ne \(t.ne)  \(formatBytes(t.byteCount))\n" }
        }
        return out
    }

    public func json(tensors listTensors: Bool) -> JSONValue {
        var o: [(String, JSONValue)] = [
            ("path", .string(file.path)), ("format", .string("gguf")), ("version", .int(Int64(file.version))),
            ("architecture", file.string("general.architecture").map { .string($0) } ?? .null),
            ("bytes", .int(Int64(file.file.count))),
            ("tensor_types", .object(JSONObject(typeCounts.map { ($0.0, .int(Int64($0.1))) }))),
            ("keys", .object(JSONObject(file.keyValues.map { ($0.key, .string(Self.show($0.value))) }))),
        ]
        switch plan {
        case .success(let p): o.append(("patch", .object(JSONObject([("tensors", .array(p.scales.map { .string($0.tensor) })), ("rule", .string(p.explanation))]))))
        case .failure(let e): o.append(("patch", .object(JSONObject([("refused", .string(e.description))]))))
        }
        if listTensors {
            o.append(("tensors", .array(file.tensors.map { t in
                .object(JSONObject([("name", .string(t.name)), ("type", .string(t.type.name)), ("ne", .array(t.ne.map { .int(Int64($0)) })),
                                    ("bytes", .int(Int64(t.byteCount)))]))
            })))
        }
        return .object(JSONObject(o))
    }
}

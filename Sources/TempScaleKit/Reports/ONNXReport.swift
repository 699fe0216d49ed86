import ONNXProto

/// What `tempscale inspect model.onnx` prints: the producer, IR and opsets, inputs and outputs with their shapes,
/// operator counts, the τ history, and each attention layer found with how `patch` would scale it (or why not).
public struct ONNXReport {
    public let file: ONNXFile
    public init(_ file: ONNXFile) { self.file = file }

    var plan: Result<ONNXPatcher.Plan, ONNXPatcher.Error> {
        Result { () throws(ONNXPatcher.Error) in try ONNXPatcher.plan(file) }
    }

    static func shape(_ v: Onnx_ValueInfoProto) -> String {
        let t = v.type.tensorType
        let type = ONNXElementType(rawValue: t.elemType)?.name ?? "type \(t.elemType)"
        let dims = t.shape.dim.map { d -> String in
            switch d.value {
            case .dimValue(let n)?: return "\(n)"
            case .dimParam(let s)?: return s
            case nil: return "?"
            }
        }
        return "\(type) [\(dims.joined(separator: ", "))]"
    }

    var operatorCounts: [(String, Int)] {
        var c: [String: Int] = [:]
        for n in file.model.graph.node { c[n.domain.isEmpty ? n.opType : "\(n.domain).\(n.opType)", default: 0] += 1 }
        return c.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    var weightBytes: Int { file.model.graph.initializer.reduce(0) { $0 + $1.rawData.count + 4 * $1.floatData.count } }

    public func text() -> String {
        let m = file.model
        var out = "\(file.path): ONNX IR \(m.irVersion), opsets " + m.opsetImport.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", ")
        out += m.producerName.isEmpty ? "\n" : ", made by \(m.producerName) \(m.producerVersion)\n"
        out += "nodes: \(m.graph.node.count); initializers: \(m.graph.initializer.count) (\(formatBytes(weightBytes)))"
        out += file.externalFiles.isEmpty ? "\n" : "; external data: \(file.externalFiles.joined(separator: ", "))\n"
        out += "inputs:\n" + m.graph.input.filter { i in !m.graph.initializer.contains { $0.name == i.name } }.map { "  \($0.name): \(Self.shape($0))\n" }.joined()
        out += "outputs:\n" + m.graph.output.map { "  \($0.name): \(Self.shape($0))\n" }.joined()
        out += "operators: " + operatorCounts.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n"
        let history = file.temperature
        out += history.isPatched
            ? "temperature: τ_total = \(history.total) baked by tempscale (" + history.steps.map { "τ \($0.tau) on \($0.layers) by \($0.tool)" }.joined(separator: "; ") + ")\n"
            : "temperature: none baked by tempscale\n"
        switch plan {
        case .success(let p):
            out += "attention layers: \(p.sites.count)" + (p.namedLayers.map { " (the names say \($0) layers)" } ?? " (the names carry no layer count)") + "\n"
            for (k, s) in p.sites.enumerated() {
                out += "  \(k): \(s.node) — \(s.rule): \(s.targets.joined(separator: ", "))\n"
            }
        case .failure(let e):
            out += "patch: refused — \(e.description)\n"
        }
        return out
    }

    public func json() -> JSONValue {
        let m = file.model
        var fields: [(String, JSONValue)] = [
            ("path", .string(file.path)), ("format", .string("onnx")), ("ir_version", .int(m.irVersion)),
            ("opsets", .object(JSONObject(m.opsetImport.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, .int($0.version)) }))),
            ("producer", .string("\(m.producerName) \(m.producerVersion)".trimmingCharacters(in: .whitespaces))),
            ("nodes", .int(Int64(m.graph.node.count))),
            ("inputs", .array(m.graph.input.filter { i in !m.graph.initializer.contains { $0.name == i.name } }.map { .object(JSONObject([("name", .string($0.name)), ("type", .string(Self.shape($0)))])) })),
            ("outputs", .array(m.graph.output.map { .object(JSONObject([("name", .string($0.name)), ("type", .string(Self.shape($0)))])) })),
            ("operators", .object(JSONObject(operatorCounts.map { ($0.0, .int(Int64($0.1))) }))),
            ("temperature", file.temperature.json),
        ]
        switch plan {
        case .success(let p):
            fields.append(("attention", .array(p.sites.map { .object(JSONObject([("node", .string($0.node)), ("rule", .string($0.rule)), ("targets", .array($0.targets.map { .string($0) }))])) })))
            fields.append(("named_layers", p.namedLayers.map { .int(Int64($0)) } ?? .null))
        case .failure(let e):
            fields.append(("patch_refused", .string(e.description)))
        }
        return .object(JSONObject(fields))
    }
}

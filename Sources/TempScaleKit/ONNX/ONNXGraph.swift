import ONNXProto

/// Who produces and who reads each value of an ONNX graph, built once and checked: names are unique, every
/// input a node reads exists (a graph input, an initializer, an earlier node's output, or — inside a subgraph —
/// an outer value), and the nodes have no cycle.
struct ONNXGraph {
    let graph: Onnx_GraphProto
    /// value name → index of the node that writes it
    private(set) var producer: [String: Int] = [:]
    /// value name → indices of the nodes that read it (a node reading a value twice appears twice); a node holding
    /// a subgraph reads every outer value its subgraph uses
    private(set) var consumers: [String: [Int]] = [:]
    /// initializer name → index in graph.initializer
    private(set) var initializer: [String: Int] = [:]
    let graphInputs: Set<String>
    /// node indices in an order where every producer comes before its readers
    private(set) var order: [Int] = []

    init(_ graph: Onnx_GraphProto, outer: Set<String> = []) throws(ONNXFile.Error) {
        self.graph = graph
        graphInputs = Set(graph.input.map(\.name))
        for (i, t) in graph.initializer.enumerated() {
            guard !t.name.isEmpty else { throw .badGraph("initializer #\(i) has no name") }
            guard initializer.updateValue(i, forKey: t.name) == nil else { throw .badGraph("two initializers are named '\(t.name)'") }
        }
        for (i, n) in graph.node.enumerated() {
            for o in n.output where !o.isEmpty {
                guard producer.updateValue(i, forKey: o) == nil, initializer[o] == nil, !graphInputs.contains(o) else {
                    throw .badGraph("value '\(o)' is written twice (by \(Self.label(n)))")
                }
            }
        }
        let known = outer.union(graphInputs).union(initializer.keys).union(producer.keys)
        for (i, n) in graph.node.enumerated() {
            var reads = n.input.filter { !$0.isEmpty }
            for a in n.attribute {
                for g in (a.hasG ? [a.g] : []) + a.graphs {
                    reads += try Self.outerReads(g, outer: known)
                }
            }
            for name in reads {
                guard known.contains(name) else { throw .badGraph("\(Self.label(n)) reads '\(name)', which no node, input or initializer provides") }
                consumers[name, default: []].append(i)
            }
        }
        for o in graph.output where !known.contains(o.name) {
            throw .badGraph("graph output '\(o.name)' is never produced")
        }
        // Kahn's algorithm over producer → reader edges.
        var pending = [Int](repeating: 0, count: graph.node.count)
        var readers = [[Int]](repeating: [], count: graph.node.count)
        for (name, list) in consumers {
            guard let p = producer[name] else { continue }
            for c in list {
                pending[c] += 1
                readers[p].append(c)
            }
        }
        var ready = (0..<graph.node.count).filter { pending[$0] == 0 }
        var head = 0
        while head < ready.count {
            let n = ready[head]
            head += 1
            order.append(n)
            for r in readers[n] {
                pending[r] -= 1
                if pending[r] == 0 { ready.append(r) }
            }
        }
        if order.count < graph.node.count {
            let stuck = (0..<graph.node.count).first { pending[$0] > 0 }!
            throw .badGraph("the nodes form a cycle (through \(Self.label(graph.node[stuck])))")
        }
    }

    /// The outer values a subgraph reads (checked recursively; its own names shadow outer ones).
    private static func outerReads(_ g: Onnx_GraphProto, outer: Set<String>) throws(ONNXFile.Error) -> [String] {
        var local = Set(g.input.map(\.name)).union(g.initializer.map(\.name))
        for n in g.node { local.formUnion(n.output) }
        var reads: [String] = []
        for n in g.node {
            var names = n.input.filter { !$0.isEmpty }
            for a in n.attribute { for s in (a.hasG ? [a.g] : []) + a.graphs { names += try outerReads(s, outer: outer.union(local)) } }
            for name in names where !local.contains(name) {
                guard outer.contains(name) else { throw .badGraph("subgraph '\(g.name)' node \(label(n)) reads '\(name)', which nothing provides") }
                reads.append(name)
            }
        }
        for o in g.output where !local.contains(o.name) && !outer.contains(o.name) {
            throw .badGraph("subgraph '\(g.name)' output '\(o.name)' is never produced")
        }
        return reads
    }

    static func label(_ n: Onnx_NodeProto) -> String {
        let op = n.domain.isEmpty || n.domain == "ai.onnx" ? n.opType : "\(n.domain).\(n.opType)"
        return n.name.isEmpty ? "node \(op) → '\(n.output.first ?? "")'" : "node '\(n.name)' (\(op))"
    }

    func node(_ i: Int) -> Onnx_NodeProto { graph.node[i] }
    func label(_ i: Int) -> String { Self.label(graph.node[i]) }
    func producerNode(_ value: String) -> Onnx_NodeProto? { producer[value].map { graph.node[$0] } }

    /// A tensor the graph holds as a value: an initializer or a `Constant` node's `value`.
    enum Source: Hashable {
        case initializer(Int)
        case constant(node: Int)
    }

    func constantSource(_ value: String) -> Source? {
        if let i = initializer[value], !graphInputs.contains(value) { return .initializer(i) }
        if let p = producer[value], graph.node[p].opType == "Constant", graph.node[p].domain.isEmpty,
            graph.node[p].attribute.contains(where: { $0.name == "value" && $0.hasT })
        {
            return .constant(node: p)
        }
        return nil
    }

    func tensor(_ s: Source) -> Onnx_TensorProto {
        switch s {
        case .initializer(let i): return graph.initializer[i]
        case .constant(let n): return graph.node[n].attribute.first { $0.name == "value" }!.t
        }
    }

    /// The tensor behind `value` when it is a constant (including `Constant` nodes' value_float / value_int).
    func constantTensor(_ value: String) -> Onnx_TensorProto? {
        if let s = constantSource(value) { return tensor(s) }
        guard let p = producer[value], graph.node[p].opType == "Constant" else { return nil }
        for a in graph.node[p].attribute {
            var t = Onnx_TensorProto()
            t.name = value
            switch a.name {
            case "value_float": t.dataType = ONNXElementType.float.rawValue; t.floatData = [a.f]
            case "value_floats": t.dataType = ONNXElementType.float.rawValue; t.floatData = a.floats; t.dims = [Int64(a.floats.count)]
            case "value_int": t.dataType = ONNXElementType.int64.rawValue; t.int64Data = [a.i]
            case "value_ints": t.dataType = ONNXElementType.int64.rawValue; t.int64Data = a.ints; t.dims = [Int64(a.ints.count)]
            default: continue
            }
            return t
        }
        return nil
    }

    /// The single number a constant scalar (or one-element tensor) holds.
    func scalar(_ value: String) -> Float? {
        guard let t = constantTensor(value), t.elementCount == 1 else { return nil }
        if let v = try? t.floatValues() { return v.first }
        return (try? t.intValues()).flatMap { $0.first.map(Float.init) }
    }

    /// Whether `value` is computed from the graph's inputs, shapes and scalar constants only — no weight tensor
    /// of more than one element feeds its numbers (an attention mask, a shape-derived scale).
    func isWeightFree(_ value: String) -> Bool {
        var seen = Set<String>()
        var stack = [value]
        while let v = stack.popLast() {
            guard seen.insert(v).inserted else { continue }
            if let t = constantTensor(v) {
                if t.elementType?.isFloat == true && (t.elementCount ?? 2) > 1 { return false }
                continue
            }
            guard let p = producer[v] else { continue }  // a graph input
            // Shape and Size read only their input's dimensions, never its numbers.
            if ["Shape", "Size"].contains(graph.node[p].opType) { continue }
            stack += graph.node[p].input.filter { !$0.isEmpty }
        }
        return true
    }

    func attribute(_ node: Int, _ name: String) -> Onnx_AttributeProto? { graph.node[node].attribute.first { $0.name == name } }
}

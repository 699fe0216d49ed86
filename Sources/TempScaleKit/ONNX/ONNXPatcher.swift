import Foundation
import ONNXProto

/// `tempscale patch model.onnx -t τ -o out.onnx`: τ baked into an ONNX graph as it was deployed — exported by
/// PyTorch, fused by ONNX Runtime's optimizer, or quantized to int8 — with no checkpoint. Every attention softmax's
/// input becomes S/τ by the exact rule the graph allows, in this order of preference:
///
/// 1. **The query projection** (weight and bias × 1/τ): walk back from each `Softmax` through the mask
///    (`Add`/`Where`, either operand order), the score `Div`/`Mul` by a constant, to the Q·Kᵀ `MatMul`, then
///    from its first operand through `Transpose`/`Reshape`/`Squeeze`/`Unsqueeze`, a `Mul` by a shape-derived
///    scale (SDPA exports), a last-axis `Split` of a packed QKV projection, to `Add(bias)` ← `MatMul`/`Gemm` with
///    a constant weight — or, for int8 graphs, the weight's scale (`MatMulInteger` × scale, `DynamicQuantizeMatMul`,
///    `MatMulIntegerToFloat`, `MatMulNBits`). The 1/√d constant is never touched (ORT's optimizer rebuilds
///    attention with the default scale and would drop a τ stored there).
/// 2. Fused `com.microsoft` `Attention`/`QAttention`: the Q columns of the packed weight (or per-column weight
///    scale); otherwise, as for `MultiHeadAttention`, the `scale` attribute (default 1/√head_size) × 1/τ.
/// 3. `FusedMatMul` scores whose query side cannot be reached: `alpha` × 1/τ.
///
/// Rules: every value on a query path may be read only by that path (or by `Shape`); a constant also read from
/// outside the paths is copied first; each tensor is scaled once; an additive score term that is not the mask (a
/// learned position bias) is scaled too, through gathers and reshapes to its table, or the model refused; the
/// number of attention layers patched must match the layer count the names carry. Anything else is refused
/// with the node named, and nothing is written.
public enum ONNXPatcher {
    public enum Error: ReasonError, Equatable {
        case notBakeable(String)
        case noAttention
        case layerCount(found: Int, named: Int)
        case selection(String)

        public var description: String {
            switch self {
            case .notBakeable(let why): return "τ cannot be baked exactly: \(why)"
            case .noAttention: return "no attention found: the graph has no Softmax and no fused attention node"
            case .layerCount(let f, let n):
                return "found \(f) attention softmaxes, but the names say the model has \(n) layers: refusing rather than patching some of them"
            case .selection(let why): return why
            }
        }
    }

    /// How one attention layer is (or would be) patched.
    public struct Site: Sendable, Equatable {
        /// The Softmax or fused attention node.
        public let node: String
        /// What changes, in words.
        public let rule: String
        /// The tensors scaled (after any copy) or the attribute set.
        public let targets: [String]
    }

    public struct Plan: Sendable {
        public let sites: [Site]
        /// The layer count read from the names (layer.N, blk.N, …), nil when they carry none.
        public let namedLayers: Int?
        fileprivate let edits: [[Edit]]
        /// The graph index the edits refer to (node indices, producers, consumers).
        fileprivate let graph: ONNXGraph
    }

    public struct Report: Sendable {
        public let path: String
        public let bytes: Int
        public let sites: [Site]
        public let scaledTensors: Int
        public let copiedTensors: Int
        public let temperature: TemperatureHistory
    }

    /// Part of a constant tensor to scale: all of it, a flat element range, or a column range of a row-major matrix.
    enum Part: Hashable {
        case all
        case elements(Range<Int>)
        case columns(Range<Int>, width: Int)
    }

    fileprivate enum Edit: Hashable {
        /// Scale `part` of the constant `value` (read by the on-path nodes `readers`).
        case scale(value: String, part: Part, readers: [Int])
        /// Multiply a float attribute (its current value, or `default` when absent) by 1/τ.
        case attribute(node: Int, name: String, default: Float)
    }

    // MARK: Planning

    /// `scaleAttributes`: fused attention always by its `scale` attribute (tests prove that rule on float graphs).
    public static func plan(_ file: ONNXFile, scaleAttributes: Bool = false) throws(Error) -> Plan {
        let g: ONNXGraph
        do { g = try ONNXGraph(file.model.graph) } catch { throw .notBakeable(error.description) }
        var finder = Finder(g: g, scaleAttributes: scaleAttributes)
        var sites: [Site] = []
        var edits: [[Edit]] = []
        for i in g.order {
            let n = g.node(i)
            if nodeHoldsAttention(n) { throw .notBakeable("\(g.label(i)) holds a subgraph with attention; tempscale does not patch inside control flow") }
            guard let (site, e) = try finder.resolve(i) else { continue }
            sites.append(site)
            edits.append(e)
        }
        // Model-local functions are expanded by the runtime: attention inside one would go unpatched.
        for f in file.model.functions where f.node.contains(where: isAttention) {
            throw .notBakeable("the model-local function '\(f.name)' holds attention; tempscale does not patch inside functions")
        }
        guard !sites.isEmpty else { throw .noAttention }
        // A value on one layer's path read by a node on no path would change that node too.
        try finder.checkReaders(edits)
        let named = namedLayerCount(g.graph)
        if let named, named != sites.count { throw .layerCount(found: sites.count, named: named) }
        return Plan(sites: sites, namedLayers: named, edits: edits, graph: g)
    }

    /// A Softmax, a fused attention node, or a node whose subgraphs hold one.
    static func isAttention(_ n: Onnx_NodeProto) -> Bool {
        Finder.attentionOps.contains(n.opType) || n.opType == "Softmax" || nodeHoldsAttention(n)
    }

    static func nodeHoldsAttention(_ n: Onnx_NodeProto) -> Bool {
        n.attribute.contains { a in ((a.hasG ? [a.g] : []) + a.graphs).contains { $0.node.contains(where: isAttention) } }
    }

    /// The layer count the tensor and node names carry (`layer.3.`, `layers_3/`, `blk.3.`, `block.3`): highest index + 1.
    static func namedLayerCount(_ g: Onnx_GraphProto) -> Int? {
        guard let re = try? NSRegularExpression(pattern: "(?:^|[./_:])(?:layer|layers|block|blocks|blk)[./_](\\d+)(?:[./_:]|$)") else { return nil }
        var top = -1
        for name in g.initializer.map(\.name) + g.node.map(\.name) + g.node.flatMap(\.output) {
            let ns = name as NSString
            for m in re.matches(in: name, range: NSRange(location: 0, length: ns.length)) {
                if let v = Int(ns.substring(with: m.range(at: 1))), v < 100_000 { top = max(top, v) }
            }
        }
        return top >= 0 ? top + 1 : nil
    }

    // MARK: Applying

    /// Patches `path` into `output`; nothing is written unless every layer can be patched exactly.
    public static func patch(_ path: String, tau: Double, layers: String = "all", to output: String, force: Bool,
                             tool: String = "tempscale \(TempScale.version)", scaleAttributes: Bool = false) throws -> Report {
        guard tau.isFinite, tau > 0 else { throw FileError(path, Error.selection("τ must be a finite number > 0 (got \(tau))")) }
        var file = try ONNXFile.read(path)
        let p: Plan
        do { p = try plan(file, scaleAttributes: scaleAttributes) } catch { throw FileError(path, error) }
        let selection: LayerSelection
        do { selection = try LayerSelection(parsing: layers, layerCount: p.sites.count) } catch { throw FileError(path, error) }
        var copied = 0, scaled = 0
        do { (scaled, copied) = try apply(p, selection: selection, tau: tau, to: &file.model.graph) } catch { throw FileError(path, error) }
        var history = file.temperature
        history.steps.append(.init(tau: tau, layers: "\(selection)", tool: tool))
        file.setTemperature(history)
        let bytes = try file.write(to: output, force: force)
        let sites = p.sites.enumerated().filter { selection.contains($0.offset) }.map(\.element)
        return Report(path: output, bytes: bytes, sites: sites, scaledTensors: scaled, copiedTensors: copied, temperature: history)
    }

    /// Applies the selected layers' edits to `graph` (the graph `plan` was made from); returns (tensors scaled,
    /// tensors copied first).
    static func apply(_ plan: Plan, selection: LayerSelection, tau: Double, to graph: inout Onnx_GraphProto) throws(Error) -> (Int, Int) {
        let g = plan.graph
        let chosen = plan.edits.enumerated().filter { selection.contains($0.offset) }.flatMap(\.element)
        let others = plan.edits.enumerated().filter { !selection.contains($0.offset) }.flatMap(\.element)
        var parts: [String: Set<Part>] = [:]
        var readers: [String: Set<Int>] = [:]
        var attributes = Set<Edit>()
        for e in chosen {
            switch e {
            case .scale(let v, let part, let r):
                parts[v, default: []].insert(part)
                readers[v, default: []].formUnion(r)
            case .attribute: attributes.insert(e)
            }
        }
        for case .scale(let v, _, _) in others where parts[v] != nil {
            throw Error.selection("'\(v)' is shared by layers inside and outside --layers; patch them together")
        }
        let onPath = Set(plan.edits.flatMap { $0 }.flatMap { e -> [Int] in if case .scale(_, _, let r) = e { return r }; return [] })
        var scaledCount = 0, copiedCount = 0
        for (value, set) in parts.sorted(by: { $0.key < $1.key }) {
            guard let source = g.constantSource(value) else { throw Error.notBakeable("'\(value)' is not a constant tensor") }
            var t = g.tensor(source)
            var values: [Float]
            do { values = try t.floatValues() } catch { throw Error.notBakeable(error.description) }
            let factor = Float(1 / tau)
            let partsList = Array(set)
            for (a, pa) in partsList.enumerated() {
                for pb in partsList[(a + 1)...] where overlaps(pa, pb, count: values.count) {
                    throw Error.notBakeable("two attention layers scale overlapping parts of '\(value)'")
                }
            }
            for part in partsList {
                switch part {
                case .all: for k in values.indices { values[k] *= factor }
                case .elements(let r):
                    guard r.upperBound <= values.count else { throw Error.notBakeable("'\(value)' has \(values.count) values, fewer than \(r.upperBound)") }
                    for k in r { values[k] *= factor }
                case .columns(let r, let w):
                    guard w > 0, values.count % w == 0, r.upperBound <= w else { throw Error.notBakeable("'\(value)' is not a matrix \(w) wide") }
                    for row in stride(from: 0, to: values.count, by: w) { for k in r { values[row + k] *= factor } }
                }
            }
            t.setFloatValues(values)
            // Readers off the paths keep the original: the scaled tensor becomes a copy read by the path only.
            let outside = (g.consumers[value] ?? []).contains { !onPath.contains($0) } || g.graph.output.contains { $0.name == value }
            if outside || !isInitializer(source) {
                var name = value + ".tempscale_q"
                var k = 1
                while g.initializer[name] != nil || g.producer[name] != nil { k += 1; name = value + ".tempscale_q\(k)" }
                t.name = name
                graph.initializer.append(t)
                for r in readers[value]! {
                    for j in graph.node[r].input.indices where graph.node[r].input[j] == value { graph.node[r].input[j] = name }
                }
                if outside { copiedCount += 1 }
            } else if case .initializer(let i) = source {
                graph.initializer[i] = t
            }
            scaledCount += 1
        }
        for case .attribute(let n, let name, let def) in attributes {
            if let a = graph.node[n].attribute.firstIndex(where: { $0.name == name }) {
                graph.node[n].attribute[a].f = Float(Double(graph.node[n].attribute[a].f) / tau)
            } else {
                var a = Onnx_AttributeProto()
                a.name = name
                a.type = .float
                a.f = Float(Double(def) / tau)
                graph.node[n].attribute.append(a)
            }
        }
        return (scaledCount, copiedCount)
    }

    private static func isInitializer(_ s: ONNXGraph.Source) -> Bool { if case .initializer = s { return true }; return false }

    private static func overlaps(_ a: Part, _ b: Part, count: Int) -> Bool {
        func cols(_ p: Part) -> (Range<Int>, Int)? {
            switch p {
            case .all: return nil
            case .elements(let r): return (r, count)
            case .columns(let r, let w): return (r, w)
            }
        }
        guard let (ra, wa) = cols(a), let (rb, wb) = cols(b) else { return true }
        return wa != wb || ra.overlaps(rb)
    }
}

// MARK: Finding each layer's rule

private struct Finder {
    static let attentionOps: Set<String> = ["Attention", "MultiHeadAttention", "QAttention"]

    let g: ONNXGraph
    let scaleAttributes: Bool
    /// Nodes between each softmax and its leaves (the score Adds, Divs, Wheres), every site together.
    var scoreNodes = Set<Int>()
    /// Per site: the values its edits change, and the nodes allowed to read them.
    var paths: [(values: [String], nodes: Set<Int>)] = []

    init(g: ONNXGraph, scaleAttributes: Bool) {
        self.g = g
        self.scaleAttributes = scaleAttributes
    }

    func refuse(_ why: String) -> ONNXPatcher.Error { .notBakeable(why) }

    mutating func resolve(_ i: Int) throws(ONNXPatcher.Error) -> (ONNXPatcher.Site, [ONNXPatcher.Edit])? {
        let n = g.node(i)
        if n.opType == "Softmax" && (n.domain.isEmpty || n.domain == "ai.onnx") { return try softmax(i) }
        if n.domain == "com.microsoft" && Self.attentionOps.contains(n.opType) { return try fused(i) }
        return nil
    }

    // MARK: Softmax(scores)

    /// A value on the score side: terms added together, each a Q·Kᵀ product, the mask, or a position bias.
    private func terms(_ v: String, site: inout Set<Int>) throws(ONNXPatcher.Error) -> [String] {
        if g.isWeightFree(v) { return [v] }  // the mask: no learned numbers
        guard let p = g.producer[v] else { return [v] }
        let n = g.node(p)
        switch n.opType {
        case "Add" where n.domain.isEmpty:
            site.insert(p)
            return try terms(n.input[0], site: &site) + terms(n.input[1], site: &site)
        case "Where" where n.domain.isEmpty:
            // Where(mask, scores, fill) or Where(mask, fill, scores): the fill (a constant) replaces masked scores.
            site.insert(p)
            let (a, b) = (n.input[1], n.input[2])
            if g.isWeightFree(b) { return try terms(a, site: &site) }
            if g.isWeightFree(a) { return try terms(b, site: &site) }
            throw refuse("\(g.label(p)) selects between two computed score tensors")
        case "Cast", "Identity":
            site.insert(p)
            return try terms(n.input[0], site: &site)
        default:
            return [v]
        }
    }

    /// The Q·Kᵀ product under a score term (through Div/Mul by a weight-free value), or nil.
    private func product(_ v: String, site: inout Set<Int>) -> Int? {
        var v = v
        var crossed: [Int] = []
        while let p = g.producer[v] {
            let n = g.node(p)
            switch (n.domain, n.opType) {
            case ("", "Div") where g.isWeightFree(n.input[1]):
                v = n.input[0]
            case ("", "Mul") where g.isWeightFree(n.input[1]):
                v = n.input[0]
            case ("", "Mul") where g.isWeightFree(n.input[0]):
                v = n.input[1]
            case ("", "Cast"), ("", "Identity"):
                v = n.input[0]
            case ("", "MatMul") where g.constantSource(n.input[0]) == nil && g.constantSource(n.input[1]) == nil,
                 ("com.microsoft", "FusedMatMul"):
                site.formUnion(crossed)
                return p
            default:
                return nil
            }
            crossed.append(p)
        }
        return nil
    }

    private mutating func softmax(_ i: Int) throws(ONNXPatcher.Error) -> (ONNXPatcher.Site, [ONNXPatcher.Edit]) {
        let sm = g.node(i)
        var site: Set<Int> = [i]
        let ts = try terms(sm.input[0], site: &site)
        var products: [Int] = []
        var others: [String] = []
        for t in ts {
            if let p = product(t, site: &site) { products.append(p) } else if !g.isWeightFree(t) { others.append(t) }
        }
        guard products.count == 1, let prod = products.first else {
            throw refuse("\(g.label(i)): \(products.isEmpty ? "found no Q·Kᵀ MatMul" : "found \(products.count) score products") under its input; tempscale patches softmax(Q·Kᵀ·c + mask [+ bias])")
        }
        var edits: [ONNXPatcher.Edit] = []
        var values: [String] = []
        var nodes = site.union([prod])
        var rule: String
        var targets: [String]
        let pn = g.node(prod)
        // A FusedMatMul whose query side cannot be walked (or is transposed) keeps τ in its alpha instead.
        let fusedFallback = pn.opType == "FusedMatMul"
        let walked = fusedFallback && (g.attribute(prod, "transA")?.i ?? 0) != 0 ? nil
            : fusedFallback ? try? query(pn.input[0], end: prod) : try query(pn.input[0], end: prod)
        if let q = walked {
            edits += q.edits
            values += q.values
            nodes.formUnion(q.nodes)
            rule = q.rule
            targets = q.targets
        } else {
            edits.append(.attribute(node: prod, name: "alpha", default: 1))
            rule = "FusedMatMul alpha × 1/τ"
            targets = ["\(g.label(prod)) alpha attribute"]
        }
        // Additive terms that are not the mask: a learned position bias, scaled through to its table.
        for t in others {
            let b = try positionBias(t, softmax: i)
            edits += b.edits
            values += b.values
            nodes.formUnion(b.nodes)
            rule += "; position bias table × 1/τ"
            targets += b.targets
        }
        // The scores themselves change: nothing off the paths may read them.
        values += ([prod] + site.filter { $0 != i }).flatMap { g.node($0).output }
        scoreNodes.formUnion(site)
        paths.append((values, nodes))
        return (ONNXPatcher.Site(node: g.label(i), rule: rule, targets: targets), edits)
    }

    struct Found {
        var edits: [ONNXPatcher.Edit] = []
        var values: [String] = []
        var nodes = Set<Int>()
        var rule = ""
        var targets: [String] = []
    }

    /// Walks from the score product's query operand back to the projection's constants.
    private func query(_ start: String, end: Int) throws(ONNXPatcher.Error) -> Found {
        var f = Found()
        var v = start
        var range: Range<Int>?
        var pendingSplit: (index: Int, parts: Int)?
        func scale(_ value: String, reader: Int, width: Int? = nil) throws(ONNXPatcher.Error) {
            guard let src = g.constantSource(value) else { throw refuse("\(g.label(reader)): '\(value)' is not a constant") }
            let t = g.tensor(src)
            guard t.elementType?.isFloat == true else { throw refuse("\(g.label(reader)): '\(value)' is \(t.elementType?.name ?? "an unknown type"), not floating point") }
            let count = t.elementCount ?? 0
            let part: ONNXPatcher.Part
            if let r = range {
                if let w = width { part = .columns(r, width: w) } else {
                    guard count > 1 else { throw refuse("\(g.label(reader)): '\(value)' is one number for the packed Q, K and V; the query part cannot be scaled alone") }
                    part = .elements(r)
                }
            } else {
                part = .all
            }
            f.edits.append(.scale(value: value, part: part, readers: [reader]))
            f.values.append(value)
            f.targets.append(value + (range.map { "[\(width == nil ? "" : ":, ")\($0.lowerBound)..<\($0.upperBound)]" } ?? ""))
        }
        while true {
            guard let p = g.producer[v] else { throw refuse("the query path from \(g.label(end)) reaches '\(v)', a graph input, before any projection") }
            let n = g.node(p)
            f.nodes.insert(p)
            f.values.append(v)
            let reshaping = ["Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"].contains(n.opType) && n.domain.isEmpty
            if reshaping || n.opType == "Cast" && n.domain.isEmpty {
                guard range == nil else { throw refuse("\(g.label(p)) reshapes the packed projection before it is split; tempscale cannot follow the query columns") }
                if n.opType == "Cast", let to = g.attribute(p, "to")?.i, ONNXElementType(rawValue: Int32(to))?.isFloat != true {
                    throw refuse("\(g.label(p)) casts the query to a non-float type")
                }
                v = n.input[0]
                continue
            }
            switch (n.domain, n.opType) {
            case ("", "Mul"), ("", "Div"):
                if let (mm, s) = int8Product(p) {
                    // Mul(Cast(MatMulInteger(x_q, W_q)), x_scale · W_scale): W's scale carries 1/τ.
                    let castOut = n.input[0] == s ? n.input[1] : n.input[0]
                    f.nodes.formUnion([g.producer[castOut]!, mm])
                    f.values += [castOut, g.node(mm).output[0]]
                    if g.constantSource(s) != nil {
                        try scale(s, reader: p)
                    } else if let sp = g.producer[s], g.node(sp).opType == "Mul",
                        let w = g.node(sp).input.first(where: { g.constantSource($0) != nil })
                    {
                        f.nodes.insert(sp)
                        f.values.append(s)
                        try scale(w, reader: sp)
                    } else {
                        throw refuse("\(g.label(p)): the int8 product's scale is neither a constant nor input scale × a constant weight scale")
                    }
                    f.rule = f.targets.count > 1 ? "query bias and int8 weight scale × 1/τ (MatMulInteger)" : "int8 weight scale × 1/τ (MatMulInteger)"
                    return f
                }
                guard range == nil else { throw refuse("\(g.label(p)) scales the packed projection before it is split") }
                if g.isWeightFree(n.input[1]) { v = n.input[0]; continue }
                if n.opType == "Mul", g.isWeightFree(n.input[0]) { v = n.input[1]; continue }
                throw refuse("\(g.label(p)) multiplies the query by a learned tensor (a q-norm?); tempscale cannot scale through it exactly")
            case ("", "Split"):
                let axis = g.attribute(p, "axis")?.i ?? 0
                guard axis == -1 else { throw refuse("\(g.label(p)) splits axis \(axis); tempscale follows a packed projection split on its last axis (-1) only") }
                let k = n.output.firstIndex(of: v)!
                if n.input.count > 1, !n.input[1].isEmpty {
                    guard let t = g.constantTensor(n.input[1]), let sizes = try? t.intValues() else { throw refuse("\(g.label(p)): split sizes are not constant") }
                    let start = Int(sizes[..<k].reduce(0, +))
                    range = start..<(start + Int(sizes[k]))
                } else if let s = g.attribute(p, "split")?.ints, !s.isEmpty {
                    let start = Int(s[..<k].reduce(0, +))
                    range = start..<(start + Int(s[k]))
                } else {
                    pendingSplit = (k, n.output.count)
                }
                v = n.input[0]
            case ("", "Add"):
                let (a, b) = (n.input[0], n.input[1])
                let bias = g.constantSource(a) != nil ? a : (g.constantSource(b) != nil ? b : nil)
                guard let bias else { throw refuse("\(g.label(p)) adds two computed tensors on the query path") }
                if let (k, parts) = pendingSplit {
                    let n = g.tensor(g.constantSource(bias)!).elementCount ?? 0
                    guard n % parts == 0 else { throw refuse("\(g.label(p)): the packed bias does not split in \(parts) equal parts") }
                    range = (k * n / parts)..<((k + 1) * n / parts)
                    pendingSplit = nil
                }
                try scale(bias, reader: p)
                v = bias == a ? b : a
            case ("", "MatMul"):
                let w = n.input[1]
                guard let src = g.constantSource(w) else { throw refuse("\(g.label(p)): the query projection's weight is not a constant") }
                let t = g.tensor(src)
                guard t.dims.count == 2 else { throw refuse("\(g.label(p)): the query weight has \(t.dims.count) dims, not 2") }
                if let (k, parts) = pendingSplit {
                    let n = Int(t.dims[1])
                    guard n % parts == 0 else { throw refuse("\(g.label(p)): the packed weight does not split in \(parts) equal parts") }
                    range = (k * n / parts)..<((k + 1) * n / parts)
                }
                try scale(w, reader: p, width: Int(t.dims[1]))
                f.rule = f.targets.count > 1 ? "query weight and bias × 1/τ" : "query weight × 1/τ"
                return f
            case ("", "Gemm"):
                guard let src = g.constantSource(n.input[1]) else { throw refuse("\(g.label(p)): the query projection's weight is not a constant") }
                let t = g.tensor(src)
                guard t.dims.count == 2, range == nil || (g.attribute(p, "transB")?.i ?? 0) == 0 else {
                    throw refuse("\(g.label(p)): a split of a transposed packed Gemm weight is not followed")
                }
                if (g.attribute(p, "transB")?.i ?? 0) != 0 {
                    try scale(n.input[1], reader: p)  // [out, in]: the whole matrix (no split here)
                } else {
                    try scale(n.input[1], reader: p, width: Int(t.dims[1]))
                }
                if n.input.count > 2, !n.input[2].isEmpty { try scale(n.input[2], reader: p) }
                f.rule = "query Gemm weight and bias × 1/τ"
                return f
            case ("com.microsoft", "DynamicQuantizeMatMul"), ("com.microsoft", "MatMulIntegerToFloat"):
                let (scaleInput, biasInput) = n.opType == "DynamicQuantizeMatMul" ? (2, 4) : (3, 6)
                try scale(n.input[scaleInput], reader: p)
                if n.input.count > biasInput, !n.input[biasInput].isEmpty { try scale(n.input[biasInput], reader: p) }
                f.rule = "int8 weight scale and bias × 1/τ (\(n.opType))"
                return f
            case ("com.microsoft", "MatMulNBits"):
                let bits = g.attribute(p, "block_size")?.i ?? 0, kDim = g.attribute(p, "K")?.i ?? 0, nDim = g.attribute(p, "N")?.i ?? 0
                guard bits > 0, kDim > 0, nDim > 0 else { throw refuse("\(g.label(p)) lacks N, K or block_size") }
                let blocks = Int((kDim + bits - 1) / bits)
                let saved = range
                if let r = range { range = (r.lowerBound * blocks)..<(r.upperBound * blocks) }
                try scale(n.input[2], reader: p)
                range = saved
                if n.input.count > 5, !n.input[5].isEmpty { try scale(n.input[5], reader: p) }
                f.rule = "4-bit block scales and bias × 1/τ (MatMulNBits)"
                return f
            default:
                throw refuse("the query path from \(g.label(end)) reaches \(g.label(p)), which tempscale cannot see through exactly")
            }
        }
    }

    /// Mul(Cast(MatMulInteger(…)), scale) in either order → (the MatMulInteger, the scale value).
    private func int8Product(_ p: Int) -> (Int, String)? {
        let n = g.node(p)
        guard n.opType == "Mul" else { return nil }
        for (a, b) in [(n.input[0], n.input[1]), (n.input[1], n.input[0])] {
            if let c = g.producer[a], g.node(c).opType == "Cast", let mm = g.producer[g.node(c).input[0]],
                g.node(mm).opType == "MatMulInteger"
            {
                return (mm, b)
            }
        }
        return nil
    }

    /// An additive score term with learned numbers: a position bias, linear in a table reached through
    /// gathers, reshapes and scalar multiplies. Scaling the table scales the term.
    private func positionBias(_ start: String, softmax: Int) throws(ONNXPatcher.Error) -> Found {
        var f = Found()
        var stack = [start]
        var seen = Set<String>()
        while let v = stack.popLast() {
            guard seen.insert(v).inserted else { continue }
            if g.isWeightFree(v) { continue }
            if let src = g.constantSource(v) {
                let t = g.tensor(src)
                guard t.elementType?.isFloat == true else { continue }
                f.values.append(v)
                f.targets.append(v)
                continue
            }
            guard let p = g.producer[v] else { continue }
            let n = g.node(p)
            f.nodes.insert(p)
            f.values.append(v)
            switch (n.domain, n.opType) {
            case ("", "Gather"), ("", "GatherElements"), ("", "Transpose"), ("", "Reshape"), ("", "Unsqueeze"), ("", "Squeeze"),
                 ("", "Expand"), ("", "Identity"), ("", "Tile"), ("", "Slice"), ("", "Cast"):
                stack.append(n.input[0])
            case ("", "Mul"), ("", "Div"):
                if g.isWeightFree(n.input[1]) { stack.append(n.input[0]) } else if n.opType == "Mul" && g.isWeightFree(n.input[0]) {
                    stack.append(n.input[1])
                } else {
                    throw refuse("\(g.label(softmax)): its score has a term from \(g.label(p)) that is not the mask and is not linear in one table")
                }
            case ("", "Add"):
                stack += [n.input[0], n.input[1]]
            default:
                throw refuse("\(g.label(softmax)): its score has a term from \(g.label(p)) that is not the mask; tempscale cannot scale it exactly")
            }
        }
        // Each table, read on this path (its readers there read the copy if it is also read elsewhere).
        f.edits = f.targets.map { .scale(value: $0, part: .all, readers: (g.consumers[$0] ?? []).filter { f.nodes.contains($0) }) }
        return f
    }

    // MARK: Fused attention

    private mutating func fused(_ i: Int) throws(ONNXPatcher.Error) -> (ONNXPatcher.Site, [ONNXPatcher.Edit]) {
        let n = g.node(i)
        guard let heads = g.attribute(i, "num_heads")?.i, heads > 0 else { throw refuse("\(g.label(i)) has no num_heads") }
        func input(_ k: Int) -> String? { n.input.count > k && !n.input[k].isEmpty ? n.input[k] : nil }
        // Attention and MultiHeadAttention take an additive attention_bias as input 5 (QAttention's 5 is its mask).
        if n.opType != "QAttention", let b = input(5) {
            throw refuse("\(g.label(i)) adds an attention bias ('\(b)') to its scores; tempscale does not scale it inside fused attention")
        }
        var qHidden: Int?
        if let sizes = g.attribute(i, "qkv_hidden_sizes")?.ints, sizes.count == 3 { qHidden = Int(sizes[0]) }
        let packedBias = n.opType == "MultiHeadAttention" ? input(3) : input(2)
        if qHidden == nil, let b = packedBias, let t = g.constantTensor(b), let c = t.elementCount, c % 3 == 0 { qHidden = c / 3 }
        if qHidden == nil, n.opType != "MultiHeadAttention", let w = input(1), let t = g.constantTensor(w), t.dims.count == 2, t.dims[1] % 3 == 0 {
            qHidden = Int(t.dims[1]) / 3
        }
        var edits: [ONNXPatcher.Edit] = []
        var values: [String] = []
        var targets: [String] = []
        var rule: String
        let weight = input(1), bias = input(2)
        if !scaleAttributes, n.opType == "Attention", let q = qHidden, let w = weight, let wt = g.constantTensor(w), wt.elementType?.isFloat == true,
            wt.dims.count == 2, let b = bias, g.constantTensor(b)?.elementType?.isFloat == true
        {
            edits = [.scale(value: w, part: .columns(0..<q, width: Int(wt.dims[1])), readers: [i]), .scale(value: b, part: .elements(0..<q), readers: [i])]
            values = [w, b]
            targets = ["\(w)[:, 0..<\(q)]", "\(b)[0..<\(q)]"]
            rule = "fused Attention: Q columns of the packed weight and bias × 1/τ"
        } else if !scaleAttributes, n.opType == "QAttention", let q = qHidden, let s = input(4), let st = g.constantTensor(s), (st.elementCount ?? 0) > 1,
            let b = bias, g.constantTensor(b) != nil
        {
            edits = [.scale(value: s, part: .elements(0..<q), readers: [i]), .scale(value: b, part: .elements(0..<q), readers: [i])]
            values = [s, b]
            targets = ["\(s)[0..<\(q)]", "\(b)[0..<\(q)]"]
            rule = "fused QAttention: Q part of the per-column weight scale and bias × 1/τ"
        } else {
            guard let q = qHidden, q % Int(heads) == 0 else {
                throw refuse("\(g.label(i)): cannot tell its head size (no qkv_hidden_sizes, no constant bias or weight), so not its default scale")
            }
            let def = Float(1 / Double(q / Int(heads)).squareRoot())
            edits = [.attribute(node: i, name: "scale", default: def)]
            targets = ["its scale attribute"]
            rule = "fused \(n.opType): scale attribute (default 1/√\(q / Int(heads))) × 1/τ"
        }
        paths.append((values, [i]))
        return (ONNXPatcher.Site(node: g.label(i), rule: rule, targets: targets), edits)
    }

    // MARK: Readers

    /// Every value a site's edits change may be read only by nodes on some site's path, or by Shape/Size.
    func checkReaders(_ edits: [[ONNXPatcher.Edit]]) throws(ONNXPatcher.Error) {
        let allowed = paths.reduce(scoreNodes) { $0.union($1.nodes) }
        let scaledConstants = Set(edits.flatMap { $0 }.compactMap { e -> String? in if case .scale(let v, _, _) = e { return v }; return nil })
        for path in paths {
            for v in path.values where !scaledConstants.contains(v) {
                if g.graph.output.contains(where: { $0.name == v }) {
                    throw refuse("'\(v)' on an attention path is also a graph output; patching would change it")
                }
                for r in g.consumers[v] ?? [] where !allowed.contains(r) {
                    let op = g.node(r).opType
                    if ["Shape", "Size"].contains(op) { continue }
                    throw refuse("'\(v)' on an attention path is also read by \(g.label(r)); patching would change that node too")
                }
            }
        }
    }
}

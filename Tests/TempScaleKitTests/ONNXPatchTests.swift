import Foundation
import ONNXProto
import XCTest
@testable import TempScaleKit

/// Runs scripts/check_onnx.py (onnx + onnxruntime in .venv) and parses the JSON it prints.
func onnxCheck(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
    let python = Paths.package + "/.venv/bin/python"
    guard FileManager.default.isExecutableFile(atPath: python) else {
        XCTFail("\(python) is missing; run `make test`", file: file, line: line)
        throw CancellationError()
    }
    let r = runTool(python, [Paths.package + "/scripts/check_onnx.py"] + args)
    guard r.status == 0, let report = try? JSON.parse(Array(r.stdout.utf8)) else {
        XCTFail("check_onnx.py \(args.first ?? "") failed (status \(r.status)): \(r.stderr.suffix(1500))", file: file, line: line)
        throw CancellationError()
    }
    return report
}

/// `tempscale patch model.onnx` on a real ONNX model and the forms ONNX Runtime's own tools make of it
/// (scripts/make_onnx_fixtures.py → .cache/onnx): paraphrase-MiniLM-L3-v2 as PyTorch exported it, fused by
/// `optimize_model` (com.microsoft Attention), int8 by `quantize_dynamic` (MatMulInteger; QAttention when fused),
/// with external data, and all-mpnet-base-v2 exported by torch (a relative-position bias). The reference is the
/// same graph with a Div(τ) inserted before every Softmax, run in onnxruntime on the MiniLM golden's token ids.
final class ONNXPatchTests: XCTestCase {
    static let dir = Paths.cache + "/onnx"
    static let golden = Paths.package + "/golden/minilm.json.gz"
    static let mpnetGolden = Paths.package + "/golden/mpnet.json.gz"

    func fixture(_ rel: String) throws -> String {
        let p = Self.dir + "/" + rel
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) is missing; run `make test` (scripts/make_onnx_fixtures.py)")
            throw CancellationError()
        }
        return p
    }

    func compare(_ a: String, _ b: String, golden: String = golden, maxTexts: Int? = nil) throws -> (maxAbs: Double, minCos: Double) {
        let r = try onnxCheck(["compare", a, b, "--golden", golden] + (maxTexts.map { ["--max-texts", "\($0)"] } ?? []))
        let abs = r["max_abs"]?.objectValue?.pairs.compactMap { $0.1.doubleValue }.max() ?? .infinity
        let cos = r["min_cosine"]?.objectValue?.pairs.compactMap { $0.1.doubleValue }.min() ?? 0
        return (abs, cos)
    }

    func reference(_ model: String, tau: Double, in dir: TempDir) throws -> String {
        let out = dir.file("ref-\(basename(model))-\(tau).onnx")
        let r = try onnxCheck(["reference", model, out, "--tau", "\(tau)"])
        XCTAssertGreaterThan(r["softmax"]?.intValue ?? 0, 0)
        return out
    }

    /// Float graphs: eager (query weight + bias), fused (Q columns of the packed weight), the fused graph by its
    /// scale attribute, external data, ORT's saved extended optimization (FusedMatMul scores), 4-bit MatMulNBits
    /// weights (block scales; activations stay float), and a packed QKV projection split on its last axis (the Q
    /// columns only); each within 1e-5 of the run-time-τ reference, which is itself far from τ = 1.
    func testFloatFormsMatchTheRunTimeReference() throws {
        let dir = TempDir()
        let tau = 0.7
        let model = try fixture("minilm-l3/model.onnx")
        let ref = try reference(model, tau: tau, in: dir)
        let moved = try compare(model, ref)
        XCTAssertGreaterThan(moved.maxAbs, 0.05, "τ = \(tau) must move the outputs for this check to mean anything")
        var lines: [String] = []
        for (form, attributes) in [("model", false), ("fused", false), ("fused", true), ("external", false), ("ort-extended", false),
                                   ("nbits", false), ("packed-qkv", false)] {
            let input = try fixture("minilm-l3/\(form).onnx")
            let before = readBytes(input)
            let out = dir.file("\(form)-\(attributes).onnx")
            let r = try ONNXPatcher.patch(input, tau: tau, to: out, force: false, scaleAttributes: attributes)
            XCTAssertEqual(readBytes(input), before, "\(form): the input is untouched")
            XCTAssertEqual(r.sites.count, 3, form)
            XCTAssertEqual(r.temperature.total, tau, accuracy: 1e-12)
            if attributes { XCTAssertTrue(r.sites.allSatisfy { $0.rule.contains("scale attribute") }, form) }
            if form == "packed-qkv" { XCTAssertTrue(r.sites.allSatisfy { $0.targets.contains { $0.hasSuffix(".weight[:, 0..<384]") } }, "\(r.sites)") }
            // 4-bit weights are another model: its reference is made from it (its Softmax nodes are kept).
            let d = try compare(out, form == "nbits" ? try reference(input, tau: tau, in: dir) : ref)
            XCTAssertLessThanOrEqual(d.maxAbs, 1e-5, "\(form)\(attributes ? " (scale attribute)" : "")")
            lines.append("\(form)\(attributes ? "+attr" : "") \(String(format: "%.1e", d.maxAbs)) [\(r.sites[0].rule)]")
        }
        // External data stays external: the patched file keeps its tensors in a new file beside it.
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("external-false.onnx.data")))
        print("ONNX patch τ = \(tau), max abs vs run-time reference (unpatched: \(String(format: "%.3f", moved.maxAbs))): " + lines.joined(separator: "; "))
    }

    /// int8 graphs: the eager quantize_dynamic form against its own run-time-τ reference (the weight scale carries
    /// 1/τ, so the integer products are the same); the fused QAttention form (scale attribute) against the eager int8
    /// reference, with the bound measured between the two unpatched int8 forms.
    func testInt8FormsMatchTheInt8Reference() throws {
        let dir = TempDir()
        let tau = 0.7
        let int8 = try fixture("minilm-l3/int8.onnx"), fusedInt8 = try fixture("minilm-l3/fused-int8.onnx")
        let ref = try reference(int8, tau: tau, in: dir)
        XCTAssertGreaterThan(try compare(int8, ref).maxAbs, 0.05)
        let r = try ONNXPatcher.patch(int8, tau: tau, to: dir.file("int8.onnx"), force: false)
        XCTAssertTrue(r.sites.allSatisfy { $0.rule.contains("int8 weight scale") }, "\(r.sites.map(\.rule))")
        let eager = try compare(dir.file("int8.onnx"), ref)
        // What an InferenceSession saves at ORT_ENABLE_EXTENDED: MatMulIntegerToFloat / DynamicQuantizeMatMul.
        let ext = try fixture("minilm-l3/ort-int8-extended.onnx")
        let re = try ONNXPatcher.patch(ext, tau: tau, to: dir.file("ext.onnx"), force: false)
        XCTAssertTrue(re.sites.allSatisfy { $0.rule.contains("MatMulIntegerToFloat") || $0.rule.contains("DynamicQuantizeMatMul") }, "\(re.sites.map(\.rule))")
        let extd = try compare(dir.file("ext.onnx"), try reference(ext, tau: tau, in: dir))
        // The score is exact up to f32 rounding, but the attention output is re-quantized to int8 for the next
        // MatMulInteger: a rounding-level change flips an occasional value by one quantization step. The bound is
        // the noise floor measured the same way: the Div(τ) reference against a Mul(1/τ) one.
        let mulRef = dir.file("ref-mul.onnx")
        _ = try onnxCheck(["reference", int8, mulRef, "--tau", "\(tau)", "--multiply"])
        let floor = try compare(ref, mulRef)
        XCTAssertLessThanOrEqual(eager.maxAbs, max(2 * floor.maxAbs, 1e-5), "int8 eager: within twice the noise floor")
        XCTAssertGreaterThanOrEqual(eager.minCos, 1 - 2 * (1 - floor.minCos), "int8 eager: within twice the noise floor")
        XCTAssertLessThanOrEqual(extd.maxAbs, max(2 * floor.maxAbs, 1e-5), "ORT-extended int8")
        XCTAssertGreaterThanOrEqual(extd.minCos, 1 - 2 * (1 - floor.minCos), "ORT-extended int8")
        // With τ a power of two the scaled weight scale is exact and so is every later step: bit-identical.
        let r2 = try ONNXPatcher.patch(int8, tau: 0.5, to: dir.file("int8-05.onnx"), force: false)
        XCTAssertEqual(r2.sites.count, 3)
        XCTAssertEqual(try compare(dir.file("int8-05.onnx"), try reference(int8, tau: 0.5, in: dir)).maxAbs, 0, "int8 eager at τ = 0.5")

        let rf = try ONNXPatcher.patch(fusedInt8, tau: tau, to: dir.file("fused-int8.onnx"), force: false)
        XCTAssertTrue(rf.sites.allSatisfy { $0.rule.contains("QAttention") }, "\(rf.sites.map(\.rule))")
        let baseline = try compare(fusedInt8, int8)  // the two int8 forms quantize activations differently
        let fused = try compare(dir.file("fused-int8.onnx"), ref)
        let unpatched = try compare(fusedInt8, ref)
        XCTAssertGreaterThan(fused.minCos, unpatched.minCos, "patched QAttention is closer to the τ reference than unpatched")
        XCTAssertGreaterThanOrEqual(fused.minCos, 0.96, "fused int8 vs eager int8 reference at τ")
        print(String(format: "ONNX int8 τ = %.1f: eager cos ≥ %.6f, max abs %.1e (noise floor, Div(τ) vs Mul(1/τ) reference: cos %.6f, %.1e; 0 at τ = 0.5); fused QAttention vs eager int8 reference cos ≥ %.4f (unpatched %.4f; the two int8 forms at τ = 1: %.4f)",
                     tau, eager.minCos, eager.maxAbs, floor.minCos, floor.maxAbs, fused.minCos, unpatched.minCos, baseline.minCos))
    }

    /// MPNet as torch exports it: the shared relative-position bias is found as a second score term and its table
    /// scaled once for all 12 layers; the output matches the reference and sentence-transformers' τ golden.
    func testTorchExportedMPNetScalesItsPositionBias() throws {
        let dir = TempDir()
        let tau = 0.8
        let model = try fixture("mpnet-torch/model.onnx")
        let plan = try ONNXPatcher.plan(try ONNXFile.read(model))
        XCTAssertEqual(plan.sites.count, 12)
        XCTAssertTrue(plan.sites.allSatisfy { $0.rule.contains("position bias") }, "\(plan.sites.first?.rule ?? "")")
        let out = dir.file("mpnet.onnx")
        let r = try ONNXPatcher.patch(model, tau: tau, to: out, force: false)
        XCTAssertEqual(r.scaledTensors, 25, "12 query weights, 12 biases and the one shared table")
        let ref = try reference(model, tau: tau, in: dir)
        XCTAssertGreaterThan(try compare(model, ref, golden: Self.mpnetGolden, maxTexts: 48).maxAbs, 0.05)
        let d = try compare(out, ref, golden: Self.mpnetGolden, maxTexts: 48)
        XCTAssertLessThanOrEqual(d.maxAbs, 1e-5)
        print(String(format: "ONNX patch of torch-exported MPNet τ = %.1f: max abs %.1e vs run-time reference", tau, d.maxAbs))
    }

    /// all-MiniLM-L6-v2 exported with SDPA attention: Q and Kᵀ are each multiplied by √(1/√d) before the product;
    /// the walk passes through that Mul to the query projection.
    func testTorchExportedSDPAForm() throws {
        let dir = TempDir()
        let model = try fixture("minilm-sdpa/model.onnx")
        let r = try ONNXPatcher.patch(model, tau: 0.7, to: dir.file("p.onnx"), force: false)
        XCTAssertEqual(r.sites.count, 6)
        let ref = try reference(model, tau: 0.7, in: dir)
        XCTAssertGreaterThan(try compare(model, ref).maxAbs, 0.05)
        let d = try compare(dir.file("p.onnx"), ref)
        XCTAssertLessThanOrEqual(d.maxAbs, 1e-5)
        print(String(format: "ONNX patch of the SDPA export τ = 0.7: max abs %.1e", d.maxAbs))
    }

    /// Weights in the typed fields (float_data) and in Constant nodes are read and scaled as raw_data initializers
    /// are; a Constant is turned into an initializer read by the query path only.
    func testTypedFieldsAndConstantNodes() throws {
        let dir = TempDir()
        var file = try ONNXFile.read(try fixture("minilm-l3/model.onnx"))
        let g = file.model.graph
        let w0 = g.node.first { $0.opType == "MatMul" && $0.name.contains("layer.0/attention/self/query") }!.input[1]
        let b1 = g.node.first { $0.opType == "Add" && $0.name.contains("layer.1/attention/self/query") }!.input.first { $0.hasSuffix("query.bias") }!
        let i0 = g.initializer.firstIndex { $0.name == w0 }!
        file.model.graph.initializer[i0].floatData = try g.initializer[i0].floatValues()
        file.model.graph.initializer[i0].clearRawData()
        let i1 = g.initializer.firstIndex { $0.name == b1 }!
        var constant = Onnx_NodeProto()
        constant.opType = "Constant"
        constant.name = "bias_constant"
        constant.output = [b1]
        var a = Onnx_AttributeProto()
        a.name = "value"
        a.type = .tensor
        a.t = g.initializer[i1]
        constant.attribute = [a]
        file.model.graph.initializer.remove(at: i1)
        file.model.graph.node.insert(constant, at: 0)
        let input = dir.file("typed.onnx")
        _ = try file.write(to: input, force: false)
        let r = try ONNXPatcher.patch(input, tau: 0.7, to: dir.file("p.onnx"), force: false)
        XCTAssertEqual(r.scaledTensors, 6)
        let out = try ONNXFile.read(dir.file("p.onnx"))
        XCTAssertFalse(out.model.graph.initializer.first { $0.name == w0 }!.floatData.isEmpty, "typed fields stay typed")
        XCTAssertLessThanOrEqual(try compare(dir.file("p.onnx"), try reference(input, tau: 0.7, in: dir)).maxAbs, 1e-5)
    }

    /// --layers: only the chosen layers' softmaxes get S/τ.
    func testALayerSubset() throws {
        let dir = TempDir()
        let model = try fixture("minilm-l3/model.onnx")
        let r = try ONNXPatcher.patch(model, tau: 0.7, layers: "0,2", to: dir.file("p.onnx"), force: false)
        XCTAssertEqual(r.sites.count, 2)
        XCTAssertEqual(r.temperature.steps.first?.layers, "0,2")
        let ref = dir.file("ref.onnx")
        _ = try onnxCheck(["reference", model, ref, "--tau", "0.7", "--only", "0,2"])
        XCTAssertLessThanOrEqual(try compare(dir.file("p.onnx"), ref).maxAbs, 1e-5)
        XCTAssertGreaterThan(try compare(dir.file("p.onnx"), try reference(model, tau: 0.7, in: dir)).maxAbs, 0.01, "layer 1 is not patched")
    }

    /// Patching a patched file composes (τ_total = τ₁·τ₂) and matches the reference at the product.
    func testPatchingTwiceComposes() throws {
        let dir = TempDir()
        let model = try fixture("minilm-l3/model.onnx")
        _ = try ONNXPatcher.patch(model, tau: 0.8, to: dir.file("a.onnx"), force: false)
        let r = try ONNXPatcher.patch(dir.file("a.onnx"), tau: 0.5, to: dir.file("b.onnx"), force: false)
        XCTAssertEqual(r.temperature.steps.map(\.tau), [0.8, 0.5])
        XCTAssertEqual(try ONNXFile.read(dir.file("b.onnx")).temperature.total, 0.4, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(try compare(dir.file("b.onnx"), try reference(model, tau: 0.4, in: dir)).maxAbs, 1e-5)
    }

    /// A query weight also read off the query path (here: layer 0's key MatMul rewired to read it) is copied, not
    /// mutated: the other reader keeps the original numbers.
    func testASharedWeightIsCopiedNotMutated() throws {
        let dir = TempDir()
        var file = try ONNXFile.read(try fixture("minilm-l3/model.onnx"))
        let g = file.model.graph
        let keyMatMul = g.node.firstIndex { $0.opType == "MatMul" && $0.name.contains("layer.0/attention/self/key") }!
        let queryMatMul = g.node.firstIndex { $0.opType == "MatMul" && $0.name.contains("layer.0/attention/self/query") }!
        file.model.graph.node[keyMatMul].input[1] = g.node[queryMatMul].input[1]
        let shared = dir.file("shared.onnx")
        _ = try file.write(to: shared, force: false)
        let r = try ONNXPatcher.patch(shared, tau: 0.7, to: dir.file("out.onnx"), force: false)
        XCTAssertEqual(r.copiedTensors, 1)
        let out = try ONNXFile.read(dir.file("out.onnx"))
        XCTAssertEqual(out.model.graph.node[keyMatMul].input[1], g.node[queryMatMul].input[1], "the key MatMul still reads the original")
        XCTAssertNotEqual(out.model.graph.node[queryMatMul].input[1], g.node[queryMatMul].input[1], "the query MatMul reads the copy")
        XCTAssertLessThanOrEqual(try compare(dir.file("out.onnx"), try reference(shared, tau: 0.7, in: dir)).maxAbs, 1e-5)
    }

    /// What cannot be made exact is refused with the node named, and nothing is written.
    func testInexactGraphsAreRefusedByNode() throws {
        let dir = TempDir()
        let src = try ONNXFile.read(try fixture("minilm-l3/model.onnx"))
        func refused(_ edit: (inout Onnx_GraphProto) -> Void, _ expect: String, line: UInt = #line) throws {
            var f = src
            edit(&f.model.graph)
            let input = dir.file("in-\(line).onnx"), out = dir.file("out-\(line).onnx")
            _ = try f.write(to: input, force: true)
            XCTAssertThrowsError(try ONNXPatcher.patch(input, tau: 0.7, to: out, force: false), line: line) { e in
                XCTAssertTrue("\(e)".hasPrefix(input + ": "), "\(e)", line: line)
                XCTAssertTrue("\(e)".contains(expect), "\(e)", line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), line: line)
        }
        // A learned vector multiplying the query (a q-norm-like gain) cannot be seen through.
        try refused({ g in
            let i = g.node.firstIndex { $0.opType == "Reshape" && $0.input[0].contains("layer.1/attention/self/query/Add") }!
            var t = Onnx_TensorProto()
            t.name = "gain"
            t.dataType = 1
            t.dims = [384]
            t.floatData = [Float](repeating: 1.5, count: 384)
            g.initializer.append(t)
            var mul = Onnx_NodeProto()
            mul.opType = "Mul"
            mul.name = "learned_gain"
            mul.input = [g.node[i].input[0], "gain"]
            mul.output = ["gained"]
            g.node[i].input[0] = "gained"
            g.node.insert(mul, at: i)
        }, "node 'learned_gain' (Mul) multiplies the query by a learned tensor")
        // The names say 4 layers; 3 softmaxes are found.
        try refused({ g in g.node[0].name = "/encoder/layer.3/extra" }, "found 3 attention softmaxes, but the names say the model has 4 layers")
        // The query projection's output also read by a node outside the attention.
        try refused({ g in
            let q = g.node.first { $0.name.contains("layer.2/attention/self/query/Add") }!.output[0]
            var n = Onnx_NodeProto()
            n.opType = "Relu"
            n.name = "spy"
            n.input = [q]
            n.output = ["spy_out"]
            g.node.append(n)
            g.output.append(ONNXBuilder.valueInfo("spy_out", .float, ["b", "s", 384]))
        }, "is also read by node 'spy' (Relu)")
    }

    /// Malformed files: one line naming the file and the reason, no output, the input untouched.
    func testMalformedProtobufAndGraphsAreRefused() throws {
        let dir = TempDir()
        let good = readBytes(try fixture("minilm-l3/model.onnx"))
        var cases: [(String, [UInt8], String)] = [
            ("truncated", Array(good.prefix(good.count / 2)), "truncated protobuf"),
            ("empty", [], "not an ONNX model"),
            ("text", Array("hello, this is not a model\n".utf8), "not a readable ONNX model"),
            // field 7 (graph) with a length far past the end of the file
            ("huge-length", [0x08, 0x08, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00], "malformed protobuf"),
            // field 7 (graph) sent as a varint: kept as an unknown field, so the model has no graph
            ("wire-type", [0x08, 0x08, 0x38, 0x01], "not an ONNX model: the graph has no nodes"),
            // a tag with wire type 7, which protobuf does not have
            ("bad-wire-type", [0x08, 0x08, 0x3F, 0x01], "malformed protobuf"),
        ]
        let src = try ONNXFile.read(try fixture("minilm-l3/model.onnx"))
        // A node made to read the output of a node that reads its own output: a two-node cycle.
        var cyclic = src
        let nodes = cyclic.model.graph.node
        let reader = nodes.firstIndex { n in n.opType == "Add" && nodes.contains { $0.output.contains(n.input[1]) && $0.opType != "Constant" } }!
        let writer = nodes.firstIndex { $0.output.contains(nodes[reader].input[1]) }!
        cyclic.model.graph.node[writer].input[0] = nodes[reader].output[0]
        cases.append(("cycle", Array(try cyclic.model.serializedData()), "the nodes form a cycle"))
        var dangling = src
        dangling.model.graph.node[5].input[0] = "nowhere"
        cases.append(("dangling", Array(try dangling.model.serializedData()), "reads 'nowhere', which no node, input or initializer provides"))
        var twice = src
        twice.model.graph.node[7].output[0] = twice.model.graph.node[6].output[0]
        cases.append(("written-twice", Array(try twice.model.serializedData()), "is written twice"))
        var shortRaw = src
        let qi = shortRaw.model.graph.initializer.firstIndex { $0.name == "onnx::MatMul_470" }!
        shortRaw.model.graph.initializer[qi].rawData = shortRaw.model.graph.initializer[qi].rawData.prefix(100)
        cases.append(("short-raw-data", Array(try shortRaw.model.serializedData()), "raw_data holds 100 bytes"))
        var outside = src
        outside.model.graph.initializer[qi].dataLocation = .external
        outside.model.graph.initializer[qi].externalData = [{ var e = Onnx_StringStringEntryProto(); e.key = "location"; e.value = "../../etc/passwd"; return e }()]
        cases.append(("external-escape", Array(try outside.model.serializedData()), "leaves the model's folder"))
        for (name, bytes, reason) in cases {
            let input = dir.write("\(name).onnx", bytes)
            let out = dir.file("\(name)-out.onnx")
            XCTAssertThrowsError(try ONNXPatcher.patch(input, tau: 0.8, to: out, force: false), name) { e in
                let text = "\(e)"
                XCTAssertTrue(text.hasPrefix(input + ": "), "\(name): \(text)")
                XCTAssertTrue(text.contains(reason), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(name): one line")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), name)
            XCTAssertEqual(readBytes(input), bytes, name)
        }
    }

    /// `inspect` lists each attention layer and how it would be patched; the CLI patches with exit 0 and refuses
    /// a bad τ or a malformed file with exit 1 and one line.
    func testInspectAndCLI() throws {
        let dir = TempDir()
        let model = try fixture("minilm-l3/fused-int8.onnx")
        let text = ONNXReport(try ONNXFile.read(model)).text()
        XCTAssertTrue(text.contains("attention layers: 3 (the names say 3 layers)"), text)
        XCTAssertTrue(text.contains("QAttention: scale attribute (default 1/√32)"), text)
        let ok = try runCLI(["patch", model, "-t", "0.8", "-o", dir.file("p.onnx")])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("3 attention layers patched"), ok.stdout)
        let bad = try runCLI(["patch", model, "-t", "nan", "-o", dir.file("q.onnx")])
        XCTAssertNotEqual(bad.status, 0)
        let junk = dir.write("junk.onnx", [0x0A, 0xFF])
        let r = try runCLI(["patch", junk, "-t", "0.8", "-o", dir.file("j.onnx")])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(junk), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("j.onnx")))
    }
}

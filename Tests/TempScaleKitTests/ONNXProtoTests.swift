import Foundation
import ONNXProto
import SwiftProtobuf
import XCTest

/// The generated ONNX protobuf code (Sources/ONNXProto, from specs/onnx/onnx.proto) against the real onnx and
/// onnxruntime in .venv: a model written here passes onnx's checker and runs; bytes parsed here and written back
/// keep fields the schema does not know.
final class ONNXProtoTests: XCTestCase {
    func testAModelWrittenHereRunsInOnnxruntimeAndUnknownFieldsSurvive() throws {
        var w = Onnx_TensorProto()
        w.name = "W"
        w.dims = [2, 2]
        w.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        w.rawData = [Float(1), 2, 3, 4].withUnsafeBytes { Data($0) }
        var node = Onnx_NodeProto()
        node.opType = "MatMul"
        node.input = ["X", "W"]
        node.output = ["Y"]
        func info(_ name: String, _ dims: [Int64]) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto()
            v.name = name
            v.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            v.type.tensorType.shape.dim = dims.map { d in var x = Onnx_TensorShapeProto.Dimension(); x.dimValue = d; return x }
            return v
        }
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        model.opsetImport = [opset]
        model.graph.name = "g"
        model.graph.node = [node]
        model.graph.initializer = [w]
        model.graph.input = [info("X", [1, 2])]
        model.graph.output = [info("Y", [1, 2])]
        let bytes: Data = try model.serializedData()

        // An unknown field (number 9999, varint 7) survives parse → serialize.
        var extended = bytes
        extended.append(contentsOf: [0xF8, 0xE0, 0x04, 0x07])
        let reparsed = try Onnx_ModelProto(serializedBytes: extended)
        XCTAssertEqual(try reparsed.serializedData() as Data, extended)

        let dir = TempDir()
        let path = dir.write("m.onnx", Array(bytes))
        let script = """
            import sys, numpy as np, onnx, onnxruntime as ort
            m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
            y = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"]).run(None, {"X": np.array([[1, 1]], np.float32)})[0]
            print(y.tolist())
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.package + "/.venv/bin/python")
        p.arguments = ["-c", script, path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), "[[4.0, 6.0]]")
    }
}

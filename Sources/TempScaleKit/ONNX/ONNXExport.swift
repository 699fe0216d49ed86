/// `tempscale export MODEL --to onnx`: placeholder until the graph builder lands.
public enum ONNXExport {
    public struct Report: Sendable {
        public let path: String
        public let bytes: Int
        public let nodes: Int
        public let initializers: Int
        public let dtype: String
        public let irVersion: Int
        public let opset: Int
    }
    public static func write(_ model: Model, to path: String, dtype: DType, force: Bool) throws -> Report {
        throw FileError(model.path, ModelWriter.Error.unavailable("ONNX export is not built yet"))
    }
}

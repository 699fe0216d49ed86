/// What every architecture file provides: the model types it reads, its dimensions from config.json,
/// and its tensor-name table. Adding an architecture is adding a file and a line in `Architectures.all`.
public protocol Architecture: Sendable {
    /// Our name for the family ("bert", "mpnet", …), stored in native files.
    static var family: String { get }
    /// HF `model_type` values this file reads.
    static var modelTypes: [String] { get }
    /// Prefixes of task-model checkpoints (BertForMaskedLM saves `bert.…`) stripped from tensor names.
    static var namePrefixes: [String] { get }

    init(config: JSONObject) throws(ArchitectureError)

    var dims: ModelDims { get }
    /// Every tensor the base model has, with its shape from the config. `optional` ones (buffers,
    /// the pooler) may be absent.
    var tensorTable: [TensorSpec] { get }

    /// The tensors to scale so that every patched layer's softmax input becomes S/τ — or a refusal
    /// saying why that cannot be done exactly.
    func bakeRule(tau: Double, layers: LayerSelection) throws(BakeError) -> BakeRule
}

public struct ModelDims: Sendable, Equatable {
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var headDim: Int
    public var intermediate: Int
    public var vocab: Int
    public var maxPositions: Int?
    public var positionEmbedding: String
}

public struct TensorSpec: Sendable {
    public let name: String
    public let shape: [Int]
    public let optional: Bool
    public init(_ name: String, _ shape: [Int], optional: Bool = false) {
        self.name = name
        self.shape = shape
        self.optional = optional
    }
}

public enum ArchitectureError: ReasonError, Equatable {
    case unsupported(String)
    case missingKey(String)
    case badValue(String, String)
    case missingTensor(String)
    case wrongShape(String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case .unsupported(let t):
            return "unsupported architecture '\(t)'; supported model_type values: \(Architectures.supportedModelTypes.joined(separator: ", "))"
        case .missingKey(let k): return "config.json has no '\(k)'"
        case .badValue(let k, let why): return "config.json '\(k)' \(why)"
        case .missingTensor(let n): return "tensor '\(n)' is missing (the config says the model has it)"
        case .wrongShape(let n, let e, let a): return "tensor '\(n)' has shape \(a), the config says \(e)"
        }
    }
}

public enum Architectures {
    public static let all: [any Architecture.Type] = [BertFamily.self, MPNet.self, T5Encoder.self]

    public static var supportedModelTypes: [String] { all.flatMap { $0.modelTypes } }

    /// The architecture for a config.json (by `model_type`).
    public static func resolve(_ config: JSONObject) throws(ArchitectureError) -> any Architecture {
        guard let type = config["model_type"]?.stringValue else { throw .unsupported("(config.json has no model_type)") }
        guard let arch = all.first(where: { $0.modelTypes.contains(type) }) else { throw .unsupported(type) }
        return try arch.init(config: config)
    }

    /// Checks that every required tensor is present with its configured shape.
    public static func validate(_ arch: any Architecture, tensors: [String: Tensor]) throws(ArchitectureError) {
        for spec in arch.tensorTable {
            guard let t = tensors[spec.name] else {
                if spec.optional { continue }
                throw .missingTensor(spec.name)
            }
            guard t.shape == spec.shape else { throw .wrongShape(spec.name, expected: spec.shape, actual: t.shape) }
        }
    }
}

/// Typed reads from config.json with errors that name the key.
struct ConfigReader {
    let config: JSONObject

    func int(_ key: String) throws(ArchitectureError) -> Int {
        guard let v = config[key] else { throw .missingKey(key) }
        guard let i = v.intValue, i > 0 else { throw .badValue(key, "must be a positive integer") }
        return i
    }

    func int(_ key: String, default d: Int) throws(ArchitectureError) -> Int {
        guard let v = config[key], v != .null else { return d }
        guard let i = v.intValue, i >= 0 else { throw .badValue(key, "must be a non-negative integer") }
        return i
    }

    func string(_ key: String, default d: String) -> String { config[key]?.stringValue ?? d }

    func double(_ key: String, default d: Double) -> Double { config[key]?.doubleValue ?? d }
}

extension Array where Element == TensorSpec {
    /// Expands `{L}` in each name for layers 0..<layers.
    static func perLayer(_ layers: Int, _ specs: [TensorSpec]) -> [TensorSpec] {
        (0..<layers).flatMap { l in
            specs.map { TensorSpec($0.name.replacing("{L}", with: String(l)), $0.shape, optional: $0.optional) }
        }
    }
}


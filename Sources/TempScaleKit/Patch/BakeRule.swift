/// How an architecture bakes a temperature into its weights: which tensors are multiplied by what,
/// and why that is exact. The softmax input S becomes S/τ in every patched layer.
public struct BakeRule: Sendable {
    public struct Scale: Sendable, Equatable {
        public let tensor: String
        public let factor: Double
        /// The rows (first dimension) scaled; nil = the whole tensor. A fused QKV weight scales its query rows only.
        public let rows: Range<Int>?

        public init(tensor: String, factor: Double, rows: Range<Int>? = nil) {
            self.tensor = tensor
            self.factor = factor
            self.rows = rows
        }
    }
    public let scales: [Scale]
    /// One sentence per scaled group: what is scaled and why it is exact.
    public let explanation: String
}

public enum BakeError: ReasonError, Equatable {
    case notBakeable(String)
    case badTemperature(String)
    case badLayers(String)

    public var description: String {
        switch self {
        case .notBakeable(let why): return "cannot bake the temperature exactly: \(why)"
        case .badTemperature(let t): return "temperature must be a finite number > 0 (got \(t))"
        case .badLayers(let why): return "--layers \(why)"
        }
    }
}

/// Which layers to patch: all, or a list of indices and ranges ("0-3,5").
public struct LayerSelection: Sendable, Equatable, CustomStringConvertible {
    public let indices: [Int]?  // nil = all

    public static let all = LayerSelection(indices: nil)

    public init(indices: [Int]?) { self.indices = indices }

    public init(parsing text: String, layerCount: Int) throws(BakeError) {
        if text == "all" { indices = nil; return }
        var out = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo <= hi else {
                throw .badLayers("'\(part)' is not N or N-M")
            }
            guard lo >= 0, hi < layerCount else { throw .badLayers("'\(part)' is outside 0-\(layerCount - 1)") }
            out.formUnion(lo...hi)
        }
        guard !out.isEmpty else { throw .badLayers("is empty") }
        indices = out.count == layerCount ? nil : out.sorted()
    }

    public func contains(_ layer: Int) -> Bool { indices?.contains(layer) ?? true }
    public var isAll: Bool { indices == nil }

    public var description: String {
        guard let indices else { return "all" }
        var parts: [String] = []
        var i = 0
        while i < indices.count {
            var j = i
            while j + 1 < indices.count && indices[j + 1] == indices[j] + 1 { j += 1 }
            parts.append(i == j ? "\(indices[i])" : "\(indices[i])-\(indices[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

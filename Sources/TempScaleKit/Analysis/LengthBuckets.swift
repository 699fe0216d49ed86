/// Token-length buckets [e₀, e₁), [e₁, e₂), …, [e_last, ∞) from ascending edges.
public struct LengthBuckets: Sendable, Equatable {
    public let edges: [Int]

    public enum Error: ReasonError, Equatable {
        case empty
        case notAscending([Int])
        public var description: String {
            switch self {
            case .empty: return "bucket edges: give at least one edge (e.g. 0,16,32,64,128,256,512)"
            case .notAscending(let e): return "bucket edges must be ≥ 0 and strictly ascending (got \(e.map(String.init).joined(separator: ",")))"
            }
        }
    }

    public init(edges: [Int]) throws(Error) {
        guard !edges.isEmpty else { throw .empty }
        guard edges[0] >= 0, zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }) else { throw .notAscending(edges) }
        self.edges = edges
    }

    public var count: Int { edges.count }

    /// The bucket of a token count; nil below the first edge.
    public func index(of length: Int) -> Int? {
        guard length >= edges[0] else { return nil }
        var lo = 0, hi = edges.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if edges[mid] <= length { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// "16–31", …, "512+".
    public func label(_ i: Int) -> String {
        i + 1 < edges.count ? "\(edges[i])–\(edges[i + 1] - 1)" : "\(edges[i])+"
    }

    public var labels: [String] { (0..<count).map(label) }

    /// Up to `perBucket` members of each bucket, spread evenly over the bucket's members in input order
    /// (member ⌊k·m/N⌋ for k < N), so a sample of a large input keeps its variety. nil keeps everything.
    public func sample(lengths: [Int], perBucket: Int?) -> [[Int]] {
        var members = [[Int]](repeating: [], count: count)
        for (i, n) in lengths.enumerated() { if let b = index(of: n) { members[b].append(i) } }
        guard let perBucket else { return members }
        return members.map { m in
            m.count <= perBucket ? m : (0..<perBucket).map { m[$0 * m.count / perBucket] }
        }
    }
}

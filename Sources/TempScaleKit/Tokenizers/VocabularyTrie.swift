/// A byte trie over the vocabulary's UTF-8 keys, so WordPiece finds the longest vocabulary entry
/// at a position in one walk, without building a String per candidate substring.
/// Edges are stored flat (CSR): node n's children are `edgeBytes/edgeTargets[edgeStart[n]..<edgeStart[n+1]]`,
/// sorted by byte.
struct VocabularyTrie: Sendable {
    static let root: Int32 = 0
    private var edgeStart: [Int32] = []
    private var edgeBytes: [UInt8] = []
    private var edgeTargets: [Int32] = []
    /// The vocabulary id ending at each node, or -1.
    private var values: [Int32] = []

    init<S: Sequence<(String, Int32)>>(_ entries: S) {
        var edges: [UInt64: Int32] = [:]
        var values: [Int32] = [-1]
        for (key, id) in entries {
            var node: Int32 = 0
            for b in key.utf8 {
                let edge = UInt64(node) << 8 | UInt64(b)
                if let child = edges[edge] {
                    node = child
                } else {
                    let child = Int32(values.count)
                    values.append(-1)
                    edges[edge] = child
                    node = child
                }
            }
            values[Int(node)] = id
        }
        let sorted = edges.sorted { $0.key < $1.key }  // by parent, then byte
        var start = [Int32](repeating: 0, count: values.count + 1)
        for (edge, _) in sorted { start[Int(edge >> 8) + 1] += 1 }
        for n in 0..<values.count { start[n + 1] += start[n] }
        self.edgeStart = start
        self.edgeBytes = sorted.map { UInt8(truncatingIfNeeded: $0.key) }
        self.edgeTargets = sorted.map(\.value)
        self.values = values
    }

    /// The node reached from `node` by `byte`, or nil.
    @inline(__always)
    func child(_ node: Int32, _ byte: UInt8) -> Int32? {
        var lo = Int(edgeStart[Int(node)]), hi = Int(edgeStart[Int(node) + 1])
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            let b = edgeBytes[mid]
            if b == byte { return edgeTargets[mid] }
            if b < byte { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    /// The node reached from `node` by all of `bytes`, or nil.
    func walk<S: Sequence<UInt8>>(from node: Int32, _ bytes: S) -> Int32? {
        var n = node
        for b in bytes {
            guard let c = child(n, b) else { return nil }
            n = c
        }
        return n
    }

    @inline(__always)
    func value(_ node: Int32) -> Int32 { values[Int(node)] }
}

/// Writers for embeddings: JSON Lines ({"index", "embedding"}) or a NumPy .npy float32 matrix.
public enum EmbeddingOutput {
    public enum Format: String, CaseIterable, Sendable { case jsonl, npy }

    public static func encode(_ rows: [[Float]], format: Format) -> [UInt8] {
        switch format {
        case .jsonl: return jsonl(rows)
        case .npy: return npy(rows)
        }
    }

    static func jsonl(_ rows: [[Float]]) -> [UInt8] {
        var out = ""
        for (i, row) in rows.enumerated() {
            out += "{\"index\":\(i),\"embedding\":["
            // Shortest round-trip text of each f32: reading it back as f32 gives the same bits.
            out += row.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",")
            out += "]}\n"
        }
        return Array(out.utf8)
    }

    /// NPY format version 1.0: magic, header dict padded so the data starts 64-byte aligned, little-endian f32.
    static func npy(_ rows: [[Float]]) -> [UInt8] {
        let cols = rows.first?.count ?? 0
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows.count), \(cols)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out.appendLE(UInt16(header.utf8.count))
        out += Array(header.utf8)
        out.reserveCapacity(out.count + rows.count * cols * 4)
        for row in rows { row.withUnsafeBytes { out += $0 } }
        return out
    }
}

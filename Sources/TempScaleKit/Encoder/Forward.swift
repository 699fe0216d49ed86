/// An architecture's forward pass: padded token ids in, last hidden states out.
protocol EncoderForward: Sendable {
    var hidden: Int { get }
    /// x [batch·seq, hidden] ← the last layer's hidden states for `ids` [batch·seq] (padded).
    func forward(ids: [Int32], shape: BatchShape, temperature: Float, workspace: Workspace, probe: (any ForwardProbe)?,
                 into x: UnsafeMutablePointer<Float>)
}

extension Architecture {
    /// The built-in encoder's forward pass for this architecture; architectures without one refuse.
    func makeForward(_ weights: WeightStore) throws -> any EncoderForward {
        guard let f = self as? any HasEncoderForward else {
            throw FileError("", WeightStore.Error.unsupported("no built-in forward pass for \(Self.family) yet"))
        }
        return try f.buildForward(weights)
    }
}

protocol HasEncoderForward {
    func buildForward(_ weights: WeightStore) throws -> any EncoderForward
}

/// Embedding lookup shared by BERT-style models: x[r] = word[id] + position[pos(r)] (when given) + typeRow, then LayerNorm.
func embedTokens(ids: [Int32], positions: [Int]?, word: EmbeddingRows, position: UnsafePointer<Float>?,
                 typeRow: UnsafePointer<Float>?, hidden h: Int, norm: Norm, into x: UnsafeMutablePointer<Float>) {
    word.gather(ids, into: x)
    for r in 0..<ids.count {
        let row = x + r * h
        if let typeRow { for i in 0..<h { row[i] += typeRow[i] } }
        if let position, let positions { let p = position + positions[r] * h; for i in 0..<h { row[i] += p[i] } }
    }
    norm(x, rows: ids.count)
}

/// RoBERTa/XLM-R/MPNet positions, as HF's create_position_ids_from_input_ids: tokens that are not
/// the pad id count from padding_idx + 1; pad ids — padding, but also a literal "<pad>" in the text —
/// sit at padding_idx and are not counted.
func offsetPositions(ids: [Int32], _ shape: BatchShape, padding: Int) -> [Int] {
    var out = [Int](repeating: padding, count: shape.rows)
    for b in 0..<shape.batch {
        var count = 0
        for s in 0..<shape.lengths[b] where ids[b * shape.seq + s] != Int32(padding) {
            count += 1
            out[b * shape.seq + s] = padding + count
        }
    }
    return out
}


/// sentence-transformers' pooling over the real (unpadded) tokens of one sequence, then Normalize.
enum Pooling {
    static func pool(_ x: UnsafePointer<Float>, length: Int, hidden h: Int, mode: SentenceTransformersConfig.Pooling,
                     into out: UnsafeMutablePointer<Float>) {
        switch mode {
        case .cls:
            out.update(from: x, count: h)
        case .lastToken:
            out.update(from: x + (length - 1) * h, count: h)
        case .max:
            out.update(from: x, count: h)
            for t in 1..<max(length, 1) { for i in 0..<h { out[i] = max(out[i], x[t * h + i]) } }
        case .mean, .meanSqrtLen, .weightedMean:
            out.update(repeating: 0, count: h)
            var weightSum: Float = 0
            for t in 0..<length {
                // weightedmean weighs position t by t + 1, as sentence-transformers does.
                let wgt: Float = mode == .weightedMean ? Float(t + 1) : 1
                weightSum += wgt
                for i in 0..<h { out[i] += wgt * x[t * h + i] }
            }
            let denom = mode == .meanSqrtLen ? Float(length).squareRoot() : max(weightSum, 1e-9)
            for i in 0..<h { out[i] /= denom }
        }
    }

    /// x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize.
    static func normalize(_ v: UnsafeMutablePointer<Float>, count n: Int) {
        var sq: Float = 0
        for i in 0..<n { sq += v[i] * v[i] }
        let inv = 1 / max(sq.squareRoot(), 1e-12)
        for i in 0..<n { v[i] *= inv }
    }
}

/// sentence-transformers' pooling over the tokens `start..<length` of one sequence (padding excluded, and the
/// prompt when include_prompt is false), then Dense and Normalize (golden/st-modules-notes.md §1, §3, §4).
enum Pooling {
    static func pool(_ x: UnsafePointer<Float>, start: Int, length: Int, hidden h: Int, mode: SentenceTransformersConfig.Pooling,
                     into out: UnsafeMutablePointer<Float>) {
        let range = min(start, length)..<length
        switch mode {
        case .cls:
            // The first position the pooling mask keeps (position 0 when it keeps none).
            out.update(from: x + (range.isEmpty ? 0 : range.lowerBound) * h, count: h)
        case .lastToken:
            if let last = range.last { out.update(from: x + last * h, count: h) } else { out.update(repeating: 0, count: h) }
        case .max:
            out.update(repeating: -.infinity, count: h)
            for t in range { for i in 0..<h { out[i] = max(out[i], x[t * h + i]) } }
        case .mean, .meanSqrtLen, .weightedMean:
            out.update(repeating: 0, count: h)
            var weightSum: Float = 0
            for t in range {
                // weightedmean weighs position t by t + 1 (from the first real token), as sentence-transformers does.
                let wgt: Float = mode == .weightedMean ? Float(t + 1) : 1
                weightSum += wgt
                for i in 0..<h { out[i] += wgt * x[t * h + i] }
            }
            let denom = mode == .meanSqrtLen ? max(weightSum, 1e-9).squareRoot() : max(weightSum, 1e-9)
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

/// Everything after the transformer, bound to the model's weights: pooling modes (concatenated), Dense layers
/// and Normalize, in modules.json order.
struct SentenceHead: @unchecked Sendable {
    enum Step {
        case dense(Linear, Activation)
        case normalize
    }
    let modes: [SentenceTransformersConfig.Pooling]
    let includePrompt: Bool
    let steps: [Step]
    let hidden: Int
    /// The embedding's length after the last step.
    let dimension: Int

    enum Error: ReasonError, Equatable {
        case activation(String, String)
        case shape(String, String)
        var description: String {
            switch self {
            case .activation(let path, let a):
                return "\(path)/config.json: Dense activation_function '\(a)' is not one tempscale runs (supported: \(SentenceTransformersConfig.denseActivations.keys.sorted().joined(separator: ", ")))"
            case .shape(let path, let why): return "\(path): \(why)"
            }
        }
    }

    init(_ st: SentenceTransformersConfig, hidden: Int, weights w: WeightStore) throws {
        modes = st.poolingModes.isEmpty ? [.mean] : st.poolingModes
        includePrompt = st.includePrompt
        self.hidden = hidden
        // Pooling always runs first (embed pools before the steps); a plain transformers folder has only it.
        var width = hidden * modes.count
        var steps: [Step] = []
        for s in st.steps {
            switch s {
            case .pooling: break
            case .normalize: steps.append(.normalize)
            case .dense(let d):
                let cls = d.activation.split(separator: ".").last.map(String.init) ?? d.activation
                guard d.activation.hasPrefix("torch."), let name = SentenceTransformersConfig.denseActivations[cls],
                      let act = Activation(hf: name) else {
                    throw FileError("", Error.activation(d.path, d.activation))
                }
                guard d.inFeatures == width else {
                    throw FileError("", Error.shape(d.path, "Dense in_features \(d.inFeatures) ≠ the \(width) values it receives"))
                }
                let dense = try w.linears(d.weightName, bias: d.bias ? d.biasName : nil)[0]
                guard dense.inDim == d.inFeatures, dense.outDim == d.outFeatures else {
                    throw FileError("", Error.shape(d.path, "Dense weight is [\(dense.outDim), \(dense.inDim)], config says [\(d.outFeatures), \(d.inFeatures)]"))
                }
                steps.append(.dense(dense, act))
                width = d.outFeatures
            }
        }
        self.steps = steps
        dimension = width
    }

    /// The sentence embedding of one sequence's hidden states x [length, hidden]; the first `skip` tokens are
    /// left out of pooling when include_prompt is false.
    func embed(_ x: UnsafePointer<Float>, length: Int, skip: Int) -> [Float] {
        var v = [Float](repeating: 0, count: hidden * modes.count)
        let start = includePrompt ? 0 : skip
        v.withUnsafeMutableBufferPointer { p in
            for (k, mode) in modes.enumerated() {
                Pooling.pool(x, start: start, length: length, hidden: hidden, mode: mode, into: p.baseAddress! + k * hidden)
            }
        }
        for s in steps {
            switch s {
            case .normalize: v.withUnsafeMutableBufferPointer { Pooling.normalize($0.baseAddress!, count: $0.count) }
            case .dense(let linear, let act):
                var y = [Float](repeating: 0, count: linear.outDim)
                v.withUnsafeBufferPointer { src in y.withUnsafeMutableBufferPointer { linear(src.baseAddress!, rows: 1, into: $0.baseAddress!) } }
                y.withUnsafeMutableBufferPointer { Kernels.activate($0.baseAddress!, count: $0.count, act) }
                v = y
            }
        }
        return v
    }
}

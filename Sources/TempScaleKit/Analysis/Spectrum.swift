import CKernels

/// The paper's Theorem-2 quantity on a real model: for every layer and head, σ_a = the largest singular
/// value of A − (1/n)·11ᵀ (the high-frequency part of the attention matrix A; smaller = stronger low-pass
/// filtering), and for every layer's hidden states X the share ‖HC[X]‖/‖X‖ (Frobenius) that is not the
/// token mean. Definitions: Wang et al. 2022 (attnscale) as summarised in reference-notes §1.
public enum Spectrum {
    public struct TextSpectrum: Sendable {
        public let tokens: Int
        /// σ_a[layer][head] for the measured layers (in `layers` order).
        public let sigma: [[Double]]
        /// ‖HC[X]‖/‖X‖ for layer 0 (embeddings) through the last layer's output.
        public let highFrequencyShare: [Double]
    }

    /// σ_a of one n×n row-major attention matrix, in double precision.
    public static func sigmaA(_ a: UnsafePointer<Float>, n: Int) -> Double {
        ts_centered_top_singular_value(a, Int32(n))
    }

    public static func sigmaA(_ a: [Float], n: Int) -> Double {
        precondition(a.count == n * n)
        return a.withUnsafeBufferPointer { sigmaA($0.baseAddress!, n: n) }
    }

    /// ‖X − mean_tokens(X)‖_F / ‖X‖_F for X [n, d] row-major; 0 for a zero X.
    public static func highFrequencyShare(_ x: UnsafePointer<Float>, rows n: Int, width d: Int) -> Double {
        var mean = [Double](repeating: 0, count: d)
        var total = 0.0
        for i in 0..<n { for k in 0..<d { let v = Double(x[i * d + k]); mean[k] += v; total += v * v } }
        for k in 0..<d { mean[k] /= Double(n) }
        var hc = 0.0
        for i in 0..<n { for k in 0..<d { let v = Double(x[i * d + k]) - mean[k]; hc += v * v } }
        return total > 0 ? (hc / total).squareRoot() : 0
    }

    /// Runs one tokenised text alone through the encoder at `temperature` and measures it.
    /// `layers` are 0-based encoder layers (nil = all).
    public static func measure(_ encoder: Encoder, ids: [Int32], temperature: Double, layers: [Int]?) -> TextSpectrum {
        let all = encoder.model.architecture.dims.layers
        let chosen = layers ?? Array(0..<all)
        let probe = Probe(layers: chosen, heads: encoder.model.architecture.dims.heads, hiddenLayers: all + 1)
        _ = encoder.embed(probing: ids, temperature: Float(temperature), probe: probe)
        return TextSpectrum(tokens: max(1, ids.count), sigma: probe.sigma, highFrequencyShare: probe.share)
    }

    final class Probe: ForwardProbe {
        let slot: [Int: Int]
        var sigma: [[Double]]
        var share: [Double]
        init(layers: [Int], heads: Int, hiddenLayers: Int) {
            slot = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1, $0) })
            sigma = [[Double]](repeating: [Double](repeating: .nan, count: heads), count: layers.count)
            share = [Double](repeating: .nan, count: hiddenLayers)
        }
        func attention(layer: Int, head: Int, sequence: Int, probabilities: UnsafePointer<Float>, length: Int) {
            guard let s = slot[layer] else { return }
            sigma[s][head] = Spectrum.sigmaA(probabilities, n: length)
        }
        func hiddenStates(layer: Int, _ x: UnsafePointer<Float>, shape: BatchShape, hidden: Int) {
            share[layer] = Spectrum.highFrequencyShare(x, rows: shape.lengths[0], width: hidden)
        }
    }
}

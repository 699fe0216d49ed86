import CKernels

/// Bakes TempScale into a model's weights: the architecture's rule says which tensors to scale;
/// each is scaled in f32 and rounded once to its stored dtype (q8 tensors scale their block scales).
public enum Patcher {
    public struct Result {
        public let model: Model
        public let rule: BakeRule
        public let warnings: [String]
    }

    public static func patch(_ model: Model, tau: Double, layers: LayerSelection = .all) throws -> Result {
        guard tau.isFinite, tau > 0 else { throw FileError(model.path, BakeError.badTemperature("\(tau)")) }
        let rule: BakeRule
        do { rule = try model.architecture.bakeRule(tau: tau, layers: layers) } catch { throw FileError(model.path, error) }
        var warnings: [String] = []
        if tau > 1 { warnings.append("τ = \(tau) > 1 sharpens length collapse instead of countering it") }
        if tau < 0.05 { warnings.append("τ = \(tau) is very small: attention softmax will saturate towards one-hot") }

        var factors: [String: [BakeRule.Scale]] = [:]
        for s in rule.scales { factors[s.tensor, default: []].append(s) }
        var out = model
        var seen = 0
        out.tensors = try model.tensors.map { t in
            guard let list = factors[t.name] else { return t }
            seen += 1
            var r = t
            for s in list { r = try scaled(r, by: s.factor, rows: s.rows) }
            return r
        }
        guard seen == factors.count else {
            let missing = Set(factors.keys).subtracting(model.tensors.map(\.name)).sorted()
            throw FileError(model.path, BakeError.notBakeable("tensors the rule needs are missing: \(missing.joined(separator: ", "))"))
        }
        out.temperature.steps.append(.init(tau: tau, layers: layers.description, tool: TempScale.toolName))
        if model.temperature.isPatched {
            warnings.append("the model was already patched (τ = \(model.temperature.total)); τ composes: τ_total = \(model.temperature.total) × \(tau) = \(out.temperature.total)")
        }
        return Result(model: out, rule: rule, warnings: warnings)
    }

    /// `t` × `factor` (only `rows` of its first dimension when given), computed in f32 and rounded once to t's dtype.
    static func scaled(_ t: Tensor, by factor: Double, rows: Range<Int>? = nil) throws -> Tensor {
        let f = Float(factor)
        let n = t.count
        let width = t.shape.dropFirst().reduce(1, *)
        let span = rows ?? 0..<(t.shape.first ?? 1)
        guard span.lowerBound >= 0, span.upperBound <= (t.shape.first ?? 1) else {
            throw FileError(t.name, BakeError.notBakeable("rows \(span) are outside tensor '\(t.name)' of shape \(t.shape)"))
        }
        let out = OwnedBuffer(count: t.bytes.count)
        switch t.dtype {
        case .q8:
            // value = q · scale: scaling the block scales of the chosen rows scales their values, with no requantisation.
            out.pointer.copyMemory(from: t.bytes.baseAddress!, byteCount: t.bytes.count)
            let g = Q8.geometry(t.shape)
            let scalesOffset = (n + 3) / 4 * 4
            let scales = (out.pointer + scalesOffset).assumingMemoryBound(to: Float.self)
            let all = 0..<((t.bytes.count - scalesOffset) / 4)
            // Q8 rows run along the last dimension: a first-dimension row is width / columns of them.
            let perRow = t.shape.count < 2 || g.columns == 0 ? 0 : width / g.columns * g.blocksPerRow
            let chosen = rows == nil ? all : (span.lowerBound * perRow)..<(span.upperBound * perRow)
            for i in chosen { scales[i] *= f }
        case .f32, .f16, .bf16:
            var values = t.toFloat32()
            for i in (span.lowerBound * width)..<(span.upperBound * width) { values[i] *= f }
            values.withUnsafeBufferPointer { v in
                switch t.dtype {
                case .f32: out.pointer.copyMemory(from: v.baseAddress!, byteCount: n * 4)
                case .f16: ts_f32_to_f16(v.baseAddress!, out.pointer.assumingMemoryBound(to: UInt16.self), n)
                default: ts_f32_to_bf16(v.baseAddress!, out.pointer.assumingMemoryBound(to: UInt16.self), n)
                }
            }
        default:
            throw FileError(t.name, BakeError.notBakeable("tensor '\(t.name)' is \(t.dtype.name), not floating point"))
        }
        return Tensor(name: t.name, dtype: t.dtype, shape: t.shape, bytes: out.bytes, owner: out)
    }
}

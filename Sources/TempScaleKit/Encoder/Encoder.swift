import CBLAS

/// The built-in CPU encoder: token ids → sentence embeddings, with a run-time attention temperature.
/// Sequences are sorted by length and batched to minimise padding.
public final class Encoder: @unchecked Sendable {
    public let model: Model
    public let dimension: Int
    public let pooling: SentenceTransformersConfig.Pooling
    public let normalize: Bool
    private let forward: any EncoderForward
    private let workspace = Workspace()

    public struct Options: Sendable {
        public var batchSize = 32
        /// BLAS threads. Two layers of threads oversubscribe a small machine: this is the only one.
        public var threads = 1
        public init(batchSize: Int = 32, threads: Int = 1) {
            self.batchSize = batchSize
            self.threads = threads
        }
    }
    public var options: Options

    public init(model: Model, options: Options = Options()) throws {
        self.model = model
        self.options = options
        do {
            forward = try model.architecture.makeForward(WeightStore(model))
        } catch let e as FileError where e.path.isEmpty {
            throw FileError(model.path, e.reason)
        }
        dimension = forward.hidden
        pooling = model.sentenceTransformers.pooling ?? .mean
        normalize = model.sentenceTransformers.normalize
    }

    /// Embeddings (one row of `dimension` per sequence, in input order) of already-tokenised sequences.
    public func embed(ids sequences: [[Int32]], temperature: Float = 1, padId: Int32 = 0,
                      progress: ((Int, Int) -> Void)? = nil) -> [[Float]] {
        openblas_set_num_threads(Int32(max(1, options.threads)))
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var out = [[Float]](repeating: [], count: sequences.count)
        var done = 0
        for chunkStart in stride(from: 0, to: order.count, by: max(1, options.batchSize)) {
            let chunk = Array(order[chunkStart..<min(order.count, chunkStart + max(1, options.batchSize))])
            let lengths = chunk.map { max(1, sequences[$0].count) }
            let seq = lengths.max()!
            let shape = BatchShape(batch: chunk.count, seq: seq, lengths: lengths)
            var ids = [Int32](repeating: padId, count: shape.rows)
            for (b, i) in chunk.enumerated() {
                for (s, id) in sequences[i].enumerated() { ids[b * seq + s] = id }
            }
            let x = workspace.buffer(7, count: shape.rows * dimension)
            forward.forward(ids: ids, shape: shape, temperature: temperature, workspace: workspace, into: x)
            for (b, i) in chunk.enumerated() {
                var v = [Float](repeating: 0, count: dimension)
                v.withUnsafeMutableBufferPointer { p in
                    Pooling.pool(x + b * seq * dimension, length: lengths[b], hidden: dimension, mode: pooling, into: p.baseAddress!)
                    if normalize { Pooling.normalize(p.baseAddress!, count: dimension) }
                }
                out[i] = v
            }
            done += chunk.count
            progress?(done, sequences.count)
        }
        return out
    }
}

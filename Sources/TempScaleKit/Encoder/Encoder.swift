import CBLAS
import Dispatch

/// The built-in CPU encoder: token ids → sentence embeddings, with a run-time attention temperature.
/// Sequences are sorted by length and batched to minimise padding.
public final class Encoder: @unchecked Sendable {
    public let model: Model
    public let dimension: Int
    private let forward: any EncoderForward
    private let head: SentenceHead

    public struct Options: Sendable {
        public var batchSize = 32
        /// A batch also stops growing at this many padded positions (batch × longest), which bounds the workspace
        /// (≈ 6 × rows × hidden floats, plus the FFN's slices) whatever the text lengths.
        public var maxBatchRows = 2048
        /// Worker threads, each running whole batches with single-threaded BLAS and oneDNN (two layers of
        /// threads would oversubscribe a small machine; on a big one, workers scale with the batches).
        public var threads = 1
        /// The linear layers' arithmetic; nil: the file's storage decides (`Precision.native(for:)`).
        public var precision: Precision?
        public init(batchSize: Int = 32, threads: Int = 1, precision: Precision? = nil) {
            self.batchSize = batchSize
            self.threads = threads
            self.precision = precision
        }
    }
    public var options: Options
    /// What the linear layers run in, after falling back to f32 on a CPU without the instructions.
    public let precision: Precision
    /// Why `precision` is not what was asked for (or what the file suggests), if it is not.
    public let precisionNote: String?
    /// Bytes the encoder holds besides the mapped file: packed matrices and f32 copies of converted tensors.
    public let weightBytes: Int

    public init(model: Model, options: Options = Options()) throws {
        self.model = model
        self.options = options
        (precision, precisionNote) = (options.precision ?? Precision.native(for: model)).resolved()
        do {
            let weights = WeightStore(model, precision: precision)
            forward = try model.architecture.makeForward(weights)
            head = try SentenceHead(model.sentenceTransformers, hidden: forward.hidden, weights: weights)
            weightBytes = weights.ownedBytes
        } catch let e as FileError where e.path.isEmpty {
            throw FileError(model.path, e.reason)
        }
        dimension = head.dimension
    }

    /// Embeddings (one row of `dimension` per sequence, in input order) of already-tokenised sequences.
    /// `promptLengths[i]` leading tokens of sequence i are left out of pooling when the model's pooling
    /// excludes the prompt (include_prompt false).
    public func embed(ids sequences: [[Int32]], temperature: Float = 1, padId: Int32 = 0, promptLengths: [Int]? = nil,
                      progress: (@Sendable (Int, Int) -> Void)? = nil) -> [[Float]] {
        openblas_set_num_threads(1)
        let batch = max(1, options.batchSize)
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        let chunks = Self.batches(order.map { sequences[$0].count }, order, size: batch, maxRows: max(1, options.maxBatchRows))
        let results = ResultBox(count: sequences.count)
        let workers = max(1, min(options.threads, chunks.count))
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let workspace = Workspace()
            while let c = next.take(below: chunks.count) {
                let rows = embedChunk(chunks[c], sequences, temperature: temperature, padId: padId, promptLengths: promptLengths,
                                      workspace: workspace)
                let done = results.store(zip(chunks[c], rows))
                progress?(done, sequences.count)
            }
        }
        return results.rows
    }

    /// `order` (longest first) cut into batches of at most `size` sequences and `maxRows` padded positions (batch ×
    /// its longest), with at least one sequence each; `lengths[k]` is the length of `order[k]`.
    private static func batches(_ lengths: [Int], _ order: [Int], size: Int, maxRows: Int) -> [[Int]] {
        var out: [[Int]] = [], current: [Int] = [], longest = 1
        for (k, i) in order.enumerated() {
            if current.isEmpty { longest = max(1, lengths[k]) }
            else if current.count >= size || (current.count + 1) * longest > maxRows {
                out.append(current)
                current = []
                longest = max(1, lengths[k])
            }
            current.append(i)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    private func embedChunk(_ chunk: [Int], _ sequences: [[Int32]], temperature: Float, padId: Int32, promptLengths: [Int]?,
                            workspace: Workspace) -> [[Float]] {
        let lengths = chunk.map { max(1, sequences[$0].count) }
        let seq = lengths.max()!
        let shape = BatchShape(batch: chunk.count, seq: seq, lengths: lengths)
        var ids = [Int32](repeating: padId, count: shape.rows)
        for (b, i) in chunk.enumerated() {
            for (s, id) in sequences[i].enumerated() { ids[b * seq + s] = id }
        }
        let hidden = forward.hidden
        let x = workspace.buffer(.hidden, count: shape.rows * hidden)
        forward.forward(ids: ids, shape: shape, temperature: temperature, workspace: workspace, probe: nil, into: x)
        return chunk.enumerated().map { b, i in
            head.embed(x + b * seq * hidden, length: lengths[b], skip: promptLengths?[i] ?? 0)
        }
    }
}

extension Encoder {
    /// Runs one sequence alone (no padding) with `probe` watching every layer; returns its embedding.
    func embed(probing ids: [Int32], temperature: Float, probe: any ForwardProbe) -> [Float] {
        openblas_set_num_threads(1)
        let workspace = Workspace()
        let shape = BatchShape(batch: 1, seq: max(1, ids.count), lengths: [max(1, ids.count)])
        let x = workspace.buffer(.hidden, count: shape.rows * forward.hidden)
        forward.forward(ids: ids.isEmpty ? [0] : ids, shape: shape, temperature: temperature, workspace: workspace,
                        probe: probe, into: x)
        return head.embed(x, length: shape.seq, skip: 0)
    }
}

/// Hands out work items to threads.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = Lock()
    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

/// Collects rows from threads, in input order.
final class ResultBox: @unchecked Sendable {
    private(set) var rows: [[Float]]
    private var done = 0
    private let lock = Lock()
    init(count: Int) { rows = [[Float]](repeating: [], count: count) }
    func store<S: Sequence>(_ items: S) -> Int where S.Element == (Int, [Float]) {
        lock.withLock {
            for (i, r) in items { rows[i] = r; done += 1 }
            return done
        }
    }
}

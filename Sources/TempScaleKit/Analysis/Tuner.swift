import CBLAS

/// `tempscale tune`: choose τ on a dev split, report τ = 1 and the chosen τ on a separate test split,
/// with a paired bootstrap interval on the difference. The dev score is never the result.
public struct TuneResult: Sendable {
    public struct Candidate: Sendable {
        /// The queries' τ (retrieval with --query-temperature); nil when queries use the documents' τ.
        public let queryTau: Double?
        public let tau: Double
        /// Dev scores, one per metric (the first chooses).
        public let dev: [Double]
    }

    public let task: TuneTask
    public let metrics: [String]
    public let candidates: [Candidate]
    public let chosen: Int
    /// Test scores at τ = 1 and at the chosen τ, one per metric.
    public let testBaseline: [Double]
    public let testChosen: [Double]
    /// Bootstrap intervals of test(chosen) − test(τ = 1), one per metric.
    public let intervals: [BootstrapInterval]
    public let resamples: Int
    public let seed: UInt64
    /// Items scored: dev, test (queries, pairs or texts), and the train/corpus size.
    public let devCount: Int
    public let testCount: Int
    public let referenceCount: Int
    public let k: Int?
    /// The prompt texts in front of the queries and the documents ("" none; similarity and classification use
    /// the document one for every text).
    public let prompts: Prompts

    public struct Prompts: Sendable, Equatable {
        public let query: String
        public let document: String
    }

    public var best: Candidate { candidates[chosen] }
}

public enum Tuner {
    public struct Options: Sendable {
        public var grid: [Double]
        public var queryGrid: [Double]?
        public var k: Int
        public var resamples: Int
        public var seed: UInt64
        /// The prompt in front of every text; retrieval's queries and documents may each have their own
        /// (E5: "query: " and "passage: "), which replaces it for them.
        public var prompt: TextEmbedder.Prompt
        public var queryPrompt: TextEmbedder.Prompt?
        public var documentPrompt: TextEmbedder.Prompt?
        public init(grid: [Double] = [0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], queryGrid: [Double]? = nil, k: Int = 5,
                    resamples: Int = 1000, seed: UInt64 = 20_241_031, prompt: TextEmbedder.Prompt = .modelDefault,
                    queryPrompt: TextEmbedder.Prompt? = nil, documentPrompt: TextEmbedder.Prompt? = nil) {
            self.prompt = prompt
            self.queryPrompt = queryPrompt
            self.documentPrompt = documentPrompt
            self.grid = grid
            self.queryGrid = queryGrid
            self.k = k
            self.resamples = resamples
            self.seed = seed
        }
    }

    public enum Error: ReasonError, Equatable {
        case queryGridNeedsRetrieval
        case sidePromptNeedsRetrieval
        case kTooLarge(Int, train: Int)
        case undefined(String)
        public var description: String {
            switch self {
            case .queryGridNeedsRetrieval: return "--query-temperature applies to retrieval only (similarity and classification embed one kind of text)"
            case .sidePromptNeedsRetrieval: return "query and document prompts apply to retrieval only (similarity and classification embed one kind of text: use --prompt)"
            case .kTooLarge(let k, let n): return "--k \(k) exceeds the \(n) train texts"
            case .undefined(let what): return what
            }
        }
    }

    public static func run(_ embedder: TextEmbedder, task: TuneTask, data: String, options o: Options,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> TuneResult {
        for t in o.grid + (o.queryGrid ?? []) { try TextEmbedder.checkTemperature(t) }
        if o.queryGrid != nil && task != .retrieval { throw Error.queryGridNeedsRetrieval }
        if (o.queryPrompt != nil || o.documentPrompt != nil) && task != .retrieval { throw Error.sidePromptNeedsRetrieval }
        let prompts = TuneResult.Prompts(query: try embedder.promptText(o.queryPrompt ?? o.prompt),
                                         document: try embedder.promptText(o.documentPrompt ?? o.prompt))
        switch task {
        case .retrieval: return try retrieval(embedder, try TuneData.retrieval(at: data), o, prompts, progress)
        case .similarity: return try similarity(embedder, try TuneData.similarity(at: data), o, prompts, progress)
        case .classification:
            let set = try TuneData.classification(at: data)
            guard o.k >= 1, o.k <= set.train.count else { throw FileError(data, Error.kTooLarge(o.k, train: set.train.count)) }
            return try classification(embedder, set, o, prompts, progress)
        }
    }

    /// The winner: highest dev score of the first metric; a tie goes to the candidate closest to τ = 1.
    static func choose(_ c: [TuneResult.Candidate]) -> Int {
        func change(_ x: TuneResult.Candidate) -> Double { max(abs(1 - x.tau), abs(1 - (x.queryTau ?? x.tau))) }
        func score(_ i: Int) -> Double { c[i].dev[0].isNaN ? -.infinity : c[i].dev[0] }
        return c.indices.max { a, b in
            score(a) != score(b) ? score(a) < score(b) : change(c[a]) > change(c[b])
        }!
    }

    // MARK: retrieval

    static func retrieval(_ embedder: TextEmbedder, _ set: RetrievalSet, _ o: Options, _ prompts: TuneResult.Prompts,
                          _ progress: (@Sendable (Int, Int) -> Void)?) throws -> TuneResult {
        let devQ = set.dev.map(\.query), testQ = set.test.map(\.query)
        let qGrid = o.queryGrid ?? o.grid
        let docTaus = unique(o.grid + [1])
        let total = set.corpus.count * docTaus.count + devQ.count * qGrid.count + testQ.count * 2
        let cache = EmbeddingCache(embedder, total: total, progress: progress)
        let corpus = cache.texts("corpus", set.corpus, prompt: prompts.document)
        let devTexts = cache.texts("dev", devQ.map { set.queries[$0] }, prompt: prompts.query)
        let testTexts = cache.texts("test", testQ.map { set.queries[$0] }, prompt: prompts.query)
        func scores(_ queries: EmbeddingCache.Texts, _ qt: Double, _ dt: Double, _ judged: [(query: Int, gains: [Int: Double])]) -> [[Double]] {
            let q = cache.embed(queries, qt), d = cache.embed(corpus, dt)
            let sims = similarityMatrix(q, d)
            var ndcg: [Double] = [], mrr: [Double] = []
            for (i, j) in judged.enumerated() {
                let top = RankingMetrics.topK(sims[i], k: 10)
                ndcg.append(RankingMetrics.ndcg(at: 10, ranking: top, gains: j.gains))
                mrr.append(RankingMetrics.mrr(at: 10, ranking: top, relevant: Set(j.gains.keys)))
            }
            return [ndcg, mrr]
        }
        var candidates: [TuneResult.Candidate] = []
        for dt in o.grid {
            for qt in (o.queryGrid ?? [dt]) {
                let s = scores(devTexts, qt, dt, set.dev)
                candidates.append(.init(queryTau: o.queryGrid == nil ? nil : qt, tau: dt, dev: s.map(mean)))
            }
        }
        let chosen = choose(candidates)
        let best = candidates[chosen]
        let base = scores(testTexts, 1, 1, set.test)
        let cand = scores(testTexts, best.queryTau ?? best.tau, best.tau, set.test)
        return TuneResult(task: .retrieval, metrics: ["nDCG@10", "MRR@10"], candidates: candidates, chosen: chosen,
                          testBaseline: base.map(mean), testChosen: cand.map(mean),
                          intervals: zip(cand, base).map { Bootstrap.pairedMean(candidate: $0, baseline: $1, resamples: o.resamples, seed: o.seed) },
                          resamples: o.resamples, seed: o.seed, devCount: devQ.count, testCount: testQ.count,
                          referenceCount: set.corpus.count, k: nil, prompts: prompts)
    }

    // MARK: similarity

    static func similarity(_ embedder: TextEmbedder, _ set: SimilaritySet, _ o: Options, _ prompts: TuneResult.Prompts,
                           _ progress: (@Sendable (Int, Int) -> Void)?) throws -> TuneResult {
        let taus = unique(o.grid + [1])
        let cache = EmbeddingCache(embedder, total: set.texts.count * taus.count, progress: progress)
        let texts = cache.texts("texts", set.texts, prompt: prompts.document)
        func cosines(_ pairs: [SimilaritySet.Pair], _ t: Double) -> [Double] {
            let e = cache.embed(texts, t)
            return pairs.map { Cosine.dot(e[$0.a], e[$0.b]) }
        }
        let devGold = set.dev.map(\.score), testGold = set.test.map(\.score)
        let candidates = o.grid.map { t in
            TuneResult.Candidate(queryTau: nil, tau: t, dev: [Correlation.spearman(devGold, cosines(set.dev, t))])
        }
        let chosen = choose(candidates)
        let base = cosines(set.test, 1), cand = cosines(set.test, candidates[chosen].tau)
        let interval = Bootstrap.pairedSpearman(gold: testGold, candidate: cand, baseline: base, resamples: o.resamples, seed: o.seed)
        guard interval.low.isFinite, interval.high.isFinite else {
            throw Error.undefined("Spearman's ρ is undefined on some bootstrap resamples of the test pairs (too few pairs or tied ratings)")
        }
        return TuneResult(task: .similarity, metrics: ["Spearman"], candidates: candidates, chosen: chosen,
                          testBaseline: [Correlation.spearman(testGold, base)], testChosen: [Correlation.spearman(testGold, cand)],
                          intervals: [interval], resamples: o.resamples, seed: o.seed, devCount: set.dev.count,
                          testCount: set.test.count, referenceCount: set.texts.count, k: nil, prompts: prompts)
    }

    // MARK: classification

    static func classification(_ embedder: TextEmbedder, _ set: ClassificationSet, _ o: Options, _ prompts: TuneResult.Prompts,
                               _ progress: (@Sendable (Int, Int) -> Void)?) throws -> TuneResult {
        let taus = unique(o.grid + [1])
        let total = set.train.count * taus.count + set.dev.count * o.grid.count + set.test.count * 2
        let cache = EmbeddingCache(embedder, total: total, progress: progress)
        let p = prompts.document
        let train = cache.texts("train", set.train.map(\.text), prompt: p), trainLabels = set.train.map(\.label)
        let dev = cache.texts("dev", set.dev.map(\.text), prompt: p), test = cache.texts("test", set.test.map(\.text), prompt: p)
        func correct(_ items: EmbeddingCache.Texts, _ truth: [String], _ t: Double) -> [Double] {
            let sims = similarityMatrix(cache.embed(items, t), cache.embed(train, t))
            return KNN.correct(predicted: KNN.predict(similarities: sims, trainLabels: trainLabels, k: o.k), truth: truth)
        }
        let candidates = o.grid.map { t in
            TuneResult.Candidate(queryTau: nil, tau: t, dev: [mean(correct(dev, set.dev.map(\.label), t))])
        }
        let chosen = choose(candidates)
        let truth = set.test.map(\.label)
        let base = correct(test, truth, 1), cand = correct(test, truth, candidates[chosen].tau)
        return TuneResult(task: .classification, metrics: ["kNN accuracy"], candidates: candidates, chosen: chosen,
                          testBaseline: [mean(base)], testChosen: [mean(cand)],
                          intervals: [Bootstrap.pairedMean(candidate: cand, baseline: base, resamples: o.resamples, seed: o.seed)],
                          resamples: o.resamples, seed: o.seed, devCount: set.dev.count, testCount: set.test.count,
                          referenceCount: set.train.count, k: o.k, prompts: prompts)
    }

    // MARK: helpers

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    static func unique(_ v: [Double]) -> [Double] {
        var out: [Double] = []
        for x in v where !out.contains(x) { out.append(x) }
        return out
    }

    /// Cosine similarities of unit rows: a [m, d] · b [n, d]ᵀ in double precision.
    static func similarityMatrix(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        guard let d = a.first?.count, !b.isEmpty else { return a.map { _ in [] } }
        let m = a.count, n = b.count
        let fa = a.flatMap { $0 }, fb = b.flatMap { $0 }
        var out = [Double](repeating: 0, count: m * n)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(d), 1, fa, Int32(d), fb, Int32(d), 0,
                    &out, Int32(n))
        return (0..<m).map { Array(out[$0 * n..<($0 + 1) * n]) }
    }
}

/// Each list of texts tokenised once and embedded once per τ (unit rows, double precision).
final class EmbeddingCache: @unchecked Sendable {
    struct Texts { let name: String; let ids: [[Int32]]; let promptLength: Int }
    let embedder: TextEmbedder
    let total: Int
    let progress: (@Sendable (Int, Int) -> Void)?
    private var done = 0
    private var store: [String: [[Double]]] = [:]

    init(_ embedder: TextEmbedder, total: Int, progress: (@Sendable (Int, Int) -> Void)?) {
        self.embedder = embedder
        self.total = total
        self.progress = progress
    }

    func texts(_ name: String, _ texts: [String], prompt: String) -> Texts {
        Texts(name: name, ids: embedder.tokenize(texts, prompt: prompt).map(\.ids), promptLength: embedder.promptLength(prompt))
    }

    func embed(_ t: Texts, _ tau: Double) -> [[Double]] {
        let key = "\(t.name)@\(tau)"
        if let e = store[key] { return e }
        let rows = embedder.embed(ids: t.ids, temperature: Float(tau), promptLength: t.promptLength,
                                  progress: stageProgress(progress, from: done, of: total))
        done += t.ids.count
        let e = Cosine.normalized(rows)
        store[key] = e
        return e
    }
}

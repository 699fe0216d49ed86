/// tokenizer.json `model` of type Unigram (SentencePiece), as HF's `tokenizers` runs it
/// (`models/unigram/model.rs`, `encode_optimized`): Viterbi over the word's UTF-8 bytes, where every vocabulary
/// piece that starts at a character boundary is an edge scored by its log probability; a character no piece
/// starts with gets an unk edge scored `min_score − 10`. Ties keep the first path found (shorter pieces first).
/// Consecutive unk pieces fuse (`fuse_unk`, on in HF), and a fused unk text that is not a piece becomes its
/// `<0xNN>` byte tokens with `byte_fallback`, else the unk id.
struct Unigram: TokenizerModel {
    static let typeName = "Unigram"
    let pieces: [String]
    let pieceScores: [Double]
    let vocab: TokenIds
    let unk: Int32
    let byteFallback: Bool
    let fuseUnk = true
    private let minScore: Double
    private let trie: VocabularyTrie
    private let byteIds: [Int32]

    /// SentencePiece's penalty for an unknown character (`kUnkPenalty`).
    static let unkPenalty = 10.0

    init(json model: JSONValue) throws(TokenizerError) {
        guard let list = model["vocab"]?.arrayValue else { throw .badField("model.vocab", "is not a list of [piece, score]") }
        guard !list.isEmpty else { throw .badField("model.vocab", "is empty") }
        var pieces: [String] = []
        var scores: [Double] = []
        pieces.reserveCapacity(list.count)
        scores.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue, let score = pair[1].doubleValue,
                  score.isFinite else {
                throw .badField("model.vocab[\(i)]", "is not a [piece, finite score] pair")
            }
            pieces.append(piece)
            scores.append(score)
        }
        // HF accepts a missing unk_id and fails later, on the first text with a character no piece covers;
        // we refuse the file instead, so that encoding never fails.
        guard let u = model["unk_id"], u != .null else { throw .badField("model.unk_id", "is missing (a Unigram model needs an unk piece)") }
        guard let id = u.intValue, id >= 0, id < list.count else {
            throw .badField("model.unk_id", "is not an index into the \(list.count) pieces")
        }
        unk = Int32(id)
        byteFallback = try readFlag(model, "byte_fallback", path: "model", default: false)
        self.pieces = pieces
        self.pieceScores = scores
        // A repeated piece takes its last id, as HF's map does.
        let pairs = pieces.enumerated().map { ($1, Int32($0)) }
        let vocab = TokenIds(pairs)
        self.vocab = vocab
        self.minScore = scores.min()!
        // Every piece is a lattice edge, special pieces such as "<s>" included (HF's trie holds them all).
        trie = VocabularyTrie(vocab.pairs)
        byteIds = (0..<256).map { b in vocab["<0x" + hex2(UInt8(b)) + ">"] ?? -1 }
    }

    var unkId: Int32? { unk }
    var idCount: Int { pieces.count }
    var options: [String] {
        var o = ["\(pieces.count) pieces"]
        if byteFallback { o.append("byte_fallback") }
        o.append("unk \"\(pieces[Int(unk)])\"")
        return o
    }
    func tokenText(_ id: Int32) -> String? { id >= 0 && Int(id) < pieces.count ? pieces[Int(id)] : nil }
    func id(for token: String) -> Int32? { vocab[token] }
    func score(_ id: Int32) -> Double { pieceScores[Int(id)] }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32], scratch: inout TokenizerScratch) {
        if word.isEmpty { return }
        var bytes: [UInt8] = []
        var bestId: [Int32] = []  // the last edge of the best path ending at each byte (-1: none yet)
        var bestStart: [Int32] = []
        var bestScore: [Double] = []
        swap(&bytes, &scratch.bytes)
        swap(&bestId, &scratch.ints)
        swap(&bestStart, &scratch.ints2)
        swap(&bestScore, &scratch.scores)
        defer {
            swap(&bytes, &scratch.bytes)
            swap(&bestId, &scratch.ints)
            swap(&bestStart, &scratch.ints2)
            swap(&bestScore, &scratch.scores)
        }
        bytes.removeAll(keepingCapacity: true)
        for c in word { UTF8.encode(c) { bytes.append($0) } }
        let size = bytes.count
        bestId.removeAll(keepingCapacity: true)
        bestId.append(contentsOf: repeatElement(-1, count: size + 1))
        bestStart.removeAll(keepingCapacity: true)
        bestStart.append(contentsOf: repeatElement(-1, count: size + 1))
        bestScore.removeAll(keepingCapacity: true)
        bestScore.append(contentsOf: repeatElement(0, count: size + 1))
        let unkScore = minScore - Self.unkPenalty
        let unkEdge = unk

        var start = 0
        while start < size {
            let here = bestScore[start]
            let charLength = utf8Length(bytes[start])
            var hasSingleCharacterPiece = false
            var node = VocabularyTrie.root
            var end = start
            while end < size, let next = trie.child(node, bytes[end]) {
                node = next
                end += 1
                let id = trie.value(node)
                guard id >= 0 else { continue }
                let candidate = pieceScores[Int(id)] + here
                if bestStart[end] < 0 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = Int32(start)
                    bestId[end] = id
                }
                if end - start == charLength { hasSingleCharacterPiece = true }
            }
            if !hasSingleCharacterPiece {
                let target = min(start + charLength, size)
                let candidate = unkScore + here
                if bestStart[target] < 0 || candidate > bestScore[target] {
                    bestScore[target] = candidate
                    bestStart[target] = Int32(start)
                    bestId[target] = unkEdge
                }
            }
            start += charLength
        }

        // Walk back; runs of unk edges fuse into one piece text.
        var end = size
        var unkRunStart = -1, unkRunEnd = -1
        var reversed: [(Int32, Range<Int>?)] = []  // an id, or the byte range of a fused unk run
        while end > 0 {
            let s = Int(bestStart[end])
            let id = bestId[end]
            if fuseUnk && id == unkEdge {
                if unkRunEnd < 0 { unkRunEnd = end }
                unkRunStart = s
            } else {
                if unkRunEnd >= 0 { reversed.append((unkEdge, unkRunStart..<unkRunEnd)); unkRunEnd = -1 }
                reversed.append((id, nil))
            }
            end = s
        }
        if unkRunEnd >= 0 { reversed.append((unkEdge, unkRunStart..<unkRunEnd)) }
        for (id, range) in reversed.reversed() {
            guard let range else { ids.append(id); continue }
            if let piece = vocab[bytes: Array(bytes[range])] { ids.append(piece); continue }
            if byteFallback {
                let byteTokens = bytes[range].map { byteIds[Int($0)] }
                if !byteTokens.contains(-1) { ids.append(contentsOf: byteTokens); continue }
            }
            ids.append(unkEdge)
        }
    }

    @inline(__always)
    private func utf8Length(_ lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }
}

// MARK: GGUF (llama.cpp's UGM tokenizer, "t5")

extension Unigram: GGUFTokenizerModel {
    static let ggufModelName = "t5"
    static let addsSpecialTokensByFlag = true
    static let typesUnknown = true
    func ggufTokenText(_ text: String) -> String { text }

    /// The pieces' log probabilities; rows past the vocabulary get the converter's filler score.
    func ggufScores(size: Int) -> [Float]? {
        (0..<size).map { $0 < pieceScores.count ? Float(pieceScores[$0]) : -10_000 }
    }

    /// llama.cpp's UGM is SentencePiece's own pipeline: the precompiled charsmap, optionally runs of spaces
    /// collapsed and the ends trimmed (`remove_extra_whitespaces`), spaces as ▁ with one in front
    /// (`add_space_prefix`), Viterbi over the pieces, no byte fallback.
    func ggufPipeline(_ tokenizer: Tokenizer) throws(GGUF.Error) -> GGUFPipeline {
        guard !byteFallback else {
            throw .tokenizerUnsupported("its Unigram model sets byte_fallback; llama.cpp's UGM tokenizer has no byte fallback")
        }
        var charsmap: [UInt8]?
        var collapsesSpaces = false
        for n in tokenizer.normalizer?.flattened ?? [] {
            switch n {
            // llama.cpp: the charsmap (none: text unchanged), then runs of spaces collapsed — in that order.
            case .precompiled(let map) where charsmap == nil && !collapsesSpaces: charsmap = map.blob
            case .replace(.regex(.spaceRuns), with: [" "]) where !collapsesSpaces: collapsesSpaces = true
            default:
                throw .tokenizerUnsupported("its normalizer \(tokenizer.normalizer!.summary) has \(n.summary) there, which llama.cpp's UGM does not do (it runs a precompiled charsmap, then collapses runs of spaces)")
            }
        }
        let parts = tokenizer.preTokenizer?.flattened ?? []
        var metaspace: Metaspace?
        switch parts.count {
        case 1: if case .metaspace(let m) = parts[0] { metaspace = m }
        case 2: if parts[0] == .whitespaceSplit, case .metaspace(let m) = parts[1] { metaspace = m; collapsesSpaces = true }
        default: break
        }
        guard let m = metaspace, m.replacement == "\u{2581}", m.split else {
            throw .tokenizerUnsupported("its pre-tokenizer is \(tokenizer.preTokenizer?.summary ?? "none"); llama.cpp's UGM splits as Metaspace(\"▁\", split) does, optionally after WhitespaceSplit")
        }
        // llama.cpp's merging also puts a ▁ before the first word, whatever add_space_prefix says.
        if collapsesSpaces && m.prependScheme == .never {
            throw .tokenizerUnsupported("its Metaspace never prepends ▁ but spaces are collapsed; llama.cpp's UGM then always prepends one")
        }
        var keys: [(String, GGUF.Value)] = [
            ("tokenizer.ggml.add_space_prefix", .bool(m.prependScheme != .never)),
            ("tokenizer.ggml.remove_extra_whitespaces", .bool(collapsesSpaces)),
        ]
        if let charsmap { keys.append(("tokenizer.ggml.precompiled_charsmap", .u8s(charsmap))) }
        return GGUFPipeline(pre: "default", keys: keys)
    }
}

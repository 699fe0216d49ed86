/// What `tempscale verify` prints: a summary per τ, the worst texts, token mismatches, the verdict.
public struct VerificationReport {
    public let v: Verification
    public init(_ v: Verification) { self.v = v }

    static func preview(_ text: String, _ n: Int = 60) -> String {
        let flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        return flat.count > n ? String(flat.prefix(n)) + "…" : flat
    }

    public func text(show: Int) -> String {
        let g = v.golden
        var out = "golden \(g.path): \(g.modelName), \(g.texts.count) texts, max length \(g.maxSeqLength)"
        if let t = g.reference["transformers"], let st = g.reference["sentence_transformers"], let torch = g.reference["torch"] {
            out += " (reference: torch \(torch), transformers \(t), sentence-transformers \(st))"
        }
        out += "\ntolerances: max abs ≤ \(v.atol), cosine ≥ \(v.minCosine)\n"
        let baked = v.bakedTemperature
        if baked != 1 { out += "the model has τ = \(baked) baked in: each golden τ is checked with run-time τ / \(baked)\n" }
        out += "token ids: \(g.texts.count - v.tokenMismatches.count)/\(g.texts.count) identical to the reference\n"
        for m in v.tokenMismatches.prefix(show) {
            out += "  ✗ \(m.id) \"\(Self.preview(m.text))\": expected \(m.expected.count) ids, got \(m.got.count)\n"
        }
        for t in v.temperatures {
            let ok = t.passes(atol: v.atol, minCosine: v.minCosine)
            out += "τ = \(t.tau): worst cosine \(t.worstCosine), max abs diff \(t.maxAbsDiff) over \(t.rows.count) texts — \(ok ? "pass" : "FAIL")\n"
            let worst = t.rows.sorted { ($0.cosine, -$0.maxAbsDiff) < ($1.cosine, -$1.maxAbsDiff) }.prefix(show)
            for r in worst {
                let bad = r.cosine < v.minCosine || r.maxAbsDiff > v.atol
                out += "  \(bad ? "✗" : " ") cos \(r.cosine)  max abs \(r.maxAbsDiff)  \(r.tokens) tokens  \(r.id) \"\(Self.preview(r.text))\"\n"
            }
        }
        out += v.passed ? "PASS" : "FAIL"
        return out
    }

    public func json(show: Int) -> JSONValue {
        .object(JSONObject([
            ("golden", .string(v.golden.path)), ("model", .string(v.golden.modelName)), ("texts", .int(Int64(v.golden.texts.count))),
            ("atol", .double(Double(v.atol))), ("min_cosine", .double(Double(v.minCosine))),
            ("token_mismatches", .array(v.tokenMismatches.map { .string($0.id) })),
            ("temperatures", .array(v.temperatures.map { t in
                .object(JSONObject([
                    ("tau", .string(t.tau)), ("worst_cosine", .double(Double(t.worstCosine))),
                    ("max_abs_diff", .double(Double(t.maxAbsDiff))), ("pass", .bool(t.passes(atol: v.atol, minCosine: v.minCosine))),
                    ("worst", .array(t.rows.sorted { $0.cosine < $1.cosine }.prefix(show).map { r in
                        .object(JSONObject([("id", .string(r.id)), ("cosine", .double(Double(r.cosine))),
                                            ("max_abs_diff", .double(Double(r.maxAbsDiff))), ("tokens", .int(Int64(r.tokens)))]))
                    })),
                ]))
            })),
            ("pass", .bool(v.passed)),
        ]))
    }
}

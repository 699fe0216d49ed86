/// What `tempscale tune` prints: the dev grid (which only chooses), then the test result with its interval.
public struct TuneReport {
    public let result: TuneResult
    public let model: String
    public let data: String
    public init(_ result: TuneResult, model: String, data: String) {
        self.result = result
        self.model = model
        self.data = data
    }

    func name(_ c: TuneResult.Candidate) -> String {
        c.queryTau.map { "τ_query = \(formatTemperature($0)), τ_docs = \(formatTemperature(c.tau))" } ?? "τ = \(formatTemperature(c.tau))"
    }

    static func signed(_ v: Double) -> String { (v >= 0 ? "+" : "") + formatFixed(v, 4) }

    public func text() -> String {
        let r = result
        let units: String
        switch r.task {
        case .retrieval: units = "\(formatCount(r.devCount)) dev / \(formatCount(r.testCount)) test queries, \(formatCount(r.referenceCount)) documents"
        case .similarity: units = "\(formatCount(r.devCount)) dev / \(formatCount(r.testCount)) test pairs of \(formatCount(r.referenceCount)) texts"
        case .classification: units = "\(formatCount(r.devCount)) dev / \(formatCount(r.testCount)) test texts, \(formatCount(r.referenceCount)) train texts, k = \(r.k ?? 0)"
        }
        var out = "tune: \(model) on \(data) (\(r.task.rawValue): \(units))\n"
        let p = r.prompts
        if p.query != p.document {
            out += "prompts: queries \(JSONValue.string(p.query).serialized()), documents \(JSONValue.string(p.document).serialized())\n"
        } else if !p.document.isEmpty {
            out += "prompt: \(JSONValue.string(p.document).serialized()) in front of every text\n"
        }
        out += "\ndev split — chooses τ (not a result)\n"
        let split = r.candidates.contains { $0.queryTau != nil }
        var t = TextTable((split ? ["τ_query", "τ_docs"] : ["τ"]) + r.metrics + [""])
        for (i, c) in r.candidates.enumerated() {
            let taus = split ? [formatTemperature(c.queryTau!), formatTemperature(c.tau)] : [formatTemperature(c.tau)]
            t.add(taus + c.dev.map { formatOptional($0, 4) } + [i == r.chosen ? "← chosen" : ""])
        }
        out += t.render()
        let best = r.best
        out += "\ntest split — the result (\(name(best)) against τ = 1; 95% paired bootstrap, \(r.resamples) resamples)\n"
        var s = TextTable(["metric", "τ = 1", name(best), "difference", "95% interval"])
        for m in r.metrics.indices {
            let iv = r.intervals[m]
            s.add([r.metrics[m], formatFixed(r.testBaseline[m], 4), formatFixed(r.testChosen[m], 4),
                   Self.signed(r.testChosen[m] - r.testBaseline[m]), "[\(Self.signed(iv.low)), \(Self.signed(iv.high))]"])
        }
        out += s.render()
        out += verdict() + "\n"
        return out
    }

    /// One line a user can act on.
    public func verdict() -> String {
        let r = result, iv = r.intervals[0], best = r.best
        if best.tau == 1 && (best.queryTau ?? 1) == 1 { return "verdict: τ = 1 is best on dev: no patch needed for this task." }
        if iv.low > 0 { return "verdict: \(name(best)) improves \(r.metrics[0]) on test; the interval excludes 0." }
        if iv.high < 0 { return "verdict: \(name(best)) is worse than τ = 1 on test (the dev choice did not carry over)." }
        return "verdict: no significant difference on test at 95% (the interval includes 0)."
    }

    public func json() -> JSONValue {
        let r = result
        return .object(JSONObject([
            ("model", .string(model)), ("data", .string(data)), ("task", .string(r.task.rawValue)),
            ("metrics", .array(r.metrics.map { .string($0) })), ("k", r.k.map { .int(Int64($0)) } ?? .null),
            ("dev_items", .int(Int64(r.devCount))), ("test_items", .int(Int64(r.testCount))),
            ("reference_items", .int(Int64(r.referenceCount))),
            ("prompts", .object(JSONObject([("query", .string(r.prompts.query)), ("document", .string(r.prompts.document))]))),
            ("dev", .array(r.candidates.map { c in
                .object(JSONObject([("query_tau", c.queryTau.map { .double($0) } ?? .null), ("tau", .double(c.tau)),
                                    ("scores", .array(c.dev.map(JSONValue.number)))]))
            })),
            ("chosen", .object(JSONObject([("query_tau", r.best.queryTau.map { .double($0) } ?? .null), ("tau", .double(r.best.tau))]))),
            ("test", .object(JSONObject([
                ("baseline", .array(r.testBaseline.map(JSONValue.number))), ("chosen", .array(r.testChosen.map(JSONValue.number))),
                ("difference", .array(zip(r.testChosen, r.testBaseline).map { JSONValue.number($0 - $1) })),
                ("interval_low", .array(r.intervals.map { JSONValue.number($0.low) })), ("interval_high", .array(r.intervals.map { JSONValue.number($0.high) })),
                ("resamples", .int(Int64(r.resamples))), ("seed", .int(Int64(r.seed))),
            ]))),
            ("verdict", .string(verdict())),
        ]))
    }
}

/// What `tempscale spectrum` prints: mean σ_a and the last layer's high-frequency share per bucket and τ.
public struct SpectrumReport {
    public let study: SpectrumStudy
    public let model: String
    public init(_ study: SpectrumStudy, model: String) {
        self.study = study
        self.model = model
    }

    public func text() -> String {
        let s = study
        var out = "spectrum: \(model), \(formatCount(s.textCount)) texts, \(formatCount(s.truncatedCount)) truncated at \(s.maxLength) tokens; "
        if !s.prompt.isEmpty { out += "prompt \(JSONValue.string(s.prompt).serialized()) in front of each; " }
        out += "layers \(s.layers.map(String.init).joined(separator: ","))\n"
        out += "σ_a = largest singular value of A − (1/n)·11ᵀ, mean over texts, layers and heads (smaller = stronger low-pass filter)\n"
        out += table { s.meanSigma(tau: $0, bucket: $1) }
        out += "\nmedian σ_a/√n over texts, layers and heads (σ_a against its ceiling √n at that length)\n"
        out += table { s.medianScaledSigma(tau: $0, bucket: $1) }
        out += "\n‖HC[X]‖/‖X‖ of the last layer's hidden states, mean over texts\n"
        out += table { s.meanShare(tau: $0, bucket: $1, layer: s.modelLayers) }
        return out
    }

    /// Buckets × τ of one statistic, `value(τ index, bucket)`.
    func table(_ value: (Int, Int) -> Double?) -> String {
        let s = study
        var t = TextTable(["bucket", "texts", "mean n"] + s.temperatures.map { "τ=" + formatTemperature($0) })
        for b in 0..<s.buckets.count {
            t.add([s.buckets.label(b), "\(s.members[b].count)", meanTokens(b)] + s.temperatures.indices.map { formatOptional(value($0, b), 4) })
        }
        return t.render()
    }

    func meanTokens(_ b: Int) -> String {
        let rows = study.measurements.first?[b] ?? []
        guard !rows.isEmpty else { return "–" }
        return formatFixed(Double(rows.map(\.tokens).reduce(0, +)) / Double(rows.count), 1)
    }

    /// σ_a against length: x = length bucket, y = mean σ_a, a line per τ.
    public func chart() throws -> LineChart {
        try LineChart(title: "Attention spectrum: \(model)", xLabel: "text length (tokens)",
                      yLabel: "mean σ_a (high-frequency gain of attention)", categories: study.buckets.labels,
                      series: study.temperatures.indices.map { k in
                          LineChart.Series(name: "τ = " + formatTemperature(study.temperatures[k]),
                                           values: (0..<study.buckets.count).map { study.meanSigma(tau: k, bucket: $0) })
                      })
    }

    public func json() -> JSONValue {
        let s = study
        return .object(JSONObject([
            ("model", .string(model)), ("texts", .int(Int64(s.textCount))), ("truncated", .int(Int64(s.truncatedCount))),
            ("max_length", .int(Int64(s.maxLength))), ("prompt", .string(s.prompt)), ("layers", .array(s.layers.map { .int(Int64($0)) })),
            ("temperatures", .array(s.temperatures.indices.map { k in
                .object(JSONObject([
                    ("tau", .double(s.temperatures[k])),
                    ("buckets", .array((0..<s.buckets.count).map { b in
                        .object(JSONObject([
                            ("label", .string(s.buckets.label(b))), ("texts", .int(Int64(s.members[b].count))),
                            ("mean_sigma_a", JSONValue.number(s.meanSigma(tau: k, bucket: b))),
                            ("median_sigma_a_over_sqrt_n", JSONValue.number(s.medianScaledSigma(tau: k, bucket: b))),
                            ("mean_sigma_a_per_layer", s.meanSigmaPerLayer(tau: k, bucket: b).map { .array($0.map { .double($0) }) } ?? .null),
                            ("per_text", .array(s.measurements[k][b].map { m in
                                .object(JSONObject([
                                    ("tokens", .int(Int64(m.tokens))),
                                    ("sigma_a", .array(m.sigma.map { .array($0.map { .double($0) }) })),
                                    ("hc_share", .array(m.highFrequencyShare.map { .double($0) })),
                                ]))
                            })),
                        ]))
                    })),
                ]))
            })),
        ]))
    }
}

/// What `tempscale collapse` prints: per statistic a table of buckets × τ, and the long–short gap.
public struct CollapseReport {
    public let study: CollapseStudy
    public let model: String
    public init(_ study: CollapseStudy, model: String) {
        self.study = study
        self.model = model
    }

    var tauHeaders: [String] { study.temperatures.map { "τ=" + formatTemperature($0) } }

    public func text() -> String {
        let s = study
        var out = "collapse: \(model), \(formatCount(s.textCount)) texts, \(formatCount(s.truncatedCount)) truncated at \(s.maxLength) tokens"
        if s.belowFirstEdge > 0 { out += ", \(s.belowFirstEdge) below the first bucket edge (left out)" }
        if !s.prompt.isEmpty { out += ", prompt \(JSONValue.string(s.prompt).serialized()) in front of each" }
        out += "\nembedded per bucket: sampled/available; lengths in tokens, special tokens included\n"
        let sections: [(String, KeyPath<Collapse.BucketStatistics, Double?>)] = [
            ("mean pairwise cosine within the bucket (higher = more collapsed)", \.meanPairwiseCosine),
            ("mean cosine to the bucket centroid", \.meanCosineToCentroid),
            ("mean distance to the global centroid", \.meanDistanceToGlobalCentroid),
        ]
        for (i, (title, key)) in sections.enumerated() {
            out += "\n" + title + "\n"
            var table = TextTable(["bucket", "texts"] + tauHeaders)
            for b in 0..<s.buckets.count {
                table.add([s.buckets.label(b), "\(s.members[b].count)/\(s.available[b])"]
                          + s.statistics.map { formatOptional($0[b][keyPath: key], 4) })
            }
            if i == 0 { table.add(["long–short gap", ""] + s.gaps.map { formatOptional($0, 4) }) }
            out += table.render()
        }
        return out
    }

    /// The paper's picture: x = length bucket, y = mean pairwise cosine, a line per τ.
    public func chart() throws -> LineChart {
        try LineChart(title: "Length collapse: \(model)", xLabel: "text length (tokens)", yLabel: "mean pairwise cosine",
                      categories: study.buckets.labels,
                      series: study.temperatures.indices.map { k in
                          LineChart.Series(name: "τ = " + formatTemperature(study.temperatures[k]),
                                           values: study.statistics[k].map(\.meanPairwiseCosine))
                      })
    }

    public func json() -> JSONValue {
        let s = study
        return .object(JSONObject([
            ("model", .string(model)), ("texts", .int(Int64(s.textCount))), ("truncated", .int(Int64(s.truncatedCount))),
            ("max_length", .int(Int64(s.maxLength))), ("prompt", .string(s.prompt)), ("below_first_edge", .int(Int64(s.belowFirstEdge))),
            ("buckets", .array((0..<s.buckets.count).map { b in
                .object(JSONObject([("label", .string(s.buckets.label(b))), ("min_tokens", .int(Int64(s.buckets.edges[b]))),
                                    ("available", .int(Int64(s.available[b]))), ("embedded", .int(Int64(s.members[b].count)))]))
            })),
            ("temperatures", .array(s.temperatures.indices.map { k in
                .object(JSONObject([
                    ("tau", .double(s.temperatures[k])), ("long_short_gap", JSONValue.number(s.gaps[k])),
                    ("buckets", .array(s.statistics[k].map { st in
                        .object(JSONObject([("count", .int(Int64(st.count))), ("mean_pairwise_cosine", JSONValue.number(st.meanPairwiseCosine)),
                                            ("mean_cosine_to_centroid", JSONValue.number(st.meanCosineToCentroid)),
                                            ("mean_distance_to_global_centroid", JSONValue.number(st.meanDistanceToGlobalCentroid))]))
                    })),
                ]))
            })),
        ]))
    }
}

/// A plain-text table: the first column left-aligned, the others right-aligned, two spaces apart.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []
    public init(_ header: [String]) { self.header = header }
    public mutating func add(_ row: [String]) { rows.append(row) }

    public func render(indent: String = "  ") -> String {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return all.map { row in
            indent + (0..<columns).map { c in
                let cell = c < row.count ? row[c] : ""
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// "0.8" rather than "0.8000000000000000444", for τ in labels and headers.
public func formatTemperature(_ t: Double) -> String {
    var s = formatFixed(t, 6)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

/// A number with `digits` decimals, or "–" when absent.
public func formatOptional(_ v: Double?, _ digits: Int) -> String {
    guard let v, v.isFinite else { return "–" }
    return formatFixed(v, digits)
}

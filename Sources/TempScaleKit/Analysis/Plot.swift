#if canImport(Glibc)
import Glibc
#endif

/// A line chart over categorical x values (text-length buckets), one line per series (temperature τ).
/// Rendered to a standalone SVG (`svg()`) or an RGB PNG drawn by our own rasteriser (`png()`);
/// both share one layout (`ChartLayout`), so a point sits at the same pixel in either picture.
/// A missing value (nil) breaks its line; every present value gets a marker, so a lone point still shows.
public struct LineChart: Sendable {
    public struct Series: Sendable, Equatable {
        public let name: String
        public let values: [Double?]
        public init(name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    public enum Error: ReasonError, Equatable {
        case noCategories
        case valueCount(series: String, got: Int, expected: Int)
        case notFinite(series: String, category: String)
        case badRange(String)
        case unsupportedExtension(String)

        public var description: String {
            switch self {
            case .noCategories:
                return "chart: no categories (x values) to plot"
            case .valueCount(let s, let got, let expected):
                return "chart: series '\(s)' has \(got) values but there are \(expected) categories"
            case .notFinite(let s, let c):
                return "chart: series '\(s)' has a NaN or infinite value at '\(c)' (use nil for a missing value)"
            case .badRange(let why):
                return "chart: bad y range (\(why))"
            case .unsupportedExtension(let ext):
                return ext.isEmpty ? "chart: the file name has no extension to choose the format by; use .svg or .png"
                    : "chart: cannot write a chart as '.\(ext)'; use .svg or .png"
            }
        }
    }

    public let title: String
    public let xLabel: String
    public let yLabel: String
    public let categories: [String]
    public let series: [Series]
    /// Fixed y range; nil picks a "nice" range around the data.
    public let yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, categories: [String], series: [Series],
                yRange: ClosedRange<Double>? = nil) throws(Error) {
        guard !categories.isEmpty else { throw .noCategories }
        for s in series {
            guard s.values.count == categories.count else {
                throw .valueCount(series: s.name, got: s.values.count, expected: categories.count)
            }
            for (i, v) in s.values.enumerated() where v.map({ !$0.isFinite }) ?? false {
                throw .notFinite(series: s.name, category: categories[i])
            }
        }
        if let r = yRange {
            guard r.lowerBound.isFinite, r.upperBound.isFinite else { throw .badRange("bounds must be finite") }
            guard r.lowerBound < r.upperBound else { throw .badRange("lower bound must be below the upper bound") }
        }
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
        self.yRange = yRange
    }

    /// Runs of consecutive present values of one series: each run of two or more is one line;
    /// a run of one is a lone marker.
    static func segments(_ values: [Double?]) -> [[(index: Int, value: Double)]] {
        var runs: [[(index: Int, value: Double)]] = []
        var current: [(index: Int, value: Double)] = []
        for (i, v) in values.enumerated() {
            if let v {
                current.append((i, v))
            } else if !current.isEmpty {
                runs.append(current)
                current = []
            }
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }

    /// The y axis: its range and tick marks.
    var axis: YAxis {
        if let r = yRange { return YAxis.fixed(r) }
        let present = series.flatMap { $0.values.compactMap { $0 } }
        guard let lo = present.min(), let hi = present.max() else { return YAxis.auto(0, 1) }
        return YAxis.auto(lo, hi)
    }

    /// Writes the chart as SVG or PNG, chosen by the path's extension (any case), atomically: no partial
    /// file on failure, and nothing at all for an extension other than .svg or .png.
    public func write(to path: String, width: Int = 960, height: Int = 600, force: Bool = true) throws {
        let ext = fileExtension(path)
        let bytes: [UInt8]
        switch ext.lowercased() {
        case "svg": bytes = Array(svg(width: width, height: height).utf8)
        case "png": bytes = png(width: width, height: height)
        default: throw FileError(path, Error.unsupportedExtension(ext))
        }
        let w = try AtomicFileWriter(destination: path, force: force, inputs: [])
        try w.write(bytes)
        try w.commit()
    }
}

/// The text after the last '.' of the file name ("" when it has none).
private func fileExtension(_ path: String) -> String {
    let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return String(name[name.index(after: dot)...])
}

/// A y axis: the plotted range and its ticks, each tick an exact decimal (`mantissa` × 10^`exponent`)
/// so its label prints without binary noise (0.35, not 0.35000000000000003).
struct YAxis: Equatable {
    struct Tick: Equatable {
        let value: Double
        let label: String
    }
    let min: Double
    let max: Double
    let ticks: [Tick]

    /// A nice range enclosing [lo, hi]: ends on ticks, steps of 1, 2 or 5 × 10^k, at least 4 ticks.
    static func auto(_ lo: Double, _ hi: Double) -> YAxis {
        var lo = lo, hi = hi
        if hi - lo <= Swift.max(abs(hi), abs(lo)) * 1e-12 {
            // Flat data: open a window around the value.
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        guard Self.decimalTicksWork(lo, hi) else { return plain(lo, hi) }
        var step = NiceStep.around((hi - lo) / 5)
        while true {
            // The slack keeps a bound that is itself a tick (0.3 / 0.1 = 2.9999999999999996) from adding one more.
            let first = (lo / step.value + 1e-9).rounded(.down), last = (hi / step.value - 1e-9).rounded(.up)
            if last - first + 1 >= 4 || step.exponent < -300 {
                let ticks = stride(from: first, through: last, by: 1).map { step.tick(Int64($0)) }
                return YAxis(min: ticks.first!.value, max: ticks.last!.value, ticks: ticks)
            }
            step = step.smaller
        }
    }

    /// Ticks inside a fixed range, again at least 4 of them.
    static func fixed(_ r: ClosedRange<Double>) -> YAxis {
        let lo = r.lowerBound, hi = r.upperBound
        guard Self.decimalTicksWork(lo, hi) else { return plain(lo, hi) }
        var step = NiceStep.around((hi - lo) / 5)
        while true {
            let first = (lo / step.value - 1e-9).rounded(.up), last = (hi / step.value + 1e-9).rounded(.down)
            if last - first + 1 >= 4 || step.exponent < -300 {
                let slack: Double = step.value * 1e-9
                let ticks = stride(from: first, through: last, by: 1).map { step.tick(Int64($0)) }
                    .filter { (t: YAxis.Tick) -> Bool in t.value >= lo - slack && t.value <= hi + slack }
                return YAxis(min: lo, max: hi, ticks: ticks)
            }
            step = step.smaller
        }
    }
}

extension YAxis {
    /// Decimal ticks need the span and step to be ordinary doubles (no overflow to ∞, no underflow
    /// to subnormals); charts of cosines and σ are far inside that.
    static func decimalTicksWork(_ lo: Double, _ hi: Double) -> Bool {
        let span = hi - lo
        return span.isFinite && span > 1e-250 && span < 1e250 && Swift.max(abs(lo), abs(hi)) < 1e250
    }

    /// Four evenly spaced ticks labelled as Swift prints doubles: the fallback for extreme ranges.
    static func plain(_ lo: Double, _ hi: Double) -> YAxis {
        let ticks = (0...3).map { k -> Tick in
            let v = k == 3 ? hi : lo + (hi / 3 - lo / 3) * Double(k)
            return Tick(value: v, label: "\(v)")
        }
        return YAxis(min: lo, max: hi, ticks: ticks)
    }
}

/// A step of 1, 2 or 5 × 10^exponent.
struct NiceStep {
    let mantissa: Int64  // 1, 2 or 5
    let exponent: Int

    /// The nice step nearest (on a log scale) to `rough`.
    static func around(_ rough: Double) -> NiceStep {
        let e = Int(log10(rough).rounded(.down))
        let f = rough / pow10(e)
        if f < 1.5 { return NiceStep(mantissa: 1, exponent: e) }
        if f < 3 { return NiceStep(mantissa: 2, exponent: e) }
        if f < 7 { return NiceStep(mantissa: 5, exponent: e) }
        return NiceStep(mantissa: 1, exponent: e + 1)
    }

    var value: Double { exponent >= 0 ? Double(mantissa) * pow10(exponent) : Double(mantissa) / pow10(-exponent) }

    var smaller: NiceStep {
        switch mantissa {
        case 5: return NiceStep(mantissa: 2, exponent: exponent)
        case 2: return NiceStep(mantissa: 1, exponent: exponent)
        default: return NiceStep(mantissa: 5, exponent: exponent - 1)
        }
    }

    /// The k-th multiple of the step, as the nearest double and as exact decimal text.
    func tick(_ k: Int64) -> YAxis.Tick {
        let n = k * mantissa
        if exponent >= 0 {
            let v = Double(n) * pow10(exponent)
            return YAxis.Tick(value: v, label: n == 0 ? "0" : String(n) + String(repeating: "0", count: exponent))
        }
        let v = Double(n) / pow10(-exponent)
        return YAxis.Tick(value: v, label: decimalText(n, decimals: -exponent))
    }
}

/// `n` / 10^decimals written out with exactly `decimals` digits after the point ("-0.05", "1.20").
func decimalText(_ n: Int64, decimals: Int) -> String {
    guard decimals > 0 else { return String(n) }
    let digits = String(n.magnitude)
    let padded = String(repeating: "0", count: Swift.max(0, decimals + 1 - digits.count)) + digits
    let cut = padded.index(padded.endIndex, offsetBy: -decimals)
    return (n < 0 ? "-" : "") + padded[..<cut] + "." + padded[cut...]
}

/// 10^e exactly for the range where doubles hold powers of ten exactly (|e| ≤ 22), computed beyond.
func pow10(_ e: Int) -> Double {
    var r = 1.0
    for _ in 0..<Swift.min(abs(e), 400) { r *= 10 }
    return e >= 0 ? r : 1 / r
}

extension LineChart {
    /// Layout at a given pixel size (internal: tests read data-point positions from it).
    func layout(width: Int, height: Int) -> ChartLayout {
        ChartLayout(self, width: Swift.max(1, width), height: Swift.max(1, height))
    }

    /// A standalone SVG 1.1 document, `width`×`height` user units (pixels).
    public func svg(width: Int = 960, height: Int = 600) -> String {
        let l = layout(width: width, height: height)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(l.width)\" height=\"\(l.height)\" "
        out += "viewBox=\"0 0 \(l.width) \(l.height)\">\n"
        out += "<title>\(xmlEscape(title))</title>\n"
        var clips = 0
        for shape in l.shapes {
            switch shape {
            case .rect(let x, let y, let w, let h, let fill):
                out += "<rect x=\"\(svgNumber(x))\" y=\"\(svgNumber(y))\" width=\"\(svgNumber(w))\" height=\"\(svgNumber(h))\" "
                out += "fill=\"\(fill.hex)\"/>\n"
            case .text(let s, let x, let top, let anchor, let scale, let vertical, let colour):
                let size = 9 * scale
                let capHeight = Double(BitmapFont.capHeight * scale)
                var attrs = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"\(size)\" fill=\"\(colour.hex)\""
                if vertical {
                    attrs += " text-anchor=\"middle\" transform=\"rotate(-90 \(svgNumber(x)) \(svgNumber(top)))\""
                    out += "<text x=\"\(svgNumber(x))\" y=\"\(svgNumber(top + capHeight / 2))\" \(attrs)>\(xmlEscape(s))</text>\n"
                } else {
                    let a: String
                    switch anchor {
                    case .start: a = "start"
                    case .middle: a = "middle"
                    case .end: a = "end"
                    }
                    if scale > Self.bodyTextScale { attrs += " font-weight=\"bold\"" }
                    out += "<text x=\"\(svgNumber(x))\" y=\"\(svgNumber(top + capHeight))\" text-anchor=\"\(a)\" \(attrs)>"
                    out += "\(xmlEscape(s))</text>\n"
                }
            case .polyline(let points, let colour, let w):
                let pts = points.map { "\(svgNumber($0.x)),\(svgNumber($0.y))" }.joined(separator: " ")
                out += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(colour.hex)\" stroke-width=\"\(svgNumber(w))\" "
                out += "stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
            case .marker(let c, let r, let colour, .circle):
                out += "<circle cx=\"\(svgNumber(c.x))\" cy=\"\(svgNumber(c.y))\" r=\"\(svgNumber(r))\" fill=\"\(colour.hex)\"/>\n"
            case .marker(let c, let r, let colour, .square):
                let h = 0.9 * r
                out += "<rect x=\"\(svgNumber(c.x - h))\" y=\"\(svgNumber(c.y - h))\" width=\"\(svgNumber(2 * h))\" "
                out += "height=\"\(svgNumber(2 * h))\" fill=\"\(colour.hex)\"/>\n"
            case .marker(let c, let r, let colour, .diamond):
                let h = 1.25 * r
                let pts = [(0, -h), (h, 0), (0, h), (-h, 0)].map { "\(svgNumber(c.x + $0.0)),\(svgNumber(c.y + $0.1))" }
                out += "<polygon points=\"\(pts.joined(separator: " "))\" fill=\"\(colour.hex)\"/>\n"
            case .beginClip(let x, let y, let w, let h):
                clips += 1
                out += "<clipPath id=\"plot\(clips)\"><rect x=\"\(svgNumber(x))\" y=\"\(svgNumber(y))\" width=\"\(svgNumber(w))\" "
                out += "height=\"\(svgNumber(h))\"/></clipPath>\n<g clip-path=\"url(#plot\(clips))\">\n"
            case .endClip:
                out += "</g>\n"
            }
        }
        out += "</svg>\n"
        return out
    }

    static var bodyTextScale: Int { ChartLayout.textScale }

    /// The chart as an RGB 8-bit PNG, drawn by our rasteriser with the built-in bitmap font.
    public func png(width: Int = 960, height: Int = 600) -> [UInt8] {
        let canvas = raster(width: width, height: height)
        return encodePNG(width: canvas.width, height: canvas.height, rgb: canvas.pixels)
    }

    /// The drawn pixels (internal: tests look at them directly).
    func raster(width: Int, height: Int) -> Canvas {
        let l = layout(width: width, height: height)
        var canvas = Canvas(width: l.width, height: l.height)
        for shape in l.shapes { canvas.draw(shape) }
        return canvas
    }
}

/// A coordinate with at most two decimals and no exponent ("12.5", "-3", "0.25"). Coordinates far off
/// the picture (a value far outside a fixed y range) are pinned at ±10^9, which the clip hides.
func svgNumber(_ v: Double) -> String {
    guard !v.isNaN else { return "0" }
    let v = Swift.min(Swift.max(v, -1e9), 1e9)
    var s = decimalText(Int64((v * 100).rounded()), decimals: 2)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s == "-0" ? "0" : s
}

/// Text safe inside an XML element or a quoted attribute; characters XML 1.0 forbids become U+FFFD.
func xmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for u in s.unicodeScalars {
        switch u {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case "\t", "\n", "\r": out.unicodeScalars.append(u)
        default:
            if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                out += "\u{FFFD}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out
}

/// An sRGB colour.
struct RGB: Equatable, Sendable {
    let r: UInt8, g: UInt8, b: UInt8
    init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }
    var hex: String {
        let digits = Array("0123456789abcdef")
        return "#" + String([r, g, b].flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    static let white = RGB(255, 255, 255)
    static let grid = RGB(224, 224, 224)
    static let axis = RGB(51, 51, 51)
    static let text = RGB(34, 34, 34)

    /// Okabe–Ito, ordered so the first lines have the most contrast on white (yellow, the weakest, comes late).
    static let palette: [RGB] = [
        RGB(0, 114, 178),    // blue
        RGB(213, 94, 0),     // vermillion
        RGB(0, 158, 115),    // bluish green
        RGB(204, 121, 167),  // reddish purple
        RGB(230, 159, 0),    // orange
        RGB(86, 180, 233),   // sky blue
        RGB(0, 0, 0),        // black
        RGB(240, 228, 66),   // yellow
    ]
    static func series(_ i: Int) -> RGB { palette[i % palette.count] }
}

/// Marker shapes; series past the palette's 8 colours reuse a colour with the next shape.
enum MarkerKind: CaseIterable {
    case circle, square, diamond
    static func series(_ i: Int) -> MarkerKind { allCases[(i / RGB.palette.count) % allCases.count] }
}

struct Point: Equatable {
    let x: Double, y: Double
}

/// What both renderers draw, in order, in one pixel coordinate space (origin top-left, y down;
/// pixel (i, j) covers [i, i+1) × [j, j+1)).
enum Shape {
    enum Anchor { case start, middle, end }
    /// A filled axis-aligned rectangle (background, grid and axis lines, tick marks).
    case rect(x: Double, y: Double, w: Double, h: Double, fill: RGB)
    /// One line of text in the bitmap font at `scale`. Horizontal text: `x` is where `anchor` sits,
    /// `top` the top of the glyph cell. Vertical text (reads bottom to top): (`x`, `top`) is the centre.
    case text(String, x: Double, top: Double, anchor: Anchor, scale: Int, vertical: Bool, colour: RGB)
    case polyline([Point], colour: RGB, width: Double)
    case marker(Point, radius: Double, colour: RGB, kind: MarkerKind)
    /// Shapes up to `endClip` draw only inside this rectangle.
    case beginClip(x: Double, y: Double, w: Double, h: Double)
    case endClip
}

/// Where everything of a chart goes at a given image size. Internal so tests can find a data point's pixel.
struct ChartLayout {
    static let margin = 16.0
    static let textScale = 2
    static let lineWidth = 2.5
    static let markerRadius = 4.5
    static let swatch = 28.0
    static let legendRow = 24.0

    let width: Int
    let height: Int
    let axis: YAxis
    /// The plot area (inside the axes).
    let left: Double, top: Double, right: Double, bottom: Double
    let titleText: String
    let titleScale: Int
    /// Rows the category labels are staggered over (1 when they fit side by side).
    let categoryRows: Int
    /// Show every `categoryEvery`-th category label (1 unless even staggering cannot fit them).
    let categoryEvery: Int
    let legendLeft: Double
    let legendNames: [String]
    let legendRows: Int
    let legendColumnWidth: Double
    private let chart: LineChart

    init(_ chart: LineChart, width: Int, height: Int) {
        self.chart = chart
        self.width = width
        self.height = height
        axis = chart.axis
        let m = Self.margin, s = Self.textScale
        let W = Double(width), H = Double(height)

        // Title: large if it fits, else normal size, else cut with "...".
        let room = W - 2 * m
        if BitmapFont.width(chart.title, scale: 3) <= room {
            titleScale = 3
            titleText = chart.title
        } else {
            titleScale = 2
            titleText = BitmapFont.fit(chart.title, scale: 2, width: room)
        }

        // Legend on the right; names cut to a third of the image so the plot keeps its room.
        let names = chart.series.map { BitmapFont.fit($0.name, scale: s, width: W / 3) }
        legendNames = names
        // As many rows as fit beside the plot, then more columns.
        let t = m + (titleText.isEmpty ? 0 : BitmapFont.height(scale: titleScale) + 16)
        legendRows = Swift.max(1, Int((H - m - t - 6) / Self.legendRow))
        let columns = (names.count + legendRows - 1) / legendRows
        legendColumnWidth = Self.swatch + 8 + (names.map { BitmapFont.width($0, scale: s) }.max() ?? 0) + 16
        let legendWidth = Double(columns) * legendColumnWidth - (columns > 0 ? 16 : 0)

        let tickWidth = axis.ticks.map { BitmapFont.width($0.label, scale: s) }.max() ?? 0
        let yLabelBand = chart.yLabel.isEmpty ? 0 : BitmapFont.height(scale: s) + 12
        var l = m + yLabelBand + tickWidth + 12
        var r = W - m - (legendWidth > 0 ? legendWidth + 20 : 0)
        if r - l < 20 { l = Swift.min(l, W / 3); r = Swift.max(l + 20, r) }
        left = l.rounded()
        right = r.rounded()
        legendLeft = right + 20

        // Category labels: side by side, else staggered over up to 3 rows, else every k-th label.
        let band = (right - left) / Double(chart.categories.count)
        let widest = chart.categories.map { BitmapFont.width($0, scale: s) }.max() ?? 0
        let need = Int(((widest + 10) / Swift.max(band, 1)).rounded(.up))
        if need <= 1 {
            (categoryRows, categoryEvery) = (1, 1)
        } else if need <= 3 {
            (categoryRows, categoryEvery) = (need, 1)
        } else {
            (categoryRows, categoryEvery) = (1, need)
        }

        let textH = BitmapFont.height(scale: s)
        var b = H - m - (chart.xLabel.isEmpty ? 0 : textH + 12) - Double(categoryRows) * (textH + 6) - 8
        if b - t < 20 { b = t + 20 }
        top = t.rounded()
        bottom = b.rounded()
    }

    /// Centre of category `i`'s band.
    func x(category i: Int) -> Double {
        left + (Double(i) + 0.5) * (right - left) / Double(chart.categories.count)
    }

    func y(value v: Double) -> Double {
        bottom - (v - axis.min) / (axis.max - axis.min) * (bottom - top)
    }

    /// Where series `s`'s value at category `i` is drawn (nil when the value is missing).
    func point(series s: Int, category i: Int) -> Point? {
        guard let v = chart.series[s].values[i] else { return nil }
        return Point(x: x(category: i), y: y(value: v))
    }

    /// Everything to draw, back to front.
    var shapes: [Shape] {
        let s = Self.textScale
        let textH = BitmapFont.height(scale: s)
        var out: [Shape] = [.rect(x: 0, y: 0, w: Double(width), h: Double(height), fill: .white)]

        // Horizontal grid lines and y tick labels.
        for tick in axis.ticks {
            let y = y(value: tick.value).rounded(.down)
            out.append(.rect(x: left, y: y, w: right - left, h: 1, fill: .grid))
            out.append(.rect(x: left - 5, y: y, w: 5, h: 1, fill: .axis))
            out.append(.text(tick.label, x: left - 9, top: y + 0.5 - textH / 2, anchor: .end, scale: s, vertical: false, colour: .text))
        }
        // Axes.
        out.append(.rect(x: left - 1, y: top, w: 1, h: bottom - top + 1, fill: .axis))
        out.append(.rect(x: left - 1, y: bottom, w: right - left + 1, h: 1, fill: .axis))
        // Category ticks and labels.
        for (i, label) in chart.categories.enumerated() {
            let x = x(category: i).rounded(.down)
            out.append(.rect(x: x, y: bottom + 1, w: 1, h: 5, fill: .axis))
            guard i % categoryEvery == 0 else { continue }
            let row = Double((i / categoryEvery) % categoryRows)
            out.append(.text(label, x: x + 0.5, top: bottom + 10 + row * (textH + 6), anchor: .middle, scale: s, vertical: false, colour: .text))
        }
        // Axis labels and title.
        if !chart.xLabel.isEmpty {
            out.append(.text(chart.xLabel, x: ((left + right) / 2).rounded(), top: Double(height) - Self.margin - textH,
                             anchor: .middle, scale: s, vertical: false, colour: .text))
        }
        if !chart.yLabel.isEmpty {
            out.append(.text(BitmapFont.fit(chart.yLabel, scale: s, width: bottom - top + 40),
                             x: Self.margin + textH / 2, top: ((top + bottom) / 2).rounded(), anchor: .middle, scale: s,
                             vertical: true, colour: .text))
        }
        if !titleText.isEmpty {
            out.append(.text(titleText, x: (Double(width) / 2).rounded(), top: Self.margin, anchor: .middle, scale: titleScale,
                             vertical: false, colour: .text))
        }
        // Series: lines between consecutive present values, a marker at every present value; clipped to the
        // plot area (grown by a marker so points on the range's ends show whole), for values outside a fixed range.
        let grow = Self.markerRadius + 1
        out.append(.beginClip(x: left, y: top - grow, w: right - left, h: bottom - top + 2 * grow))
        for (k, series) in chart.series.enumerated() {
            let colour = RGB.series(k), kind = MarkerKind.series(k)
            for run in LineChart.segments(series.values) where run.count >= 2 {
                out.append(.polyline(run.map { Point(x: x(category: $0.index), y: y(value: $0.value)) }, colour: colour,
                                     width: Self.lineWidth))
            }
            for (i, v) in series.values.enumerated() {
                if let v { out.append(.marker(Point(x: x(category: i), y: y(value: v)), radius: Self.markerRadius, colour: colour, kind: kind)) }
            }
        }
        out.append(.endClip)
        // Legend.
        for (k, name) in legendNames.enumerated() {
            let cy = top + 6 + Self.legendRow * (Double(k % legendRows) + 0.5)
            let lx = legendLeft + Double(k / legendRows) * legendColumnWidth
            let colour = RGB.series(k), kind = MarkerKind.series(k)
            out.append(.polyline([Point(x: lx, y: cy), Point(x: lx + Self.swatch, y: cy)], colour: colour, width: Self.lineWidth))
            out.append(.marker(Point(x: lx + Self.swatch / 2, y: cy), radius: Self.markerRadius, colour: colour, kind: kind))
            out.append(.text(name, x: lx + Self.swatch + 8, top: (cy - textH / 2).rounded(), anchor: .start, scale: s,
                             vertical: false, colour: .text))
        }
        return out
    }
}

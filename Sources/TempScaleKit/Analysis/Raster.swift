#if canImport(Glibc)
import Glibc
#endif

/// An RGB 8-bit pixel buffer with the few anti-aliased primitives a chart needs.
/// Coordinates are pixels, origin top-left; pixel (i, j) covers [i, i+1) × [j, j+1), its centre at (i+0.5, j+0.5).
struct Canvas {
    let width: Int
    let height: Int
    /// Row-major RGB triples.
    private(set) var pixels: [UInt8]
    /// Pixels outside [x0, x1) × [y0, y1) are left alone while a clip is set.
    var clip: (x0: Int, y0: Int, x1: Int, y1: Int)?

    init(width: Int, height: Int, fill: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = fill.r
            pixels[3 * i + 1] = fill.g
            pixels[3 * i + 2] = fill.b
        }
    }

    func pixel(_ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * width + x)
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Mixes `colour` into pixel (x, y) with weight `alpha` in [0, 1]; off-canvas pixels are ignored.
    mutating func blend(_ x: Int, _ y: Int, _ colour: RGB, _ alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        if let c = clip, x < c.x0 || x >= c.x1 || y < c.y0 || y >= c.y1 { return }
        let a = Swift.min(alpha, 1)
        let i = 3 * (y * width + x)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - a) + Double(new) * a).rounded()) }
        pixels[i] = mix(pixels[i], colour.r)
        pixels[i + 1] = mix(pixels[i + 1], colour.g)
        pixels[i + 2] = mix(pixels[i + 2], colour.b)
    }

    /// A solid rectangle; edges are rounded to whole pixels (charts place these on the pixel grid).
    mutating func fillRect(x: Double, y: Double, w: Double, h: Double, _ colour: RGB) {
        let x = tame(x), y = tame(y), w = tame(w), h = tame(h)
        let x0 = Swift.max(0, Int(x.rounded())), x1 = Swift.min(width, Int((x + w).rounded()))
        let y0 = Swift.max(0, Int(y.rounded())), y1 = Swift.min(height, Int((y + h).rounded()))
        guard x0 < x1, y0 < y1 else { return }
        for py in y0..<y1 { for px in x0..<x1 { blend(px, py, colour, 1) } }
    }

    /// A polyline `width` pixels thick with round joins and caps. Coverage is the max over segments,
    /// so joins are not drawn twice (no dark knots at the vertices).
    mutating func polyline(_ points: [Point], width lineWidth: Double, _ colour: RGB) {
        let points = points.map { Point(x: tame($0.x), y: tame($0.y)) }
        guard let first = points.first else { return }
        let half = lineWidth / 2
        let pad = half + 1
        let minX = Swift.max(0, Int((points.map(\.x).min()! - pad).rounded(.down)))
        let maxX = Swift.min(width - 1, Int((points.map(\.x).max()! + pad).rounded(.up)))
        let minY = Swift.max(0, Int((points.map(\.y).min()! - pad).rounded(.down)))
        let maxY = Swift.min(height - 1, Int((points.map(\.y).max()! + pad).rounded(.up)))
        guard minX <= maxX, minY <= maxY else { return }
        let bw = maxX - minX + 1
        var coverage = [Double](repeating: 0, count: bw * (maxY - minY + 1))
        let segments = points.count == 1 ? [(first, first)] : Array(zip(points, points.dropFirst()))
        for (a, b) in segments {
            let sx0 = Swift.max(minX, Int((Swift.min(a.x, b.x) - pad).rounded(.down)))
            let sx1 = Swift.min(maxX, Int((Swift.max(a.x, b.x) + pad).rounded(.up)))
            let sy0 = Swift.max(minY, Int((Swift.min(a.y, b.y) - pad).rounded(.down)))
            let sy1 = Swift.min(maxY, Int((Swift.max(a.y, b.y) + pad).rounded(.up)))
            guard sx0 <= sx1, sy0 <= sy1 else { continue }
            for py in sy0...sy1 {
                for px in sx0...sx1 {
                    let d = distance(Point(x: Double(px) + 0.5, y: Double(py) + 0.5), a, b)
                    let c = Swift.min(1, Swift.max(0, half + 0.5 - d))
                    let k = (py - minY) * bw + (px - minX)
                    if c > coverage[k] { coverage[k] = c }
                }
            }
        }
        for py in minY...maxY {
            for px in minX...maxX { blend(px, py, colour, coverage[(py - minY) * bw + (px - minX)]) }
        }
    }

    /// A filled, anti-aliased marker: a disc of radius `r`, a square of half-side 0.9 r, or a diamond of
    /// half-diagonal 1.25 r (so the three look about the same size).
    mutating func marker(_ c: Point, radius r: Double, _ colour: RGB, kind: MarkerKind = .circle) {
        let c = Point(x: tame(c.x), y: tame(c.y)), r = Swift.min(abs(tame(r)), 1e4)
        let reach = 1.25 * r + 1
        let x0 = Int((c.x - reach).rounded(.down)), x1 = Int((c.x + reach).rounded(.up))
        let y0 = Int((c.y - reach).rounded(.down)), y1 = Int((c.y + reach).rounded(.up))
        for py in y0...y1 {
            for px in x0...x1 {
                let dx = abs(Double(px) + 0.5 - c.x), dy = abs(Double(py) + 0.5 - c.y)
                let coverage: Double
                switch kind {
                case .circle: coverage = r + 0.5 - (dx * dx + dy * dy).squareRoot()
                case .square: coverage = 0.9 * r + 0.5 - Swift.max(dx, dy)
                case .diamond: coverage = 0.5 - (dx + dy - 1.25 * r) / 2.0.squareRoot()
                }
                blend(px, py, colour, coverage)
            }
        }
    }

    /// Text in the bitmap font, each font pixel a `scale`×`scale` block. See `Shape.text` for the anchoring.
    mutating func text(_ s: String, x: Double, top: Double, anchor: Shape.Anchor, scale: Int, vertical: Bool, _ colour: RGB) {
        let tw = BitmapFont.width(s, scale: scale), th = BitmapFont.height(scale: scale)
        let k = Double(scale)
        if vertical {
            // Rotated a quarter turn anticlockwise: the text runs up, glyph tops face left.
            let x0 = (x - th / 2).rounded(), y0 = (top + tw / 2).rounded()
            BitmapFont.forEachPixel(s) { u, v in
                fillRect(x: x0 + Double(v) * k, y: y0 - Double(u + 1) * k, w: k, h: k, colour)
            }
            return
        }
        let start: Double
        switch anchor {
        case .start: start = x
        case .middle: start = x - tw / 2
        case .end: start = x - tw
        }
        let x0 = start.rounded(), y0 = top.rounded()
        BitmapFont.forEachPixel(s) { u, v in
            fillRect(x: x0 + Double(u) * k, y: y0 + Double(v) * k, w: k, h: k, colour)
        }
    }

    mutating func draw(_ shape: Shape) {
        switch shape {
        case .rect(let x, let y, let w, let h, let fill): fillRect(x: x, y: y, w: w, h: h, fill)
        case .text(let s, let x, let top, let anchor, let scale, let vertical, let colour):
            text(s, x: x, top: top, anchor: anchor, scale: scale, vertical: vertical, colour)
        case .polyline(let points, let colour, let w): polyline(points, width: w, colour)
        case .marker(let c, let r, let colour, let kind): marker(c, radius: r, colour, kind: kind)
        case .beginClip(let x, let y, let w, let h):
            clip = (Int(tame(x).rounded()), Int(tame(y).rounded()), Int(tame(x + w).rounded()), Int(tame(y + h).rounded()))
        case .endClip: clip = nil
        }
    }
}

/// A coordinate kept where integer conversion cannot trap (a value far outside a fixed y range maps
/// far off the canvas; clipping hides it anyway). NaN becomes 0.
private func tame(_ v: Double) -> Double {
    v.isNaN ? 0 : Swift.min(Swift.max(v, -1e6), 1e6)
}

/// Distance from `p` to the segment a–b.
private func distance(_ p: Point, _ a: Point, _ b: Point) -> Double {
    let dx = b.x - a.x, dy = b.y - a.y
    let len2 = dx * dx + dy * dy
    var t = len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0
    t = Swift.min(1, Swift.max(0, t))
    let ex = p.x - (a.x + t * dx), ey = p.y - (a.y + t * dy)
    return (ex * ex + ey * ey).squareRoot()
}

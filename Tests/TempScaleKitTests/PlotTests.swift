import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import TempScaleKit

/// Collects elements, their attributes and text from an SVG document.
private final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var current: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        if name == "text" { current = "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text", let c = current { texts.append(c); current = nil }
    }
    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }
}

private func parseSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> SVGCollector {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = SVGCollector()
    parser.delegate = collector
    let ok = parser.parse()
    XCTAssertTrue(ok, "SVG does not parse as XML: \(String(describing: parser.parserError))", file: file, line: line)
    return collector
}

/// A decoded PNG: chunks checked, IDAT inflated, filter bytes stripped.
private struct DecodedPNG {
    let width: Int, height: Int
    let rgb: [UInt8]
    func pixel(_ x: Int, _ y: Int) -> (Int, Int, Int) {
        let i = 3 * (y * width + x)
        return (Int(rgb[i]), Int(rgb[i + 1]), Int(rgb[i + 2]))
    }
}

private func bigEndian(_ b: ArraySlice<UInt8>) -> Int {
    b.reduce(0) { $0 << 8 | Int($1) }
}

private func decodePNG(_ png: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
    XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature", file: file, line: line)
    var offset = 8
    var chunks: [(type: String, data: [UInt8])] = []
    while offset < png.count {
        let length = bigEndian(png[offset..<offset + 4])
        let body = Array(png[(offset + 4)..<(offset + 8 + length)])
        let crc = bigEndian(png[(offset + 8 + length)..<(offset + 12 + length)])
        let type = String(decoding: body.prefix(4), as: UTF8.self)
        XCTAssertEqual(UInt32(crc), body.withUnsafeBytes { crc32Of($0) }, "CRC of chunk \(type)", file: file, line: line)
        chunks.append((type, Array(body.dropFirst(4))))
        offset += 12 + length
    }
    XCTAssertEqual(offset, png.count, "chunks end exactly at the end of the file", file: file, line: line)
    XCTAssertEqual(chunks.map(\.type), ["IHDR", "IDAT", "IEND"], file: file, line: line)
    let ihdr = chunks[0].data
    XCTAssertEqual(ihdr.count, 13)
    let width = bigEndian(ihdr[0..<4]), height = bigEndian(ihdr[4..<8])
    XCTAssertEqual(Array(ihdr[8..<13]), [8, 2, 0, 0, 0], "bit depth 8, colour type 2 (RGB), no interlace", file: file, line: line)
    XCTAssertTrue(chunks[2].data.isEmpty, "IEND is empty", file: file, line: line)
    let raw = try chunks[1].data.withUnsafeBytes { try gunzip($0) }
    XCTAssertEqual(raw.count, height * (1 + 3 * width), "inflated size", file: file, line: line)
    var rgb: [UInt8] = []
    rgb.reserveCapacity(width * height * 3)
    for y in 0..<height {
        let row = y * (1 + 3 * width)
        XCTAssertEqual(raw[row], 0, "filter byte of row \(y)", file: file, line: line)
        rgb += raw[(row + 1)..<(row + 1 + 3 * width)]
    }
    return DecodedPNG(width: width, height: height, rgb: rgb)
}

private let buckets = ["0–15", "16–31", "32–63", "64–127", "128–255", "256+"]

private func tauChart() throws -> LineChart {
    try LineChart(
        title: "Embedding collapse by text length", xLabel: "text length (tokens)", yLabel: "mean pairwise cosine",
        categories: buckets,
        series: [
            .init(name: "τ = 1", values: [0.31, 0.42, 0.55, 0.68, 0.79, 0.87]),
            .init(name: "τ = 0.8", values: [0.30, 0.36, nil, 0.48, 0.55, 0.61]),
            .init(name: "τ = 0.6", values: [nil, 0.33, nil, 0.37, nil, nil]),
        ])
}

final class PlotTests: XCTestCase {
    func testValidation() {
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "", categories: ["a", "b"],
                                           series: [.init(name: "τ = 1", values: [1])])) { e in
            XCTAssertEqual(e as? LineChart.Error, .valueCount(series: "τ = 1", got: 1, expected: 2))
            XCTAssertTrue("\(e)".contains("'τ = 1' has 1 values but there are 2 categories"), "\(e)")
        }
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "", categories: ["a", "b"],
                                           series: [.init(name: "s", values: [1, .nan])])) { e in
            XCTAssertEqual(e as? LineChart.Error, .notFinite(series: "s", category: "b"))
        }
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "", categories: [], series: [])) { e in
            XCTAssertEqual(e as? LineChart.Error, .noCategories)
        }
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "", categories: ["a"], series: [], yRange: 1...1)) { e in
            XCTAssertEqual(e as? LineChart.Error, .badRange("lower bound must be below the upper bound"))
        }
    }

    func testNiceTicks() {
        let a = YAxis.auto(0.31, 0.87)
        XCTAssertEqual(a.ticks.map(\.value), [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
        XCTAssertEqual(a.ticks.map(\.label), ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"])
        XCTAssertEqual(a.min, 0.3)
        XCTAssertEqual(a.max, 0.9)
        XCTAssertEqual(YAxis.auto(0.3, 0.6).ticks.first?.value, 0.3, "a bound on a tick adds no tick below")

        XCTAssertEqual(YAxis.auto(12, 870).ticks.map(\.label), ["0", "200", "400", "600", "800", "1000"])
        XCTAssertEqual(YAxis.auto(-0.27, 0.43).ticks.map(\.label), ["-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3", "0.4", "0.5"])
        // Narrow range: steps of 0.05, two decimals, no binary noise.
        XCTAssertEqual(YAxis.fixed(0.3...0.6).ticks.map(\.label), ["0.30", "0.35", "0.40", "0.45", "0.50", "0.55", "0.60"])
        XCTAssertEqual(YAxis.fixed(0...1).ticks.map(\.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let fixed = YAxis.fixed(0.05...0.97)
        XCTAssertEqual(fixed.min, 0.05)
        XCTAssertEqual(fixed.max, 0.97)

        for (lo, hi) in [(0.31, 0.87), (0.001, 0.0042), (12.0, 870.0), (-0.27, 0.43), (0.5, 0.5), (0, 0), (0.993, 0.9995),
                         (1e-7, 3e-7), (1234.5, 1234.6)] {
            let axis = YAxis.auto(lo, hi)
            XCTAssertGreaterThanOrEqual(axis.ticks.count, 4, "\(lo)…\(hi)")
            XCTAssertLessThanOrEqual(axis.ticks.count, 12, "\(lo)…\(hi)")
            XCTAssertLessThanOrEqual(axis.min, lo)
            XCTAssertGreaterThanOrEqual(axis.max, hi)
            for t in axis.ticks {
                XCTAssertEqual(Double(t.label), t.value, "label \(t.label) reads back as its value")
                XCTAssertLessThan(t.label.count, 12, "no float noise in \(t.label)")
            }
            // Equal steps of 1, 2 or 5 × 10^k.
            let step = axis.ticks[1].value - axis.ticks[0].value
            let mantissa = step / pow(10, (log10(step)).rounded(.down))
            XCTAssertTrue([1.0, 2.0, 5.0].contains { abs($0 - mantissa) < 1e-6 }, "step \(step) for \(lo)…\(hi)")
        }
    }

    func testChartUsesFixedRange() throws {
        let chart = try LineChart(title: "t", xLabel: "x", yLabel: "y", categories: ["a", "b"],
                                  series: [.init(name: "s", values: [0.2, 0.4])], yRange: 0...1)
        XCTAssertEqual(chart.axis.min, 0)
        XCTAssertEqual(chart.axis.max, 1)
        let l = chart.layout(width: 960, height: 600)
        XCTAssertEqual(l.y(value: 0), l.bottom)
        XCTAssertEqual(l.y(value: 1), l.top)
    }

    func testSegmentsSplitAtMissingValues() {
        func shape(_ v: [Double?]) -> [[Int]] { LineChart.segments(v).map { $0.map(\.index) } }
        XCTAssertEqual(shape([1, 2, nil, 3, 4]), [[0, 1], [3, 4]])
        XCTAssertEqual(shape([nil, 1, nil, nil, 2, 3, nil]), [[1], [4, 5]])
        XCTAssertEqual(shape([nil, nil]), [])
        XCTAssertEqual(shape([1, 2, 3]), [[0, 1, 2]])
    }

    func testSVGParsesWithOnePolylinePerSegment() throws {
        let chart = try tauChart()
        let doc = parseSVG(chart.svg())
        let root = try XCTUnwrap(doc.elements.first)
        XCTAssertEqual(root.name, "svg")
        XCTAssertEqual(root.attributes["xmlns"], "http://www.w3.org/2000/svg")
        XCTAssertEqual(root.attributes["width"], "960")
        XCTAssertEqual(root.attributes["height"], "600")
        XCTAssertEqual(root.attributes["viewBox"], "0 0 960 600")
        // τ = 1: one run; τ = 0.8: two runs; τ = 0.6: lone points only. Plus one legend swatch per series.
        XCTAssertEqual(doc.count("polyline"), 1 + 2 + 0 + 3)
        // One marker per present value, one per legend entry.
        XCTAssertEqual(doc.count("circle"), 6 + 5 + 2 + 3)
        for name in ["τ = 1", "τ = 0.8", "τ = 0.6", "Embedding collapse by text length", "text length (tokens)",
                     "mean pairwise cosine"] + buckets {
            XCTAssertTrue(doc.texts.contains(name), "text '\(name)' in \(doc.texts)")
        }
        XCTAssertTrue(doc.texts.contains("0.3") && doc.texts.contains("0.9"), "tick labels \(doc.texts)")
        // A white background covering the picture comes first.
        let background = try XCTUnwrap(doc.elements.first { $0.name == "rect" })
        XCTAssertEqual(background.attributes["fill"], "#ffffff")
        XCTAssertEqual(background.attributes["width"], "960")
    }

    func testSVGEscapesText() throws {
        let chart = try LineChart(title: "cos < 1 & \"quoted\" 'τ'", xLabel: "a<b", yLabel: "σ_a > 0",
                                  categories: ["<0", "&1", "\"2\""], series: [.init(name: "A&B <τ>", values: [1, 2, 3])])
        let svg = chart.svg()
        XCTAssertTrue(svg.contains("cos &lt; 1 &amp; &quot;quoted&quot; &apos;τ&apos;"))
        XCTAssertFalse(svg.contains("A&B"))
        let doc = parseSVG(svg)
        for s in ["cos < 1 & \"quoted\" 'τ'", "a<b", "σ_a > 0", "<0", "&1", "\"2\"", "A&B <τ>"] {
            XCTAssertTrue(doc.texts.contains(s), "'\(s)' in \(doc.texts)")
        }
        XCTAssertEqual(xmlEscape("a\u{1}b"), "a\u{FFFD}b", "control characters XML forbids are replaced")
    }

    func testPNGStructureAndContent() throws {
        let chart = try tauChart()
        let png = try decodePNG(chart.png(width: 640, height: 400))
        XCTAssertEqual(png.width, 640)
        XCTAssertEqual(png.height, 400)
        XCTAssertTrue(stride(from: 0, to: png.rgb.count, by: 3).contains { png.rgb[$0..<$0 + 3] != [255, 255, 255] },
                      "image is not blank")
        XCTAssertEqual(png.pixel(0, 0).0, 255, "background is white")
    }

    func testPNGDrawsSeriesWherePointsAre() throws {
        let chart = try tauChart()
        let (w, h) = (960, 600)
        let png = try decodePNG(chart.png(width: w, height: h))
        let layout = chart.layout(width: w, height: h)
        func isColour(_ x: Double, _ y: Double, _ c: RGB, tolerance: Int = 0) -> Bool {
            let p = png.pixel(Int(x.rounded(.down)), Int(y.rounded(.down)))
            return abs(p.0 - Int(c.r)) <= tolerance && abs(p.1 - Int(c.g)) <= tolerance && abs(p.2 - Int(c.b)) <= tolerance
        }
        for s in chart.series.indices {
            let colour = RGB.series(s)
            for i in buckets.indices {
                guard let p = layout.point(series: s, category: i) else { continue }
                XCTAssertTrue(isColour(p.x, p.y, colour), "series \(s) marker at bucket \(i) (\(p))")
            }
        }
        // Midway along τ = 1's first segment the line's colour shows; τ = 0.8 has a gap over bucket 2.
        let a = try XCTUnwrap(layout.point(series: 0, category: 0)), b = try XCTUnwrap(layout.point(series: 0, category: 1))
        XCTAssertTrue(isColour((a.x + b.x) / 2, (a.y + b.y) / 2, RGB.series(0)))
        let c = try XCTUnwrap(layout.point(series: 1, category: 1)), d = try XCTUnwrap(layout.point(series: 1, category: 3))
        let mid = Point(x: layout.x(category: 2), y: (c.y + d.y) / 2)
        XCTAssertFalse(isColour(mid.x, mid.y, RGB.series(1), tolerance: 60), "no line across the missing value")
        // The legend and labels are drawn in text colour somewhere right of the plot.
        var textPixels = 0
        for y in Int(layout.top)..<Int(layout.bottom) {
            for x in Int(layout.legendLeft)..<w where png.pixel(x, y) == (34, 34, 34) { textPixels += 1 }
        }
        XCTAssertGreaterThan(textPixels, 50, "legend text drawn")
    }

    func testLayoutKeepsTextInside() throws {
        let long = try LineChart(title: String(repeating: "A very long title ", count: 10), xLabel: "x", yLabel: "y",
                                 categories: (0..<20).map { "\($0 * 16)–\($0 * 16 + 15)" },
                                 series: [.init(name: "τ = 1", values: (0..<20).map { Double($0) })])
        let l = long.layout(width: 640, height: 400)
        XCTAssertTrue(l.titleText.hasSuffix("..."))
        XCTAssertLessThanOrEqual(BitmapFont.width(l.titleText, scale: l.titleScale), 640 - 2 * ChartLayout.margin)
        XCTAssertGreaterThan(l.categoryRows * l.categoryEvery, 1, "crowded labels are staggered or thinned")
        for shape in l.shapes {
            guard case .text(let s, let x, let top, let anchor, let scale, let vertical, _) = shape, !vertical else { continue }
            let tw = BitmapFont.width(s, scale: scale)
            let start = anchor == .start ? x : anchor == .middle ? x - tw / 2 : x - tw
            XCTAssertGreaterThanOrEqual(start, 0, s)
            XCTAssertLessThanOrEqual(start + tw, 640, s)
            XCTAssertGreaterThanOrEqual(top, 0, s)
            XCTAssertLessThanOrEqual(top + BitmapFont.height(scale: scale), 400, s)
        }
    }

    func testBitmapFont() {
        XCTAssertEqual(BitmapFont.glyph("A"), [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x00])
        for c: Character in ["τ", "σ", "–", "—", "−", "…", "·", "×", "±", "g", "日"] {
            XCTAssertEqual(BitmapFont.glyph(c).count, BitmapFont.glyphHeight, "rows of \(c)")
        }
        XCTAssertNotEqual(BitmapFont.glyph("τ"), BitmapFont.glyph("?"), "τ has its own glyph")
        XCTAssertEqual(BitmapFont.glyph("日"), BitmapFont.glyph("?"))
        XCTAssertEqual(BitmapFont.width("abc", scale: 2), 34)
        for a in UInt8(33)...126 {
            XCTAssertTrue(BitmapFont.glyph(Character(UnicodeScalar(a))).contains { $0 != 0 }, "glyph for \(a) is drawn")
        }
    }

    func testWriteChoosesFormatByExtension() throws {
        let dir = TempDir()
        let chart = try tauChart()
        try chart.write(to: dir.file("c.svg"))
        try chart.write(to: dir.file("c.PNG"))
        let svg = try String(contentsOfFile: dir.file("c.svg"), encoding: .utf8)
        XCTAssertEqual(svg, chart.svg())
        let png = try Data(contentsOf: URL(fileURLWithPath: dir.file("c.PNG")))
        XCTAssertEqual(Array(png), chart.png())
        XCTAssertEqual(dir.listing, ["c.PNG", "c.svg"])
    }

    func testWriteRefusesOtherExtensions() throws {
        let dir = TempDir()
        let chart = try tauChart()
        for name in ["chart.txt", "chart"] {
            let path = dir.file(name)
            XCTAssertThrowsError(try chart.write(to: path)) { e in
                XCTAssertEqual((e as? FileError)?.path, path)
                XCTAssertTrue(e.underlyingReason is LineChart.Error, "\(e)")
                XCTAssertTrue("\(e)".hasPrefix(path + ": "), "\(e)")
                XCTAssertTrue("\(e)".contains(".svg or .png"), "\(e)")
                XCTAssertEqual(e.underlyingReason as? LineChart.Error, .unsupportedExtension(name == "chart" ? "" : "txt"))
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("chart.txt")))
        XCTAssertEqual(dir.listing, [], "no file and no temp file left")
    }

    /// Renders the sample chart; with PLOT_SAMPLE_DIR set it is also kept there for a human to look at.
    func testSampleRenders() throws {
        let chart = try tauChart()
        let dir = TempDir()
        let out = ProcessInfo.processInfo.environment["PLOT_SAMPLE_DIR"] ?? dir.path
        try chart.write(to: out + "/sample.png")
        try chart.write(to: out + "/sample.svg")
        XCTAssertNoThrow(try decodePNG(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/sample.png")))))

        // A crowded one: many buckets and temperatures, a long σ label, negative values, a small image.
        let taus = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.02]
        let crowded = try LineChart(
            title: "Spread of attention logits σ_a per bucket — every temperature in the sweep, all models",
            xLabel: "text length bucket (tokens)", yLabel: "σ_a (std. dev. of attention logits)",
            categories: (0..<16).map { "\($0 * 32)–\($0 * 32 + 31)" },
            series: taus.enumerated().map { k, t in
                .init(name: "τ = \(t)", values: (0..<16).map { i in i == 5 + k % 3 ? nil : (Double(i) - 4) * t / 10 })
            })
        try crowded.write(to: out + "/sample-crowded.png")
        try crowded.write(to: out + "/sample-crowded.svg")
        _ = parseSVG(crowded.svg())
        XCTAssertNoThrow(try decodePNG(crowded.png(width: 800, height: 500)))
    }

    func testLegendWrapsIntoColumnsInsideTheImage() throws {
        let chart = try LineChart(title: "t", xLabel: "x", yLabel: "y", categories: ["a", "b"],
                                  series: (0..<40).map { .init(name: "τ = \($0)", values: [Double($0), 1]) })
        let l = chart.layout(width: 960, height: 400)
        XCTAssertGreaterThan(l.legendRows, 1)
        XCTAssertLessThan(l.legendRows, 40)
        for shape in l.shapes {
            guard case .text(let s, let x, let top, .start, let scale, false, _) = shape else { continue }
            XCTAssertLessThanOrEqual(x + BitmapFont.width(s, scale: scale), 960, s)
            XCTAssertLessThanOrEqual(top + BitmapFont.height(scale: scale), 400, s)
        }
        XCTAssertLessThan(l.left, l.right)
    }

    func testValuesOutsideAFixedRangeAreClipped() throws {
        let chart = try LineChart(title: "t", xLabel: "x", yLabel: "y", categories: ["a", "b", "c"],
                                  series: [.init(name: "s", values: [0.5, 40, 1e300])], yRange: 0...1)
        let (w, h) = (480, 320)
        let png = try decodePNG(chart.png(width: w, height: h))
        let l = chart.layout(width: w, height: h)
        let blue = RGB.series(0)
        for y in 0..<Int(l.top) - Int(ChartLayout.markerRadius) - 2 {
            for x in Int(l.left)..<Int(l.right) {
                let p = png.pixel(x, y)
                XCTAssertFalse(p == (Int(blue.r), Int(blue.g), Int(blue.b)), "series drawn above the plot at (\(x), \(y))")
            }
        }
        _ = parseSVG(chart.svg())
        XCTAssertTrue(chart.svg().contains("clip-path=\"url(#plot1)\""))
    }

    func testOddSizesAndEmptyChartsStillRender() throws {
        let none = try LineChart(title: "", xLabel: "", yLabel: "", categories: ["only"], series: [])
        for (w, h) in [(1, 1), (10, 7), (200, 120)] {
            let png = try decodePNG(none.png(width: w, height: h))
            XCTAssertEqual(png.width, w)
            XCTAssertEqual(png.height, h)
            _ = try decodePNG(try tauChart().png(width: w, height: h))
        }
        _ = parseSVG(none.svg())
        // Extreme magnitudes fall back to plain ticks instead of trapping.
        let huge = try LineChart(title: "t", xLabel: "x", yLabel: "y", categories: ["a", "b"],
                                 series: [.init(name: "s", values: [-1e308, 1e308])])
        XCTAssertGreaterThanOrEqual(huge.axis.ticks.count, 2)
        _ = try decodePNG(huge.png(width: 300, height: 200))
        let tiny = try LineChart(title: "t", xLabel: "x", yLabel: "y", categories: ["a", "b"],
                                 series: [.init(name: "s", values: [1e-320, 3e-320])])
        _ = try decodePNG(tiny.png(width: 300, height: 200))
    }
}

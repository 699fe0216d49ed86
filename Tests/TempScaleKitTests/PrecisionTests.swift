import Foundation
import XCTest
@testable import TempScaleKit

/// The encoder at storage precision (oneDNN bf16 and int8) against f32 arithmetic and the reference stack's goldens.
/// This machine kind has AVX-512 BF16 and VNNI; on a CPU without them the same tests check the f32 fallback instead.
final class PrecisionTests: XCTestCase {
    /// Deterministic pseudo-random numbers in [-1, 1).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        var num: Float = 0, den: Float = 0
        for (x, y) in zip(a, b) { num += (x - y) * (x - y); den += y * y }
        return (num / den).squareRoot()
    }

    /// y = x·Wᵀ + b against an f64 reference, for widths with and without a 64-block rotation (384, 96 → 32, 100 → 4),
    /// with an outlier input channel as BERT's activations have.
    func testPackedMatricesMatchF32WithinTheirPrecision() throws {
        for (m, k, n) in [(7, 384, 50), (3, 96, 17), (5, 100, 9), (1, 64, 1)] {
            var noise = Noise(state: 0x1234_5678 &+ UInt64(k))
            let w = (0..<(n * k)).map { _ in noise.next() * 0.1 }
            var x = (0..<(m * k)).map { _ in noise.next() }
            for r in 0..<m { x[r * k + 3] = 25 }  // one large channel
            let bias = (0..<n).map { _ in noise.next() }
            var exact = [Float](repeating: 0, count: m * n)
            for r in 0..<m {
                for j in 0..<n {
                    var s = Double(bias[j])
                    for i in 0..<k { s += Double(x[r * k + i]) * Double(w[j * k + i]) }
                    exact[r * n + j] = Float(s)
                }
            }
            for (p, bound) in [(Precision.bf16, Float(0.01)), (.int8, Float(0.03))] {
                guard p.isSupported else {
                    XCTAssertNotNil(p.resolved().fallback)
                    continue
                }
                let packed = try PackedMatrix(p, f32: w, rows: n, cols: k)
                var y = [Float](repeating: .nan, count: m * n)
                packed.apply(x, rows: m, bias: bias, into: &y)
                let e = relativeError(y, exact)
                print("packed \(p) m \(m) k \(k) n \(n): relative error \(e)")
                XCTAssertLessThan(e, bound, "\(p) [\(m), \(k)]·[\(k), \(n)]")
                XCTAssertGreaterThan(e, 0, "\(p) should not be exact: is the f32 path running?")
                XCTAssertGreaterThan(packed.bytes, 0)
                if n >= 8 { XCTAssertLessThan(packed.bytes, n * k * 4, "the packed copy is smaller than f32") }
            }
        }
    }

    func testTheFileChoosesThePrecisionAndTheFlagOverridesIt() throws {
        let dir = TempDir()
        let src = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        XCTAssertEqual(Precision.native(for: src), .f32)
        for (dtype, expected) in [(DType.f16, Precision.f32), (.bf16, .bf16), (.q8, .int8)] {
            let out = dir.file("m-\(dtype.name).tsm")
            _ = try NativeFormat.write(src, to: out, options: .init(dtype: dtype))
            let m = try ModelLoader.open(out)
            XCTAssertEqual(Precision.native(for: m), expected, dtype.name)
            let e = try Encoder(model: m)
            XCTAssertEqual(e.precision, expected.isSupported ? expected : .f32)
            XCTAssertEqual(e.precisionNote == nil, expected.isSupported)
            if expected != .f32 { XCTAssertLessThan(e.weightBytes, m.tensors.reduce(0) { $0 + $1.count * 4 }) }
            XCTAssertEqual(try Encoder(model: m, options: .init(precision: .f32)).precision, .f32)
        }
    }

    /// Every MiniLM golden text at every τ: bf16 ≥ 0.9999; int8 ≥ 0.999 for texts of 4 tokens or more and ≥ 0.998 for
    /// the 2–3-token edge cases (empty, whitespace, one [UNK] word), whose mean pools only [CLS], [SEP] and one token.
    func testGoldensAtBF16AndInt8() throws {
        let g = try GoldenFile.read(path: Paths.package + "/golden/minilm.json.gz")
        let idsByText = Dictionary(g.texts.map { ($0.text, $0.ids) }, uniquingKeysWith: { a, _ in a })
        let model = try ModelLoader.open(Paths.minilm)
        for p in [Precision.bf16, .int8] {
            let encoder = try Encoder(model: model, options: .init(batchSize: 16, threads: 2, precision: p))
            guard p.isSupported else { XCTAssertEqual(encoder.precision, .f32); continue }
            XCTAssertEqual(encoder.precision, p)
            let v = Verifier.run(encoder: encoder, golden: g, temperatures: nil, atol: 1, minCosine: 0, padId: 0,
                                 tokenize: { idsByText[$0]! })
            XCTAssertEqual(v.temperatures.count, g.temperatures.count)
            for t in v.temperatures {
                let long = t.rows.filter { $0.tokens >= 4 }.map(\.cosine).min()!, all = t.worstCosine
                print("golden minilm \(p) τ \(t.tau): worst cosine \(all), texts of ≥ 4 tokens \(long)")
                XCTAssertGreaterThanOrEqual(long, p == .bf16 ? 0.9999 : 0.999, "\(p) τ \(t.tau)")
                XCTAssertGreaterThanOrEqual(all, p == .bf16 ? 0.9999 : 0.998, "\(p) τ \(t.tau)")
                XCTAssertLessThan(all, 1 - 1e-7, "\(p) τ \(t.tau): as exact as f32 — is the packed path running?")
            }
        }
    }

    /// τ still works at int8: the change it makes is far larger than int8's error.
    func testTemperatureChangesInt8Embeddings() throws {
        let g = try GoldenFile.read(path: Paths.package + "/golden/minilm.json.gz")
        let ids = Array(g.texts.filter { $0.ids.count > 40 }.prefix(8).map(\.ids))
        let encoder = try Encoder(model: try ModelLoader.open(Paths.minilm), options: .init(precision: .int8))
        let a = encoder.embed(ids: ids, temperature: 1), b = encoder.embed(ids: ids, temperature: 0.5)
        for (x, y) in zip(a, b) { XCTAssertLessThan(Verifier.cosine(x, y), 0.999) }
    }

    func testPrecisionFlag() throws {
        let model = Paths.fixture("models/tiny-bert")
        let f32 = try runCLI(["embed", model, "--precision", "f32"], stdin: "hello world\n")
        XCTAssertEqual(f32.status, 0, f32.stderr)
        for p in ["bf16", "int8"] {
            let r = try runCLI(["embed", model, "--precision", p], stdin: "hello world\n")
            XCTAssertEqual(r.status, 0, r.stderr)
            let supported = Precision(rawValue: p)!.isSupported
            // Where the CPU lacks the instructions the fallback is f32, byte for byte, and says so once.
            XCTAssertEqual(r.stdout == f32.stdout, !supported, "\(p): supported \(supported)")
            XCTAssertEqual(r.stderr.contains("running f32"), !supported, r.stderr)
            XCTAssertLessThanOrEqual(r.stderr.components(separatedBy: "running f32").count - 1, 1, r.stderr)
        }
        let bad = try runCLI(["embed", model, "--precision", "int4"], stdin: "hello\n")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("int4"), bad.stderr)
        XCTAssertEqual(bad.stdout, "")
    }
}

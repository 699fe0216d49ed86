import Foundation
import XCTest
@testable import TempScaleKit

/// `tempscale patch FILE.gguf` on files made by llama.cpp's own converter and quantizer (scripts/make_gguf_fixtures.py,
/// at test time into .cache/gguf): only the query path changes, by exactly 1/τ up to the f16 rounding of each block
/// scale, every other byte is copied; llama.cpp on the patched file gives the reference's τ embeddings and those of
/// a file made from a checkpoint with τ baked before quantizing.
extension GGUFTests {
    static let ggufDir = Paths.cache + "/gguf"
    static let ggufTypes = ["f32", "f16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q6_k", "q4_k_m"]

    func fixture(_ type: String, baked: Bool = false) throws -> String {
        let p = Self.ggufDir + (baked ? "/baked" : "") + "/minilm-\(type).gguf"
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) is missing; run `make test` (scripts/make_gguf_fixtures.py)")
            throw CancellationError()
        }
        return p
    }

    /// check_gguf.py compare: (changed tensor names, per-tensor entries).
    func compare(_ a: String, _ b: String) throws -> (keysChanged: [String], changed: [String], tensors: JSONValue, tempscale: JSONValue) {
        let (status, r) = try check(["compare", a, b])
        XCTAssertEqual(status, 0)
        return (r["keys_changed"]?.arrayValue?.compactMap(\.stringValue) ?? ["?"], r["changed"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                r["tensors"] ?? .null, r["tempscale"] ?? .null)
    }

    func testEveryGGUFTypeIsScaledExactlyAndNothingElseChanges() throws {
        let dir = TempDir()
        let tau = 0.7
        var summary: [String] = []
        for type in Self.ggufTypes {
            let input = try fixture(type)
            let before = readBytes(input)
            let out = dir.file("\(type).gguf")
            let report = try GGUFPatcher.patch(input, tau: tau, to: out, force: false)
            XCTAssertEqual(readBytes(input), before, "\(type): the input is untouched")
            XCTAssertEqual(report.architecture, "bert")
            let c = try compare(input, out)
            XCTAssertEqual(c.keysChanged, [], "\(type): every key but tempscale.* is unchanged")
            let expected = (0..<6).flatMap { ["blk.\($0).attn_q.weight", "blk.\($0).attn_q.bias"] }.sorted()
            XCTAssertEqual(c.changed, expected, "\(type): only the query weights and biases change")
            var worst = 0.0
            for name in expected {
                let e = c.tensors[name]!
                XCTAssertEqual(e["same_type"]?.boolValue, true, "\(type) \(name)")
                XCTAssertEqual(e["factor"]?.doubleValue ?? 0, 1 / tau, accuracy: 1e-6, "\(type) \(name)")
                let err = e["max_rel_err"]?.doubleValue ?? 1
                worst = max(worst, err)
                // F32 values are scaled in f32; everything else rounds the scaled value or block scale to f16/bf16.
                XCTAssertLessThanOrEqual(err, e["type"]?.stringValue == "F32" ? 1e-7 : 1.0 / 1024, "\(type) \(name)")
            }
            XCTAssertEqual(c.tempscale["tempscale.temperature"]?.doubleValue ?? 0, tau, accuracy: 1e-12)
            summary.append("\(type) (\(report.types.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))): \(String(format: "%.1e", worst))")
        }
        print("GGUF patch τ = \(tau), worst deviation from original × 1/τ (relative to the tensor's max): " + summary.joined(separator: "; "))
    }

    /// The K-quant block layouts (Q4_K, Q5_K's d/dmin, Q6_K's d, …): MiniLM's 384-wide query has no K-quant form, so
    /// the scaling itself is checked on the Q4_K_M file's K-quant tensors (ffn_down), dequantized by gguf-py.
    func testKQuantBlockScalesScaleTheDequantizedValues() throws {
        let input = try fixture("q4_k_m")
        let file = try GGUFFile(path: input)
        let kquant = file.tensors.filter { [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains($0.type) }
        XCTAssertFalse(kquant.isEmpty)
        let dir = TempDir()
        let out = dir.file("k.gguf")
        _ = try GGUFPatcher.write(file, scales: kquant.map { .init(tensor: $0.name, factor: 1.25, rows: nil) }, explanation: "test",
                                  tau: 0.8, layers: "all", to: out, force: false, tool: "GGUFPatchTests")
        let c = try compare(input, out)
        XCTAssertEqual(Set(c.changed), Set(kquant.map(\.name)))
        for t in kquant {
            let e = c.tensors[t.name]!
            XCTAssertEqual(e["factor"]?.doubleValue ?? 0, 1.25, accuracy: 1e-6, t.name)
            XCTAssertLessThanOrEqual(e["max_rel_err"]?.doubleValue ?? 1, 1.0 / 1024, "\(t.name) (\(t.type.name))")
        }
        print("K-quant scaling × 1.25: " + kquant.map { "\($0.name) \($0.type.name) \(String(format: "%.1e", c.tensors[$0.name]!["max_rel_err"]?.doubleValue ?? -1))" }.joined(separator: ", "))
    }

    /// llama.cpp on each patched file (τ = 0.8: 1/τ = 1.25 makes the f16 scales round) against llama.cpp on the file
    /// made from the checkpoint with τ = 0.8 baked before converting and quantizing — two equally valid roundings of
    /// one model, which differ where the quantization noise does — and against the reference's τ = 0.8 embeddings,
    /// where the patched file must be as close as the baked-before-quantizing one.
    func testPatchedGGUFInLlamaCppMatchesTheBakedBeforeQuantizingFileAndTheGolden() throws {
        let dir = TempDir()
        var summary: [String] = []
        for type in Self.ggufTypes {
            let out = dir.file("\(type)-t08.gguf"), baked = try fixture(type, baked: true)
            _ = try GGUFPatcher.patch(try fixture(type), tau: 0.8, to: out, force: false)
            let args = [Self.minilmGolden, "--tau", "0.8", "--min-cosine", "0", "--max-ids", "64"]
            let (status, r) = try check(["llama", out] + args + ["--against", baked])
            let (status1, r1) = try check(["llama", baked] + args)
            XCTAssertEqual(status, 0, r.serialized())
            XCTAssertEqual(status1, 0, r1.serialized())
            let golden = r["worst_cosine"]?.doubleValue ?? 0, goldenMean = r["mean_cosine"]?.doubleValue ?? 0
            let vsBaked = r["worst_cosine_against"]?.doubleValue ?? 0, vsBakedMean = r["mean_cosine_against"]?.doubleValue ?? 0
            let bakedGolden = r1["worst_cosine"]?.doubleValue ?? 1, bakedGoldenMean = r1["mean_cosine"]?.doubleValue ?? 1
            summary.append("\(type): vs baked-before-quantizing worst \(String(format: "%.7f", vsBaked)) mean \(String(format: "%.7f", vsBakedMean)); "
                           + "vs golden worst \(String(format: "%.6f", golden)) mean \(String(format: "%.6f", goldenMean)) "
                           + "(baked-before-quantizing: \(String(format: "%.6f", bakedGolden)) / \(String(format: "%.6f", bakedGoldenMean)))")
            XCTAssertGreaterThan(r["compared"]?.intValue ?? 0, 20)
            if ["f32", "f16"].contains(type) {
                XCTAssertGreaterThanOrEqual(vsBaked, 0.99999, type)
                XCTAssertGreaterThanOrEqual(golden, 0.9999, type)
            } else {
                XCTAssertGreaterThanOrEqual(vsBakedMean, 0.9995, type)
                XCTAssertGreaterThanOrEqual(vsBaked, 0.998, type)
                XCTAssertGreaterThanOrEqual(golden, bakedGolden - 0.002, "\(type): as close to the reference as baking before quantizing")
                XCTAssertGreaterThanOrEqual(goldenMean, bakedGoldenMean - 0.0002, type)
            }
        }
        print("patched GGUF τ = 0.8 in llama.cpp, cosines over the ≤ 64-token golden texts: " + summary.joined(separator: "; "))
    }

    /// t5encoder: attn_q and block 0's shared relative bias, once; llama.cpp on the patched file gives the golden's τ.
    func testT5EncoderGGUFIsPatchedWithItsSharedBias() throws {
        let dir = TempDir()
        let model = try ModelLoader.open(Self.tiny + "/tiny-t5")
        let (plain, _) = try write(model, .f16, in: dir, name: "t5.gguf")
        let out = dir.file("t5-t05.gguf")
        let report = try GGUFPatcher.patch(plain, tau: 0.5, to: out, force: false)
        XCTAssertEqual(report.architecture, "t5encoder")
        let c = try compare(plain, out)
        XCTAssertEqual(c.changed, ["enc.blk.0.attn_q.weight", "enc.blk.0.attn_rel_b.weight", "enc.blk.1.attn_q.weight"])
        for name in c.changed { XCTAssertEqual(c.tensors[name]?["factor"]?.doubleValue ?? 0, 2, accuracy: 1e-6, name) }
        let (status, r) = try check(["llama", out, Self.goldens + "/tiny-t5.json.gz", "--tau", "0.5", "--min-cosine", "0.9999"])
        XCTAssertEqual(status, 0, r.serialized())
        print("t5encoder GGUF (f16) patched τ = 0.5 in llama.cpp vs golden: worst cosine \(r["worst_cosine"]?.doubleValue ?? 0) over \(r["compared"]?.intValue ?? 0) texts")
        // The bias is shared by both blocks: a subset cannot be baked.
        XCTAssertThrowsError(try GGUFPatcher.patch(plain, tau: 0.5, layers: "1", to: dir.file("x.gguf"), force: false)) { e in
            XCTAssertTrue("\(e)".contains("a block subset cannot be baked exactly"), "\(e)")
        }
        XCTAssertEqual(dir.listing, ["t5-t05.gguf", "t5.gguf"])
    }

    /// modern-bert: the query rows of attn_qkv; qwen3: attn_q_norm (q_norm undoes a scale on attn_q). f16 files
    /// written by the GGUF export, patched in place, run in llama.cpp against the τ = 0.5 golden.
    func testModernBertAndQwen3GGUFArePatchedInPlace() throws {
        let dir = TempDir()
        for (name, layers, expected) in [("tiny-modernbert", 4, (0..<4).map { "blk.\($0).attn_qkv.weight" }),
                                          ("tiny-qwen3", 3, (0..<3).map { "blk.\($0).attn_q_norm.weight" })] {
            let (plain, _) = try write(try ModelLoader.open(Self.tiny + "/" + name), .f16, in: dir, name: "\(name).gguf")
            let out = dir.file("\(name)-t05.gguf")
            let report = try GGUFPatcher.patch(plain, tau: 0.5, to: out, force: false)
            XCTAssertEqual(report.scales.count, layers, name)
            let c = try compare(plain, out)
            XCTAssertEqual(c.changed, expected.sorted(), name)
            for t in c.changed {
                if name == "tiny-modernbert" {
                    // the query rows only: rows 0..<32 of 96 change (the median ratio over the whole tensor is 1)
                    XCTAssertEqual(c.tensors[t]?["rows_changed"]?.arrayValue?.compactMap(\.intValue), [0, 32, 32], "\(name) \(t)")
                } else {
                    XCTAssertEqual(c.tensors[t]?["factor"]?.doubleValue ?? 0, 2, accuracy: 1e-6, "\(name) \(t)")
                }
            }
            let (status, r) = try check(["llama", out, Self.goldens + "/\(name).json.gz", "--tau", "0.5", "--min-cosine", "0.9999"])
            XCTAssertEqual(status, 0, r.serialized())
            print("\(name) GGUF (f16) patched τ = 0.5 in llama.cpp vs golden: worst cosine \(r["worst_cosine"]?.doubleValue ?? 0) over \(r["compared"]?.intValue ?? 0) texts")
            let sub = try GGUFPatcher.patch(plain, tau: 0.5, layers: "1", to: dir.file("\(name)-l1.gguf"), force: false)
            XCTAssertEqual(sub.scales.map(\.tensor), [expected[1]], name)
        }
    }

    func testPatchingComposesAndTheCLIReportsIt() throws {
        let dir = TempDir()
        let once = dir.file("once.gguf"), twice = dir.file("twice.gguf")
        let r1 = try runCLI(["patch", try fixture("q8_0"), "-t", "0.8", "-o", once])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertTrue(r1.stdout.contains("12 tensors scaled (F32 6, Q8_0 6), every other byte copied"), r1.stdout)
        let r2 = try runCLI(["patch", once, "-t", "0.5", "-o", twice])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stdout.contains("τ_total = 0.4"), r2.stdout)
        let c = try compare(try fixture("q8_0"), twice)
        XCTAssertEqual(c.tempscale["tempscale.temperature"]?.doubleValue ?? 0, 0.4, accuracy: 1e-12)
        let history = try JSON.parse(c.tempscale["tempscale.history"]?.stringValue ?? "")
        XCTAssertEqual(history["history"]?.arrayValue?.count, 2)
        XCTAssertEqual(c.tensors["blk.3.attn_q.weight"]?["factor"]?.doubleValue ?? 0, 2.5, accuracy: 1e-3)
        // inspect reads it: architecture, types, the history and what patch would scale.
        let i = try runCLI(["inspect", twice])
        XCTAssertEqual(i.status, 0, i.stderr)
        for needle in ["GGUF v3, llama.cpp architecture bert", "tensors: 101 (F32 64, Q8_0 37)", "bert.block_count = 6",
                       #"tempscale history {"tau":0.4"#, "patch: would scale 12 tensors"] {
            XCTAssertTrue(i.stdout.contains(needle), "\(needle) in \(i.stdout)")
        }
        let j = try JSON.parse(try runCLI(["inspect", twice, "--json"]).stdout)
        XCTAssertEqual(j["patch"]?["tensors"]?.arrayValue?.count, 12)
        // GGUF in, GGUF out: other formats and dtypes are refused before anything is written.
        for extra in [["--format", "hf"], ["--dtype", "f16"]] {
            let r = try runCLI(["patch", once, "-t", "0.5", "-o", dir.file("x")] + extra)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("is a GGUF file"), r.stderr)
        }
        XCTAssertEqual(dir.listing, ["once.gguf", "twice.gguf"])
    }

    func testBadGGUFInputIsRefusedInOneLineAndWritesNothing() throws {
        let dir = TempDir()
        let good = readBytes(try fixture("q4_0"))
        func refused(_ bytes: [UInt8], _ name: String, _ needle: String, layers: String = "all", file: StaticString = #filePath, line: UInt = #line) {
            let input = dir.write(name, bytes)
            let out = dir.file(name + ".out")
            XCTAssertThrowsError(try GGUFPatcher.patch(input, tau: 0.5, layers: layers, to: out, force: false), file: file, line: line) { e in
                if !needle.isEmpty { XCTAssertTrue("\(e)".contains(needle), "\(name): \(e)", file: file, line: line) }
                XCTAssertTrue("\(e)".hasPrefix(input), "\(name): names the file: \(e)", file: file, line: line)
                XCTAssertFalse("\(e)".contains("\n"), file: file, line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(name): no output", file: file, line: line)
            XCTAssertEqual(readBytes(input), bytes, "\(name): input untouched", file: file, line: line)
        }
        refused(Array("GGUX".utf8) + good.dropFirst(4), "magic.gguf", "not a GGUF file")
        for cut in [3, 10, 100, 5000, good.count / 2, good.count - 1] {
            refused(Array(good.prefix(cut)), "cut\(cut).gguf", cut < 4 ? "not a GGUF file" : "")
        }
        // A huge count or length is an error, not an allocation.
        var huge = good
        for i in 16..<24 { huge[i] = 0x7F }
        refused(huge, "huge-kv.gguf", "cannot fit")
        // general.architecture "bert" → "berx": a valid file of an architecture tempscale does not know.
        let key = Array("general.architecture".utf8)
        var unknown = good
        if let at = (0..<(good.count - key.count)).first(where: { Array(good[$0..<($0 + key.count)]) == key }) {
            let value = at + key.count + 4 + 8  // type u32, string length u64
            XCTAssertEqual(Array(good[value..<(value + 4)]), Array("bert".utf8))
            unknown[value + 3] = UInt8(ascii: "x")
        }
        refused(unknown, "berx.gguf", "general.architecture 'berx' is not one tempscale bakes τ into")
        refused(good, "layers.gguf", "outside 0-5", layers: "7")
        // Two tensors over the same bytes (a hostile file): scaling one would change the other.
        let parsed = try GGUFFile(path: try fixture("q4_0"))
        let bias = try XCTUnwrap(parsed.tensor("blk.0.attn_q.bias")), norm = try XCTUnwrap(parsed.tensor("blk.0.attn_output_norm.weight"))
        XCTAssertEqual(bias.byteCount, norm.byteCount)
        var shared = good
        withUnsafeBytes(of: UInt64(norm.offset).littleEndian) { shared.replaceSubrange((bias.range.upperBound - 8)..<bias.range.upperBound, with: $0) }
        refused(shared, "shared.gguf", "shares bytes with")
        // Every truncation of the header (first 4 KB, every 97th byte) is an error or a full file, never a crash.
        for cut in stride(from: 4, to: min(good.count, 4096), by: 97) {
            let input = dir.write("t.gguf", Array(good.prefix(cut)))
            XCTAssertThrowsError(try GGUFPatcher.patch(input, tau: 0.5, to: dir.file("t.out"), force: false), "cut at \(cut)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("t.out")))
    }
}

import Foundation
import XCTest
@testable import TempScaleKit

final class ModelLoaderTests: XCTestCase {
    let expectedPath = Paths.fixture("expected.json")

    func testReadsEveryArchitectureFromSafetensorsAndBinIdentically() throws {
        for name in ["tiny-bert", "tiny-bert-rkq", "tiny-roberta", "tiny-xlmr", "tiny-mpnet", "tiny-t5"] {
            let folder = Paths.fixture("models/" + name)
            let st = try ModelLoader.open(folder)
            XCTAssertEqual(st.sourceKind, .safetensors)
            let bin = try ModelLoader.open(folder + "/pytorch_model.bin")
            XCTAssertEqual(bin.sourceKind, .pytorchBin)
            XCTAssertEqual(st.family, bin.family)
            let binByName = Dictionary(bin.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for t in st.tensors {
                guard let b = binByName[t.name] else { return XCTFail("\(name): \(t.name) missing from the .bin") }
                XCTAssertEqual(t.shape, b.shape)
                XCTAssertTrue(t.bytes.elementsEqual(b.bytes), "\(name): \(t.name) differs between safetensors and .bin")
            }
        }
    }

    func testDetectsArchitecturesAndDimensions() throws {
        let expect: [(String, String, Int, Int)] = [
            ("tiny-bert", "bert", 32, 2), ("tiny-roberta", "bert", 32, 2), ("tiny-xlmr", "bert", 32, 2),
            ("tiny-mpnet", "mpnet", 32, 2), ("tiny-t5", "t5-encoder", 32, 2),
        ]
        for (name, family, hidden, layers) in expect {
            let m = try ModelLoader.open(Paths.fixture("models/" + name))
            XCTAssertEqual(m.family, family, name)
            XCTAssertEqual(m.architecture.dims.hidden, hidden, name)
            XCTAssertEqual(m.architecture.dims.layers, layers, name)
        }
        let rkq = try ModelLoader.open(Paths.fixture("models/tiny-bert-rkq"))
        XCTAssertEqual(rkq.architecture.dims.positionEmbedding, "relative_key_query")
        XCTAssertNotNil(rkq.tensor("encoder.layer.1.attention.self.distance_embedding.weight"))
    }

    func testReadsShardedSafetensorsAndShardedBinAsOneModel() throws {
        let expected = try loadExpected(expectedPath, key: "models/tiny-bert-sharded")
        let folder = Paths.fixture("models/tiny-bert-sharded")
        let st = try ModelLoader.open(folder)
        XCTAssertEqual(st.sourceKind, .shardedSafetensors)
        XCTAssertEqual(st.sources.count, 2)
        assertMatchesExpected(st.tensors, expected)
        let bin = try ModelLoader.open(folder + "/pytorch_model.bin.index.json")
        XCTAssertEqual(bin.sourceKind, .shardedPytorchBin)
        assertMatchesExpected(bin.tensors, expected)
    }

    func testReadsTheSentenceTransformersLayoutAndCarriesTokenizerFiles() throws {
        let m = try ModelLoader.open(Paths.fixture("models/tiny-bert"))
        XCTAssertEqual(m.sentenceTransformers.pooling, .mean)
        XCTAssertTrue(m.sentenceTransformers.normalize)
        XCTAssertEqual(m.sentenceTransformers.maxSeqLength, 48)
        for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "modules.json",
                  "sentence_bert_config.json", "1_Pooling/config.json"] {
            XCTAssertEqual(m.files[f], readBytes(Paths.fixture("models/tiny-bert/" + f)), f)
        }
        XCTAssertEqual(m.tokenizerKind, "WordPiece")
        let plain = try ModelLoader.open(Paths.fixture("models/tiny-roberta"))
        XCTAssertNil(plain.sentenceTransformers.pooling)
    }

    func testTensorsStayMemoryMapped() throws {
        for path in ["models/tiny-bert", "models/tiny-bert/pytorch_model.bin", "models/tiny-bert-sharded"] {
            let m = try ModelLoader.open(Paths.fixture(path))
            XCTAssertTrue(m.tensors.allSatisfy(\.isMapped), "\(path): a tensor was copied")
        }
    }

    /// Copies a fixture folder so a test can break it.
    func copy(_ name: String) throws -> TempDir {
        let dir = TempDir()
        let src = Paths.fixture("models/" + name)
        for f in try FileManager.default.contentsOfDirectory(atPath: src) {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir.file(f))
        }
        return dir
    }

    func testMissingConfigListsWhatIsSupported() throws {
        let dir = try copy("tiny-bert")
        try FileManager.default.removeItem(atPath: dir.file("config.json"))
        assertReason(CheckpointError.noConfig(dir.path)) { _ = try ModelLoader.open(dir.path) }
        do { _ = try ModelLoader.open(dir.path) } catch {
            XCTAssertTrue("\(error)".contains("bert, roberta, xlm-roberta, mpnet, t5"), "\(error)")
        }
    }

    func testUnsupportedArchitectureListsWhatIsSupported() throws {
        let dir = try copy("tiny-bert")
        _ = dir.write("config.json", #"{"model_type": "jina_bert", "hidden_size": 32}"#)
        assertReason(ArchitectureError.unsupported("jina_bert")) { _ = try ModelLoader.open(dir.path) }
        do { _ = try ModelLoader.open(dir.path) } catch {
            XCTAssertTrue("\(error)".contains("supported model_type values: bert"), "\(error)")
        }
    }

    func testWrongShapeAgainstTheConfigIsNamed() throws {
        let dir = try copy("tiny-bert")
        var config = String(decoding: readBytes(dir.file("config.json")), as: UTF8.self)
        config = config.replacingOccurrences(of: "\"intermediate_size\": 64", with: "\"intermediate_size\": 65")
        _ = dir.write("config.json", config)
        assertReason(ArchitectureError.wrongShape("encoder.layer.0.intermediate.dense.weight", expected: [65, 32], actual: [64, 32])) {
            _ = try ModelLoader.open(dir.path)
        }
    }

    func testMissingWeightsAndMissingShardsAreNamed() throws {
        let dir = try copy("tiny-bert")
        for f in ["model.safetensors", "pytorch_model.bin"] { try FileManager.default.removeItem(atPath: dir.file(f)) }
        assertReason(CheckpointError.noWeights(dir.path)) { _ = try ModelLoader.open(dir.path) }
        let sharded = try copy("tiny-bert-sharded")
        try FileManager.default.removeItem(atPath: sharded.file("model-00002-of-00002.safetensors"))
        assertReason(IOError.notFound) { _ = try ModelLoader.open(sharded.path) }
    }

    func testStripsTaskModelPrefixes() throws {
        // A BertForMaskedLM-style checkpoint: every base tensor under "bert.", plus a head.
        let src = try SafeTensors.read(path: Paths.fixture("models/tiny-bert/model.safetensors"))
        var header = JSONObject()
        var data: [UInt8] = []
        for t in src.tensors + [src.tensors[0].renamed("cls.predictions.bias")] {
            let name = t.name.hasPrefix("cls.") ? t.name : "bert." + t.name
            header[name] = .object(JSONObject([("dtype", .string(t.dtype.rawValue)), ("shape", .array(t.shape.map { .int(Int64($0)) })),
                                               ("data_offsets", .array([.int(Int64(data.count)), .int(Int64(data.count + t.bytes.count))]))]))
            data += Array(t.bytes)
        }
        let dir = try copy("tiny-bert")
        try FileManager.default.removeItem(atPath: dir.file("pytorch_model.bin"))
        let h = Array(JSONValue.object(header).serialized().utf8)
        _ = dir.write("model.safetensors", le(UInt64(h.count)) + h + data)
        let m = try ModelLoader.open(dir.path)
        XCTAssertNotNil(m.tensor("embeddings.word_embeddings.weight"))
        XCTAssertNotNil(m.tensor("cls.predictions.bias"), "extra tensors are kept, not dropped")
    }
}

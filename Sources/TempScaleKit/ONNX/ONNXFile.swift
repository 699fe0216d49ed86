import CKernels
import Foundation
import ONNXProto
import SwiftProtobuf

/// An ONNX model file (onnx/onnx.proto, proto2) read through the generated ONNXProto types: the parsed model,
/// with tensors stored outside the file (`data_location = EXTERNAL`) read in, and checks that the graph is one a
/// runtime could load — every name a node reads is produced, no cycles — so that the patcher walks a sound graph.
/// Fields the schema does not know survive a read → write unchanged (swift-protobuf keeps them).
public struct ONNXFile: @unchecked Sendable {
    public enum Error: ReasonError, Equatable {
        case notProtobuf(String)
        case notModel(String)
        case tooLarge(Int)
        case badGraph(String)
        case badTensor(String, String)
        case externalData(String, String)

        public var description: String {
            switch self {
            case .notProtobuf(let why): return "not a readable ONNX model: \(why)"
            case .notModel(let why): return "not an ONNX model: \(why)"
            case .tooLarge(let n): return "is \(n) bytes; a protobuf file holds at most 2 GiB (larger models keep their weights in external data files)"
            case .badGraph(let why): return "malformed graph: \(why)"
            case .badTensor(let t, let why): return "tensor '\(t)' \(why)"
            case .externalData(let t, let why): return "tensor '\(t)' external data: \(why)"
            }
        }
    }

    public let path: String
    public var model: Onnx_ModelProto
    /// Files beside the model that held external tensor data (relative paths, as the model names them).
    public private(set) var externalFiles: [String] = []

    /// Whether `path` names an ONNX file (by extension; the contents are checked by `read`).
    public static func isONNX(path: String) -> Bool { path.lowercased().hasSuffix(".onnx") }

    /// Reads and checks `path`; errors are `FileError`s naming the file.
    public static func read(_ path: String) throws -> ONNXFile {
        var f = ONNXFile(path: path, model: try parse(path))
        do {
            try f.checkModel()
            try f.readExternalData()
            _ = try ONNXGraph(f.model.graph)
        } catch let e as Error {
            throw FileError(path, e)
        }
        return f
    }

    /// Parses straight from the mapping (no copy of the file); the mapping is released when this returns, so the
    /// parsed model — which owns copies of its bytes — is all that stays in memory.
    private static func parse(_ path: String) throws -> Onnx_ModelProto {
        let file = try MappedFile(path: path)
        guard file.count < Int(Int32.max) else { throw FileError(path, Error.tooLarge(file.count)) }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        do {
            let bytes = file.base.map { Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: file.count, deallocator: .none) } ?? Data()
            return try withExtendedLifetime(file) { try Onnx_ModelProto(serializedBytes: bytes, options: options) }
        } catch let e as BinaryDecodingError {
            throw FileError(path, Error.notProtobuf(Self.reason(e)))
        } catch {
            throw FileError(path, Error.notProtobuf("\(error)"))
        }
    }

    init(path: String, model: Onnx_ModelProto) {
        self.path = path
        self.model = model
    }

    static func reason(_ e: BinaryDecodingError) -> String {
        switch e {
        case .truncated: return "truncated protobuf (a field runs past the end of the file)"
        case .malformedProtobuf: return "malformed protobuf (bad wire type, tag or length)"
        case .messageDepthLimit: return "protobuf nested more than 64 deep"
        case .invalidUTF8: return "a string field is not valid UTF-8"
        case .missingRequiredFields: return "required protobuf fields are missing"
        default: return "protobuf decoding failed (\(e))"
        }
    }

    private func checkModel() throws(Error) {
        guard model.hasIrVersion, model.irVersion >= 3 else {
            throw .notModel(model.hasIrVersion ? "ir_version \(model.irVersion) is below 3" : "no ir_version")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else { throw .notModel("the graph has no nodes") }
        guard !model.opsetImport.isEmpty else { throw .notModel("no opset_import") }
    }

    /// Opset version of a domain ("" = the default ONNX domain).
    public func opset(_ domain: String) -> Int64? {
        model.opsetImport.first { $0.domain == domain || ($0.domain == "ai.onnx" && domain.isEmpty) }?.version
    }

    // MARK: External data

    /// Tensors whose data lives in files beside the model get their bytes into `raw_data` (and their location
    /// reset), so that every later step sees one kind of tensor. Paths must stay inside the model's folder.
    private mutating func readExternalData() throws(Error) {
        let dir = parentDirectory(path)
        var files: [String: MappedFile] = [:]
        func load(_ t: inout Onnx_TensorProto) throws(Error) {
            guard t.dataLocation == .external else { return }
            var info: [String: String] = [:]
            for kv in t.externalData { info[kv.key] = kv.value }
            guard let location = info["location"], !location.isEmpty else { throw .externalData(t.name, "no location") }
            let parts = location.split(separator: "/")
            guard !location.hasPrefix("/"), !parts.contains(".."), !location.contains("\\") else {
                throw .externalData(t.name, "location '\(location)' leaves the model's folder")
            }
            let offset = Int(info["offset"] ?? "0"), length = info["length"].map { Int($0) }
            guard let offset, offset >= 0, length.map({ $0 != nil && $0! >= 0 }) ?? true else {
                throw .externalData(t.name, "offset/length are not non-negative integers")
            }
            if files[location] == nil {
                do { files[location] = try MappedFile(path: join(dir, location)) } catch {
                    throw .externalData(t.name, "cannot open '\(location)' beside the model")
                }
                externalFiles.append(location)
            }
            let f = files[location]!
            let n = length.map { $0! } ?? (f.count - offset)
            guard let bytes = f.bytes(offset, n) else {
                throw .externalData(t.name, "bytes \(offset)..<\(offset + n) run past the end of '\(location)' (\(f.count) bytes)")
            }
            t.rawData = Data(bytes)
            t.externalData = []
            t.clearDataLocation()
        }
        for i in model.graph.initializer.indices { try load(&model.graph.initializer[i]) }
        for i in model.graph.node.indices {
            for a in model.graph.node[i].attribute.indices where model.graph.node[i].attribute[a].hasT {
                try load(&model.graph.node[i].attribute[a].t)
            }
        }
    }

    // MARK: Writing

    /// Serializes the model to `output` (temp file + rename; never over an input). Tensors go into a data file
    /// beside it (`<output>.data`) when the input kept its weights outside, or when the model would not fit in
    /// one protobuf; returns the bytes written (both files).
    public func write(to output: String, force: Bool) throws -> Int {
        var m = model
        let total = m.graph.initializer.reduce(0) { $0 + $1.rawData.count }
        let external = !externalFiles.isEmpty || total > 1_800_000_000
        var dataWriter: AtomicFileWriter?
        let dataName = basename(output) + ".data"
        if external {
            let w = try AtomicFileWriter(destination: join(parentDirectory(output), dataName), force: force,
                                         inputs: [path] + externalFiles.map { join(parentDirectory(path), $0) })
            for i in m.graph.initializer.indices where m.graph.initializer[i].rawData.count >= 1024 {
                let pad = (4096 - w.position % 4096) % 4096
                try w.writeZeros(pad)
                let offset = w.position
                let raw = m.graph.initializer[i].rawData
                try raw.withUnsafeBytes { try w.write($0) }
                var t = m.graph.initializer[i]
                t.rawData = Data()
                t.clearRawData()
                t.dataLocation = .external
                t.externalData = [("location", dataName), ("offset", "\(offset)"), ("length", "\(raw.count)")].map { k, v in
                    var e = Onnx_StringStringEntryProto()
                    e.key = k
                    e.value = v
                    return e
                }
                m.graph.initializer[i] = t
            }
            dataWriter = w
        }
        let bytes: Data
        do { bytes = try m.serializedData() } catch { throw FileError(output, IOError.cannotWrite("protobuf encoding failed: \(error)")) }
        guard bytes.count < Int(Int32.max) else { throw FileError(output, Error.tooLarge(bytes.count)) }
        let out = try AtomicFileWriter(destination: output, force: force, inputs: [path])
        try bytes.withUnsafeBytes { try out.write($0) }
        let dataBytes = dataWriter?.position ?? 0
        try dataWriter?.commit()
        try out.commit()
        return bytes.count + dataBytes
    }

    // MARK: Metadata (the τ history)

    public var metadata: [String: String] {
        var d: [String: String] = [:]
        for kv in model.metadataProps { d[kv.key] = kv.value }
        return d
    }

    /// The temperatures baked into this file by tempscale (`tempscale.history` in metadata_props).
    public var temperature: TemperatureHistory {
        guard let h = metadata["tempscale.history"], let j = try? JSON.parse(Array(h.utf8)) else { return TemperatureHistory() }
        return (try? TemperatureHistory(json: j)) ?? TemperatureHistory()
    }

    /// Replaces the `tempscale.*` metadata with `history`.
    mutating func setTemperature(_ history: TemperatureHistory) {
        model.metadataProps.removeAll { $0.key.hasPrefix("tempscale.") }
        for (k, v) in [("tempscale.version", TempScale.version), ("tempscale.temperature", "\(history.total)"),
                       ("tempscale.history", history.json.serialized())] {
            var e = Onnx_StringStringEntryProto()
            e.key = k
            e.value = v
            model.metadataProps.append(e)
        }
    }
}

// MARK: Tensors

/// The element types tempscale reads and scales (onnx.proto TensorProto.DataType numbers).
public enum ONNXElementType: Int32, Sendable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9
    case float16 = 10, double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16
    case int4 = 22, uint4 = 21

    public var name: String {
        switch self {
        case .float: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .double: return "float64"
        default: return "\(self)"
        }
    }

    var isFloat: Bool { [.float, .float16, .bfloat16, .double].contains(self) }

    var byteSize: Int? {
        switch self {
        case .float, .int32, .uint32: return 4
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .int64, .uint64, .double: return 8
        case .string, .int4, .uint4: return nil
        }
    }
}

extension Onnx_TensorProto {
    var elementType: ONNXElementType? { ONNXElementType(rawValue: dataType) }

    /// The element count from dims, or nil when a dim is negative or the product overflows.
    var elementCount: Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: Int(d))
            if o { return nil }
            n = p
        }
        return n
    }

    /// The values of a floating-point tensor as Float (f32, f16, bf16, f64; raw_data or the typed fields).
    func floatValues() throws(ONNXFile.Error) -> [Float] {
        guard let type = elementType, type.isFloat else {
            throw .badTensor(name, "is \(ONNXElementType(rawValue: dataType)?.name ?? "type \(dataType)"), not floating point")
        }
        guard let n = elementCount else { throw .badTensor(name, "has invalid dims \(dims)") }
        if hasRawData {
            guard rawData.count == n * type.byteSize! else {
                throw .badTensor(name, "raw_data holds \(rawData.count) bytes; dims \(dims) × \(type.name) need \(n * type.byteSize!)")
            }
            return rawData.withUnsafeBytes { raw -> [Float] in
                switch type {
                case .float:  // little-endian f32, the host's layout: one copy
                    return [Float](unsafeUninitializedCapacity: n) { buf, count in
                        if n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: 4 * n) }
                        count = n
                    }
                case .double: return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
                default: return Self.widen((0..<n).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian }, type)
                }
            }
        }
        let values: [Float]
        switch type {
        case .float: values = floatData
        case .double: values = doubleData.map { Float($0) }
        default: values = Self.widen(int32Data.map { UInt16(truncatingIfNeeded: $0) }, type)  // f16/bf16 bits in int32_data
        }
        guard values.count == n else { throw .badTensor(name, "holds \(values.count) values; dims \(dims) need \(n)") }
        return values
    }

    /// Stores `values` back in the tensor's own type and storage form.
    mutating func setFloatValues(_ values: [Float]) {
        let type = elementType!
        if hasRawData {
            var d = Data(capacity: values.count * type.byteSize!)
            switch type {
            case .float: d = values.withUnsafeBytes { Data($0) }
            case .double: for v in values { withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            default: d = Self.narrow(values, type).withUnsafeBytes { Data($0) }
            }
            rawData = d
            return
        }
        switch type {
        case .float: floatData = values
        case .double: doubleData = values.map { Double($0) }
        default: int32Data = Self.narrow(values, type).map { Int32($0) }
        }
    }

    /// f16 / bf16 bit patterns ↔ f32, through the converters the rest of tempscale uses (CKernels; round to
    /// nearest even).
    static func widen(_ bits: [UInt16], _ type: ONNXElementType) -> [Float] {
        var out = [Float](repeating: 0, count: bits.count)
        guard !bits.isEmpty else { return out }
        bits.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                type == .float16 ? ts_f16_to_f32(b.baseAddress!, o.baseAddress!, bits.count) : ts_bf16_to_f32(b.baseAddress!, o.baseAddress!, bits.count)
            }
        }
        return out
    }

    static func narrow(_ values: [Float], _ type: ONNXElementType) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        guard !values.isEmpty else { return out }
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                type == .float16 ? ts_f32_to_f16(v.baseAddress!, o.baseAddress!, values.count) : ts_f32_to_bf16(v.baseAddress!, o.baseAddress!, values.count)
            }
        }
        return out
    }

    /// Integer values (int8/uint8/int32/int64), for shapes and split sizes.
    func intValues() throws(ONNXFile.Error) -> [Int64] {
        guard let type = elementType, let size = type.byteSize, !type.isFloat, let n = elementCount else {
            throw .badTensor(name, "is not an integer tensor with valid dims")
        }
        if hasRawData {
            guard rawData.count == n * size else { throw .badTensor(name, "raw_data holds \(rawData.count) bytes, dims need \(n * size)") }
            return rawData.withUnsafeBytes { raw in
                (0..<n).map { i -> Int64 in
                    switch type {
                    case .int64, .uint64: return Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    case .int32, .uint32: return Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                    case .int8: return Int64(raw.load(fromByteOffset: i, as: Int8.self))
                    case .int16, .uint16: return Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                    default: return Int64(raw.load(fromByteOffset: i, as: UInt8.self))
                    }
                }
            }
        }
        let v = type == .int64 ? int64Data : (type == .uint64 ? uint64Data.map { Int64(bitPattern: $0) } : int32Data.map { Int64($0) })
        guard v.count == n else { throw .badTensor(name, "holds \(v.count) values; dims \(dims) need \(n)") }
        return v
    }
}

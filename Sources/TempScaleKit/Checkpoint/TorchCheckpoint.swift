/// PyTorch's zip checkpoints (`torch.save`, torch ≥ 1.6): `TOP/data.pkl` names storages that live in
/// `TOP/data/<key>`; TOP is an arbitrary folder name taken from the first entry.
public enum TorchCheckpoint {
    public enum Error: ReasonError, Equatable {
        case legacyFormat
        case notACheckpoint(String)
        case missingRecord(String)
        case recordTooShort(String, need: Int, have: Int)
        case viewOutOfBounds(String)
        case negativeStride(String)
        case badByteOrder(String)
        case notAStateDict(String)
        case duplicateTensor(String)

        public var description: String {
            switch self {
            case .legacyFormat: return "torch: legacy (pre-zip) format; re-save it with torch >= 1.6 (torch.save(torch.load(f), f))"
            case .notACheckpoint(let why): return "torch: not a PyTorch zip checkpoint (\(why))"
            case .missingRecord(let k): return "torch: storage '\(k)' has no record in the archive"
            case .recordTooShort(let k, let need, let have): return "torch: storage '\(k)' needs \(need) bytes but its record has \(have)"
            case .viewOutOfBounds(let n): return "torch: tensor '\(n)' reaches past the end of its storage"
            case .negativeStride(let n): return "torch: tensor '\(n)' has a negative size, offset or stride"
            case .badByteOrder(let b): return "torch: unknown byteorder '\(b)'"
            case .notAStateDict(let why): return "torch: the pickle is not a state dict of tensors (\(why))"
            case .duplicateTensor(let n): return "torch: tensor name '\(n)' appears twice"
            }
        }
    }

    /// Reads every tensor of a `.bin`; contiguous little-endian views point into the mapping.
    public static func read(path: String) throws -> [Tensor] {
        let file = try MappedFile(path: path)
        do {
            return try read(file)
        } catch let e as Error {
            throw FileError(path, e)
        } catch let e as ZipArchive.Error {
            throw FileError(path, e)
        } catch let e as Pickle.Error {
            throw FileError(path, e)
        }
    }

    static func read(_ file: MappedFile) throws -> [Tensor] {
        let all = file.all
        // A legacy torch file starts with a pickle (PROTO 2) of the magic number, not with a zip header.
        if all.count >= 2 && all[0] == 0x80 && all[1] <= 5 { throw Error.legacyFormat }
        guard all.count >= 4, all.le(0, as: UInt32.self) == 0x0403_4b50 else {
            throw Error.notACheckpoint("no zip signature")
        }
        let zip = try ZipArchive(file)
        guard let first = zip.entries.first, let slash = first.name.firstIndex(of: "/") else {
            throw Error.notACheckpoint("no top folder")
        }
        let top = String(first.name[..<slash])
        for e in zip.entries where !e.name.hasPrefix(top + "/") {
            throw ZipArchive.Error.outsideTopFolder(e.name, top: top)
        }
        guard zip.entry(top + "/data.pkl") != nil else { throw Error.notACheckpoint("no \(top)/data.pkl") }
        var bigEndian = false
        if zip.entry(top + "/byteorder") != nil {
            let s = try zip.withContents(of: top + "/byteorder") { String(decoding: $0, as: UTF8.self) }
            switch s {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw Error.badByteOrder(String(s.prefix(16)))
            }
        }
        let root = try zip.withContents(of: top + "/data.pkl") { try Pickle.load($0) }
        let refs = try stateDict(root)

        var records: [String: (UnsafeRawBufferPointer, AnyObject)] = [:]
        var seen = Set<String>()
        var tensors: [Tensor] = []
        for (name, ref) in refs {
            guard seen.insert(name).inserted else { throw Error.duplicateTensor(name) }
            let s = ref.storage
            let record: (UnsafeRawBufferPointer, AnyObject)
            if let r = records[s.key] {
                record = r
            } else {
                let path = "\(top)/data/\(s.key)"
                guard zip.entry(path) != nil, !s.key.contains("/") else { throw Error.missingRecord(s.key) }
                record = try zip.contents(of: path)
                records[s.key] = record
            }
            let (need, overflow) = s.numel.multipliedReportingOverflow(by: s.dtype.itemSize)
            guard !overflow, record.0.count >= need else {
                throw Error.recordTooShort(s.key, need: overflow ? Int.max : need, have: record.0.count)
            }
            tensors.append(try view(name: name, ref, record: record.0, owner: record.1, bigEndian: bigEndian))
        }
        return tensors
    }

    /// The (name, tensor) pairs of a state dict; a dict holding one under "state_dict" or "model" works too.
    static func stateDict(_ root: Pickle.Value) throws(Error) -> [(String, Pickle.TensorRef)] {
        guard case .dict(let d) = root else { throw .notAStateDict("top level is \(root.kind)") }
        var out: [(String, Pickle.TensorRef)] = []
        for (k, v) in d.items {
            guard case .string(let name) = k else { throw .notAStateDict("a key of type \(k.kind)") }
            switch v {
            case .tensor(let t): out.append((name, t))
            case .dict where d.items.count == 1 || name == "state_dict" || name == "model":
                if (name == "state_dict" || name == "model") { return try stateDict(v) }
                throw .notAStateDict("'\(name)' is a dict")
            default: throw .notAStateDict("'\(name)' is \(v.kind)")
            }
        }
        return out
    }

    /// Materialises a view: in place when it is a contiguous little-endian run of its storage, copied otherwise.
    static func view(name: String, _ t: Pickle.TensorRef, record: UnsafeRawBufferPointer, owner: AnyObject,
                     bigEndian: Bool) throws(Error) -> Tensor {
        let dtype = t.storage.dtype, item = dtype.itemSize
        guard t.offset >= 0, t.size.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }) else {
            throw .negativeStride(name)
        }
        guard let count = elementCount(t.size) else { throw .viewOutOfBounds(name) }
        if count > 0 {
            // The last element reached: offset + Σ (size−1)·stride, overflow-checked.
            var last = t.offset
            for (s, st) in zip(t.size, t.stride) {
                let (m, o1) = (s - 1).multipliedReportingOverflow(by: st)
                let (sum, o2) = last.addingReportingOverflow(m)
                guard !o1, !o2 else { throw .viewOutOfBounds(name) }
                last = sum
            }
            guard last < t.storage.numel else { throw .viewOutOfBounds(name) }
        }
        var contiguous = [Int](repeating: 1, count: t.size.count)
        for i in stride(from: t.size.count - 2, through: 0, by: -1) { contiguous[i] = contiguous[i + 1] * t.size[i + 1] }
        let isContiguous = zip(zip(t.size, t.stride), contiguous).allSatisfy { $0.0.0 <= 1 || $0.0.1 == $0.1 }
        if isContiguous && !bigEndian {
            let bytes = UnsafeRawBufferPointer(rebasing: record[t.offset * item..<(t.offset + count) * item])
            return Tensor(name: name, dtype: dtype, shape: t.size, bytes: bytes, owner: owner)
        }
        let out = OwnedBuffer(count: count * item)
        let src = record.baseAddress!, dst = out.pointer
        var index = [Int](repeating: 0, count: t.size.count)
        for k in 0..<count {
            var e = t.offset
            for d in 0..<index.count { e += index[d] * t.stride[d] }
            if bigEndian {
                for b in 0..<item { dst.storeBytes(of: src.load(fromByteOffset: e * item + b, as: UInt8.self),
                                                    toByteOffset: k * item + (item - 1 - b), as: UInt8.self) }
            } else {
                (dst + k * item).copyMemory(from: src + e * item, byteCount: item)
            }
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < t.size[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return Tensor(name: name, dtype: dtype, shape: t.size, bytes: out.bytes, owner: out)
    }
}

/// A pickle reader that never executes anything. It runs the opcodes symbolically over an allowlist:
/// containers and scalars are built, `GLOBAL` may only name the few callables a PyTorch state dict
/// needs, and `REDUCE` of those is interpreted here, never called. Anything else is an error naming
/// the global or opcode. (Deny-lists have been bypassed again and again; this is an allowlist.)
public enum Pickle {
    public enum Error: ReasonError, Equatable {
        case disallowedGlobal(String)
        case unknownOpcode(UInt8, at: Int)
        case disallowedOpcode(String, at: Int)
        case stackUnderflow(String, at: Int)
        case memoMissing(Int, at: Int)
        case truncated(at: Int)
        case setItemOnNonDict(at: Int)
        case appendOnNonList(at: Int)
        case tooDeep(at: Int)
        case tooLarge(String, at: Int)
        case badCall(String, String)
        case noStop

        public var description: String {
            switch self {
            case .disallowedGlobal(let g): return "pickle: global '\(g)' is not allowed (only state-dict types are read; nothing is executed)"
            case .unknownOpcode(let op, let at): return "pickle: unknown opcode 0x\(String(op, radix: 16)) at byte \(at)"
            case .disallowedOpcode(let name, let at): return "pickle: opcode \(name) at byte \(at) is not allowed"
            case .stackUnderflow(let op, let at): return "pickle: stack underflow at \(op) (byte \(at))"
            case .memoMissing(let k, let at): return "pickle: memo key \(k) read before it was written (byte \(at))"
            case .truncated(let at): return "pickle: stream truncated at byte \(at)"
            case .setItemOnNonDict(let at): return "pickle: SETITEM(S) on a value that is not a dict (byte \(at))"
            case .appendOnNonList(let at): return "pickle: APPEND(S) on a value that is not a list (byte \(at))"
            case .tooDeep(let at): return "pickle: values nested too deeply (byte \(at))"
            case .tooLarge(let what, let at): return "pickle: \(what) too large (byte \(at))"
            case .badCall(let g, let why): return "pickle: \(g) called with \(why)"
            case .noStop: return "pickle: stream ends without STOP"
            }
        }
    }

    /// The globals a PyTorch state dict may name. Storage classes map to their element type.
    public static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .f32, "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16,
        "torch.DoubleStorage": .f64, "torch.LongStorage": .i64, "torch.IntStorage": .i32,
        "torch.ShortStorage": .i16, "torch.CharStorage": .i8, "torch.ByteStorage": .u8, "torch.BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
    ]
    /// Types that appear only as arguments (the class of a rebuilt Parameter), never called.
    static let typeTokens: Set<String> = ["torch.nn.parameter.Parameter", "torch.Tensor"]

    public static func isAllowed(_ global: String) -> Bool {
        callables.contains(global) || typeTokens.contains(global) || storageTypes[global] != nil
    }

    // MARK: Values

    public final class ListBox { var items: [Value] = []; var depth = 1 }
    public final class DictBox { var items: [(Value, Value)] = []; var depth = 1 }

    /// A storage named by a persistent id: ("storage", torch.XStorage, key, location, numel).
    public struct StorageRef: Equatable, Sendable { public let dtype: DType; public let key: String; public let numel: Int }
    /// `_rebuild_tensor_v2(storage, offset, size, stride, ...)` — a view of a storage, in elements.
    public struct TensorRef: Equatable, Sendable {
        public let storage: StorageRef
        public let offset: Int
        public let size: [Int]
        public let stride: [Int]
    }

    public indirect enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case bytes([UInt8])
        case tuple([Value], depth: Int)
        case list(ListBox)
        case dict(DictBox)
        case global(String)
        case storage(StorageRef)
        case tensor(TensorRef)

        var depth: Int {
            switch self {
            case .tuple(_, let d): return d
            case .list(let l): return l.depth
            case .dict(let d): return d.depth
            default: return 0
            }
        }
        var kind: String {
            switch self {
            case .none: return "None"
            case .bool: return "bool"
            case .int: return "int"
            case .float: return "float"
            case .string: return "str"
            case .bytes: return "bytes"
            case .tuple: return "tuple"
            case .list: return "list"
            case .dict: return "dict"
            case .global(let g): return g
            case .storage: return "storage"
            case .tensor: return "tensor"
            }
        }
    }

    static let maxDepth = 64
    static let maxStack = 1 << 22
    static let maxMemo = 1 << 22
    static let maxString = 1 << 28

    // MARK: The machine

    /// Runs the stream symbolically and returns the value at STOP.
    public static func load(_ data: UnsafeRawBufferPointer) throws(Error) -> Value {
        var stack: [Value] = []
        var marks: [Int] = []
        var memo: [Int: Value] = [:]
        var pos = 0
        let n = data.count

        func need(_ k: Int) throws(Error) { if k > n - pos { throw .truncated(at: n) } }
        func u8() throws(Error) -> Int { try need(1); defer { pos += 1 }; return Int(data[pos]) }
        func u16() throws(Error) -> Int { try need(2); defer { pos += 2 }; return Int(data.le(pos, as: UInt16.self)) }
        func u32() throws(Error) -> Int { try need(4); defer { pos += 4 }; return Int(data.le(pos, as: UInt32.self)) }
        func i32() throws(Error) -> Int { try need(4); defer { pos += 4 }; return Int(data.le(pos, as: Int32.self)) }
        func u64() throws(Error) -> Int {
            try need(8)
            let v = data.le(pos, as: UInt64.self)
            guard v <= UInt64(maxString) else { throw .tooLarge("length", at: pos) }
            pos += 8
            return Int(v)
        }
        func raw(_ k: Int) throws(Error) -> UnsafeRawBufferPointer {
            guard k <= maxString else { throw .tooLarge("string", at: pos) }
            try need(k)
            defer { pos += k }
            return UnsafeRawBufferPointer(rebasing: data[pos..<pos + k])
        }
        func line() throws(Error) -> String {
            var end = pos
            while end < n && data[end] != 0x0A { end += 1 }
            guard end < n else { throw .truncated(at: n) }
            defer { pos = end + 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: data[pos..<end]), as: UTF8.self)
        }
        func pop(_ op: String, at: Int) throws(Error) -> Value {
            guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw .stackUnderflow(op, at: at) }
            return v
        }
        func popMark(_ op: String, at: Int) throws(Error) -> [Value] {
            guard let m = marks.popLast(), m <= stack.count else { throw .stackUnderflow(op, at: at) }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func push(_ v: Value, at: Int) throws(Error) {
            guard v.depth <= maxDepth else { throw .tooDeep(at: at) }
            guard stack.count < maxStack else { throw .tooLarge("stack", at: at) }
            stack.append(v)
        }
        func tuple(_ items: [Value]) -> Value { .tuple(items, depth: 1 + (items.map(\.depth).max() ?? 0)) }
        func global(_ module: String, _ name: String) throws(Error) -> Value {
            let g = "\(module).\(name)"
            guard isAllowed(g) else { throw .disallowedGlobal(g) }
            return .global(g)
        }
        func putMemo(_ k: Int, at: Int) throws(Error) {
            guard let top = stack.last else { throw .stackUnderflow("PUT", at: at) }
            guard memo.count < maxMemo || memo[k] != nil else { throw .tooLarge("memo", at: at) }
            memo[k] = top
        }
        func getMemo(_ k: Int, at: Int) throws(Error) {
            guard let v = memo[k] else { throw .memoMissing(k, at: at) }
            try push(v, at: at)
        }

        while pos < n {
            let at = pos
            let op = data[pos]
            pos += 1
            switch op {
            case 0x80: _ = try u8()  // PROTO
            case 0x95: _ = try u64()  // FRAME: a length hint; the frame's opcodes follow in line
            case 0x2E:  // STOP
                guard let v = stack.popLast() else { throw .stackUnderflow("STOP", at: at) }
                return v
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop("POP", at: at)
            case 0x31: _ = try popMark("POP_MARK", at: at)
            case 0x32:  // DUP
                guard let top = stack.last else { throw .stackUnderflow("DUP", at: at) }
                try push(top, at: at)
            case 0x4E: try push(.none, at: at)  // NONE
            case 0x88: try push(.bool(true), at: at)
            case 0x89: try push(.bool(false), at: at)
            case 0x4A: try push(.int(try i32()), at: at)  // BININT
            case 0x4B: try push(.int(try u8()), at: at)  // BININT1
            case 0x4D: try push(.int(try u16()), at: at)  // BININT2
            case 0x8A:  // LONG1: little-endian two's complement of n bytes
                let k = try u8()
                let b = try raw(k)
                guard k <= 8 else { throw .tooLarge("integer", at: at) }
                var v: UInt64 = 0
                for i in 0..<k { v |= UInt64(b[i]) << (8 * UInt64(i)) }
                if k > 0 && k < 8 && b[k - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(k)) }
                try push(.int(Int(Int64(bitPattern: v))), at: at)
            case 0x47:  // BINFLOAT: big-endian double
                try need(8)
                let bits = UInt64(bigEndian: data.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
                pos += 8
                try push(.float(Double(bitPattern: bits)), at: at)
            case 0x58: let k = try u32(); try push(.string(String(decoding: try raw(k), as: UTF8.self)), at: at)  // BINUNICODE
            case 0x8C: let k = try u8(); try push(.string(String(decoding: try raw(k), as: UTF8.self)), at: at)  // SHORT_BINUNICODE
            case 0x8D: let k = try u64(); try push(.string(String(decoding: try raw(k), as: UTF8.self)), at: at)  // BINUNICODE8
            case 0x55: let k = try u8(); try push(.string(String(decoding: try raw(k), as: UTF8.self)), at: at)  // SHORT_BINSTRING
            case 0x54:  // BINSTRING
                let k = try i32()
                guard k >= 0 else { throw .tooLarge("string", at: at) }
                try push(.string(String(decoding: try raw(k), as: UTF8.self)), at: at)
            case 0x43: let k = try u8(); try push(.bytes(Array(try raw(k))), at: at)  // SHORT_BINBYTES
            case 0x42: let k = try u32(); try push(.bytes(Array(try raw(k))), at: at)  // BINBYTES
            case 0x29: try push(.tuple([], depth: 1), at: at)  // EMPTY_TUPLE
            case 0x5D: try push(.list(ListBox()), at: at)  // EMPTY_LIST
            case 0x7D: try push(.dict(DictBox()), at: at)  // EMPTY_DICT
            case 0x74: try push(tuple(try popMark("TUPLE", at: at)), at: at)
            case 0x85: let a = try pop("TUPLE1", at: at); try push(tuple([a]), at: at)
            case 0x86:
                let b = try pop("TUPLE2", at: at), a = try pop("TUPLE2", at: at)
                try push(tuple([a, b]), at: at)
            case 0x87:
                let c = try pop("TUPLE3", at: at), b = try pop("TUPLE3", at: at), a = try pop("TUPLE3", at: at)
                try push(tuple([a, b, c]), at: at)
            case 0x61, 0x65:  // APPEND, APPENDS
                let items = op == 0x61 ? [try pop("APPEND", at: at)] : try popMark("APPENDS", at: at)
                guard case .list(let l) = stack.last else {
                    if stack.isEmpty { throw .stackUnderflow("APPEND", at: at) }
                    throw .appendOnNonList(at: at)
                }
                for v in items {
                    l.depth = max(l.depth, v.depth + 1)
                    guard l.depth <= maxDepth else { throw .tooDeep(at: at) }
                    l.items.append(v)
                }
            case 0x73, 0x75:  // SETITEM, SETITEMS
                var items: [Value]
                if op == 0x73 {
                    let v = try pop("SETITEM", at: at), k = try pop("SETITEM", at: at)
                    items = [k, v]
                } else {
                    items = try popMark("SETITEMS", at: at)
                    guard items.count % 2 == 0 else { throw .stackUnderflow("SETITEMS", at: at) }
                }
                guard case .dict(let d) = stack.last else {
                    if stack.isEmpty { throw .stackUnderflow("SETITEM", at: at) }
                    throw .setItemOnNonDict(at: at)
                }
                for i in stride(from: 0, to: items.count, by: 2) {
                    d.depth = max(d.depth, items[i + 1].depth + 1, items[i].depth + 1)
                    guard d.depth <= maxDepth else { throw .tooDeep(at: at) }
                    d.items.append((items[i], items[i + 1]))
                }
            case 0x68: try getMemo(try u8(), at: at)  // BINGET
            case 0x6A: try getMemo(try u32(), at: at)  // LONG_BINGET
            case 0x71: try putMemo(try u8(), at: at)  // BINPUT
            case 0x72: try putMemo(try u32(), at: at)  // LONG_BINPUT
            case 0x94: try putMemo(memo.count, at: at)  // MEMOIZE
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try push(try global(module, name), at: at)
            case 0x93:  // STACK_GLOBAL
                let nameV = try pop("STACK_GLOBAL", at: at), moduleV = try pop("STACK_GLOBAL", at: at)
                guard case .string(let module) = moduleV, case .string(let name) = nameV else {
                    throw .badCall("STACK_GLOBAL", "non-string module or name")
                }
                try push(try global(module, name), at: at)
            case 0x51:  // BINPERSID
                let pid = try pop("BINPERSID", at: at)
                try push(try persistentLoad(pid), at: at)
            case 0x52:  // REDUCE
                let args = try pop("REDUCE", at: at), callable = try pop("REDUCE", at: at)
                try push(try reduce(callable, args), at: at)
            case 0x62:  // BUILD: only attribute state on a dict (OrderedDict._metadata) or a tensor is accepted, and ignored
                let state = try pop("BUILD", at: at)
                guard let target = stack.last else { throw .stackUnderflow("BUILD", at: at) }
                switch (target, state) {
                case (.dict, .dict), (.dict, .none), (.tensor, .dict), (.tensor, .none), (.tensor, .tuple): break
                default: throw .badCall("BUILD", "state of type \(state.kind) on \(target.kind)")
                }
            default:
                if let name = knownButDisallowed[op] { throw .disallowedOpcode(name, at: at) }
                throw .unknownOpcode(op, at: at)
            }
        }
        throw .noStop
    }

    /// Real pickle opcodes this reader refuses on purpose (they construct or call arbitrary objects,
    /// or are text-protocol forms no torch file uses).
    static let knownButDisallowed: [UInt8: String] = [
        0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID", 0x49: "INT", 0x4C: "LONG",
        0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE", 0x67: "GET", 0x70: "PUT", 0x6C: "LIST", 0x64: "DICT",
        0x8B: "LONG4", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
        0x90: "ADDITEMS", 0x91: "FROZENSET", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    static func persistentLoad(_ pid: Value) throws(Error) -> Value {
        guard case .tuple(let t, _) = pid, t.count == 5, case .string("storage") = t[0],
            case .global(let type) = t[1], case .string(let key) = t[2], case .int(let numel) = t[4], numel >= 0
        else { throw .badCall("persistent_load", "an id that is not ('storage', type, key, location, numel)") }
        guard let dtype = storageTypes[type] else { throw .badCall("persistent_load", "storage type \(type)") }
        return .storage(StorageRef(dtype: dtype, key: key, numel: numel))
    }

    static func intTuple(_ v: Value, _ what: String, _ g: String) throws(Error) -> [Int] {
        guard case .tuple(let items, _) = v else { throw .badCall(g, "\(what) that is not a tuple") }
        var out: [Int] = []
        for i in items {
            guard case .int(let x) = i else { throw .badCall(g, "\(what) with a non-integer") }
            out.append(x)
        }
        return out
    }

    static func reduce(_ callable: Value, _ args: Value) throws(Error) -> Value {
        guard case .global(let g) = callable else { throw .badCall("REDUCE", "a callable of type \(callable.kind)") }
        guard case .tuple(let a, _) = args else { throw .badCall(g, "arguments that are not a tuple") }
        switch g {
        case "collections.OrderedDict":
            guard a.isEmpty else { throw .badCall(g, "arguments") }
            return .dict(DictBox())
        case "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case .storage(let s) = a[0], case .int(let offset) = a[1] else {
                throw .badCall(g, "arguments that are not (storage, offset, size, stride, ...)")
            }
            let size = try intTuple(a[2], "a size", g), stride = try intTuple(a[3], "a stride", g)
            guard size.count == stride.count else { throw .badCall(g, "size and stride of different lengths") }
            return .tensor(TensorRef(storage: s, offset: offset, size: size, stride: stride))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = a.first, case .tensor = first else { throw .badCall(g, "a first argument that is not a tensor") }
            return first
        case "torch._tensor._rebuild_from_type_v2":
            guard a.count >= 3, case .global(let f) = a[0], case .global(let type) = a[1], typeTokens.contains(type) else {
                throw .badCall(g, "arguments that are not (rebuild function, tensor type, args, state)")
            }
            return try reduce(.global(f), a[2])
        default:
            throw .badCall(g, "a call (it may only appear as an argument)")
        }
    }
}

import CJSONC

/// A parsed JSON document. Object keys keep their order (json-c keeps insertion order), so a
/// config written back out reads the same as the one read in.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// A number, or null when absent or not finite (JSON has no NaN or infinity).
    public static func number(_ v: Double?) -> JSONValue { v.flatMap { $0.isFinite ? .double($0) : nil } ?? .null }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var intValue: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .double(let d): return d.rounded() == d && abs(d) < 9e15 ? Int(d) : nil
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
}

public struct JSONObject: Equatable, Sendable {
    /// Entries in file order. Keys are compared byte for byte: Swift's String equality merges canonically
    /// equivalent keys ("é" and "e\u{301}"), which vocabularies keep apart.
    private var entries: [(key: String, value: JSONValue)] = []
    /// Lookup by key (canonical equivalence is fine for field names); the last of equivalent keys wins.
    private var index: [String: Int] = [:]

    public init() {}
    public init(_ pairs: [(String, JSONValue)]) { for (k, v) in pairs { self[k] = v } }

    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let newValue {
                if let i = index[key], entries[i].key.utf8.elementsEqual(key.utf8) {
                    entries[i].value = newValue
                } else {
                    index[key] = entries.count
                    entries.append((key, newValue))
                }
            } else if index.removeValue(forKey: key) != nil {
                entries.removeAll { $0.key == key }
                index = Dictionary(entries.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { _, b in b })
            }
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public var count: Int { entries.count }
    public var pairs: [(String, JSONValue)] { entries.map { ($0.key, $0.value) } }
}

public enum JSONError: ReasonError, Equatable {
    case syntax(String)
    case tooDeep
    case trailingContent(offset: Int)
    case notUTF8

    public var description: String {
        switch self {
        case .syntax(let why): return "invalid JSON (\(why))"
        case .tooDeep: return "invalid JSON (nested too deeply)"
        case .trailingContent(let o): return "invalid JSON (content after the value at byte \(o))"
        case .notUTF8: return "invalid JSON (not UTF-8)"
        }
    }
}

public enum JSON {
    /// Nesting limit: configs and tokenizers nest a few levels; a hostile header gets an error, not a deep recursion.
    public static let maxDepth: Int32 = 64

    /// Parses one JSON value from `bytes`; trailing ASCII whitespace is allowed (safetensors pads with spaces).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        guard let tok = json_tokener_new_ex(maxDepth) else { throw .syntax("out of memory") }
        defer { json_tokener_free(tok) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count > 0 else {
            throw .syntax("empty input")
        }
        guard bytes.count < Int(Int32.max) else { throw .syntax("document larger than 2 GiB") }
        let obj = json_tokener_parse_ex(tok, base, Int32(bytes.count))
        let err = json_tokener_get_error(tok)
        if obj == nil || err != json_tokener_success {
            if obj != nil { json_object_put(obj) }
            if err == json_tokener_error_depth { throw .tooDeep }
            if err == json_tokener_continue { throw .syntax("unexpected end of input") }
            if err == json_tokener_error_parse_utf8_string { throw .notUTF8 }
            throw .syntax(String(cString: json_tokener_error_desc(err)))
        }
        defer { json_object_put(obj) }
        let end = Int(json_tokener_get_parse_end(tok))
        if bytes.count > end {
            for i in end..<bytes.count where !(bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09) {
                throw .trailingContent(offset: i)
            }
        }
        return convert(obj)
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        let result = bytes.withUnsafeBytes { buf in Result { () throws(JSONError) -> JSONValue in try parse(buf) } }
        return try result.get()
    }

    public static func parse(_ text: String) throws(JSONError) -> JSONValue { try parse(Array(text.utf8)) }

    private static func convert(_ o: OpaquePointer?) -> JSONValue {
        guard let o else { return .null }
        switch json_object_get_type(o) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(o) != 0)
        case json_type_int: return .int(json_object_get_int64(o))
        case json_type_double: return .double(json_object_get_double(o))
        case json_type_string:
            let n = Int(json_object_get_string_len(o))
            let p = json_object_get_string(o)!
            return .string(String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self))
        case json_type_array:
            let n = json_object_array_length(o)
            var out: [JSONValue] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(convert(json_object_array_get_idx(o, i))) }
            return .array(out)
        case json_type_object:
            var result = JSONObject()
            var it = json_object_iter_begin(o)
            var end = json_object_iter_end(o)
            while json_object_iter_equal(&it, &end) == 0 {
                let name = String(cString: json_object_iter_peek_name(&it))
                result[name] = convert(json_object_iter_peek_value(&it))
                json_object_iter_next(&it)
            }
            return .object(result)
        default: return .null
        }
    }
}

// MARK: - Writing

extension JSONValue {
    /// Serialises deterministically: keys in their stored order, shortest round-trip doubles.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if !d.isFinite { out += "null"; return }
            if d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)) + ".0" } else { out += "\(d)" }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += pretty ? ", " : "," }
                v.write(into: &out, pretty: pretty, indent: indent)
            }
            out += "]"
        case .object(let o):
            if o.count == 0 { out += "{}"; return }
            out += "{"
            for (i, (k, v)) in o.pairs.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                JSONValue.writeString(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral v: String) { self = .string(v) }
    public init(integerLiteral v: Int) { self = .int(Int64(v)) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(floatLiteral v: Double) { self = .double(v) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

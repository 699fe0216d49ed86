/// Why a tokenizer could not be built from tokenizer.json (or vocab.txt + tokenizer_config.json).
public enum TokenizerError: ReasonError, Equatable {
    case invalidJSON(JSONError)
    /// A pipeline component of a type we do not implement: (component, type, the types we do).
    case unsupported(component: String, type: String, supported: [String])
    /// A field is missing or has the wrong shape: (JSON path, what was expected).
    case badField(String, String)
    /// A token the pipeline needs (unk, cls, sep, an added token) has no id.
    case unknownToken(role: String, token: String)
    case noTokenizerFiles
    /// A regex no matcher here implements: (component, the pattern, the ones we do).
    case unsupportedRegex(component: String, pattern: String, supported: [String])

    public var description: String {
        switch self {
        case .invalidJSON(let e): return e.description
        case .unsupported(let component, let type, let supported):
            return "\(component) '\(type)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case .badField(let path, let expected): return "'\(path)' \(expected)"
        case .unknownToken(let role, let token): return "\(role) '\(token)' is not in the vocabulary"
        case .noTokenizerFiles: return "no tokenizer.json or vocab.txt; cannot tokenize text for this model"
        case .unsupportedRegex(let component, let pattern, let supported):
            return "\(component): the regex \(JSONValue.string(pattern).serialized()) is not supported (supported: \(supported.joined(separator: "; ")))"
        }
    }
}

/// Every error a user sees names the file and the rule that broke: `path: reason`.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: any ReasonError

    public init(_ path: String, _ reason: any ReasonError) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason.description)" }
}

/// A reason is a value of one reader's error enum; its description is one line a user can act on.
public protocol ReasonError: Error, CustomStringConvertible, Sendable {}

/// Reasons shared by every reader and writer.
public enum IOError: ReasonError, Equatable {
    case cannotOpen(String)
    case cannotWrite(String)
    case outputExists
    case outputIsInput
    case notFound

    public var description: String {
        switch self {
        case .cannotOpen(let why): return "cannot open (\(why))"
        case .cannotWrite(let why): return "cannot write (\(why))"
        case .outputExists: return "output exists; pass --force to replace it"
        case .outputIsInput: return "output is the input file; refusing to overwrite the source"
        case .notFound: return "no such file or directory"
        }
    }
}

extension Error {
    /// The reason inside a FileError, for tests and callers that branch on the rule that broke.
    public var underlyingReason: (any ReasonError)? { (self as? FileError)?.reason }
}

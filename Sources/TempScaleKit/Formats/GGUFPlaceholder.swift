extension ModelWriter {
    static func writeGGUF(_ model: Model, to path: String, dtype: DType?, force: Bool) throws -> String {
        throw FileError(path, Error.unavailable("gguf export is not built yet"))
    }
}

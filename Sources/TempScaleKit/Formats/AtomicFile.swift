#if canImport(Glibc)
import Glibc
#endif

/// Writes go to a temp file beside the destination and are renamed into place on `commit()`.
/// A writer that is dropped without commit removes its temp file: no partial output, ever.
/// The destination must not be one of the inputs, and exists only with `force`.
public final class AtomicFileWriter {
    public let destination: String
    public let tempPath: String
    private var fd: Int32
    private var committed = false
    public private(set) var position: Int = 0

    public init(destination: String, force: Bool, inputs: [String]) throws {
        self.destination = destination
        if let dst = identity(destination) {
            for input in inputs where identity(input) == dst { throw FileError(destination, IOError.outputIsInput) }
            if !force { throw FileError(destination, IOError.outputExists) }
            if isDirectory(destination) { throw FileError(destination, IOError.cannotWrite("is a directory")) }
        }
        let dir = parentDirectory(destination)
        guard isDirectory(dir) else { throw FileError(destination, IOError.cannotWrite("folder \(dir) does not exist")) }
        var template = Array(join(dir, ".\(basename(destination)).tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError(destination, IOError.cannotWrite(String(cString: strerror(errno)))) }
        self.fd = fd
        tempPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(tempPath) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try pwriteAll(bytes, at: position)
        position += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Overwrites bytes already written (a table whose CRCs are known only at the end).
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try pwriteAll($0, at: offset) }
    }

    private func pwriteAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(destination, IOError.cannotWrite(String(cString: strerror(errno))))
            }
            done += n
        }
    }

    /// Flushes to disk and renames the temp file onto the destination.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw FileError(destination, IOError.cannotWrite(String(cString: strerror(errno)))) }
        fchmod(fd, 0o644)
        close(fd)
        fd = -1
        guard rename(tempPath, destination) == 0 else {
            throw FileError(destination, IOError.cannotWrite(String(cString: strerror(errno))))
        }
        committed = true
    }
}

/// (device, inode) of an existing path, to tell whether two paths are the same file.
func identity(_ path: String) -> [UInt64]? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return [UInt64(st.st_dev), UInt64(st.st_ino)]
}

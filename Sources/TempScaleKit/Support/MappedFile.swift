#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Tensors point into it; it stays mapped while any
/// tensor holds a reference, so opening a 400 MB model costs address space, not a copy.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    public let base: UnsafeRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileError(path, IOError.cannotOpen(String(cString: strerror(errno)))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileError(path, IOError.cannotOpen(String(cString: strerror(errno)))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw FileError(path, IOError.cannotOpen("is a directory")) }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil { throw FileError(path, IOError.cannotOpen("mmap failed: \(String(cString: strerror(errno)))")) }
        base = UnsafeRawPointer(p!)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The bytes [offset, offset+length), bounds-checked.
    public func bytes(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    public var all: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Little-endian reads from a raw buffer; callers check bounds first.
extension UnsafeRawBufferPointer {
    @inline(__always) func le<T: FixedWidthInteger>(_ offset: Int, as: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

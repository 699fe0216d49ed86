/// The native format's 8-bit form: int8 values with one f32 scale per block of 32 along the last
/// dimension (the last block of a row may be shorter). value = q · scale, scale = max|x| / 127.
/// Layout of a q8 tensor's bytes: the int8 values (row-major), zero padding to a multiple of 4,
/// then the f32 scales, row-major (rows × ceil(columns / 32)).
public enum Q8 {
    public static let blockSize = 32

    static func geometry(_ shape: [Int]) -> (rows: Int, columns: Int, blocksPerRow: Int) {
        let columns = shape.last ?? 1
        let rows = columns == 0 ? 0 : shape.dropLast().reduce(1, *)
        return (rows, columns, (columns + blockSize - 1) / blockSize)
    }

    /// Bytes of a q8 tensor of `shape` (values + padding + scales), nil on overflow.
    public static func byteCount(shape: [Int]) -> Int? {
        guard let n = elementCount(shape), n < Int.max / 8 else { return nil }
        let g = geometry(shape)
        return (n + 3) / 4 * 4 + g.rows * g.blocksPerRow * 4
    }

    /// Which tensors the q8 form quantises: floating-point matrices of at least 1024 values. Norms,
    /// biases and small tables (token types, relative-attention buckets) stay f32.
    public static func quantises(_ t: Tensor) -> Bool {
        t.dtype.isFloatingPoint && t.dtype != .q8 && t.shape.count >= 2 && t.count >= 1024
    }

    public static func quantize(_ values: UnsafeBufferPointer<Float>, shape: [Int], into out: UnsafeMutableRawBufferPointer) {
        let g = geometry(shape)
        let n = values.count
        let q = out.baseAddress!.assumingMemoryBound(to: Int8.self)
        let scalesOffset = (n + 3) / 4 * 4
        for i in n..<scalesOffset { out[i] = 0 }
        let scales = (out.baseAddress! + scalesOffset).assumingMemoryBound(to: Float.self)
        for r in 0..<g.rows {
            for b in 0..<g.blocksPerRow {
                let start = r * g.columns + b * blockSize
                let end = r * g.columns + min(g.columns, (b + 1) * blockSize)
                var m: Float = 0
                for i in start..<end { m = max(m, abs(values[i])) }
                let scale = m / 127
                scales[r * g.blocksPerRow + b] = scale
                let inv: Float = scale == 0 ? 0 : 1 / scale
                for i in start..<end { q[i] = Int8(max(-127, min(127, (values[i] * inv).rounded()))) }
            }
        }
    }

    public static func dequantize(_ bytes: UnsafeRawBufferPointer, shape: [Int], into out: UnsafeMutablePointer<Float>) {
        dequantize(bytes, shape: shape, rows: 0..<geometry(shape).rows, into: out)
    }

    /// Rows `rows` (along the last dimension) only, into `out` (capacity rows.count × columns).
    static func dequantize(_ bytes: UnsafeRawBufferPointer, shape: [Int], rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let g = geometry(shape)
        let n = g.rows * g.columns
        let q = bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
        let scalesOffset = (n + 3) / 4 * 4
        let first = rows.lowerBound * g.columns
        for r in rows {
            for b in 0..<g.blocksPerRow {
                let scale = bytes.loadUnaligned(fromByteOffset: scalesOffset + (r * g.blocksPerRow + b) * 4, as: Float.self)
                let start = r * g.columns + b * blockSize
                let end = r * g.columns + min(g.columns, (b + 1) * blockSize)
                for i in start..<end { out[i - first] = Float(q[i]) * scale }
            }
        }
    }
}

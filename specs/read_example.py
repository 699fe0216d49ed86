#!/usr/bin/env python3
"""An independent reader of tempscale native files (.tsm), written from specs/native-format.md
(not from tempscale's Swift code). Python 3 standard library only.

    python3 specs/read_example.py FILE.tsm [--values N] [--header] [--compare REF.tsm]

Applies every structural rule of the spec (magic, prelude CRC, version, flags, field ranges,
data_offset, file size, header/table CRC, header JSON, table entries, every tensor CRC, the header
fields a reader interprets) and prints the prelude, a header summary and the tensor table with
the first N values of each tensor (q8 dequantised). Exit status 1 and a message on any violation.

--header         also print the header JSON text.
--compare REF    REF holds the same tensors in f32 (e.g. the same model converted without --dtype).
                 For each tensor of FILE: f32 must equal REF exactly; f16/bf16 must be REF's values
                 rounded to nearest even; q8 must be within scale/2 of REF in every block, and is
                 also re-quantised from REF with the spec's formula and compared byte for byte.
"""
import base64
import json
import math
import struct
import sys
import zlib

MAGIC = b"\x89TSCALE\n"
PRELUDE_SIZE = 64
ALIGNMENT = 64
MAX_HEADER = 1 << 30
MAX_TENSORS = 1 << 24
MAX_RANK = 8
MAX_OFFSET = (2**63 - 1) // 4
Q8_BLOCK = 32
CODES = {0: ("f32", 4, "f"), 1: ("f16", 2, "e"), 2: ("bf16", 2, "H"), 3: ("f64", 8, "d"), 4: ("i64", 8, "q"),
         5: ("i32", 4, "i"), 6: ("i16", 2, "h"), 7: ("i8", 1, "b"), 8: ("u8", 1, "B"), 9: ("bool", 1, "B"),
         16: ("q8", 1, "b")}
POOLINGS = {"mean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean"}


class SpecError(Exception):
    pass


def crc32(data, crc=0):
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def q8_geometry(shape):
    cols = shape[-1] if shape else 1
    rows = 0 if cols == 0 else element_count(shape[:-1])
    return rows, cols, (cols + Q8_BLOCK - 1) // Q8_BLOCK


def byte_count(dtype, size, shape):
    n = element_count(shape)
    if dtype == "q8":
        rows, _, blocks = q8_geometry(shape)
        return (n + 3) // 4 * 4 + rows * blocks * 4
    return n * size


class Tensor:
    def __init__(self, name, dtype, shape, offset, length, crc, data):
        self.name, self.dtype, self.shape = name, dtype, shape
        self.offset, self.length, self.crc, self.data = offset, length, crc, data

    def q8_parts(self):
        """(int8 values, f32 scales) of a q8 tensor."""
        n = element_count(self.shape)
        rows, _, blocks = q8_geometry(self.shape)
        q = struct.unpack_from("<%db" % n, self.data, 0)
        scales = struct.unpack_from("<%df" % (rows * blocks), self.data, (n + 3) // 4 * 4)
        return q, scales

    def values(self):
        """All values as Python numbers (floating-point types as exact binary32/64 values)."""
        n = element_count(self.shape)
        if self.dtype == "q8":
            rows, cols, blocks = q8_geometry(self.shape)
            q, scales = self.q8_parts()
            # value = q * scale, evaluated in binary32 as tempscale does
            return [struct.unpack("<f", struct.pack("<f", q[i] * scales[(i // cols) * blocks + (i % cols) // Q8_BLOCK]))[0]
                    for i in range(n)]
        if self.dtype == "bf16":
            return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in struct.unpack("<%dH" % n, self.data)]
        fmt = next(f for (name, _, f) in CODES.values() if name == self.dtype)
        return list(struct.unpack("<%d%s" % (n, fmt), self.data))


def reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def read(path):
    with open(path, "rb") as f:
        b = f.read()
    # 1. prelude
    if len(b) < PRELUDE_SIZE:
        if len(b) >= 8 and b[:8] != MAGIC:
            raise SpecError("bad magic")
        raise SpecError("truncated: %d bytes, shorter than the 64-byte prelude" % len(b))
    if b[:8] != MAGIC:
        raise SpecError("bad magic")
    if crc32(b[:60]) != struct.unpack_from("<I", b, 60)[0]:
        raise SpecError("prelude CRC mismatch")
    version, flags = struct.unpack_from("<II", b, 8)
    if version != 1:
        raise SpecError("unsupported format version %d" % version)
    if flags != 0:
        raise SpecError("unknown flag bits 0x%x" % flags)
    hl, count, tl, data_offset, data_length = (u64(b, o) for o in (16, 24, 32, 40, 48))
    for name, v, limit in (("header_length", hl, MAX_HEADER), ("tensor_count", count, MAX_TENSORS),
                           ("table_length", tl, MAX_HEADER), ("data_offset", data_offset, MAX_OFFSET),
                           ("data_length", data_length, MAX_OFFSET)):
        if v > limit:
            raise SpecError("%s %d out of range" % (name, v))
    if data_offset % ALIGNMENT or data_offset < PRELUDE_SIZE + hl + tl:
        raise SpecError("data_offset %d not 64-aligned after the header and table" % data_offset)
    if len(b) < data_offset + data_length:
        raise SpecError("truncated: %d bytes, the prelude says %d" % (len(b), data_offset + data_length))
    if len(b) != data_offset + data_length:
        raise SpecError("%d trailing bytes after the data section" % (len(b) - data_offset - data_length))
    if crc32(b[PRELUDE_SIZE:PRELUDE_SIZE + hl + tl]) != struct.unpack_from("<I", b, 56)[0]:
        raise SpecError("header/table CRC mismatch")
    prelude = dict(version=version, flags=flags, header_length=hl, tensor_count=count, table_length=tl,
                   data_offset=data_offset, data_length=data_length,
                   body_crc=struct.unpack_from("<I", b, 56)[0], prelude_crc=struct.unpack_from("<I", b, 60)[0])

    # 2. header JSON
    header_text = b[PRELUDE_SIZE:PRELUDE_SIZE + hl]
    try:
        header = json.loads(header_text.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise SpecError("header is not valid UTF-8 JSON: %s" % e)
    if not isinstance(header, dict) or header.get("format") != "tempscale-native":
        raise SpecError("header field 'format' is not 'tempscale-native'")

    # 3. tensor table
    t = b[PRELUDE_SIZE + hl:PRELUDE_SIZE + hl + tl]
    p, end, names, tensors = 0, 0, set(), []
    for i in range(count):
        def need(k):
            if k > len(t) - p:
                raise SpecError("table entry %d runs past the table" % i)
        need(2)
        n = struct.unpack_from("<H", t, p)[0]
        p += 2
        need(n + 2)
        try:
            name = t[p:p + n].decode("utf-8")
        except UnicodeDecodeError:
            name = ""
        if n == 0 or not name:
            raise SpecError("table entry %d: empty or non-UTF-8 name" % i)
        p += n
        code, rank = t[p], t[p + 1]
        p += 2
        if code not in CODES:
            raise SpecError("tensor '%s' has unknown dtype code %d" % (name, code))
        dtype, size, _ = CODES[code]
        if rank > MAX_RANK:
            raise SpecError("table entry %d: rank %d above %d" % (i, rank, MAX_RANK))
        need(8 * rank + 20)
        shape = list(struct.unpack_from("<%dQ" % rank, t, p))
        p += 8 * rank
        if any(d > 2**63 - 1 for d in shape):
            raise SpecError("table entry %d: dimension out of range" % i)
        offset, length, crc = struct.unpack_from("<QQI", t, p)
        p += 20
        if byte_count(dtype, size, shape) != length:
            raise SpecError("table entry %d: '%s' length %d does not match its shape and dtype" % (i, name, length))
        if offset % ALIGNMENT:
            raise SpecError("table entry %d: '%s' offset not 64-aligned" % (i, name))
        if not (offset >= end and offset <= data_length and length <= data_length - offset):
            raise SpecError("tensor '%s' overlaps the previous one or runs past the data" % name)
        if name in names:
            raise SpecError("tensor name '%s' appears twice" % name)
        names.add(name)
        end = offset + length
        tensors.append(Tensor(name, dtype, shape, offset, length, crc, b[data_offset + offset:data_offset + end]))
    if p != len(t):
        raise SpecError("table_length has %d bytes after the last entry" % (len(t) - p))

    # 4. tensor CRCs (all at open; a lazy reader checks each before first use)
    for x in tensors:
        if crc32(x.data) != x.crc:
            raise SpecError("CRC-32 mismatch in tensor '%s'" % x.name)

    # 5. the header fields a reader interprets
    if not isinstance(header.get("config"), dict):
        raise SpecError("header field 'config' is missing")
    if not isinstance(header["config"].get("model_type"), str):
        raise SpecError("config has no model_type")
    pooling = header.get("pooling")
    if isinstance(pooling, str) and pooling not in POOLINGS:
        raise SpecError("header field 'pooling' '%s' is unknown" % pooling)
    files = {}
    for name, f in (header.get("files") or {}).items():
        data = f.get("data") if isinstance(f, dict) else None
        if not isinstance(data, str):
            raise SpecError("files entry '%s' has no data" % name)
        if f.get("encoding") == "utf-8":
            files[name] = data.encode("utf-8")
        elif f.get("encoding") == "base64":
            try:
                files[name] = base64.b64decode(data, validate=True)
            except ValueError:
                raise SpecError("files entry '%s' is not valid base64" % name)
        else:
            raise SpecError("files entry '%s' has an unknown encoding" % name)
    temp = header.get("temperature")
    taus = []
    if temp is not None:
        if not isinstance(temp, dict) or not isinstance(temp.get("history"), list):
            raise SpecError("temperature has no 'history' list")
        for h in temp["history"]:
            tau = h.get("tau") if isinstance(h, dict) else None
            if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau <= 0:
                raise SpecError("temperature has a step with no finite tau > 0")
            taus.append(float(tau))
    return dict(prelude=prelude, header=header, header_text=header_text, tensors=tensors, files=files,
                tau_total=math.prod(taus), size=len(b))


def fmt(v):
    return "%.6g" % v if isinstance(v, float) else str(v)


def show(path, r, nvalues, with_header):
    print("%s: %d bytes, valid" % (path, r["size"]))
    pr = r["prelude"]
    print("  prelude  " + ", ".join("%s %s" % (k, ("0x%08x" % v) if k.endswith("crc") else v) for k, v in pr.items()))
    h = r["header"]
    print("  header   format %s, format_version %s, tool %r, architecture %s, dtype %s, model_type %s"
          % (h.get("format"), h.get("format_version"), h.get("tool"), h.get("architecture"), h.get("dtype"),
             h["config"].get("model_type")))
    print("           pooling %s, normalize %s, max_seq_length %s, source_format %s"
          % (h.get("pooling"), h.get("normalize"), h.get("max_seq_length"), h.get("source_format")))
    print("           temperature: %d step(s), tau_total %r (header says %r)"
          % (len((h.get("temperature") or {}).get("history", [])), r["tau_total"], (h.get("temperature") or {}).get("tau")))
    for s in h.get("sources") or []:
        print("           source %s, %s bytes, sha256 %s" % (s.get("path"), s.get("bytes"), s.get("sha256")))
    print("           files: " + (", ".join("%s (%d bytes)" % (k, len(v)) for k, v in r["files"].items()) or "none"))
    if with_header:
        print(r["header_text"].decode("utf-8"))
    w = max([len(t.name) for t in r["tensors"]] + [4])
    print("  %-*s  %-5s %-14s %8s %8s  %-10s  values" % (w, "name", "dtype", "shape", "offset", "length", "crc"))
    for t in r["tensors"]:
        vals = t.values()[:nvalues]
        print("  %-*s  %-5s %-14s %8d %8d  0x%08x  %s" % (w, t.name, t.dtype, str(t.shape), t.offset, t.length, t.crc,
                                                      " ".join(fmt(v) for v in vals)))


def compare(r, ref):
    sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
    import make_example as W  # the independent writer: same spec, used to re-encode REF's values

    refs = {t.name: t for t in ref["tensors"]}
    bad = 0
    counts = {}
    for t in r["tensors"]:
        if t.name not in refs:
            print("  %s: not in the reference" % t.name)
            bad += 1
            continue
        x = refs[t.name].values()
        if t.dtype in ("f32", "f64") or not t.dtype.startswith(("f", "b", "q")) or t.dtype == "bool":
            ok = t.values() == x
            note = "exact" if ok else "DIFFERENT"
        elif t.dtype in ("f16", "bf16"):
            ok = W.encode_tensor(x, t.shape, t.dtype) == t.data
            err = max([abs(a - b) for a, b in zip(t.values(), x)] + [0.0])
            note = "bits = round-to-nearest-even of the reference (max abs err %.3g)" % err if ok else "BITS DIFFER"
        else:  # q8
            rows, cols, blocks = q8_geometry(t.shape)
            q, scales = t.q8_parts()
            worst = 0.0
            over = 0
            for i, v in enumerate(x):
                s = scales[(i // cols) * blocks + (i % cols) // Q8_BLOCK]
                e = abs(v - q[i] * s)  # exact in binary64
                if e > s / 2:
                    over += 1
                worst = max(worst, e / (s / 2) if s else (0.0 if e == 0 else math.inf))
            same = W.encode_tensor(x, t.shape, "q8") == t.data
            ok = over == 0 and same
            note = "%d blocks, max err %.4f x scale/2, %d values over scale/2, re-quantised bytes %s" % (
                rows * blocks, worst, over, "identical" if same else "DIFFER")
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
        bad += not ok
        print("  %-50s %-5s %-10s %s" % (t.name, t.dtype, str(t.shape), note))
    print("compare: %d tensors (%s), %d problem(s)" % (len(r["tensors"]), ", ".join("%s %d" % kv for kv in sorted(counts.items())), bad))
    return bad == 0


def main(argv):
    args = list(argv)
    nvalues, with_header, ref_path = 4, False, None
    if "--values" in args:
        i = args.index("--values")
        nvalues = int(args[i + 1])
        del args[i:i + 2]
    if "--header" in args:
        args.remove("--header")
        with_header = True
    if "--compare" in args:
        i = args.index("--compare")
        ref_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        r = read(args[0])
        show(args[0], r, nvalues, with_header)
        if ref_path:
            return 0 if compare(r, read(ref_path)) else 1
    except SpecError as e:
        print("%s: invalid: %s" % (args[0], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

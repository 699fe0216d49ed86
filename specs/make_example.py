#!/usr/bin/env python3
"""An independent writer of tempscale native files (.tsm), written from specs/native-format.md
(not from tempscale's Swift code). Python 3 standard library only.

    python3 specs/make_example.py [OUT]      # default: specs/example.tsm next to this script

writes the worked example of the spec: a 1-layer BERT with hidden size 4 (every required tensor,
f32, deterministic values), mean pooling, normalisation, max_seq_length 4, a 4-line vocab.txt and
an empty temperature history. The output is byte-for-byte reproducible.

The functions here (encode_tensor, write_tsm, ...) are usable on their own:
encode_tensor(values, shape, dtype) turns a flat list of Python floats into the stored bytes of
any floating-point dtype (f32, f16, bf16, f64, q8), following the spec's rounding rules.
"""
import json
import math
import os
import struct
import sys
import zlib

MAGIC = b"\x89TSCALE\n"
VERSION = 1
PRELUDE_SIZE = 64
ALIGNMENT = 64
Q8_BLOCK = 32

# "dtype codes" table of the spec: name -> (code, bytes per element; q8 counts its int8 payload only)
DTYPES = {
    "f32": (0, 4), "f16": (1, 2), "bf16": (2, 2), "f64": (3, 8), "i64": (4, 8), "i32": (5, 4),
    "i16": (6, 2), "i8": (7, 1), "u8": (8, 1), "bool": (9, 1), "q8": (16, 1),
}


def align(n):
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def crc32(data, crc=0):
    """CRC-32 as zlib, zip and PNG compute it (reflected polynomial 0xEDB88320, zlib seed 0)."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def f32(x):
    """x rounded to the nearest IEEE binary32 value (ties to even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def q8_geometry(shape):
    cols = shape[-1] if shape else 1
    rows = 0 if cols == 0 else element_count(shape[:-1])
    return rows, cols, (cols + Q8_BLOCK - 1) // Q8_BLOCK


def byte_count(dtype, shape):
    n = element_count(shape)
    if dtype == "q8":
        rows, _, blocks = q8_geometry(shape)
        return (n + 3) // 4 * 4 + rows * blocks * 4
    return n * DTYPES[dtype][1]


def round_half_away(x):
    """Round to the nearest integer, ties away from zero (Swift's Float.rounded())."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def f16_bits(x):
    """binary32 value -> IEEE binary16 bits, round to nearest even, overflow to infinity."""
    x = f32(x)
    if math.isnan(x):
        b = f32_bits(x)
        return ((b >> 16) & 0x8000) | 0x7C00 | 0x200 | ((b >> 13) & 0x3FF)
    try:
        return struct.unpack("<H", struct.pack("<e", x))[0]  # struct's 'e' rounds to nearest even
    except OverflowError:
        return 0xFC00 if x < 0 else 0x7C00


def bf16_bits(x):
    """binary32 value -> bfloat16 bits, round to nearest even; a NaN stays a (quiet) NaN."""
    b = f32_bits(x)
    if (b & 0x7FFFFFFF) > 0x7F800000:
        return ((b >> 16) | 0x40) & 0xFFFF
    b += 0x7FFF + ((b >> 16) & 1)
    return (b >> 16) & 0xFFFF


def q8_encode(values, shape):
    """The q8 bytes of a tensor: int8 values, zero padding to a multiple of 4, f32 block scales.
    Arithmetic is binary32 throughout, exactly as the spec states it."""
    rows, cols, blocks = q8_geometry(shape)
    n = len(values)
    q = bytearray(n)
    scales = []
    for r in range(rows):
        for b in range(blocks):
            start = r * cols + b * Q8_BLOCK
            end = r * cols + min(cols, (b + 1) * Q8_BLOCK)
            xs = [f32(v) for v in values[start:end]]
            m = 0.0
            for x in xs:
                m = max(m, abs(x))
            scale = f32(m / 127)
            inv = 0.0 if scale == 0 else f32(1 / scale)
            for i, x in enumerate(xs):
                v = max(-127.0, min(127.0, round_half_away(f32(x * inv))))
                q[start + i] = int(v) & 0xFF
            scales.append(scale)
    return bytes(q) + bytes((-n) % 4) + struct.pack("<%df" % len(scales), *scales)


def encode_tensor(values, shape, dtype):
    """Stored bytes of a floating-point tensor (flat, row-major `values`) in `dtype`."""
    assert len(values) == element_count(shape)
    if dtype == "f32":
        data = struct.pack("<%df" % len(values), *values)
    elif dtype == "f64":
        data = struct.pack("<%dd" % len(values), *values)
    elif dtype == "f16":
        data = struct.pack("<%dH" % len(values), *[f16_bits(v) for v in values])
    elif dtype == "bf16":
        data = struct.pack("<%dH" % len(values), *[bf16_bits(v) for v in values])
    elif dtype == "q8":
        data = q8_encode(values, shape)
    else:
        raise ValueError("encode_tensor handles floating-point dtypes only, not " + dtype)
    assert len(data) == byte_count(dtype, shape)
    return data


def write_tsm(path, header, tensors):
    """Writes a .tsm file. `header` is a dict (serialised compactly, keys in insertion order);
    `tensors` a list of (name, dtype, shape, data bytes), stored in that order."""
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    table = bytearray()
    data = bytearray()
    for name, dtype, shape, blob in tensors:
        name_bytes = name.encode("utf-8")
        assert 0 < len(name_bytes) <= 0xFFFF and len(shape) <= 8
        assert len(blob) == byte_count(dtype, shape)
        data += bytes(align(len(data)) - len(data))  # zero padding: offsets are multiples of 64
        offset = len(data)
        data += blob
        table += struct.pack("<H", len(name_bytes)) + name_bytes
        table += struct.pack("<BB", DTYPES[dtype][0], len(shape))
        table += struct.pack("<%dQ" % len(shape), *shape)
        table += struct.pack("<QQI", offset, len(blob), crc32(blob))
    data_offset = align(PRELUDE_SIZE + len(header_bytes) + len(table))
    body_crc = crc32(header_bytes + table)
    prelude = MAGIC + struct.pack("<IIQQQQQI", VERSION, 0, len(header_bytes), len(tensors), len(table),
                                  data_offset, len(data), body_crc)
    prelude += struct.pack("<I", crc32(prelude))
    assert len(prelude) == PRELUDE_SIZE
    gap = bytes(data_offset - PRELUDE_SIZE - len(header_bytes) - len(table))
    blob = prelude + header_bytes + bytes(table) + gap + bytes(data)
    with open(path, "wb") as f:
        f.write(blob)
    return len(blob)


# --- the worked example -------------------------------------------------------------------------

def bert_tensor_specs(c):
    """Required tensors of the BERT table (Sources/TempScaleKit/Architectures/Bert.swift), in
    table order, for an absolute-position config with type_vocab_size > 0."""
    h, i, p = c["hidden_size"], c["intermediate_size"], c["max_position_embeddings"]
    specs = [
        ("embeddings.word_embeddings.weight", [c["vocab_size"], h]),
        ("embeddings.position_embeddings.weight", [p, h]),
        ("embeddings.token_type_embeddings.weight", [c["type_vocab_size"], h]),
        ("embeddings.LayerNorm.weight", [h]),
        ("embeddings.LayerNorm.bias", [h]),
    ]
    for layer in range(c["num_hidden_layers"]):
        L = "encoder.layer.%d." % layer
        specs += [
            (L + "attention.self.query.weight", [h, h]), (L + "attention.self.query.bias", [h]),
            (L + "attention.self.key.weight", [h, h]), (L + "attention.self.key.bias", [h]),
            (L + "attention.self.value.weight", [h, h]), (L + "attention.self.value.bias", [h]),
            (L + "attention.output.dense.weight", [h, h]), (L + "attention.output.dense.bias", [h]),
            (L + "attention.output.LayerNorm.weight", [h]), (L + "attention.output.LayerNorm.bias", [h]),
            (L + "intermediate.dense.weight", [i, h]), (L + "intermediate.dense.bias", [i]),
            (L + "output.dense.weight", [h, i]), (L + "output.dense.bias", [h]),
            (L + "output.LayerNorm.weight", [h]), (L + "output.LayerNorm.bias", [h]),
        ]
    return specs


def example_values(t, name, n):
    """Deterministic values, exact in binary32: LayerNorm weights 1, the rest multiples of 1/32."""
    if name.endswith("LayerNorm.weight"):
        return [1.0] * n
    return [((7 * t + 3 * k) % 15 - 7) / 32 for k in range(n)]


EXAMPLE_CONFIG = {
    "model_type": "bert", "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
    "intermediate_size": 4, "vocab_size": 4, "max_position_embeddings": 4, "type_vocab_size": 1,
    "position_embedding_type": "absolute",
}


def example_header(config, dtype="f32", tool="specs/make_example.py"):
    return {
        "format": "tempscale-native",
        "format_version": 1,
        "tool": tool,
        "architecture": "bert",
        "dtype": dtype,
        "config": config,
        "pooling": "mean",
        "normalize": True,
        "max_seq_length": 4,
        "do_lower_case": True,
        "pooling_path": None,
        "tokenizer": {"kind": "WordPiece (vocab.txt)"},
        "temperature": {"tau": 1.0, "history": []},
        "sources": [],
        "source_format": "synthetic",
        "metadata": {},
        "files": {"vocab.txt": {"encoding": "utf-8", "data": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"}},
    }


def example_tensors(config, dtype="f32"):
    out = []
    for t, (name, shape) in enumerate(bert_tensor_specs(config)):
        values = example_values(t, name, element_count(shape))
        out.append((name, dtype, shape, encode_tensor(values, shape, dtype)))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "example.tsm")
    size = write_tsm(out, example_header(EXAMPLE_CONFIG), example_tensors(EXAMPLE_CONFIG))
    print("wrote %s: %d bytes" % (out, size))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks a GGUF file tempscale wrote, with llama.cpp's own Python tools. Prints one JSON object.

  check_gguf.py read FILE
      gguf-py's GGUFReader: every key (arrays as their length, type and first items) and every tensor
      (type, ggml dims, numpy shape = torch order, sha256 of its values as little-endian f32).

  check_gguf.py llama FILE GOLDEN [--tau 1.0] [--min-cosine 0.9999] [--max-ids N]
      llama-cpp-python loads FILE (embedding=True, pooling from the file). For each golden text,
      llama.cpp's ids (truncated as sentence-transformers truncates: the first max_seq_length-1
      ids, then the separator) are compared to the golden's ids; only texts tokenized identically
      are embedded and compared by cosine to the golden embedding at τ. The others are set aside
      and counted (llama.cpp's WordPiece differs from HF on >100-character words and literal
      [CLS]/[SEP]/… in the text). --max-ids N leaves out (and counts as "long") the golden texts of
      more than N ids, to keep a run short. Exit status 1 if the worst cosine is below --min-cosine.

  check_gguf.py compare ORIGINAL PATCHED [--rows-of NAME=N …]
      gguf-py reads both files: every key but tempscale.* must be equal; every tensor is dequantized
      (gguf.quants) and reported as byte-identical, or as the factor patched/original (median over the
      non-zero values) with the largest deviation from original × factor relative to the tensor's max.
      --rows-of NAME=N: only the first N rows (ggml ne[1]) of NAME may differ.

  check_gguf.py tokenize FILE TEXTS
      llama.cpp's tokenizer from FILE (vocab_only): the ids of every text of TEXTS (JSON Lines with a
      "text" field, optionally gzipped), special tokens added as llama-cpp-python's embed adds them and
      special-token text not parsed. Prints {"ids": [[…], …]} in the order of the texts.
"""
import argparse
import base64
import gzip
import hashlib
import json
import sys

import numpy as np


def read(path):
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    keys = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue  # the reader's own pseudo-fields (version, counts)
        vtype = field.types[0]
        if vtype == GGUFValueType.ARRAY:
            items = field.contents()
            keys[field.name] = {"type": "array", "item_type": field.types[1].name.lower(),
                                "length": len(field.data), "first": items[:8]}
        else:
            keys[field.name] = {"type": vtype.name.lower(), "value": field.contents()}
    tensors = {}
    for t in reader.tensors:
        values = np.asarray(t.data)
        as_f32 = values.astype("<f4") if values.dtype != np.dtype("<f4") else values
        tensors[t.name] = {
            "type": t.tensor_type.name,
            "ne": [int(d) for d in t.shape],
            "shape": [int(d) for d in values.shape],
            "offset": int(t.data_offset),
            "sha256_f32": hashlib.sha256(np.ascontiguousarray(as_f32).tobytes()).hexdigest(),
        }
    return {"alignment": reader.alignment, "data_offset": reader.data_offset, "keys": keys, "tensors": tensors}


def load_golden(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)


def llama_embeddings(path, golden_path, tau, min_cosine, max_ids=None, against=None):
    import llama_cpp
    from llama_cpp import Llama

    golden = load_golden(golden_path)
    tau_key = str(float(tau))
    if tau_key not in golden["temperatures"] and float(tau) not in golden["temperatures"]:
        raise SystemExit(f"golden has no τ = {tau_key}")
    max_len = golden["settings"]["max_seq_length"]
    # n_ctx/n_batch/n_ubatch ≥ the longest untruncated input, so every text's ids can be tokenized whole.
    def load(p):
        return Llama(model_path=p, embedding=True, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, verbose=False)

    llm = load(path)
    other = load(against) if against else None
    n_embd = llm.n_embd()

    def embed(ids, llm=llm):
        # One text per decode, unpadded, as the goldens were made.
        llm._batch.reset()
        llm._ctx.kv_cache_clear()
        llm._batch.add_sequence(ids, 0, True)
        llm._ctx.decode(llm._batch)
        ptr = llama_cpp.llama_get_embeddings_seq(llm._ctx.ctx, 0)
        v = np.array(ptr[:n_embd], dtype=np.float64)
        llm._batch.reset()
        return v

    compared, set_aside, long, cosines = 0, [], 0, []
    worst = (2.0, None)
    worst_against = (2.0, None)
    against_cosines = []
    for t in golden["texts"]:
        if max_ids is not None and len(t["ids"]) > max_ids:
            long += 1
            continue
        ids = llm.tokenize(t["text"].encode("utf-8"), add_bos=True, special=False)
        if len(ids) > max_len:
            ids = ids[: max_len - 1] + ids[-1:]
        if ids != t["ids"]:
            set_aside.append(t["id"])
            continue
        ref = np.frombuffer(base64.b64decode(t["embeddings"][tau_key]), dtype="<f4").astype(np.float64)
        got = embed(ids)
        cos = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
        cosines.append(cos)
        compared += 1
        if cos < worst[0]:
            worst = (cos, t["id"])
        if other is not None:
            o = embed(ids, other)
            c2 = float(got @ o / (np.linalg.norm(got) * np.linalg.norm(o)))
            against_cosines.append(c2)
            if c2 < worst_against[0]:
                worst_against = (c2, t["id"])
    result = {
        "model": path, "tau": float(tau), "pooling_type": int(llm.pooling_type()), "n_embd": n_embd,
        "texts": len(golden["texts"]), "compared": compared, "set_aside": len(set_aside),
        "set_aside_ids": set_aside, "long": long, "worst_cosine": worst[0], "worst_id": worst[1],
        "mean_cosine": float(np.mean(cosines)) if cosines else None, "min_cosine": min_cosine,
        "llama_cpp_python": llama_cpp.__version__,
    }
    if other is not None:
        result.update({"against": against, "worst_cosine_against": worst_against[0], "worst_id_against": worst_against[1],
                       "mean_cosine_against": float(np.mean(against_cosines)) if against_cosines else None})
    result["ok"] = compared > 0 and worst[0] >= min_cosine
    return result


def compare(original, patched):
    from gguf import GGUFReader
    from gguf.quants import dequantize

    a, b = GGUFReader(original), GGUFReader(patched)

    def fields(r):
        out = {}
        for f in r.fields.values():
            if f.name.startswith("GGUF.") or f.name.startswith("tempscale."):
                continue
            c = f.contents()
            out[f.name] = c if not isinstance(c, list) or len(c) < 64 else hashlib.sha256(repr(c).encode()).hexdigest()
        return out

    fa, fb = fields(a), fields(b)
    keys_changed = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    tb = {t.name: t for t in b.tensors}
    tensors = {}
    for t in a.tensors:
        u = tb.get(t.name)
        if u is None:
            tensors[t.name] = {"missing": True}
            continue
        ra, rb = np.asarray(t.data), np.asarray(u.data)
        entry = {"type": t.tensor_type.name, "same_type": t.tensor_type == u.tensor_type,
                 "same": ra.tobytes() == rb.tobytes()}
        if not entry["same"]:
            x = dequantize(ra, t.tensor_type).astype(np.float64)
            y = dequantize(rb, u.tensor_type).astype(np.float64)
            x2, y2 = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1), y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(1, -1)
            rows_changed = [i for i in range(x2.shape[0]) if not np.array_equal(x2[i], y2[i])] if x.ndim > 1 else None
            nz = np.abs(x) > 0
            factor = float(np.median(y[nz] / x[nz])) if nz.any() else None
            scale = float(np.abs(x).max() * abs(factor)) if factor else 1.0
            entry.update({"factor": factor, "max_rel_err": float(np.abs(y - x * factor).max() / scale) if factor else None,
                          "rows_changed": [min(rows_changed), max(rows_changed) + 1, len(rows_changed)] if rows_changed else None})
        tensors[t.name] = entry
    return {"keys_changed": keys_changed, "tensors": tensors,
            "tempscale": {f.name: f.contents() for f in b.fields.values() if f.name.startswith("tempscale.")},
            "changed": sorted(n for n, e in tensors.items() if not e.get("same", False))}


def tokenize(path, texts_path):
    import llama_cpp
    from llama_cpp import Llama

    opener = gzip.open if texts_path.endswith(".gz") else open
    with opener(texts_path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    llm = Llama(model_path=path, vocab_only=True, verbose=False)
    ids = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=False) for t in texts]
    return {"model": path, "texts": len(texts), "ids": ids, "llama_cpp_python": llama_cpp.__version__}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("read")
    r.add_argument("file")
    l = sub.add_parser("llama")
    l.add_argument("file")
    l.add_argument("golden")
    l.add_argument("--tau", type=float, default=1.0)
    l.add_argument("--min-cosine", type=float, default=0.9999)
    l.add_argument("--max-ids", type=int, default=None)
    l.add_argument("--against", default=None, help="also embed with this GGUF and report the worst cosine between the two")
    c = sub.add_parser("compare")
    c.add_argument("original")
    c.add_argument("patched")
    t = sub.add_parser("tokenize")
    t.add_argument("file")
    t.add_argument("texts")
    a = p.parse_args()
    if a.cmd == "read":
        out = read(a.file)
        ok = True
    elif a.cmd == "compare":
        out = compare(a.original, a.patched)
        ok = True
    elif a.cmd == "tokenize":
        out = tokenize(a.file, a.texts)
        ok = True
    else:
        out = llama_embeddings(a.file, a.golden, a.tau, a.min_cosine, a.max_ids, a.against)
        ok = out["ok"]
    json.dump(out, sys.stdout, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    sys.stdout.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

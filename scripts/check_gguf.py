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


def llama_embeddings(path, golden_path, tau, min_cosine, max_ids=None):
    import llama_cpp
    from llama_cpp import Llama

    golden = load_golden(golden_path)
    tau_key = str(float(tau))
    if tau_key not in golden["temperatures"] and float(tau) not in golden["temperatures"]:
        raise SystemExit(f"golden has no τ = {tau_key}")
    max_len = golden["settings"]["max_seq_length"]
    # n_ctx/n_batch/n_ubatch ≥ the longest untruncated input, so every text's ids can be tokenized whole.
    llm = Llama(model_path=path, embedding=True, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, verbose=False)
    n_embd = llm.n_embd()

    def embed(ids):
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
    result = {
        "model": path, "tau": float(tau), "pooling_type": int(llm.pooling_type()), "n_embd": n_embd,
        "texts": len(golden["texts"]), "compared": compared, "set_aside": len(set_aside),
        "set_aside_ids": set_aside, "long": long, "worst_cosine": worst[0], "worst_id": worst[1],
        "mean_cosine": float(np.mean(cosines)) if cosines else None, "min_cosine": min_cosine,
        "llama_cpp_python": llama_cpp.__version__,
    }
    result["ok"] = compared > 0 and worst[0] >= min_cosine
    return result


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
    t = sub.add_parser("tokenize")
    t.add_argument("file")
    t.add_argument("texts")
    a = p.parse_args()
    if a.cmd == "read":
        out = read(a.file)
        ok = True
    elif a.cmd == "tokenize":
        out = tokenize(a.file, a.texts)
        ok = True
    else:
        out = llama_embeddings(a.file, a.golden, a.tau, a.min_cosine, a.max_ids)
        ok = out["ok"]
    json.dump(out, sys.stdout, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    sys.stdout.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

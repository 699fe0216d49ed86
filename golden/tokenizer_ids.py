"""Expected ids for every corpus text, from the `tokenizers` library running each tokenizer.json (the truth).

    .venv/bin/python golden/tokenizer_ids.py --corpus .cache/tokenizers/corpus.jsonl.gz --dir .cache/tokenizers \
        [--extra minilm=.cache/models/all-MiniLM-L6-v2/tokenizer.json --extra mpnet=...] [NAME ...]

For each NAME (default: every <dir>/<name>/tokenizer.json, plus the --extra ones) writes
<dir>/<name>/expected.jsonl.gz, one line per corpus text in corpus order:
  {"max_length": L, "ids": [...], "truncated": [...], "tokens": [...] (first 300 texts only)}
  ids        encode(text, add_special_tokens=True) with truncation and padding disabled (any truncation/padding
             block the file carries is cleared);
  truncated  the same with enable_truncation(L) (what transformers' truncation=True, max_length=L does with a
             fast tokenizer: longest_first, cut from the right, special tokens kept), L = 4 + (i*37) % 200.
Also <dir>/<name>/expected-meta.json (tokenizers version, tokenizer.json sha256, corpus sha256, counts).
"""
import argparse
import collections
import gzip
import hashlib
import io
import json
import os
import sys
import time

import tokenizers
from tokenizers import Tokenizer

TOKENS_FOR_FIRST = 300


def max_length(i):
    return 4 + (i * 37) % 200


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(name, path, texts, corpus_sha, out_dir):
    t0 = time.time()
    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    full = tok.encode_batch(texts, add_special_tokens=True)
    ids = [e.ids for e in full]
    tokens = [e.tokens for e in full[:TOKENS_FOR_FIRST]]
    del full
    by_len = collections.defaultdict(list)
    for i in range(len(texts)):
        by_len[max_length(i)].append(i)
    truncated = [None] * len(texts)
    for L, idx in sorted(by_len.items()):
        tok.enable_truncation(max_length=L)
        for i, e in zip(idx, tok.encode_batch([texts[i] for i in idx], add_special_tokens=True)):
            truncated[i] = e.ids
    tok.no_truncation()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for i in range(len(texts)):
            row = {"max_length": max_length(i), "ids": ids[i], "truncated": truncated[i]}
            if i < TOKENS_FOR_FIRST:
                row["tokens"] = tokens[i]
            line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")).replace("\u0085", "\\u0085")
                    .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
            gz.write((line + "\n").encode("utf-8"))
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "expected.jsonl.gz"), "wb") as f:
        f.write(buf.getvalue())
    meta = {"tokenizer_json": os.path.relpath(path), "tokenizer_json_sha256": sha(path),
            "tokenizers_version": tokenizers.__version__, "corpus_sha256": corpus_sha, "texts": len(texts),
            "total_ids": sum(map(len, ids)), "max_ids": max(map(len, ids)),
            "texts_truncated": sum(len(a) != len(b) for a, b in zip(ids, truncated)),
            "unk_id_count": None, "max_length_rule": "4 + (i*37) % 200",
            "expected_sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
    unk = None
    try:
        j = json.load(open(path, encoding="utf-8"))
        m = j["model"]
        if m.get("unk_token") is not None:
            unk = tok.token_to_id(m["unk_token"])
        elif m.get("unk_id") is not None:
            unk = m["unk_id"]
    except Exception:  # noqa: BLE001
        pass
    if unk is not None:
        meta["unk_id_count"] = sum(x.count(unk) for x in ids)
    with open(os.path.join(d, "expected-meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    dt = time.time() - t0
    print(f"{name:16s} {len(texts)} texts  {meta['total_ids']:>10,d} ids  {meta['texts_truncated']:>6d} truncated  "
          f"unk {meta['unk_id_count']}  {dt:5.1f}s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--dir", required=True, help="folder of <name>/tokenizer.json; outputs go beside them")
    ap.add_argument("--extra", action="append", default=[], help="name=path/to/tokenizer.json (output in --dir/name)")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    with open(a.corpus, "rb") as f:
        raw = f.read()
    corpus_sha = hashlib.sha256(raw).hexdigest()
    texts = [json.loads(l)["text"] for l in gzip.decompress(raw).decode("utf-8").split("\n") if l]
    jobs = {}
    for n in sorted(os.listdir(a.dir)):
        p = os.path.join(a.dir, n, "tokenizer.json")
        if os.path.isfile(p):
            jobs[n] = p
    for e in a.extra:
        n, p = e.split("=", 1)
        if not os.path.isfile(p):
            sys.exit(f"{p}: missing (run make models)")
        jobs[n] = p
    for n in (a.names or list(jobs)):
        run(n, jobs[n], texts, corpus_sha, a.dir)


if __name__ == "__main__":
    main()

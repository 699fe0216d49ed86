"""Tokenization throughput: tempscale against HF `tokenizers` (the Rust library through Python), same texts,
same tokenizer.json, same thread count, ids only, no truncation. Run by `make bench`.

tempscale: `tempscale tokenize FILE --ids-only --timing --threads N` (its own timing of the tokenize step; the load
time is reported apart). HF: `Tokenizer.from_file(FILE).encode_batch(texts)` with RAYON_NUM_THREADS=N, best of 3.
The ids of both are compared, so a speed figure is only printed for identical output.

Usage: .venv/bin/python scripts/bench_tokenizers.py BIN CORPUS.jsonl.gz NAME=tokenizer.json ... [--threads 1,2]
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def hf_child(path, texts_file, threads):
    code = f"""
import json, time, os
from tokenizers import Tokenizer
texts = [json.loads(l)["text"] for l in open({texts_file!r}, encoding="utf-8")]
t0 = time.perf_counter(); tok = Tokenizer.from_file({path!r}); t1 = time.perf_counter()
tok.no_truncation(); tok.no_padding()
best = 1e9
for _ in range(3):
    a = time.perf_counter(); enc = tok.encode_batch(texts); best = min(best, time.perf_counter() - a)
print(json.dumps({{"load": t1 - t0, "encode": best, "ids": [e.ids for e in enc]}}))
"""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def ours(binary, path, texts_file, threads):
    best, load, ids = 1e9, None, None
    for _ in range(3):
        r = subprocess.run([binary, "tokenize", path, "--input", texts_file, "--ids-only", "--timing", "--threads", str(threads)],
                           capture_output=True, text=True, check=True)
        m = re.search(r"timing: load ([0-9.]+) s, tokenize ([0-9.]+) s", r.stderr)
        load, best = float(m.group(1)), min(best, float(m.group(2)))
        ids = [[int(x) for x in line.split()] for line in r.stdout.split("\n")[:-1]]
    return {"load": load, "encode": best, "ids": ids}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("corpus")
    ap.add_argument("tokenizers", nargs="+", help="NAME=path/to/tokenizer.json")
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    texts = [json.loads(l)["text"] for l in gzip.open(args.corpus, "rt", encoding="utf-8").read().split("\n") if l]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        texts_file = f.name
    print(f"tokenization, {len(texts)} texts ({sum(map(len, texts)) / 1e6:.2f} M characters), ids only, no truncation")
    print(f"{'tokenizer':<12} {'kind':<10} {'thr':>3} {'tempscale texts/s':>18} {'HF texts/s':>11} {'ratio':>6} {'load ts/HF (s)':>15}")
    try:
        for spec in args.tokenizers:
            name, path = spec.split("=", 1)
            kind = json.load(open(path, encoding="utf-8"))["model"]["type"]
            for threads in [int(t) for t in args.threads.split(",")]:
                a, b = ours(args.binary, path, texts_file, threads), hf_child(path, texts_file, threads)
                if a["ids"] != b["ids"]:
                    differ = sum(x != y for x, y in zip(a["ids"], b["ids"]))
                    print(f"{name:<12} {kind:<10} {threads:>3}  ids differ on {differ} texts: no speed figure")
                    continue
                ra, rb = len(texts) / a["encode"], len(texts) / b["encode"]
                print(f"{name:<12} {kind:<10} {threads:>3} {ra:>18.0f} {rb:>11.0f} {ra / rb:>5.2f}x {a['load']:>7.2f}/{b['load']:<6.2f}")
    finally:
        os.unlink(texts_file)


if __name__ == "__main__":
    main()

"""Writes debian-10k.jsonl.gz: 10,000 Debian descriptions (seeded sample) with the ids HF gives them.

One JSON object per line: {"text": ..., "minilm": [...], "mpnet": [...]}, ids from
AutoTokenizer.from_pretrained(model_dir)(texts, truncation=True, max_length=max_seq_length)
(256 for all-MiniLM-L6-v2, 384 for all-mpnet-base-v2), as sentence-transformers calls it.

The output goes to Tests/Fixtures/tokenizer/ when it is under 2.5 MB, else to .cache/tokenizer/
(git-ignored); the Swift test looks in both and skips when neither has it.

Usage (offline, deterministic, ~30 s):
    HF_HUB_OFFLINE=1 .venv/bin/python golden/debian_corpus_ids.py [MODELS_DIR]
"""
import gzip
import json
import os
import random
import sys

from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from debian_descriptions import read_descriptions  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache", "models")
COUNT = 10_000
SEED = 10_000
LIMIT = 2_500_000


def main():
    texts = random.Random(SEED).sample(read_descriptions(), COUNT)
    ids = {}
    for key, name, max_len in (("minilm", "all-MiniLM-L6-v2", 256), ("mpnet", "all-mpnet-base-v2", 384)):
        tok = AutoTokenizer.from_pretrained(os.path.join(MODELS_DIR, name))
        ids[key] = tok(texts, truncation=True, max_length=max_len)["input_ids"]
    lines = [json.dumps({"text": t, "minilm": a, "mpnet": b}, ensure_ascii=False, separators=(",", ":"))
             for t, a, b in zip(texts, ids["minilm"], ids["mpnet"])]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    rel = "Tests/Fixtures/tokenizer" if len(packed) < LIMIT else ".cache/tokenizer"
    os.makedirs(os.path.join(ROOT, rel), exist_ok=True)
    path = os.path.join(ROOT, rel, "debian-10k.jsonl.gz")
    with open(path, "wb") as f:
        f.write(packed)
    print(f"{rel}/debian-10k.jsonl.gz: {COUNT} texts, {len(data)} bytes JSONL, {len(packed)} gzipped")


if __name__ == "__main__":
    main()

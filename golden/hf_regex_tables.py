"""Character classes as HF `tokenizers` sees them, probed through the installed library for every code point.

    HF_HUB_OFFLINE=1 .venv/bin/python golden/hf_regex_tables.py [OUT_DIR]      (default golden/out; ~1 min)

Writes OUT_DIR/regex-classes.json:
  {"tokenizers_version": ..., "classes": {name: [[first, last], ...]}, "counts": {...}, "probe": {...}, "findings"}
  onig:\\p{L} onig:\\p{N} onig:\\p{P} onig:\\p{S} onig:\\p{M} onig:\\s onig:\\w
        membership in Oniguruma's class, as pre_tokenizers.Split(Regex(...), "removed") applies it (the engine
        every Split / ByteLevel regex in a tokenizer.json runs on);
  whitespace-pretok:\\w, whitespace-pretok:\\s
        the same two classes seen through pre_tokenizers.Whitespace (`\\w+|[^\\w\\s]+`), as a cross-check;
  rust:is_whitespace   char::is_whitespace (pre_tokenizers.WhitespaceSplit drops it);
  rust:is_numeric      char::is_numeric (pre_tokenizers.Digits isolates it);
  punctuation-pretok   pre_tokenizers.Punctuation's is_punc (isolated).
and OUT_DIR/unicode-nfk.json.gz: per normalizer (nfc, nfkc, nfkd, and nfd for completeness) the single-code-point
results that differ from the input, as runs [first, last, deltas] (every c in first...last becomes
[c + d for d in deltas]), the format of Tests/Fixtures/tokenizer/unicode-behaviour.json.gz
(golden/tokenizer_expectations.py). Surrogates are skipped everywhere.
"""
import gzip
import json
import os
import sys
import time

import tokenizers
from tokenizers import Regex, normalizers, pre_tokenizers

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
CPS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
CHUNK = 1 << 16


def ranges(xs):
    out = []
    for x in sorted(xs):
        if out and out[-1][1] + 1 == x:
            out[-1][1] = x
        else:
            out.append([x, x])
    return out


def removed_members(pretok):
    """Code points a pre-tokenizer drops (not covered by any piece's offsets), the string being all code points."""
    members = []
    for k in range(0, len(CPS), CHUNK):
        cps = CPS[k:k + CHUNK]
        covered = bytearray(len(cps))
        for _, (a, b) in pretok.pre_tokenize_str("".join(map(chr, cps))):
            covered[a:b] = b"\x01" * (b - a)
        members += [cps[i] for i in range(len(cps)) if not covered[i]]
    return members


def isolated_members(pretok, sep="a"):
    """Code points isolated into their own piece when every code point sits between two `sep`."""
    members = []
    for k in range(0, len(CPS), CHUNK):
        cps = CPS[k:k + CHUNK]
        s = sep + sep.join(map(chr, cps)) + sep
        for piece, (a, b) in pretok.pre_tokenize_str(s):
            if b - a == 1 and a % 2 == 1:
                members.append(cps[a // 2])
    return members


def whitespace_view():
    """pre_tokenizers.Whitespace on "a" c "a": one piece -> c is \\w, piece dropped -> \\s, three pieces -> neither."""
    w, s = [], []
    ws = pre_tokenizers.Whitespace()
    for k in range(0, len(CPS), CHUNK):
        cps = CPS[k:k + CHUNK]
        text = " " + " ".join("a" + chr(c) + "a" for c in cps) + " "
        # each "a c a" starts at 1 + 4*i; a \s c splits it into "a","a" (c dropped), \w keeps "aca" whole
        pieces = ws.pre_tokenize_str(text)
        covered = set()
        whole = set()
        for _, (a, b) in pieces:
            if (a - 1) % 4 == 0 and b - a == 3:
                whole.add((a - 1) // 4)
            for p in range(a, b):
                covered.add(p)
        for i, c in enumerate(cps):
            if i in whole:
                w.append(c)
            elif (1 + 4 * i + 1) not in covered:
                s.append(c)
    return w, s


def norm_runs(n):
    runs = []
    for c in CPS:
        ch = chr(c)
        res = n.normalize_str(ch)
        if res == ch:
            continue
        deltas = [ord(x) - c for x in res]
        if runs and runs[-1][1] == c - 1 and runs[-1][2] == deltas:
            runs[-1][1] = c
        else:
            runs.append([c, c, deltas])
    return runs


def main():
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    classes = {}
    for name in [r"\p{L}", r"\p{N}", r"\p{P}", r"\p{S}", r"\p{M}", r"\s", r"\w",
                 # the same inside a bracket expression (onig's \w differs there: see "agreement")
                 r"[\p{L}]", r"[\p{N}]", r"[\s]", r"[\w]"]:
        classes[f"onig:{name}"] = removed_members(pre_tokenizers.Split(Regex(name), behavior="removed"))
    for name, pos in [(r"\S", r"\s"), (r"\W", r"\w"), (r"[^\s]", r"[\s]"), (r"[^\w]", r"[\w]"),
                      (r"[^\s\p{L}\p{N}]", None)]:
        got = set(removed_members(pre_tokenizers.Split(Regex(name), behavior="removed")))
        if pos is not None:
            classes[f"onig:{name} is the complement of {pos}"] = got == set(CPS) - set(classes[f"onig:{pos}"])
        else:
            classes[f"onig:{name}"] = sorted(got)
    w, s = whitespace_view()
    classes[r"whitespace-pretok:\w"], classes[r"whitespace-pretok:\s"] = w, s
    classes["rust:is_whitespace"] = removed_members(pre_tokenizers.WhitespaceSplit())
    classes["rust:is_numeric"] = isolated_members(pre_tokenizers.Digits(individual_digits=True))
    classes["punctuation-pretok"] = isolated_members(pre_tokenizers.Punctuation(behavior="isolated"))
    sset = set(classes[r"onig:\s"])
    lset, nset = set(classes[r"onig:\p{L}"]), set(classes[r"onig:\p{N}"])
    probe_s = {f"U+{c:04X}": c in sset for c in
               [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E, 0xFEFF]}
    probe_ln = {"U+1E4D0 NAG MUNDARI LETTER O (15.0) in \\p{L}": 0x1E4D0 in lset,
                "U+11F50 KAWI DIGIT ZERO (15.0) in \\p{N}": 0x11F50 in nset,
                "U+11F04 KAWI LETTER A (15.0) in \\p{L}": 0x11F04 in lset,
                "U+16D43 KIRAT RAI LETTER A (16.0) in \\p{L}": 0x16D43 in lset,
                "U+16D70 KIRAT RAI DIGIT ZERO (16.0) in \\p{N}": 0x16D70 in nset,
                "U+1E5D0 OL ONAL LETTER O (16.0) in \\p{L}": 0x1E5D0 in lset,
                "U+31350 CJK EXT H (15.0) in \\p{L}": 0x31350 in lset,
                "U+2EBF0 CJK EXT I (15.1) in \\p{L}": 0x2EBF0 in lset,
                "U+0870 ARABIC LETTER ALEF WITH ATTACHED FATHA (14.0) in \\p{L}": 0x870 in lset,
                "U+A7C0 LATIN CAPITAL LETTER OLD POLISH O (14.0) in \\p{L}": 0xA7C0 in lset,
                "U+0378 (unassigned) in \\p{L}": 0x378 in lset}
    flags = {k: v for k, v in classes.items() if isinstance(v, bool)}
    for k in flags:
        del classes[k]
    doc = {"tokenizers_version": tokenizers.__version__,
           "format": "classes: name -> sorted inclusive code point ranges [[first, last], ...]; surrogates skipped",
           "counts": {k: len(v) for k, v in classes.items()},
           "classes": {k: ranges(v) for k, v in classes.items()},
           "probe": {"onig \\s": probe_s, "onig \\p{L} / \\p{N} versions": probe_ln},
           "agreement": {
               **flags,
               "onig \\w == onig [\\w]": set(classes[r"onig:\w"]) == set(classes[r"onig:[\w]"]),
               "onig \\w - [\\w]": [f"U+{c:04X}" for c in sorted(set(classes[r"onig:\w"]) - set(classes[r"onig:[\w]"]))],
               "onig [\\w] - \\w": [f"U+{c:04X}" for c in sorted(set(classes[r"onig:[\w]"]) - set(classes[r"onig:\w"]))],
               "onig \\s == [\\s]": sset == set(classes[r"onig:[\s]"]),
               "onig \\p{L} == [\\p{L}]": lset == set(classes[r"onig:[\p{L}]"]),
               "onig \\p{N} == [\\p{N}]": nset == set(classes[r"onig:[\p{N}]"]),
               "onig [^\\s\\p{L}\\p{N}] == complement of (\\s | \\p{L} | \\p{N})":
                   set(classes[r"onig:[^\s\p{L}\p{N}]"]) == set(CPS) - sset - lset - nset,
               "whitespace-pretok \\w - onig \\w": [f"U+{c:04X}" for c in sorted(set(w) - set(classes[r"onig:\w"]))],
               "onig \\w - whitespace-pretok \\w": [f"U+{c:04X}" for c in sorted(set(classes[r"onig:\w"]) - set(w))],
               "whitespace-pretok \\w == onig \\w": set(w) == set(classes[r"onig:\w"]),
               "whitespace-pretok \\s == onig \\s": set(s) == sset,
               "onig \\s == rust is_whitespace": sset == set(classes["rust:is_whitespace"]),
               "onig \\s - rust is_whitespace": [f"U+{c:04X}" for c in sorted(sset - set(classes["rust:is_whitespace"]))],
               "rust is_whitespace - onig \\s": [f"U+{c:04X}" for c in sorted(set(classes["rust:is_whitespace"]) - sset)],
               "onig \\p{N} == rust is_numeric": nset == set(classes["rust:is_numeric"]),
               "onig \\p{N} - rust is_numeric": len(nset - set(classes["rust:is_numeric"])),
               "rust is_numeric - onig \\p{N}": len(set(classes["rust:is_numeric"]) - nset)}}
    with open(os.path.join(OUT, "regex-classes.json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
    t1 = time.time()
    print(f"regex-classes.json: {', '.join(f'{k} {v}' for k, v in doc['counts'].items())}  ({t1 - t0:.0f}s)")
    print(json.dumps(doc["probe"], indent=1))
    print(json.dumps(doc["agreement"], indent=1))

    out = {"generator": f"tokenizers {tokenizers.__version__}",
           "format": "per map: runs [first, last, deltas]: every code point c in first...last becomes "
                     "[c + d for d in deltas] ([] = removed); code points in no run are unchanged (single code "
                     "points only: composition across characters is not in here)"}
    for key, n in (("nfc", normalizers.NFC()), ("nfkc", normalizers.NFKC()), ("nfkd", normalizers.NFKD()),
                   ("nfd", normalizers.NFD())):
        out[key] = norm_runs(n)
    data = json.dumps(out, separators=(",", ":")).encode()
    with open(os.path.join(OUT, "unicode-nfk.json.gz"), "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(data)
    print(f"unicode-nfk.json.gz: {', '.join(f'{k} {len(out[k])} runs' for k in ('nfc', 'nfkc', 'nfkd', 'nfd'))} "
          f"({time.time() - t1:.0f}s)")


if __name__ == "__main__":
    main()

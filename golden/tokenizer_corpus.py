"""A multilingual corpus of real and edge-case texts for the tokenizer tests (deterministic: same inputs, same bytes).

    .venv/bin/python golden/tokenizer_corpus.py --babel DIR --out .cache/tokenizers/corpus.jsonl.gz

Writes one {"text": ..., "source": ...} per line (gzip, mtime 0) and, beside it, corpus-SOURCES.json (sources,
their sha256, counts per source and per script). Sources, all offline on a Debian machine (the Makefile's
`tokenizers` target installs and downloads them):
  - Debian package descriptions in ~30 languages: apt's Translation-* lists
    (apt-get update -o Acquire::Languages=de,fr,ja,...; read with apt-helper cat-file);
  - translated man pages (manpages-de, -fr, -ja, -ru, ...), rendered with `man -E UTF-8 -l FILE | col -bx`;
  - gettext catalogues of the iso-codes package (country, language, script, currency names in ~150 languages:
    Arabic, Hebrew, Devanagari, Bengali, Tamil, Thai, Ethiopic, Georgian, Armenian, ...), read with gettext;
  - CLDR strings from the babel wheel's locale-data/*.dat (unzipped, not installed; the pickles are *not*
    unpickled: pickletools walks the opcodes and only the string constants are taken);
  - synthetic edge cases (emoji ZWJ/skin-tone/flag/keycap sequences, NFD text, combining marks, control and
    format characters, whitespace runs, very long words, digit runs in many scripts, contractions, literal
    special-token strings, U+2581, fullwidth forms, ligatures, Hangul jamo, recent Unicode, unassigned code
    points, private use), every non-ASCII character written as an escape so no editor can normalise it.
Every choice comes from random.Random(SEED) over sorted inputs.
"""
import argparse
import collections
import concurrent.futures
import glob
import gettext
import gzip
import hashlib
import io
import json
import os
import pickletools
import random
import re
import subprocess
import sys
import unicodedata

SEED = 20240611
DEBIAN_PER_LANG = 170
MAN_PAGES_PER_LANG = 14


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# ---------------------------------------------------------------- Debian Translation-* descriptions
def debian(rng, sources):
    out = []
    files = sorted(f for f in glob.glob("/var/lib/apt/lists/*Translation-*") if not re.search(r"Translation-en\b", f))
    by_lang = collections.defaultdict(list)
    for f in files:
        lang = re.search(r"Translation-([^.]+)", f).group(1).replace("%5f", "_")
        by_lang[lang].append(f)
    for lang in sorted(by_lang):
        descs, seen = [], set()
        for f in sorted(by_lang[lang]):
            raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", f], check=True, capture_output=True).stdout
            sources.setdefault("debian-translations", {})[os.path.basename(f)] = hashlib.sha256(raw).hexdigest()
            cur = None
            for line in raw.decode("utf-8", errors="replace").split("\n"):
                if line.startswith("Description-"):
                    cur = [line.split(": ", 1)[1] if ": " in line else ""]
                elif cur is not None and line.startswith(" "):
                    cur.append("" if line == " ." else line[1:])
                else:
                    if cur is not None:
                        d = "\n".join(cur)
                        if d not in seen:
                            seen.add(d); descs.append(d)
                    cur = None
            if cur is not None and "\n".join(cur) not in seen:
                descs.append("\n".join(cur))
        descs.sort()
        pick = rng.sample(descs, min(DEBIAN_PER_LANG, len(descs)))
        for i, d in enumerate(pick):
            if i % 5 == 0:      # the synopsis alone (short text)
                d = d.split("\n", 1)[0]
            elif i % 7 == 0:    # one continuation line
                lines = [l for l in d.split("\n")[1:] if l.strip()] or [d]
                d = rng.choice(lines)
            out.append((f"debian:{lang}", d))
    return out


# ---------------------------------------------------------------- man pages
def render(path):
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    try:
        p = subprocess.run(f"man -E UTF-8 -l '{path}' 2>/dev/null | col -bx", shell=True, capture_output=True,
                           env=env, timeout=60)
        return p.stdout.decode("utf-8", errors="replace")
    except subprocess.TimeoutExpired:
        return ""


def manpages(rng, sources):
    out = []
    langs = sorted(d for d in os.listdir("/usr/share/man") if not d.startswith("man") and
                   os.path.isdir(os.path.join("/usr/share/man", d)))
    jobs = []
    for lang in langs:
        files = sorted(glob.glob(f"/usr/share/man/{lang}/man*/*"))
        files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]
        if not files:
            continue
        for f in rng.sample(files, min(MAN_PAGES_PER_LANG, len(files))):
            jobs.append((lang, f))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        pages = list(ex.map(lambda j: render(j[1]), jobs))
    per = collections.Counter()
    for (lang, f), page in zip(jobs, pages):
        if not page.strip():
            continue
        per[lang] += 1
        sources.setdefault("manpages", {})[f] = sha_file(f)
        page = page[:12000]
        out.append((f"man:{lang}", page))                                   # whole page, long
        paras = [p for p in re.split(r"\n\s*\n", page) if p.strip()]
        for p in rng.sample(paras, min(6, len(paras))):                      # paragraphs as rendered
            out.append((f"man:{lang}", p))
        for p in rng.sample(paras, min(3, len(paras))):                      # re-flowed, one line
            out.append((f"man:{lang}", " ".join(p.split())))
    return out


# ---------------------------------------------------------------- iso-codes gettext catalogues
def isocodes(rng, sources):
    out = []
    domains = ["iso_3166-1", "iso_639-2", "iso_15924", "iso_4217"]
    for mo in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/iso_*.mo")):
        dom = os.path.basename(mo)[:-3]
        if dom not in domains:
            continue
        lang = mo.split("/")[4]
        with open(mo, "rb") as f:
            cat = gettext.GNUTranslations(f)
        sources.setdefault("iso-codes", {})[mo] = sha_file(mo)
        names = sorted(v for k, v in cat._catalog.items() if k and isinstance(k, str) and v and v != k)
        if len(names) < 5:
            continue
        rng.shuffle(names)
        k = 0
        while k < len(names) and k < 120:
            n = rng.choice([1, 1, 3, 8, 20])
            chunk = names[k:k + n]; k += n
            sep = rng.choice([", ", "\n", " ", "; ", " | "])
            out.append((f"iso-codes:{dom}:{lang}", sep.join(chunk)))
    return out


# ---------------------------------------------------------------- CLDR strings (babel wheel, never unpickled)
def pickle_strings(data):
    out = []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE") and isinstance(arg, str):
            out.append(arg)
    return out


def cldr(rng, babel_dir, sources):
    out = []
    files = sorted(glob.glob(os.path.join(babel_dir, "babel", "locale-data", "*.dat")))
    base = [f for f in files if "_" not in os.path.basename(f)[:-4]]
    for f in base:
        loc = os.path.basename(f)[:-4]
        with open(f, "rb") as fh:
            data = fh.read()
        sources.setdefault("cldr-babel", {})[os.path.basename(f)] = hashlib.sha256(data).hexdigest()
        strs = [s for s in pickle_strings(data) if any(ord(c) > 0x7F for c in s) and len(s) > 1]
        strs = sorted(set(strs))
        if not strs:
            continue
        rng.shuffle(strs)
        for j in range(min(6, max(1, len(strs) // 20))):
            n = rng.choice([1, 4, 15, 40])
            chunk = strs[j * 40: j * 40 + n]
            if chunk:
                out.append((f"cldr:{loc}", rng.choice([" ", ", ", "\n"]).join(chunk)))
    return out


# ---------------------------------------------------------------- synthetic edge cases
def u(*cps):
    return "".join(chr(c) for c in cps)


ZWJ, VS16 = 0x200D, 0xFE0F
EMOJI = [
    u(0x1F468, ZWJ, 0x1F469, ZWJ, 0x1F467, ZWJ, 0x1F466),        # family
    u(0x1F469, 0x1F3FD, ZWJ, 0x1F4BB),                          # woman technologist, medium skin
    u(0x1F3F3, VS16, ZWJ, 0x1F308),                              # rainbow flag
    u(0x1F3F4, 0xE0067, 0xE0062, 0xE0065, 0xE006E, 0xE0067, 0xE007F),  # England (tag sequence)
    u(0x1F1E9, 0x1F1EA), u(0x1F1EF, 0x1F1F5), u(0x1F1FA, 0x1F1E6), u(0x1F1FA, 0x1F1F8),   # flags DE JP UA US
    u(0x1F44D, 0x1F3FB), u(0x1F44D, 0x1F3FF), u(0x270B, 0x1F3FE),     # skin tones
    u(0x0031, VS16, 0x20E3), u(0x0023, VS16, 0x20E3),                # keycaps
    u(0x2764, VS16), u(0x2764, VS16, ZWJ, 0x1F525),                  # heart on fire
    u(0x1F9D1, 0x1F3FF, ZWJ, 0x1F91D, ZWJ, 0x1F9D1, 0x1F3FB),        # people holding hands
    u(0x1F600), u(0x1F602), u(0x1F923), u(0x1F64F), u(0x1F680), u(0x1F47D), u(0x1FAE0), u(0x1FAE8),  # incl. 14, 15
    u(0x1F426, ZWJ, 0x2B1B),                                      # black bird (15)
    u(0x1F642, ZWJ, 0x2194, VS16),                                # head shaking horizontally (15.1)
    u(0x1FAE9), u(0x1FAC6), u(0x1FABE), u(0x1FADF),               # Unicode 16 emoji
    u(0x263A), u(0x263A, VS16), u(0x263A, 0xFE0E),                 # text vs emoji presentation
]
CONTROLS = [u(c) for c in list(range(0x00, 0x20)) + [0x7F, 0x85, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
                                                     0x2028, 0x2029, 0xFEFF, 0x00AD, 0x2060, 0x180E, 0x061C]]
SPACES = [u(c) for c in [0x20, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
                         0x2008, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D,
                         0x1E, 0x1F]]
SPECIAL_LITERALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]",
                    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|end_of_text|>",
                    "<extra_id_0>", "<extra_id_99>", "<0x41>", "<0xE3>", "<|assistant|>", "<|user|>", "<|end|>",
                    u(0x2581), u(0x2581) * 3, u(0x2581) + "hello", "hello" + u(0x2581) + "world", u(0x120),
                    u(0x120) + "hello", "##ing", "##", "[ClS]", "<S>", "< s >", "<s><s></s>", "<mask >"]
CONTRACTIONS = ["I'll", "DON'T", "don't", "it" + u(0x2019) + "s", "It's", "we've", "WE'VE", "they'd", "you're",
                "YOU'RE", "I'm", "I'M", "she'LL", "'s", "'S", "''", "'", "rock'n'roll", "l'homme", "dell'arte",
                "O'Neil", "can" + u(0x2019) + "t", "y'all'd've", "'tis", "'twas", "Ma'am", "shouldn't've"]
FULLWIDTH = [u(*range(0xFF01, 0xFF5F)), u(0xFF21, 0xFF22, 0xFF23, 0x3000, 0xFF41, 0xFF42, 0xFF43),
             u(0xFF10, 0xFF11, 0xFF12, 0xFF13), u(*range(0xFF61, 0xFFA0)), u(0xFFE0, 0xFFE1, 0xFFE5, 0xFFE6)]
LIGATURES = [u(0xFB01), u(0xFB02), u(0xFB00), u(0xFB03), u(0xFB04), u(0xFB05), u(0xFB06), u(0x0132), u(0x01C6),
             u(0x01C4), u(0x2163), u(0x2460), u(0x33A1), u(0x2122), u(0x00BD), u(0x2153), u(0x00B2), u(0x2075),
             u(0x1D400, 0x1D41A), u(0x210C), u(0x2102), u(0x212B), u(0x2126), u(0x212A), u(0x1E9E), u(0x00DF),
             "e" + u(0x0301), "o" + u(0x0308) + u(0x0304), "a" + u(0x0323) + u(0x0302), u(0x0130), u(0x0131),
             u(0x03C2), u(0x03A3), u(0x1F80), u(0x0587), u(0xFDFA), u(0xFDFB), u(0xFEFC), u(0x0F77)]
JAMO = [u(0x1100, 0x1161), u(0x1100, 0x1161, 0x11A8), u(0x1112, 0x1161, 0x11AB, 0x1100, 0x1173, 0x11AF),
        u(0x3131, 0x314F), u(0x3147, 0x3163), u(*range(0x1100, 0x1113)), u(*range(0x3131, 0x3164)),
        u(0xAC00), u(0xD7A3), u(0xD7B0, 0xD7FB), u(0xA960, 0xA97C), u(0xFFA0, 0xFFDC)]
RECENT = [u(*range(0x1E4D0, 0x1E4FA)), u(*range(0x11F50, 0x11F5A)), u(*range(0x16D40, 0x16D7A)),   # 15, 15, 16
          u(*range(0x11F00, 0x11F11)), u(*range(0x1E030, 0x1E06E)), u(*range(0x31350, 0x31360)),    # Kawi, Cyr ext, CJK H
          u(*range(0x2EBF0, 0x2EBFA)), u(*range(0x10D40, 0x10D66)), u(*range(0x105C0, 0x105F4)),    # 15.1, 16
          u(*range(0x11BC0, 0x11BE2)), u(*range(0x1CC00, 0x1CC30)), u(*range(0x1FBF0, 0x1FBFA)),
          u(*range(0x16D70, 0x16D7A)), u(*range(0x11DE0, 0x11DEA))]
UNASSIGNED = [u(0x0378), u(0x0379), u(0x05FF), u(0x0B54), u(0x1FFFF), u(0x2FFFE), u(0xE0080), u(0xFFFE),
              u(0xFFFF), u(0xFDD0), u(0x10FFFF), u(0x0380), u(0x1E4FF), u(0x3FFFD), u(0x2FA1F)]
PRIVATE = [u(0xE000), u(0xF8FF), u(0xE123, 0xE456), u(0xF0000), u(0xFFFFD), u(0x100000), u(0x10FFFD)]
DIGITS = {"ascii": "0123456789", "arabic-indic": u(*range(0x660, 0x66A)), "ext-arabic-indic": u(*range(0x6F0, 0x6FA)),
          "devanagari": u(*range(0x966, 0x970)), "bengali": u(*range(0x9E6, 0x9F0)), "thai": u(*range(0xE50, 0xE5A)),
          "fullwidth": u(*range(0xFF10, 0xFF1A)), "math-bold": u(*range(0x1D7CE, 0x1D7D8)),
          "tibetan": u(*range(0xF20, 0xF2A)), "myanmar": u(*range(0x1040, 0x104A)), "kawi": u(*range(0x11F50, 0x11F5A)),
          "roman": u(*range(0x2160, 0x216C)), "circled": u(*range(0x2460, 0x2474)), "superscript": u(0x2070, 0xB9, 0xB2, 0xB3, 0x2074),
          "fractions": u(0xBC, 0xBD, 0xBE, 0x2150, 0x2189), "cjk": u(0x3007, 0x4E00, 0x4E8C, 0x4E09, 0x56DB)}


def synthetic(rng, real):
    out = []
    add = lambda kind, t: out.append((f"synthetic:{kind}", t))
    words = [w for _, t in real for w in t.split() if 2 <= len(w) <= 20]
    words.sort()
    pick_words = lambda n: " ".join(rng.choice(words) for _ in range(n))

    for e in EMOJI:
        add("emoji", e)
        add("emoji", f"I love it {e}!")
        add("emoji", e * rng.randint(2, 5))
    for _ in range(60):
        add("emoji", "".join(rng.choice(EMOJI) + rng.choice(["", " ", "x", u(0x200D), "\n"]) for _ in range(rng.randint(2, 12))))
    for c in CONTROLS:
        add("control", c)
        add("control", f"a{c}b")
        add("control", f"{c}start and end{c}")
        add("control", f"word {c} word {c}{c} {pick_words(3)}")
    for _ in range(60):
        add("control", "".join(rng.choice(CONTROLS + [" ", "x", "\u00e9", "\u4e2d"]) for _ in range(rng.randint(1, 40))))
    for s in SPACES:
        add("space", s)
        add("space", f"a{s}b")
        add("space", f"{s}{s}lead and trail{s}{s}{s}")
    ws = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n ", "\t\t", " \t", "\u3000", "\u00a0"]
    for n in (1, 2, 3, 4, 5, 8, 16, 17, 31, 64, 100, 257, 1000):
        add("space", " " * n)
        add("space", "\t" * n)
        add("space", "\n" * n)
        add("space", "\r\n" * n)
        add("space", " " * n + "x" + " " * n)
        add("space", "x" + " " * n + "y")
        add("space", "a\n" + " " * n + "b")
    for _ in range(200):
        add("space", "".join(rng.choice(ws) + (rng.choice(words) if rng.random() < 0.6 else "") for _ in range(rng.randint(1, 25))))
    for w in rng.sample(words, 30):
        for n in (101, 150, 257, 1001, 2500):
            add("long-word", (w * (n // len(w) + 1))[:n])
    for n in (100, 101, 199, 200, 201, 255, 256, 1000, 1001, 1500, 3000):
        add("long-word", "a" * n)
        add("long-word", "x" + "\u00e9" * (n - 1))
        add("long-word", "\u4e2d" * n)
        add("long-word", "\u0915\u094d\u0937" * (n // 3 + 1))
        add("long-word", "ab" * (n // 2) + " end")
    for name, ds in DIGITS.items():
        add("digits", ds)
        for n in (1, 2, 3, 4, 5, 7, 12, 30, 101):
            add("digits", "".join(rng.choice(ds) for _ in range(n)))
        add("digits", f"Total: {ds} items, {ds[:3]}.{ds[3:5]}%")
    for _ in range(120):
        n = rng.choice([1, 3, 4, 6, 10, 16, 20, 40, 120, 500])
        num = "".join(rng.choice("0123456789") for _ in range(n))
        add("digits", rng.choice([num, f"{num},{num[:3]}", f"+{num}", f"-{num}.{num[:2]}e10", f"v{num[:2]}.{num[2:4]}",
                                  f"{num} {pick_words(2)}", f"ID{num}X", f"1,234,567.{num[:3]}", f"0x{num[:8]}"]))
    for c in CONTRACTIONS:
        add("contraction", c)
        add("contraction", f"{pick_words(2)} {c} {pick_words(2)}")
    add("contraction", " ".join(CONTRACTIONS))
    add("contraction", "Hello there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL")
    for s in SPECIAL_LITERALS:
        add("special", s)
        add("special", f"text {s} text")
        add("special", f"{s}{pick_words(2)}{s}")
        add("special", f"  {s}  ")
    add("special", " ".join(SPECIAL_LITERALS))
    for f in FULLWIDTH:
        add("fullwidth", f)
        add("fullwidth", f"mix {f} ABC abc 123")
    for l in LIGATURES:
        add("compat", l)
        add("compat", f"{l}{pick_words(1)} {l}")
    add("compat", "".join(LIGATURES))
    for j in JAMO:
        add("jamo", j)
        add("jamo", f"{j} {unicodedata.normalize('NFD', j)} {unicodedata.normalize('NFC', j)}")
    for r in RECENT:
        add("recent", r)
        add("recent", f"x{r[:5]} {r[-3:]}y")
    for c in UNASSIGNED + PRIVATE:
        add("unassigned-private", c)
        add("unassigned-private", f"a{c}b {c}{c}")
    add("unassigned-private", "".join(UNASSIGNED + PRIVATE))
    # decomposed / composed / compatibility forms of real text
    accented = [t for _, t in real if any(0xC0 <= ord(c) <= 0x24F or 0x1E00 <= ord(c) <= 0x1EFF or 0xAC00 <= ord(c) <= 0xD7A3 for c in t)]
    accented.sort()
    for t in rng.sample(accented, min(400, len(accented))):
        t = t[:rng.choice([40, 200, 2000])]
        add("nfd", unicodedata.normalize("NFD", t))
    for t in rng.sample(accented, min(100, len(accented))):
        add("nfkd", unicodedata.normalize("NFKD", t[:300]))
    for _ in range(150):
        base = rng.choice("aeiouAEIOUnNcCsSzZ\u03b1\u0430\u05d0\u0627")
        marks = "".join(chr(rng.choice(list(range(0x300, 0x370)) + [0x1AB0, 0x1DC0, 0x20D0, 0xFE20, 0x0591, 0x064B, 0x093C, 0x0E31]))
                        for _ in range(rng.randint(1, 8)))
        add("combining", rng.choice([base + marks, marks, f"{pick_words(1)}{marks} {base}{marks}x"]))
    add("combining", "Z" + "".join(chr(0x300 + i % 0x70) for i in range(300)))   # zalgo
    # random code points by block (assigned or not, no surrogates)
    blocks = [(0x20, 0x7F), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x590, 0x6FF), (0x900, 0x97F),
              (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x2BFF), (0x3000, 0x30FF),
              (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE00, 0xFFFF),
              (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF), (0x20000, 0x2FA1F), (0xE0000, 0xE01EF), (0x0, 0x10FFFF)]
    for _ in range(700):
        lo, hi = rng.choice(blocks)
        s = []
        for _ in range(rng.choice([1, 2, 5, 20, 80, 300])):
            c = rng.randint(lo, hi)
            if 0xD800 <= c <= 0xDFFF:
                c = 0xFFFD
            s.append(chr(c))
            if rng.random() < 0.15:
                s.append(" ")
        add("random-codepoints", "".join(s))
    # single characters from many scripts, and mixed-script sentences from the real texts
    singles = sorted({c for _, t in real[::7] for c in t})
    for c in rng.sample(singles, min(500, len(singles))):
        add("single-char", c)
    for _ in range(300):
        parts = [rng.choice(real)[1] for _ in range(rng.randint(2, 5))]
        parts = [p[: rng.choice([10, 30, 80])] for p in parts]
        add("mixed", rng.choice([" ", "", "\n", " | "]).join(parts))
    for n in (2000, 5000, 9000):
        add("long-text", "\n\n".join(rng.choice(real)[1] for _ in range(60))[:n])
    add("empty", "")
    add("empty", " ")
    return out


SCRIPT_KEYS = ["LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "BENGALI", "TAMIL", "THAI",
               "GEORGIAN", "ARMENIAN", "ETHIOPIC", "HANGUL", "HIRAGANA", "KATAKANA", "CJK", "KHMER", "TIBETAN",
               "MYANMAR", "SINHALA", "GUJARATI", "GURMUKHI", "TELUGU", "KANNADA", "MALAYALAM", "LAO"]


def scripts_of(text):
    found = set()
    for c in set(text):
        o = ord(c)
        if o < 0x80:
            if c.isalpha():
                found.add("LATIN")
            continue
        cat = unicodedata.category(c)
        if cat == "So" and (0x1F000 <= o <= 0x1FAFF or 0x2600 <= o <= 0x27BF):
            found.add("EMOJI")
        name = unicodedata.name(c, "")
        first = name.split(" ", 1)[0]
        if first in SCRIPT_KEYS:
            found.add(first)
        elif cat[0] == "M":
            found.add("COMBINING")
        elif cat in ("Cc", "Cf"):
            found.add("CONTROL/FORMAT")
        elif cat == "Co":
            found.add("PRIVATE-USE")
        elif cat == "Cn":
            found.add("UNASSIGNED")
    return found


def jsonl(obj):
    """One JSON line, UTF-8 kept, but U+0085/U+2028/U+2029 escaped so no line reader splits a record."""
    return (json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
            .replace("\u0085", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--babel", required=True, help="folder where the babel wheel is unzipped (babel/locale-data)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(SEED)
    sources = {}
    real = []
    real += debian(random.Random(SEED + 1), sources)
    real += manpages(random.Random(SEED + 2), sources)
    real += isocodes(random.Random(SEED + 3), sources)
    real += cldr(random.Random(SEED + 4), a.babel, sources)
    synth = synthetic(random.Random(SEED + 5), real)
    items = real + synth
    # drop exact duplicates (first wins), then a fixed shuffle so every slice mixes sources
    seen, uniq = set(), []
    for src, t in items:
        if t not in seen:
            seen.add(t); uniq.append((src, t))
    rng.shuffle(uniq)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for src, t in uniq:
            gz.write((jsonl({"text": t, "source": src}) + "\n").encode("utf-8"))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "wb") as f:
        f.write(buf.getvalue())
    per_source = collections.Counter(s.split(":")[0] + ":" + s.split(":")[1] if s.count(":") >= 1 else s for s, _ in uniq)
    per_family = collections.Counter(s.split(":")[0] for s, _ in uniq)
    per_script = collections.Counter(k for _, t in uniq for k in scripts_of(t))
    lengths = sorted(len(t) for _, t in uniq)
    meta = {"texts": len(uniq), "seed": SEED, "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
            "chars": {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1],
                      "over_1000": sum(l > 1000 for l in lengths), "total": sum(lengths)},
            "per_family": dict(sorted(per_family.items())), "per_source": dict(sorted(per_source.items())),
            "texts_containing_script": dict(sorted(per_script.items())),
            "inputs": {k: {"files": len(v), "sha256_of_list": hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()}
                       for k, v in sorted(sources.items())},
            "input_files": sources,
            "unicodedata_version": unicodedata.unidata_version, "python": sys.version.split()[0]}
    with open(os.path.join(os.path.dirname(os.path.abspath(a.out)), "corpus-SOURCES.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    print(f"corpus: {len(uniq)} texts, {sum(lengths):,} chars -> {a.out}")
    print("families:", dict(sorted(per_family.items())))
    print("scripts:", dict(sorted(per_script.items())))


if __name__ == "__main__":
    main()

"""Writes Tests/Fixtures/tokenizer/expectations.json.gz: texts and the ids HF gives them.

The reference is what sentence-transformers uses: AutoTokenizer.from_pretrained(model_dir)
called with truncation=True, max_length=<the model's max_seq_length>. Every text is also
encoded without truncation for a subset (hand-written edge cases and the first Debian texts),
and for the edge cases the token strings are kept too.

Also writes Tests/Fixtures/tokenizer/unicode-behaviour.json.gz: for every code point whose
single-character output differs from itself, what HF's BertNormalizer (clean_text,
strip_accents, lowercase on), the Lowercase normalizer and the NFD normalizer give.

Usage (offline, deterministic, ~20 s):
    HF_HUB_OFFLINE=1 /work/main/.venv/bin/python golden/tokenizer_expectations.py [MODELS_DIR]
MODELS_DIR defaults to .cache/models (needs all-MiniLM-L6-v2 and all-mpnet-base-v2).
"""
import gzip
import json
import os
import random
import sys

import tokenizers
import transformers
from tokenizers import normalizers
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from debian_descriptions import read_descriptions  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache", "models")
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")
MODELS = [("all-MiniLM-L6-v2", 256), ("all-mpnet-base-v2", 384)]
DEBIAN_SAMPLE = 600
UNTRUNCATED_DEBIAN = 100

EDGE_CASES = [
    "", " ", "   \t\n  ", "\u3000\u00a0\u2009",
    "Hello dogs!", "hello world", "HELLO World, MiXeD CaSe",
    # accents and case mapping
    "café", "naïve", "Ångström", "\u212bngstr\u00f6m (Angstrom sign)", "Zoë", "ﬁnance ﬂow ﬃ", "İstanbul ılık IŞIK",
    "ΣΟΦΟΣ σοφος ΟΔΟΣ", "Straße STRASSE ẞ", "Crème Brûlée à la carte", "e\u0301 (e + combining acute)",
    "a\u0308\u0301\u0323 stacked marks", "Ǆemal ǅ ǆ", "\u212a Kelvin", "Ⅻ ⅻ roman numerals", "Ꭰ ꭰ Cherokee",
    "Ა ა Georgian Mtavruli", "𐐀 Deseret", "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ", "Ǳ ǲ ǳ",
    # scripts
    "中文分词测试", "日本語のテキスト、カタカナとひらがな", "한국어 텍스트입니다", "ไทยภาษา", "Русский текст, Ёё",
    "Ελληνικά κείμενα", "עברית מימין לשמאל", "العربية من اليمين إلى اليسار", "हिन्दी पाठ", "தமிழ்", "𠀀𪜀𫝀𫠠𬺰 rare CJK",
    "\U0002b820\U0002b91f gap in HF's CJK ranges", "\uf900\ufaff compatibility ideographs", "ㄅㄆㄇ bopomofo",
    # emoji, joiners, marks
    "emoji 😀👍🏽 and 🥰", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "zero\u200bwidth\u200cnon\u200djoiner", "\ufeffBOM at start",
    "soft\u00adhyphen", "\u202eRTL override\u202c", "A\u20dd enclosing", "x\u0300\u0301\u0302", "\u0f71\u0f72 tibetan",
    # punctuation and symbols
    "!!!???...", "Hello,world.How;are:you?", "(nested [brackets {here}])", "a--b—c–d", "“quotes” ‘single’ «guillemets»",
    "¡Hola! ¿Qué tal?", "§¶†‡•…‰′″", "$100 €50 £20 ¥1000 ₹", "50% off & more", "a_b-c.d/e\\f", "@user #hashtag",
    "\u166d\u111c9\u2e43\u2e52\u1b7d new and old punctuation", "math: 1+1=2, x^2, a<b>c, ∑∫√∞",
    "~`|^", "...", "'", "\"",
    # URLs, numbers, code
    "https://example.com/path?query=1&b=2#frag", "user@example.org", "192.168.0.1:8080", "3.14159 2,718 1e-10 -42",
    "1,000,000.00", "0x1F 0b1010 0o17", "2024-01-15T10:30:00Z", "v1.2.3-beta+build.5", "def f(x): return x**2",
    "<html><body>hi</body></html>", "{\"json\": [1, 2, 3]}",
    # control characters
    "bell\u0007char", "nul\u0000char", "carriage\rreturn", "tab\tseparated\tvalues", "line\nbreaks\n\nhere",
    "\u0001\u0002\u0003", "del\u007fchar", "\u0085next line", "unit\u001fsep", "replacement \ufffd char",
    "private \ue000\uf8ff use", "\u2028line sep\u2029para sep", "\u0600\u061c\u06dd arabic format", "\u08e2 newer format",
    "\U000e0001\U000e0041 tags", "\U000f0000 plane 15",
    # long words and texts
    "a" * 300, "supercalifragilisticexpialidocious " * 3, "x" * 100, "y" * 101, "é" * 100, "é" * 101,
    "unaffable unbelievable ununderstandable", "antidisestablishmentarianism",
    # literal special tokens
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<s>", "</s>", "<mask>", "<pad>", "<unk>", "<UNK>", "<Unk>",
    "Hello [CLS] world [SEP] and [MASK] here", "[CLS][SEP][MASK]", "x[SEP]y", "[cls] [Cls] [ CLS ]",
    "<s>hello</s>", "a <mask> b", "a    <mask>", "a\n<mask>", "<mask><mask>", "x<mask>y", "  <mask>  ",
    "The capital of France is <mask>.", "The capital of France is [MASK].", "[UNK] <unk> [PAD] <pad>",
    "word[MASK]word", "<s> </s> <s></s>", "</s></s>", "<<mask>>", "[[CLS]]",
]


def long_texts(debian):
    # Long enough to be truncated at 256 and 384 tokens.
    rng = random.Random(7)
    picks = rng.sample(debian, 12)
    return ["\n\n".join(picks[i:i + 6]) for i in (0, 6)] + ["word " * 1000, "tokenization " * 500]


def main():
    debian = read_descriptions()
    rng = random.Random(20240611)
    sample = rng.sample(debian, DEBIAN_SAMPLE)
    edge = EDGE_CASES + long_texts(debian)
    texts = edge + sample
    untruncated = list(range(len(edge) + UNTRUNCATED_DEBIAN))
    with_tokens = list(range(len(edge)))

    models = []
    for name, max_len in MODELS:
        tok = AutoTokenizer.from_pretrained(os.path.join(MODELS_DIR, name))
        trunc = tok(texts, truncation=True, max_length=max_len)["input_ids"]
        full = tok([texts[i] for i in untruncated], truncation=False)["input_ids"]
        toks = [tok._tokenizer.encode(texts[i]).tokens for i in with_tokens]
        models.append({
            "name": name, "max_length": max_len, "truncated": trunc,
            "untruncated": {"indices": untruncated, "ids": full},
            "tokens": {"indices": with_tokens, "tokens": toks},
        })
    doc = {
        "added_token_flags": added_token_flags(),
        "generator": f"golden/tokenizer_expectations.py; transformers {transformers.__version__}, tokenizers {tokenizers.__version__}",
        "texts": texts, "models": models,
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    write_gz(os.path.join(OUT_DIR, "expectations.json.gz"), doc)
    write_gz(os.path.join(OUT_DIR, "unicode-behaviour.json.gz"), unicode_behaviour())


def added_token_flags():
    """tiny-bert's tokenizer with added tokens exercising single_word, lstrip, rstrip and normalized."""
    from tokenizers import AddedToken, Tokenizer
    tok = Tokenizer.from_file(os.path.join(ROOT, "Tests", "Fixtures", "models", "tiny-bert", "tokenizer.json"))
    tok.add_tokens([
        AddedToken("dog", single_word=True, normalized=False),
        AddedToken("CAT", normalized=True),
        AddedToken("ab", lstrip=True, rstrip=True, normalized=False),
        AddedToken("abc", normalized=False),
        AddedToken("Ünï", normalized=True),
    ])
    tok.add_special_tokens([AddedToken("<x>", rstrip=True), AddedToken("<x><y>", lstrip=True)])
    texts = [
        "dog dogs hotdog dog.", "a dog_x dog1 (dog) dög dog", "Cat CAT cat catalogue", "x ab y  ab  z abc abcd",
        "  ab  ", "<x>  hello <x><y> world  <x><y>", "<x><x>   <x>", "unï ÜNÏ Ünï uni", "ab<x> abab", "",
    ]
    return {"tokenizer_json": tok.to_str(), "texts": texts,
            "ids": [tok.encode(t).ids for t in texts], "tokens": [tok.encode(t).tokens for t in texts]}


def unicode_behaviour():
    # handle_chinese_chars is off here (the edge cases cover it): with it on, 90k ideographs
    # would each need an entry.
    bert = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=True, lowercase=True)
    maps = {"bert": bert, "lowercase": normalizers.Lowercase(), "nfd": normalizers.NFD()}
    out = {"generator": f"tokenizers {tokenizers.__version__}",
           "format": "per map: runs [first, last, deltas]: every code point c in first...last becomes "
                     "[c + d for d in deltas] ([] = removed); code points in no run are unchanged"}
    for key, n in maps.items():
        runs = []
        for c in range(0x110000):
            if 0xD800 <= c < 0xE000:
                continue
            ch = chr(c)
            res = n.normalize_str(ch)
            if res == ch:
                continue
            deltas = [ord(x) - c for x in res]
            if runs and runs[-1][1] == c - 1 and runs[-1][2] == deltas:
                runs[-1][1] = c
            else:
                runs.append([c, c, deltas])
        out[key] = runs
    return out


def write_gz(path, doc):
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as f:
        # mtime=0 and no file name: the same input gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(data)
    print(f"{os.path.relpath(path, ROOT)}: {len(data)} bytes JSON, {os.path.getsize(path)} gzipped")


if __name__ == "__main__":
    main()

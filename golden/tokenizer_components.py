"""Writes Tests/Fixtures/tokenizer/components.json.gz: tiny tokenizer.json variants and the ids HF gives them.

The 18 real tokenizer.json files under .cache/tokenizers leave many pipeline components unused
(Split with string patterns and most behaviours, Whitespace, Punctuation, Digits, Metaspace's
schemes, most normalizers, BPE's continuing_subword_prefix / end_of_word_suffix / byte_fallback /
ignore_merges, Unigram byte_fallback, WordPiece options, the post-processors, added-token flags).
This script trains tiny models with the `tokenizers` trainers on a seeded sample of
.cache/tokenizers/corpus.jsonl.gz, wraps them in one pipeline per component variant, and records
`tokenizers`' ids for a fixed list of texts (seeded corpus sample + hand-written edge cases).

Usage (offline, deterministic, byte-identical reruns, ~1 min):
    HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false .venv/bin/python golden/tokenizer_components.py

Layout (gzip mtime=0, level 9):
    {"tokenizers_version": str,
     "texts": [str, ...],
     "pairs_index": [[i, j], ...],               # the 50 text pairs used for "pairs"
     "refused": [{"what", "pre_tokenizer", "error"}],  # JSON forms tokenizers refuses to load
     "variants": [{"name": str,
                   "notes": str,                 # what the variant exercises
                   "tokenizer": {...},           # the tokenizer.json object the ids come from
                   "ids": [[int]...],            # encode(text).ids, one list per text
                   "ids_no_special": [[int]...] or null,  # encode(text, add_special_tokens=False).ids;
                                                 # null when identical to "ids" for every text (size)
                   "truncated": [[text_index, L, [ids]], ...],   # enable_truncation(L), every 3rd text
                   "pairs": [[i, j, [ids]], ...]}]}  # encode(texts[i], texts[j]); [] unless pair-tested
Every variant's ids are computed with Tokenizer.from_str(json.dumps(variant["tokenizer"])), and
checked equal to the ids of the in-memory tokenizer it was built from.
"""
import copy
import gzip
import io
import json
import math
import os
import random
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer  # noqa: E402
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, ".cache", "tokenizers", "corpus.jsonl.gz")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "components.json.gz")

GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPACES_RE = r" {2,}"
DIGIT3_RE = r"[0-9][0-9][0-9]"
WORD_RE = r"\w+|[^\w\s]+"

BEHAVIORS = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]

EDGE_TEXTS = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", " \t \n ",
    "hello", "hello world", " hello world", "hello world ", "  hello   world  ",
    "hello\tworld", "hello\t\tworld", "line one\r\nline two\r\n", "a\nb\n\nc\n\n\n",
    "trailing spaces    ", "    leading spaces", "a  b   c    d     e",
    "1234567", "12 345 6789 0", "abc123def", "3.14159 and 2,718", "x1y22z333w4444", "٣٤٥ ১২৩ ௧௨",
    "!!!...???", "Hello, world! How are you?", "wait... what?!", "--a--b--", "a-b-c", "-", "---",
    "(parens) [brackets] {braces} <angles>", "email@example.com http://x.org/a?b=c&d=e",
    "don't I'LL it’s we've they'RE she'd 'tis", "rock 'n' roll", "O'Neil's dog's bone",
    "ab", "abab", "cab abba", "grab a cab", "xaby ab ab-ab",
    "▁", "▁▁", "▁hello ▁world", "hello▁world", " ▁ ",
    "café", "cafe\u0301", "CAFÉ Ångström naïve", "e\u0301\u0301 a\u0308 o\u0323\u0302",
    "ﬁ ﬂ ﬃ ﬁnance ﬂower", "ＡＢＣ１２３ ｱｲｳ", "x² H₂O ½ ⅔ ㎏ ㍻", "Ⅻ ℃ ™ …",
    "한국어 텍스트입니다", "\u1100\u1161\u11a8", "日本語のテキスト", "中文文本测试。", "漢字かなカナ", "中文文本测试", "中 文 本", "中한文", "한",
    "👨‍👩‍👧‍👦 family", "👍🏽 ok 🇫🇷", "❤️ love", "🤖🤖🤖",
    "Zürich straße Äpfel", "İstanbul ıi", "Ελληνικά κείμενο", "Русский текст", "עברית טקסט", "العربية نص",
    "हिन्दी पाठ", "ไทย ภาษา", "a\u200bb\u200cc\u200dd", "\u00a0nbsp\u00a0here\u3000ideographic",
    "tab\u000bvt\u000cff", "ctrl\u0001\u0002\u007f", "\ufeffbom",
    "<s>", "</s>", "<unk>", "<pad>", "<mask>", "<|endoftext|>", "[CLS] [SEP] [UNK] [MASK]",
    "<s>hello world", "<s> hello world</s>", "<s><s>", "text<|endoftext|>more<|endoftext|>",
    "hello<s>world", " <s>hello", "</s></s> end",
    "a <mask> b", "a<mask>b", "x   <mask>   y", "[NUM]  7 [NUM]8", "[NUM]",
    "Hello World", "HELLO WORLD", "say hello there", "xhellox", "hello,world", "Hello!",
    "World world WORLD", "    indented code", "if x:\n    return 1",
    "fix ﬁx FIX", "New York new york", "tokenization", "unbelievably antidisestablishmentarianism",
    "supercalifragilisticexpialidocious", "abcdefghij", "abcdefghijk",
    "The quick brown fox jumps over the lazy dog.",
    "MiXeD CaSe WoRdS", "snake_case camelCase kebab-case",
]

# extra special / added tokens used in several variants
SPECIALS = ["<|endoftext|>", "<s>", "</s>", "<unk>", "<pad>", "<mask>"]


def read_corpus():
    with gzip.open(CORPUS, "rb") as f:
        raw = f.read().decode("utf-8")
    out = []
    for line in raw.split("\n"):
        if not line:
            continue
        d = json.loads(line)
        t = d["text"]
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            continue
        out.append((t, d["source"]))
    return out


def pick_texts(corpus):
    rng = random.Random(20240611)
    short = [t for t, _ in corpus if 1 <= len(t) <= 80]
    medium = [t for t, _ in corpus if 80 < len(t) <= 400]
    chosen = rng.sample(short, 185) + rng.sample(medium, 15)
    texts, seen = [], set()
    for t in EDGE_TEXTS + chosen:
        if t not in seen:
            seen.add(t)
            texts.append(t)
    return texts


def training_sample(corpus, n, seed, pred=lambda t: True):
    rng = random.Random(seed)
    pool = [t[:400] for t, s in corpus if pred(t) and not s.startswith("synthetic:")]
    return rng.sample(pool, min(n, len(pool)))


def latin_only(t):
    return all(ord(c) < 0x250 for c in t)


def european(t):
    return all(ord(c) < 0x530 or c in "\u2019\u201c\u201d\u2013\u2014" for c in t)


# ---------------------------------------------------------------- tiny models

def train_byte_level_bpe(sample):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=600, show_progress=False, special_tokens=SPECIALS,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(sample, tr)
    return tok


def train_affix_bpe(sample):
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tr = trainers.BpeTrainer(vocab_size=700, show_progress=False, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                             continuing_subword_prefix="##", end_of_word_suffix="</w>")
    tok.train_from_iterator(sample, tr)
    return canonical_alphabet_ids(tok, "##", "</w>", ["[UNK]", "[CLS]", "[SEP]"])


def train_fallback_bpe(sample):
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tr = trainers.BpeTrainer(vocab_size=500, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(sample, tr)
    return tok


def train_unigram(sample):
    """A Unigram model over a deterministic piece inventory.

    UnigramTrainer is not deterministic across runs (its vocabulary and scores change from run to run, even
    with TOKENIZERS_PARALLELISM=false), so the pieces are those of a Metaspace BPE trained on the same sample
    (the BPE trainer is deterministic) and each piece's score is log(count / total) of how often that BPE
    emits it on the sample (add-one smoothed, rounded to 4 decimals).
    """
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "</s>", "<unk>", "<pad>", "<mask>"]
    tr = trainers.BpeTrainer(vocab_size=600, show_progress=False, special_tokens=specials)
    bpe.train_from_iterator(sample, tr)
    counts = {}
    for enc in bpe.encode_batch(sample, add_special_tokens=False):
        for t in enc.tokens:
            counts[t] = counts.get(t, 0) + 1
    vocab = sorted(((t, i) for t, i in bpe.get_vocab().items() if t not in specials), key=lambda x: x[1])
    total = sum(counts.get(t, 0) + 1 for t, _ in vocab)
    pieces = [(t, 0.0) for t in specials] + [(t, round(math.log((counts.get(t, 0) + 1) / total), 4))
                                             for t, _ in vocab]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tok.add_special_tokens(specials)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return tok


def canonical_alphabet_ids(tok, prefix="", suffix="", specials=()):
    """The BPE / WordPiece trainers number the prefixed alphabet ('##a', '@@b', ...) in hash order, which
    changes from run to run; the merges and the vocabulary's strings do not. Renumber the single-character
    entries (after removing prefix / suffix) among their own ids in string order."""
    obj = json.loads(tok.to_str())
    vocab = obj["model"]["vocab"]

    def core(t):
        if prefix and t.startswith(prefix):
            t = t[len(prefix):]
        if suffix and t.endswith(suffix):
            t = t[:-len(suffix)]
        return t

    alpha = [t for t in vocab if t not in specials and len(core(t)) == 1]
    ids = sorted(vocab[t] for t in alpha)
    for t, i in zip(sorted(alpha), ids):
        vocab[t] = i
    return Tokenizer.from_str(json.dumps(obj, ensure_ascii=False))


def train_wordpiece(sample):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="@@"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.WordPieceTrainer(vocab_size=400, show_progress=False, continuing_subword_prefix="@@",
                                   special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                   )
    tok.train_from_iterator(sample, tr)
    return canonical_alphabet_ids(tok, "@@", "", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])


# ---------------------------------------------------------------- helpers

def j(tok):
    return json.loads(tok.to_str())


def from_obj(obj):
    return Tokenizer.from_str(json.dumps(obj, ensure_ascii=False))


def clone(tok):
    return Tokenizer.from_str(tok.to_str())


def with_parts(base, normalizer="keep", pre_tokenizer="keep", post_processor="keep", decoder="keep"):
    """A copy of `base` (a tokenizer.json object) with some components replaced (None clears)."""
    t = from_obj(base)
    if normalizer != "keep":
        t.normalizer = normalizer
    if pre_tokenizer != "keep":
        t.pre_tokenizer = pre_tokenizer
    if post_processor != "keep":
        t.post_processor = post_processor
    if decoder != "keep":
        t.decoder = decoder
    return t


def add_byte_tokens(obj, byte_values, score=None):
    """Append <0xNN> pieces to a BPE vocab (dict) or Unigram vocab (list of [piece, score])."""
    m = obj["model"]
    for b in byte_values:
        piece = "<0x%02X>" % b
        if m["type"] == "BPE":
            if piece not in m["vocab"]:
                m["vocab"][piece] = max(m["vocab"].values()) + 1
        else:
            m["vocab"].append([piece, score])
    return obj


# ---------------------------------------------------------------- variants

def build_variants(corpus):
    eu = training_sample(corpus, 3000, 1, european)
    mixed = training_sample(corpus, 3000, 2)
    latin = training_sample(corpus, 3000, 3, latin_only)

    bl = j(train_byte_level_bpe(mixed))
    affix = j(train_affix_bpe(latin))
    fb = j(train_fallback_bpe(latin))
    uni = j(train_unigram(eu))
    wp = j(train_wordpiece(eu))

    V = []  # (name, notes, Tokenizer or tokenizer.json object, pairs?)

    def add(name, notes, tok, pairs=False, reference=None):
        V.append((name, notes, tok, pairs, reference))

    byte_map = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)

    # 1. Split with string patterns
    string_cases = [(" ", "space", beh, inv) for beh in BEHAVIORS for inv in (False, True)]
    string_cases += [("ab", "ab", beh, i % 2 == 1) for i, beh in enumerate(BEHAVIORS)]
    string_cases += [("-", "dash", "isolated", True), ("-", "dash", "merged_with_next", False),
                     ("-", "dash", "contiguous", False)]
    for pat, tag, beh, inv in string_cases:
        name = "split-string-%s-%s%s" % (tag, beh.replace("_", "-"), "-invert" if inv else "")
        t = with_parts(bl, pre_tokenizer=pre_tokenizers.Sequence(
            [pre_tokenizers.Split(pat, beh, invert=inv), byte_map]))
        add(name, "Split(String %r, %s, invert=%s) then ByteLevel(use_regex=false); byte-level BPE"
            % (pat, beh, inv), t)

    # 2. Split with the supported regexes
    regex_cases = [
        ("gpt2", GPT2_RE, "isolated", False), ("gpt2", GPT2_RE, "removed", True),
        ("gpt2", GPT2_RE, "merged_with_next", False),
        ("llama3", LLAMA3_RE, "isolated", False), ("llama3", LLAMA3_RE, "contiguous", False),
        ("llama3", LLAMA3_RE, "merged_with_previous", True),
        ("spaces2", SPACES_RE, "removed", False), ("spaces2", SPACES_RE, "merged_with_previous", False),
        ("spaces2", SPACES_RE, "contiguous", True),
        ("digit3", DIGIT3_RE, "isolated", False), ("digit3", DIGIT3_RE, "merged_with_next", False),
        ("digit3", DIGIT3_RE, "removed", True),
        ("word", WORD_RE, "removed", False), ("word", WORD_RE, "merged_with_previous", True),
        ("word", WORD_RE, "contiguous", False),
    ]
    for tag, rx, beh, inv in regex_cases:
        name = "split-regex-%s-%s%s" % (tag, beh.replace("_", "-"), "-invert" if inv else "")
        t = with_parts(bl, pre_tokenizer=pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(rx), beh, invert=inv), byte_map]))
        add(name, "Split(Regex %r, %s, invert=%s) then ByteLevel(use_regex=false)" % (rx, beh, inv), t)

    # 3. other pre-tokenizers (byte-level BPE, bytes mapped after)
    def bl_pre(name, notes, pre):
        add(name, notes, with_parts(bl, pre_tokenizer=pre_tokenizers.Sequence([pre, byte_map])))

    bl_pre("pre-whitespace", "Whitespace then ByteLevel(use_regex=false)", pre_tokenizers.Whitespace())
    bl_pre("pre-whitespace-split", "WhitespaceSplit then ByteLevel(use_regex=false)",
           pre_tokenizers.WhitespaceSplit())
    for beh in BEHAVIORS:
        bl_pre("pre-punctuation-" + beh.replace("_", "-"), "Punctuation(%s) then ByteLevel(use_regex=false)" % beh,
               pre_tokenizers.Punctuation(beh))
    bl_pre("pre-digits", "Digits(individual_digits=false) then ByteLevel(use_regex=false)",
           pre_tokenizers.Digits(individual_digits=False))
    bl_pre("pre-digits-individual", "Digits(individual_digits=true) then ByteLevel(use_regex=false)",
           pre_tokenizers.Digits(individual_digits=True))
    add("pre-bytelevel-prefix-space", "ByteLevel(add_prefix_space=true, use_regex=true) alone",
        with_parts(bl, pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=True)))
    add("pre-bytelevel-no-regex", "ByteLevel(add_prefix_space=false, use_regex=false) alone (one word per text)",
        with_parts(bl, pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)))
    add("pre-bytelevel-prefix-space-no-regex", "ByteLevel(add_prefix_space=true, use_regex=false) alone",
        with_parts(bl, pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)))
    add("pre-sequence-mixed",
        "Sequence[WhitespaceSplit, Digits(individual), Punctuation(isolated), Split(String '-', removed), "
        "ByteLevel(add_prefix_space=true, use_regex=false)]",
        with_parts(bl, pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Punctuation("isolated"), pre_tokenizers.Split("-", "removed"),
            pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)])))

    # Metaspace on the Unigram model (added specials <s> </s> <unk> <pad> <mask> come from training)
    for scheme in ("always", "first", "never"):
        for split in (True, False):
            t = with_parts(uni, pre_tokenizer=pre_tokenizers.Metaspace(prepend_scheme=scheme, split=split),
                           decoder=decoders.Metaspace(prepend_scheme=scheme, split=split))
            add("metaspace-%s-%s" % (scheme, "split" if split else "nosplit"),
                "Metaspace(prepend_scheme=%s, split=%s), Unigram (texts starting with <s> exercise 'first')"
                % (scheme, split), t)
    # legacy Metaspace JSON forms (the stored JSON keeps the legacy keys; ids checked against the modern form)
    legacy_forms = [
        ("metaspace-legacy-prefix", {"add_prefix_space": True}, "always"),
        ("metaspace-legacy-str-rep-prefix", {"str_rep": "\u2581", "add_prefix_space": True}, "always"),
        ("metaspace-legacy-no-prefix-never", {"add_prefix_space": False, "prepend_scheme": "never"}, "never"),
        ("metaspace-legacy-prefix-first", {"add_prefix_space": True, "prepend_scheme": "first"}, "first"),
        ("metaspace-legacy-replacement-only", {}, "always"),
    ]
    for name, extra_keys, scheme in legacy_forms:
        modern = j(with_parts(uni, pre_tokenizer=pre_tokenizers.Metaspace(prepend_scheme=scheme)))
        ref = from_obj(modern)
        modern["pre_tokenizer"] = dict({"type": "Metaspace", "replacement": "\u2581"}, **extra_keys)
        add(name, "legacy Metaspace JSON %s (loads as prepend_scheme %s, split true); Unigram"
            % (json.dumps(modern["pre_tokenizer"], ensure_ascii=False), scheme), modern, reference=ref)
    add("metaspace-first-after-split",
        "Sequence[Split(String ' ', merged_with_next), Metaspace(first, split=false)], Unigram",
        with_parts(uni, pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.Split(" ", "merged_with_next"),
            pre_tokenizers.Metaspace(prepend_scheme="first", split=False)])))
    add("metaspace-first-after-punctuation",
        "Sequence[Punctuation(isolated), Metaspace(first, split=true)], Unigram",
        with_parts(uni, pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.Punctuation("isolated"),
            pre_tokenizers.Metaspace(prepend_scheme="first", split=True)])))

    # 4. normalizers (byte-level BPE with its regex ByteLevel pre-tokenizer)
    N = normalizers
    norm_cases = [
        ("norm-nfkc", "NFKC", N.NFKC()),
        ("norm-nfkd", "NFKD", N.NFKD()),
        ("norm-nfc", "NFC", N.NFC()),
        ("norm-nfd-strip-accents", "Sequence[NFD, StripAccents]", N.Sequence([N.NFD(), N.StripAccents()])),
        ("norm-strip-accents-alone", "StripAccents without NFD (only removes already-decomposed marks)",
         N.StripAccents()),
        ("norm-lowercase", "Lowercase", N.Lowercase()),
        ("norm-strip-left", "Strip(left=true, right=false)", N.Strip(left=True, right=False)),
        ("norm-strip-right", "Strip(left=false, right=true)", N.Strip(left=False, right=True)),
        ("norm-strip-both", "Strip(left=true, right=true)", N.Strip(left=True, right=True)),
        ("norm-replace-string", "Replace(String 'ab' -> 'X Y')", N.Replace("ab", "X Y")),
        ("norm-replace-string-space", "Replace(String ' ' -> '\u2581')", N.Replace(" ", "\u2581")),
        ("norm-replace-regex-spaces", "Replace(Regex ' {2,}' -> ' ')", N.Replace(Regex(SPACES_RE), " ")),
        ("norm-replace-regex-digits-empty", "Replace(Regex '[0-9][0-9][0-9]' -> '')",
         N.Replace(Regex(DIGIT3_RE), "")),
        ("norm-prepend", "Prepend('>> ')", N.Prepend(">> ")),
        ("norm-sequence", "Sequence[NFKC, Lowercase, Replace(Regex ' {2,}' -> ' '), Strip(both), Prepend(' ')]",
         N.Sequence([N.NFKC(), N.Lowercase(), N.Replace(Regex(SPACES_RE), " "), N.Strip(), N.Prepend(" ")])),
        ("norm-bert-clean-chinese-accents",
         "BertNormalizer(clean_text=false, handle_chinese_chars=true, strip_accents=true, lowercase=false)",
         N.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=True, lowercase=False)),
        ("norm-bert-lowercase-keep-accents",
         "BertNormalizer(clean_text=true, handle_chinese_chars=false, strip_accents=false, lowercase=true)",
         N.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=True)),
    ]
    for name, notes, n in norm_cases:
        add(name, notes + "; byte-level BPE", with_parts(bl, normalizer=n))

    # 5. models
    add("bpe-affix", "BPE continuing_subword_prefix '##', end_of_word_suffix '</w>', unk [UNK]; Whitespace",
        from_obj(affix))
    fb_obj = add_byte_tokens(copy.deepcopy(fb), list(range(0xE4, 0xEA)) + list(range(0x80, 0xC0)) + [0x0A])
    fb_obj["model"]["fuse_unk"] = True
    add("bpe-byte-fallback-fuse-unk",
        "BPE byte_fallback, unk <unk>, fuse_unk true; vocab has <0x0A>, <0x80>-<0xBF>, <0xE4>-<0xE9> only "
        "(U+4000-U+9FFF fall back to bytes, other unknown chars -> <unk>); trained on Latin-only text; Metaspace",
        fb_obj)
    fb2 = copy.deepcopy(fb_obj)
    fb2["model"]["fuse_unk"] = False
    add("bpe-byte-fallback-no-fuse", "as bpe-byte-fallback-fuse-unk with fuse_unk false", fb2)
    fb3 = copy.deepcopy(fb)
    fb3["model"]["byte_fallback"] = False
    fb3["model"]["fuse_unk"] = True
    add("bpe-unk-fuse-no-fallback", "BPE unk <unk>, fuse_unk true, byte_fallback false; Metaspace", fb3)
    fb4 = copy.deepcopy(fb3)
    fb4["model"]["fuse_unk"] = False
    add("bpe-unk-no-fuse-no-fallback", "BPE unk <unk>, fuse_unk false, byte_fallback false; Metaspace", fb4)

    im = copy.deepcopy(bl)
    extra = ["Ġhello", "Ġworld", "hello", "tokenization", "Ġthe", "Ġand", "ĠThe", "ing", "Ġde", "123"]
    for w in extra:
        if w not in im["model"]["vocab"]:
            im["model"]["vocab"][w] = max(im["model"]["vocab"].values()) + 1
    assert len(set(im["model"]["vocab"].values())) == len(im["model"]["vocab"])
    im_on = copy.deepcopy(im)
    im_on["model"]["ignore_merges"] = True
    add("bpe-ignore-merges", "byte-level BPE, ignore_merges true; vocab has extra whole words with no merges "
        + ",".join(extra), im_on)
    add("bpe-ignore-merges-off", "same vocab as bpe-ignore-merges, ignore_merges false", im)

    leg = copy.deepcopy(bl)
    assert all(" " not in a and " " not in b for a, b in leg["model"]["merges"])
    leg["model"]["merges"] = ["%s %s" % (a, b) for a, b in leg["model"]["merges"]]
    add("bpe-legacy-merges", "byte-level BPE with merges as legacy 'a b' strings (ids == the array form's)",
        leg, pairs=False, reference=from_obj(bl))

    uni_bf = add_byte_tokens(copy.deepcopy(uni), list(range(0xE4, 0xEA)) + list(range(0x80, 0xC0)) + [0x0A],
                             score=-20.0)
    uni_bf["model"]["byte_fallback"] = True
    add("unigram-byte-fallback", "Unigram byte_fallback true (set in JSON: UnigramTrainer has no byte_fallback "
        "option); <0x0A>, <0x80>-<0xBF>, <0xE4>-<0xE9> pieces (score -20) appended; Metaspace", uni_bf)
    u0 = copy.deepcopy(uni)
    u0["model"]["byte_fallback"] = False
    add("unigram-no-byte-fallback", "Unigram byte_fallback false, unk <unk>; Metaspace", u0)
    u1 = copy.deepcopy(uni_bf)
    u1["model"]["byte_fallback"] = False
    add("unigram-byte-pieces-no-fallback", "unigram-byte-fallback's vocab with byte_fallback false", u1)

    wp_obj = copy.deepcopy(wp)
    wp_obj["model"]["max_input_chars_per_word"] = 10
    t = from_obj(wp_obj)
    t.normalizer = N.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                    lowercase=False)
    t.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    t.decoder = decoders.WordPiece(prefix="@@")
    add("wordpiece-prefix-maxchars-bert-processing",
        "WordPiece continuing_subword_prefix '@@', max_input_chars_per_word 10, unk [UNK]; "
        "BertNormalizer(strip_accents=false, lowercase=false, handle_chinese_chars=false); BertPreTokenizer; "
        "BertProcessing", t, pairs=True)
    t = from_obj(wp)
    t.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    add("wordpiece-trained-default", "WordPiece as trained ('@@' prefix, max_input_chars_per_word 100), default "
        "BertNormalizer, BertPreTokenizer, BertProcessing", t, pairs=True)

    # 6. post-processors (byte-level BPE; specials ids: <|endoftext|>0 <s>1 </s>2 <unk>3 <pad>4 <mask>5)
    P = processors
    tmpl = P.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B:1 </s>:1",
                                special_tokens=[("<s>", 1), ("</s>", 2)])
    add("post-template", "TemplateProcessing single '<s> $A </s>', pair '<s> $A </s> </s> $B:1 </s>:1'",
        with_parts(bl, post_processor=tmpl), pairs=True)
    tmpl2 = P.TemplateProcessing(single="$A <|endoftext|>", pair="<mask> $B:1 <|endoftext|> $A:0 <mask>",
                                 special_tokens=[{"id": "<mask>", "ids": [5, 4], "tokens": ["<mask>", "<pad>"]},
                                                 ("<|endoftext|>", 0)])
    add("post-template-multi-id",
        "TemplateProcessing single '$A <|endoftext|>', pair '<mask> $B:1 <|endoftext|> $A:0 <mask>' "
        "where special '<mask>' expands to ids [5, 4]", with_parts(bl, post_processor=tmpl2), pairs=True)
    add("post-roberta", "RobertaProcessing(sep </s> 2, cls <s> 1), ByteLevel(add_prefix_space=true)",
        with_parts(bl, pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=True),
                   post_processor=P.RobertaProcessing(("</s>", 2), ("<s>", 1))), pairs=True)
    add("post-bert-on-bytelevel", "BertProcessing(sep </s> 2, cls <s> 1) on byte-level BPE",
        with_parts(bl, post_processor=P.BertProcessing(("</s>", 2), ("<s>", 1))), pairs=True)
    add("post-bytelevel", "ByteLevel post-processor (ids unchanged)",
        with_parts(bl, post_processor=P.ByteLevel(trim_offsets=True)), pairs=True)
    add("post-sequence-bytelevel-template", "Sequence[ByteLevel, TemplateProcessing]",
        with_parts(bl, post_processor=P.Sequence([P.ByteLevel(trim_offsets=False), tmpl])), pairs=True)
    add("post-none-pairs", "no post-processor: pair ids are a's ids then b's", from_obj(bl), pairs=True)

    # 7. added tokens
    t = with_parts(uni, normalizer=N.NFKC())
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True),
                          AddedToken("[NUM]", rstrip=True, special=True)])
    t.add_tokens([AddedToken("hello", single_word=True, normalized=True, special=False),
                  AddedToken("World", normalized=False, special=False),
                  AddedToken("ﬁx", normalized=True, special=False),
                  AddedToken("New York", normalized=True, special=False),
                  AddedToken("ab", single_word=True, lstrip=True, rstrip=True, normalized=False, special=False),
                  AddedToken("▁▁", normalized=False, special=False)])
    t.post_processor = P.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    add("added-unigram-metaspace",
        "Unigram+NFKC+Metaspace(always) with added tokens: <mask>(special, lstrip, normalized=false), "
        "[NUM](special, rstrip, normalized=true), hello(single_word, normalized), World(normalized=false), "
        "ﬁx(normalized: content NFKC-normalized to 'fix'), 'New York', ab(single_word, lstrip, rstrip), '▁▁'; "
        "TemplateProcessing '$A </s>'", t, pairs=True)
    t = with_parts(bl, normalizer=N.Lowercase())
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True),
                          AddedToken("[NUM]", rstrip=True, special=True, normalized=True)])
    t.add_tokens([AddedToken("Hello", single_word=True, normalized=True, special=False),
                  AddedToken("World", normalized=False, special=False),
                  AddedToken("    ", normalized=False, special=False),
                  AddedToken("ab", single_word=True, lstrip=True, rstrip=True, normalized=True, special=False),
                  AddedToken("ing", rstrip=True, normalized=False, special=True)])
    add("added-bytelevel-lowercase",
        "byte-level BPE + Lowercase normalizer with added tokens: <mask>(special, lstrip, normalized=false), "
        "[NUM](special, rstrip, normalized), Hello(single_word, normalized: matches 'hello'/'HELLO'), "
        "World(normalized=false: raw 'World' only), 4 spaces, ab(single_word, lstrip, rstrip, normalized), "
        "ing(special, rstrip, normalized=false)", t)
    t = from_obj(bl)
    t.add_tokens([AddedToken("hello", single_word=False, normalized=True, special=False),
                  AddedToken("he", single_word=True, normalized=True, special=False)])
    t.add_special_tokens([AddedToken("world", lstrip=False, rstrip=False, normalized=True, special=True)])
    add("added-bytelevel-plain", "byte-level BPE, no normalizer: added 'hello', 'he'(single_word), "
        "special 'world'(normalized)", t)
    return V


REFUSED_CANDIDATES = [
    ("Metaspace legacy add_prefix_space=false without prepend_scheme",
     {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": False}),
    ("Metaspace legacy str_rep + add_prefix_space=false",
     {"type": "Metaspace", "replacement": "\u2581", "str_rep": "\u2581", "add_prefix_space": False}),
    ("Metaspace add_prefix_space=false with prepend_scheme first",
     {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": False, "prepend_scheme": "first"}),
]


def refused_forms():
    """Pre-tokenizer JSON that tokenizers refuses to load: [{"what", "pre_tokenizer", "error"}]."""
    base = json.loads(Tokenizer(models.BPE()).to_str())
    out = []
    for what, pre in REFUSED_CANDIDATES:
        b = dict(base, pre_tokenizer=pre)
        try:
            Tokenizer.from_str(json.dumps(b, ensure_ascii=False))
        except Exception as e:  # noqa: BLE001
            out.append({"what": what, "pre_tokenizer": pre, "error": str(e).split(" at line ")[0]})
        else:
            raise SystemExit("expected tokenizers to refuse: " + what)
    return out


def encode_all(tok, texts, trunc_idx, pairs_index, with_pairs):
    ids = [tok.encode(t).ids for t in texts]
    no_special = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    rec = {"ids": ids, "ids_no_special": None if no_special == ids else no_special}
    truncated = []
    for i in trunc_idx:
        L = 3 + (i * 7) % 18
        tok.enable_truncation(L)
        truncated.append([i, L, tok.encode(texts[i]).ids])
        tok.no_truncation()
    rec["truncated"] = truncated
    rec["pairs"] = [[a, b, tok.encode(texts[a], texts[b]).ids] for a, b in pairs_index] if with_pairs else []
    return rec


def main():
    corpus = read_corpus()
    texts = pick_texts(corpus)
    rng = random.Random(7)
    trunc_idx = [i for i in range(len(texts)) if i % 3 == 1]
    pairs_index = [[texts.index("hello world"), texts.index("")], [texts.index(""), texts.index("")],
                   [texts.index("<s>hello world"), texts.index("a <mask> b")]]
    pairable = [i for i, t in enumerate(texts) if len(t) <= 50]
    while len(pairs_index) < 50:
        pairs_index.append([rng.choice(pairable), rng.choice(pairable)])

    variants, names = [], set()
    for name, notes, tok, with_pairs, reference in build_variants(corpus):
        assert name not in names, name
        names.add(name)
        obj = tok if isinstance(tok, dict) else json.loads(tok.to_str())
        stored = from_obj(obj)  # what the fixture's JSON gives
        rec = encode_all(stored, texts, trunc_idx, pairs_index, with_pairs)
        ref = reference if reference is not None else (tok if not isinstance(tok, dict) else None)
        if ref is not None:
            again = encode_all(ref, texts, trunc_idx, pairs_index, with_pairs)
            if again != rec:
                raise SystemExit("variant %s: stored JSON gives different ids than the tokenizer built" % name)
        # and the stored JSON re-serialised by tokenizers round-trips
        if encode_all(from_obj(json.loads(stored.to_str())), texts, trunc_idx, pairs_index, with_pairs) != rec:
            raise SystemExit("variant %s: to_str/from_str round trip changes ids" % name)
        variants.append({"name": name, "notes": notes, "tokenizer": obj, **rec})

    out = {"tokenizers_version": tokenizers.__version__, "texts": texts, "pairs_index": pairs_index,
           "refused": refused_forms(), "variants": variants}
    data = json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(buf.getvalue())
    print("%d texts, %d variants, %d bytes json, %d bytes gz -> %s"
          % (len(texts), len(variants), len(data), len(buf.getvalue()), os.path.relpath(OUT, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

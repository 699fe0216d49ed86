"""Rebuild a Hugging Face `tokenizer.json` from one of llama.cpp's vocab-only GGUF files, then prove it.

    .venv/bin/python golden/gguf_to_tokenizer_json.py MODELS_DIR OUT_DIR [NAME ...]

MODELS_DIR is llama.cpp's `models/` folder (from the llama-cpp-python sdist, see scripts/fetch-tokenizers.sh):
`ggml-vocab-<gguf>.gguf` with llama.cpp's test inputs/expected ids beside it (`.gguf.inp` / `.gguf.out`, cases
separated by "\\n__ggml_vocab_test__\\n", ids space-separated one line per case, as tests/test-tokenizer-0.cpp
reads them). For every NAME (default: all of CONVERTERS) it reads the GGUF with the `gguf` package, builds the
pipeline the original HF model used with the `tokenizers` library, and checks every case:
`Tokenizer.encode(text, add_special_tokens=False).ids == expected`. Only a tokenizer that reproduces *all*
cases is written, as OUT_DIR/<name>/tokenizer.json + llama-cases.json (+ SOURCE.json fragment `gguf.json`).
nomic-bert-moe ships no .inp/.out: it is checked instead against the XLM-R tokenizer.json given with
--xlmr (same vocabulary and charsmap expected, then identical ids on the cases of every other vocab).

Pre-tokenizer regexes are the ones llama.cpp's src/llama-vocab.cpp lists per `tokenizer.ggml.pre` (where llama.cpp
keeps the original HF regex as a comment, e.g. the `(?i:'s|...)` contractions, that original is used).
Prints one line per tokenizer: cases matched / total, and why a tokenizer was not written.
"""
import argparse
import base64
import json
import os
import re
import sys

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
SEP = "\n__ggml_vocab_test__\n"

# Pre-tokenizer regexes are read from llama.cpp's own source (src/llama-vocab.cpp, llm_tokenizer_bpe) so that
# no character is retyped (several of them, e.g. U+212A KELVIN SIGN, do not survive an editor's NFC).
_CPP = {}


def _c_unescape(lit):
    out, i = [], 0
    while i < len(lit):
        c = lit[i]
        if c == "\\":
            n = lit[i + 1]
            out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}[n]); i += 2
        else:
            out.append(c); i += 1
    return "".join(out)


def cpp_regexes(enum):
    """[(regex, original-or-None)] for `case LLAMA_VOCAB_PRE_TYPE_<enum>:` in llama-vocab.cpp."""
    src = _CPP["src"]
    m = re.search(r"case LLAMA_VOCAB_PRE_TYPE_%s:.*?regex_exprs = \{(.*?)\n\s*\};" % enum, src, re.S)
    if not m:
        raise ValueError(f"no regex_exprs for {enum}")
    res, original = [], None
    for line in m.group(1).split("\n"):
        t = line.strip()
        lit = re.fullmatch(r'(//\s*)?"((?:[^"\\]|\\.)*)",?', t)
        if not lit:
            continue
        rx = _c_unescape(lit.group(2))
        if lit.group(1):
            original = rx          # "original regex from tokenizer.json" kept as a comment
        else:
            res.append((rx, original)); original = None
    return res


def cpp_regex(enum, index=0):
    rx, orig = cpp_regexes(enum)[index]
    return orig or rx


def split(rx):
    return pre_tokenizers.Split(Regex(rx), behavior="isolated", invert=False)


def byte_level(use_regex):
    return pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=use_regex)


# name -> (gguf file stem, tokenizer.ggml.pre expected, builder kind)
CONVERTERS = {
    "gpt2": "gpt-2",
    "qwen2": "qwen2",
    "qwen35": "qwen35",
    "llama-bpe": "llama-bpe",
    "llama-spm": "llama-spm",
    "phi-3": "phi-3",
    "bert-bge": "bert-bge",
    "nomic-bert-moe": "nomic-bert-moe",
    "deepseek-coder": "deepseek-coder",
    "deepseek-llm": "deepseek-llm",
    "falcon": "falcon",
    "starcoder": "starcoder",
    "refact": "refact",
    "command-r": "command-r",
    "mpt": "mpt",
    "gpt-neox": "gpt-neox",
}

# Byte-level BPE: pre type -> (normalizer, pre-tokenizer, add bos by default, ignore_merges)
def bpe_pipeline(pre):
    if pre == "gpt-2":
        return None, byte_level(True), False, False
    if pre in ("starcoder", "refact"):
        return None, pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level(True)]), False, False
    if pre == "command-r":
        return normalizers.NFC(), pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level(True)]), True, False
    if pre in ("mpt", "gpt-neox"):
        return normalizers.NFC(), byte_level(True), False, False
    if pre == "llama-bpe":
        return None, pre_tokenizers.Sequence([split(cpp_regex("LLAMA3")), byte_level(False)]), True, True
    if pre == "qwen2":
        return normalizers.NFC(), pre_tokenizers.Sequence([split(cpp_regex("QWEN2")), byte_level(False)]), False, False
    if pre == "qwen35":   # no NFC: llama.cpp's (HF-made) expected ids keep "e\u0301" as two tokens
        return None, pre_tokenizers.Sequence([split(cpp_regex("QWEN35")), byte_level(False)]), False, False
    if pre == "deepseek-llm":
        return None, pre_tokenizers.Sequence([split(orig or rx) for rx, orig in cpp_regexes("DEEPSEEK_LLM")]
                                             + [byte_level(False)]), True, False
    if pre == "deepseek-coder":
        rxs = [orig or rx for rx, orig in cpp_regexes("DEEPSEEK_CODER")]
        assert rxs[-1] == "\\p{N}", rxs
        return None, pre_tokenizers.Sequence([split(r) for r in rxs[:-1]]
                                             + [pre_tokenizers.Digits(individual_digits=True), byte_level(False)]), True, False
    if pre == "falcon":
        rxs = [orig or rx for rx, orig in cpp_regexes("FALCON")]
        assert rxs[2] == "[0-9][0-9][0-9]", rxs
        return None, pre_tokenizers.Sequence([
            pre_tokenizers.Punctuation(behavior="contiguous"), byte_level(True),
            pre_tokenizers.Digits(individual_digits=False), split(rxs[2])]), False, False
    raise ValueError(f"no pipeline for tokenizer.ggml.pre={pre!r}")


def read(path):
    r = gguf.GGUFReader(path)
    out = {}
    for k, fld in r.fields.items():
        if k.startswith("tokenizer.") or k.startswith("general."):
            if k == "tokenizer.ggml.precompiled_charsmap":
                out[k] = bytes(fld.contents())
            else:
                out[k] = fld.contents()
    return out


def trailing_pad(tokens):
    n = len(tokens)
    while n and re.fullmatch(r"\[PAD\d+\]", tokens[n - 1]):
        n -= 1
    return n


def template(bos, eos):
    single, pair, st = [], [], {}
    if bos:
        single.append(bos[0]); pair.append(bos[0]); st[bos[0]] = bos[1]
    single.append("$A"); pair.append("$A")
    if eos:
        single.append(eos[0]); pair.append(eos[0]); st[eos[0]] = eos[1]
        if bos and eos:   # RoBERTa/XLM-R: <s> A </s> </s> B </s>
            pair.append(eos[0])
    if bos and not eos:
        pair.append(f"{bos[0]}:1")
    pair.append("$B:1")
    if eos:
        pair.append(f"{eos[0]}:1")
    return processors.TemplateProcessing(single=" ".join(single), pair=" ".join(pair),
                                         special_tokens=list(st.items()))


def add_tokens(tok, tokens, types, n, rstrip=None, lstrip=None, normalized_user=True):
    rstrip, lstrip = rstrip or {}, lstrip or {}
    special, user = [], []
    for i in range(n):
        t = tokens[i]
        kw = dict(rstrip=rstrip.get(t, False), lstrip=lstrip.get(t, False))
        if types[i] in (CONTROL, UNKNOWN):
            special.append(AddedToken(t, special=True, normalized=False, **kw))
        elif types[i] == USER_DEFINED:
            user.append(AddedToken(t, special=False, normalized=normalized_user, **kw))
    if special:
        tok.add_special_tokens(special)
    if user:
        tok.add_tokens(user)


def build(g, stem):
    model = g["tokenizer.ggml.model"]
    pre = g.get("tokenizer.ggml.pre", "default")
    tokens = list(g["tokenizer.ggml.tokens"])
    types = list(g["tokenizer.ggml.token_type"])
    n = trailing_pad(tokens)
    info = {"ggml_model": model, "ggml_pre": pre, "tokens_in_gguf": len(tokens), "tokens_kept": n}
    get_id = lambda k: g.get(f"tokenizer.ggml.{k}_token_id")
    add_bos, add_eos = g.get("tokenizer.ggml.add_bos_token"), g.get("tokenizer.ggml.add_eos_token")

    if model == "gpt2":
        if pre == "default" and stem == "gpt-neox":
            pre = "gpt-neox"
        norm, pretok, bos_default, ignore_merges = bpe_pipeline(pre)
        vocab = {tokens[i]: i for i in range(n)}
        merges = [tuple(m.split(" ", 1)) for m in g["tokenizer.ggml.merges"]]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
        if norm is not None:
            tok.normalizer = norm
        tok.pre_tokenizer = pretok
        tok.decoder = decoders.ByteLevel()
        want_bos = add_bos if add_bos is not None else bos_default
        if want_bos:
            b = get_id("bos")
            tok.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=False),
                                                      template((tokens[b], b), None)])
        else:
            tok.post_processor = processors.ByteLevel(trim_offsets=False)
        add_tokens(tok, tokens, types, n)
        info["ignore_merges"] = ignore_merges
    elif model == "llama":   # SentencePiece BPE (Llama 1/2, Phi-3): HF's LlamaConverter, legacy layout
        scores = list(g["tokenizer.ggml.scores"])
        vocab = {tokens[i]: i for i in range(n)}
        from transformers.convert_slow_tokenizer import generate_merges
        skip = [tokens[i] for i in range(n) if types[i] != NORMAL]
        vocab_scores = sorted(((tokens[i], scores[i]) for i in range(n)), key=lambda x: -x[1])
        merges = generate_merges(vocab, vocab_scores, skip_tokens=skip)
        unk = get_id("unknown")
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=tokens[unk], fuse_unk=True, byte_fallback=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        b, e = get_id("bos"), get_id("eos")
        tok.post_processor = template((tokens[b], b) if add_bos else None, (tokens[e], e) if add_eos else None)
        rstrip = {}
        if "phi" in g.get("general.name", "").lower():   # llama.cpp's per-model attributes (llama-vocab.cpp)
            rstrip = {tokens[i]: True for i in range(n) if types[i] == CONTROL}
            rstrip["</s>"] = True
            for t in ("<unk>", "<s>", "<|endoftext|>"):
                rstrip[t] = False
        add_tokens(tok, tokens, types, n, rstrip=rstrip)
        info["merges_generated"] = len(merges)
    elif model == "bert":    # WordPiece; llama.cpp stores "##x" as "x" and "x" as "▁x" ([...] kept)
        def unphantom(t):
            if t.startswith("▁"):
                return t[1:]
            if t.startswith("[") and t.endswith("]"):
                return t
            return "##" + t
        wp = [unphantom(t) for t in tokens[:n]]
        if len(set(wp)) != len(wp):
            raise ValueError("WordPiece vocabulary not invertible")
        unk = get_id("unknown")
        tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(wp)}, unk_token=wp[unk],
                                         max_input_chars_per_word=100))
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                    lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        c, s = get_id("cls"), get_id("seperator")
        tok.post_processor = processors.TemplateProcessing(
            single=f"{wp[c]} $A {wp[s]}", pair=f"{wp[c]} $A {wp[s]} $B:1 {wp[s]}:1",
            special_tokens=[(wp[c], c), (wp[s], s)])
        add_tokens(tok, wp, types, n)
    elif model == "t5":      # Unigram with a precompiled charsmap (XLM-R layout as HF's XLMRobertaConverter)
        scores = list(g["tokenizer.ggml.scores"])
        unk = get_id("unknown")
        tok = Tokenizer(models.Unigram([(tokens[i], float(scores[i])) for i in range(n)], unk_id=unk, byte_fallback=False))
        charsmap = g.get("tokenizer.ggml.precompiled_charsmap")
        norms = []
        if charsmap:
            norms.append(normalizers.Precompiled(charsmap))
        if g.get("tokenizer.ggml.remove_extra_whitespaces", True):
            norms.append(normalizers.Replace(Regex(" {2,}"), " "))
        tok.normalizer = normalizers.Sequence(norms)
        scheme = "always" if g.get("tokenizer.ggml.add_space_prefix", True) else "never"
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
        b, e = get_id("bos"), get_id("eos")
        tok.post_processor = template((tokens[b], b) if add_bos else None, (tokens[e], e) if add_eos else None)
        lstrip = {"<mask>": True} if "<mask>" in tokens[:n] else {}
        add_tokens(tok, tokens, types, n, lstrip=lstrip)
        info["charsmap_bytes"] = len(charsmap or b"")
    else:
        raise ValueError(f"tokenizer.ggml.model {model!r} not handled")
    return tok, info


def read_cases(models_dir, stem):
    inp, out = os.path.join(models_dir, f"ggml-vocab-{stem}.gguf.inp"), os.path.join(models_dir, f"ggml-vocab-{stem}.gguf.out")
    if not os.path.exists(inp):
        return None
    raw = open(inp, "rb").read().decode("utf-8")
    texts, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(SEP, pos)
        if nxt < 0:
            texts.append(raw[pos:]); break
        texts.append(raw[pos:nxt]); pos = nxt + len(SEP)
    lines = open(out, "rb").read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(texts):
        raise ValueError(f"{stem}: {len(texts)} inputs, {len(lines)} outputs")
    return [{"text": t, "ids": [int(x) for x in l.split()]} for t, l in zip(texts, lines)]


def check(tok, cases):
    bad = []
    for c in cases:
        got = tok.encode(c["text"], add_special_tokens=False).ids
        if got != c["ids"]:
            bad.append({"text": c["text"], "expected": c["ids"], "got": got})
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models_dir")
    ap.add_argument("out_dir")
    ap.add_argument("names", nargs="*")
    ap.add_argument("--xlmr", help="reference XLM-R tokenizer.json for nomic-bert-moe (no .inp/.out exists)")
    ap.add_argument("--report", help="write a JSON report of all tokenizers here")
    ap.add_argument("--vocab-cpp", help="llama.cpp's src/llama-vocab.cpp (default: MODELS_DIR/../src/llama-vocab.cpp)")
    a = ap.parse_args()
    _CPP["src"] = open(a.vocab_cpp or os.path.join(a.models_dir, "..", "src", "llama-vocab.cpp"), encoding="utf-8").read()
    names = a.names or list(CONVERTERS)
    report, all_cases = {}, []
    for stem in sorted(set(CONVERTERS.values())):
        cs = read_cases(a.models_dir, stem)
        if cs:
            all_cases += cs
    for name in names:
        stem = CONVERTERS[name]
        path = os.path.join(a.models_dir, f"ggml-vocab-{stem}.gguf")
        try:
            g = read(path)
            tok, info = build(g, stem)
        except Exception as e:   # noqa: BLE001 - reported, not written
            report[name] = {"written": False, "why": f"conversion failed: {e}"}
            print(f"{name:16s} NOT WRITTEN: {e}")
            continue
        cases = read_cases(a.models_dir, stem)
        entry = {"gguf": os.path.basename(path), **info}
        if cases is None:
            if name == "nomic-bert-moe" and a.xlmr:
                ref = Tokenizer.from_file(a.xlmr)
                same_vocab = ref.get_vocab() == tok.get_vocab()
                texts = sorted({c["text"] for c in all_cases})
                ref_ids = [e.ids for e in ref.encode_batch(texts, add_special_tokens=True)]
                got_ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=True)]
                ok = sum(x == y for x, y in zip(ref_ids, got_ids))
                entry.update(check="no .inp/.out: compared with XLM-R tokenizer.json (multilingual-e5-small) on the "
                                   "union of llama.cpp's test inputs, add_special_tokens=True",
                             same_vocab_and_scores=same_vocab, matched=ok, cases=len(texts))
                cases = [{"text": t, "ids": ids} for t, ids in zip(texts, [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)])]
                passed = same_vocab and ok == len(texts)
                why = None if passed else "differs from the XLM-R reference"
            else:
                passed, why = False, "no .inp/.out to check against"
                entry.update(matched=0, cases=0)
        else:
            bad = check(tok, cases)
            entry.update(matched=len(cases) - len(bad), cases=len(cases))
            passed = not bad
            why = None if passed else f"{len(bad)} case(s) differ, first: {json.dumps(bad[0], ensure_ascii=False)[:400]}"
        entry["written"] = passed
        if why:
            entry["why"] = why
        report[name] = entry
        print(f"{name:16s} {entry.get('matched', 0):3d}/{entry.get('cases', 0):3d}  {'written' if passed else 'NOT WRITTEN: ' + why}")
        if passed:
            d = os.path.join(a.out_dir, name)
            os.makedirs(d, exist_ok=True)
            tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
            with open(os.path.join(d, "llama-cases.json"), "w", encoding="utf-8") as f:
                json.dump({"source": os.path.basename(path) + (".inp/.out" if name != "nomic-bert-moe" else
                                                               " (ids from this tokenizer, checked against XLM-R)"),
                           "add_special_tokens": False, "cases": cases}, f, ensure_ascii=False, indent=0)
            with open(os.path.join(d, "gguf.json"), "w") as f:
                json.dump(entry, f, indent=1)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()

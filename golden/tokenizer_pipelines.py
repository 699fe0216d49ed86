"""transformers' tokenizer classes vs the tokenizer.json pipeline, on the tokenizer corpus (run by hand).

    HF_HUB_OFFLINE=1 .venv/bin/python golden/tokenizer_pipelines.py [--dir .cache/tokenizers] [--limit N]

In transformers 5 a class such as T5Tokenizer / XLMRobertaTokenizer is a TokenizersBackend whose __init__ rebuilds
the normalizer / pre-tokenizer / post-processor in code (taking only the vocabulary, the added tokens and the
precompiled charsmap from tokenizer.json); AutoTokenizer.from_pretrained(folder) uses that class whenever the
folder's tokenizer_config.json names it ("tokenizer_class"), and the tokenizer.json pipeline as written only when
it names none (TokenizersBackend) or when PreTrainedTokenizerFast(tokenizer_file=...) is used.

For t5 and umt5 (T5Tokenizer) and xlmr (XLMRobertaTokenizer) this encodes every corpus text both ways
(add_special_tokens=True), counts the texts whose ids differ, attributes each difference to a component by
swapping the class pipeline's normalizer / pre-tokenizer for tokenizer.json's, and writes
<dir>/pipeline-differences.json {name: {"texts", "differ", "by_cause", "examples", "cause", "pipelines"}}.
Then it builds tiny random-weight models (xlm-roberta, t5; no hub) in temporary folders with each
tokenizer_config variant and reports which pipeline sentence-transformers' SentenceTransformer(folder) ends up with
(<dir>/sentence-transformers-pipeline.json).
"""
import argparse
import gzip
import json
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer, PreTrainedTokenizerFast  # noqa: E402

CLASSES = {"t5": "T5Tokenizer", "umt5": "T5Tokenizer", "xlmr": "XLMRobertaTokenizer"}


def describe(tok_json):
    j = json.loads(tok_json)

    def comp(c):
        if c is None:
            return None
        t = c.get("type")
        if t == "Sequence":
            inner = c.get("normalizers") or c.get("pretokenizers") or c.get("processors") or c.get("decoders") or []
            return "Sequence[" + ", ".join(comp(x) for x in inner) + "]"
        extra = {k: v for k, v in c.items() if k not in ("type", "precompiled_charsmap", "single", "pair", "special_tokens")}
        return t + (json.dumps(extra, ensure_ascii=False) if extra else "")

    return {k: comp(j.get(k)) for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder")}


def folder(src_json, cls, extra=None):
    d = tempfile.mkdtemp(prefix="tokpipe-")
    shutil.copy(src_json, os.path.join(d, "tokenizer.json"))
    cfg = {} if cls is None else {"tokenizer_class": cls}
    cfg.update(extra or {})
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)
    return d


def hybrid(class_json, file_json, take):
    j, f = json.loads(class_json), json.loads(file_json)
    for k in take:
        j[k] = f[k]
    return Tokenizer.from_str(json.dumps(j))


def compare(name, path, texts):
    d = folder(path, CLASSES[name])
    cls_tok = AutoTokenizer.from_pretrained(d)
    fast = PreTrainedTokenizerFast(tokenizer_file=path)
    shutil.rmtree(d)
    a = fast(texts, add_special_tokens=True)["input_ids"]
    b = cls_tok(texts, add_special_tokens=True)["input_ids"]
    differ = [i for i in range(len(texts)) if a[i] != b[i]]
    cjson, fjson = cls_tok.backend_tokenizer.to_str(), fast.backend_tokenizer.to_str()
    # the first swap (in this order) that makes the class pipeline give tokenizer.json's ids names the cause
    swaps = {"normalizer": ["normalizer"], "pre_tokenizer": ["pre_tokenizer"],
             "normalizer+pre_tokenizer": ["normalizer", "pre_tokenizer"],
             "model (unk_id)": ["model"], "model+pre_tokenizer": ["model", "pre_tokenizer"],
             "model+normalizer+pre_tokenizer": ["model", "normalizer", "pre_tokenizer"],
             "added_tokens": ["added_tokens"], "post_processor": ["post_processor"]}
    swapped = {k: hybrid(cjson, fjson, v) for k, v in swaps.items()}
    by_cause, cause_of = {}, {}
    sub = [texts[i] for i in differ]
    enc = {k: [e.ids for e in t.encode_batch(sub, add_special_tokens=True)] for k, t in swapped.items()}
    for n, i in enumerate(differ):
        fixed = [k for k in swaps if enc[k][n] == a[i]]
        c = fixed[0] if fixed else "other"
        cause_of[i] = c
        by_cause[c] = by_cause.get(c, 0) + 1
    examples = []
    for c in sorted(by_cause, key=lambda k: -by_cause[k]):
        for i in [i for i in differ if cause_of[i] == c][:3]:
            k = next((j for j in range(min(len(a[i]), len(b[i]))) if a[i][j] != b[i][j]), min(len(a[i]), len(b[i])))
            lo = max(0, k - 3)
            examples.append({"text": texts[i] if len(texts[i]) <= 300 else texts[i][:300] + "…", "cause": c,
                             "first_difference_at": k,
                             "tokenizer_json_window": fast.convert_ids_to_tokens(a[i][lo:k + 5]),
                             "class_window": cls_tok.convert_ids_to_tokens(b[i][lo:k + 5]),
                             "tokenizer_json_ids": a[i], "class_ids": b[i]})
    return {"class": f"transformers.{type(cls_tok).__name__}", "texts": len(texts), "differ": len(differ),
            "by_cause": by_cause, "examples": examples,
            "pipelines": {"tokenizer.json": describe(fjson), "class": describe(cjson)}}


def tiny_model(kind, tok_json, cls, out):
    import torch
    from transformers import T5Config, T5EncoderModel, XLMRobertaConfig, XLMRobertaModel
    torch.manual_seed(0)
    vocab = Tokenizer.from_file(tok_json).get_vocab_size()
    if kind == "xlmr":
        cfg = XLMRobertaConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16, max_position_embeddings=514, pad_token_id=1)
        m = XLMRobertaModel(cfg)
    else:
        cfg = T5Config(vocab_size=vocab, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
        m = T5EncoderModel(cfg)
    m.save_pretrained(out)
    shutil.copy(tok_json, os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({} if cls is None else {"tokenizer_class": cls}, f)


def sentence_transformers_check(d):
    from sentence_transformers import SentenceTransformer
    import sentence_transformers
    out = {"sentence_transformers": sentence_transformers.__version__, "cases": []}
    probe = "  Hello\tworld\n\nnew  line  "
    for kind, tok_name in (("xlmr", "xlmr"), ("t5", "t5")):
        path = os.path.join(d, tok_name, "tokenizer.json")
        file_ids = Tokenizer.from_file(path).encode(probe).ids
        for cls in (None, CLASSES[tok_name], "PreTrainedTokenizerFast"):
            tmp = tempfile.mkdtemp(prefix="st-")
            try:
                tiny_model(kind, path, cls, tmp)
                st = SentenceTransformer(tmp, device="cpu")
                tk = st.tokenizer
                ids = tk(probe)["input_ids"]
                out["cases"].append({"model": kind, "tokenizer_config.tokenizer_class": cls,
                                     "tokenizer_type": f"{type(tk).__module__}.{type(tk).__name__}",
                                     "pipeline": describe(tk.backend_tokenizer.to_str()),
                                     "ids_equal_tokenizer_json": ids == file_ids, "probe_ids": ids,
                                     "tokenizer_json_ids": file_ids})
            except Exception as e:  # noqa: BLE001
                out["cases"].append({"model": kind, "tokenizer_config.tokenizer_class": cls, "error": repr(e)[:500]})
            finally:
                shutil.rmtree(tmp)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=".cache/tokenizers")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    with gzip.open(os.path.join(a.dir, "corpus.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [json.loads(l)["text"] for l in f.read().split("\n") if l]
    if a.limit:
        texts = texts[:a.limit]
    res = {}
    for name in CLASSES:
        r = compare(name, os.path.join(a.dir, name, "tokenizer.json"), texts)
        res[name] = r
        print(f"{name}: {r['class']}: {r['differ']}/{r['texts']} texts differ; by cause {r['by_cause']}")
        print(f"   tokenizer.json: {r['pipelines']['tokenizer.json']}")
        print(f"   class:          {r['pipelines']['class']}")
    with open(os.path.join(a.dir, "pipeline-differences.json"), "w") as f:
        json.dump(res, f, ensure_ascii=False, indent=1)
    st = sentence_transformers_check(a.dir)
    with open(os.path.join(a.dir, "sentence-transformers-pipeline.json"), "w") as f:
        json.dump(st, f, ensure_ascii=False, indent=1)
    for c in st["cases"]:
        print(f"SentenceTransformer({c['model']}, tokenizer_class={c['tokenizer_config.tokenizer_class']}): "
              f"{c.get('tokenizer_type', c.get('error'))}  pre={c.get('pipeline', {}).get('pre_tokenizer')}  "
              f"same ids as tokenizer.json: {c.get('ids_equal_tokenizer_json')}")


if __name__ == "__main__":
    main()

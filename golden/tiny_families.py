#!/usr/bin/env python3
"""Tiny random sentence-transformers models of more encoder families, with REAL vocabularies, and their
goldens from the Python reference stack (format: specs/golden-format.md; how they are made: golden/README.md).

Usage (repository root, offline; the two venvs each build and check their own models):
    HF_HUB_OFFLINE=1 .venv/bin/python golden/tiny_families.py --out .cache            # transformers 5.24 models
    HF_HUB_OFFLINE=1 .venv-tf4/bin/python golden/tiny_families.py --out .cache        # tiny-bert-rk, tiny-bert-rkq
    options: --only NAME,NAME   --threads 2   --check (fail if any output would change; writes nothing)

Writes .cache/tiny/<name>/ (a sentence-transformers folder) and .cache/golden/<name>.json.gz. A file whose
bytes would not change is left alone (mtime kept), so reruns are idempotent; the output is deterministic for
a given stack and thread count. Any failed check raises (exit status 1).

Models (hidden 32, 2 layers, 4 heads, FFN 37 -- not a multiple of anything, to catch shape bugs):
  tiny-roberta-bpe  RobertaModel, a RoBERTa-layout byte-level BPE made from GPT-2's real vocabulary and merges;
                    mean pooling + Normalize                                           (transformers 5.24)
  tiny-xlmr         XLMRobertaModel, the real XLM-R tokenizer.json (250,002); CLS pooling + Dense 32->24
                    (bias, Tanh, as LaBSE) + Normalize                                 (transformers 5.24)
  tiny-t5           T5EncoderModel (relu FFN), the real T5 tokenizer.json; mean + Normalize (5.24)
  tiny-st5          T5EncoderModel as sentence-t5/GTR: mean + Dense 32->24 (no bias, Identity) + Normalize (5.24)
  tiny-mt5-gated    MT5EncoderModel, gated-gelu (gelu_new) FFN, the real UMT5 tokenizer.json; mean + Normalize
  tiny-umt5         UMT5EncoderModel (a relative_attention_bias in every block), gated-gelu, UMT5 tokenizer;
                    relative_attention_max_distance 24 so that the bucket clamp is reached within 48 tokens
  tiny-bert-rk      BertModel position_embedding_type relative_key, MiniLM's WordPiece      (transformers 4.57)
  tiny-bert-rkq     BertModel position_embedding_type relative_key_query, MiniLM's WordPiece (transformers 4.57)

Weights do not come from transformers' initialisation: every tensor is drawn from numpy's PCG64 seeded with
sha256("tempscale-tiny-v1/<model>/<tensor name>"), at scales that make attention far from uniform (linear
weights N(0, 1/fan_in), embeddings N(0, 1), relative position tables N(0, 0.5^2) / N(0, 0.3^2), norms 1 + N(0, 0.1^2),
biases N(0, 0.05^2)), so even tau = 0.8 moves the embeddings visibly.

The goldens reuse golden/generate.py's wrapper (tempscale(): `nn` swapped in the modelling modules whose
softmax call sites generate.py's SOFTMAX_SITES lists and checks by parsing the sources) and its checks:
(a) tau = 1 bitwise, (b) tau != 1 changes every text, (c) softmax calls per forward == layers, each
[1, heads, L, L]; eager vs default attention, padded batches vs single texts, and the wrapper vs tau baked
into the weights (plus negative controls: a query-only bake must NOT match where it is the wrong rule).
tiny-bert-rk/-rkq are also checked against scripts/check_hf_export.py's independent float64 BERT
(bert_reference) and shown to differ from the same weights run with absolute positions.
"""

import argparse
import copy
import gzip
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import generate as G  # noqa: E402  (imports torch, transformers, sentence-transformers; defines the wrapper)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models as tk_models, pre_tokenizers, processors  # noqa: E402

TF_MAJOR = int(transformers.__version__.split(".")[0])
SEED_PREFIX = "tempscale-tiny-v1"
MAX_SEQ = 48
HIDDEN, LAYERS, HEADS, FFN = 32, 2, 4, 37
DENSE_OUT = 24
TOK = os.path.join(ROOT, ".cache", "tokenizers")
MINILM = os.path.join(ROOT, ".cache", "models", "all-MiniLM-L6-v2")
EXAMPLE = "This is an example sentence."
BAKE_TAUS = [0.5, 0.1]

TANH = "torch.nn.modules.activation.Tanh"
IDENTITY = "torch.nn.modules.linear.Identity"

SPECS = {
    "tiny-roberta-bpe": dict(tf=5, family="roberta", arch="RobertaModel", pooling="mean", dense=None),
    "tiny-xlmr": dict(tf=5, family="xlm-roberta", arch="XLMRobertaModel", pooling="cls",
                      dense=dict(in_features=HIDDEN, out_features=DENSE_OUT, bias=True, activation=TANH)),
    "tiny-t5": dict(tf=5, family="t5", arch="T5EncoderModel", pooling="mean", dense=None),
    "tiny-st5": dict(tf=5, family="t5", arch="T5EncoderModel", pooling="mean",
                     dense=dict(in_features=HIDDEN, out_features=DENSE_OUT, bias=False, activation=IDENTITY)),
    "tiny-mt5-gated": dict(tf=5, family="mt5", arch="MT5EncoderModel", pooling="mean", dense=None),
    "tiny-umt5": dict(tf=5, family="umt5", arch="UMT5EncoderModel", pooling="mean", dense=None),
    "tiny-bert-rk": dict(tf=4, family="bert", arch="BertModel", pooling="mean", dense=None,
                         position_embedding_type="relative_key"),
    "tiny-bert-rkq": dict(tf=4, family="bert", arch="BertModel", pooling="mean", dense=None,
                          position_embedding_type="relative_key_query"),
}


def log(msg):
    print(msg, flush=True)


class Failure(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise Failure(msg)


# ------------------------------------------------------------------ deterministic weights

def _rng(model, tensor):
    seed = int.from_bytes(hashlib.sha256(("%s/%s/%s" % (SEED_PREFIX, model, tensor)).encode()).digest()[:8], "little")
    return np.random.Generator(np.random.PCG64(seed))


def _std_and_mean(name, shape):
    """Scale of each tensor kind (see the module docstring)."""
    if name.endswith("relative_attention_bias.weight"):
        return 0.5, 0.0
    if name.endswith("distance_embedding.weight"):
        return 0.3, 0.0
    if "LayerNorm" in name or "layer_norm" in name:
        return (0.1, 1.0) if name.endswith(".weight") else (0.05, 0.0)
    if name.endswith(".bias"):
        return 0.05, 0.0
    if "embeddings" in name or name.endswith("shared.weight") or name.endswith("embed_tokens.weight"):
        return (0.5, 0.0) if ("position_embeddings" in name or "token_type_embeddings" in name) else (1.0, 0.0)
    if len(shape) == 2:  # nn.Linear [out, in]
        return 1.0 / math.sqrt(shape[1]), 0.0
    raise Failure("no scale rule for tensor %s %s" % (name, shape))


def draw(model, name, shape):
    std, mean = _std_and_mean(name, shape)
    a = _rng(model, name).standard_normal(size=tuple(shape), dtype=np.float32) * np.float32(std) + np.float32(mean)
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def fill_weights(model_name, hf_model, pad_rows=()):
    """Overwrite every parameter (tied ones once) with seeded values; `pad_rows`: (parameter name, row) set to 0,
    as nn.Embedding(padding_idx=...) initialises them."""
    drawn = {}
    with torch.no_grad():
        for name, p in hf_model.named_parameters():  # remove_duplicate=True: a tied tensor appears once
            v = draw(model_name, name, p.shape)
            for pn, row in pad_rows:
                if pn == name:
                    v[row] = 0.0
            p.copy_(v)
            drawn[name] = v
    return drawn


# ------------------------------------------------------------------ configs and tokenizers

def tf_config(name, spec, tok_vocab):
    fam = spec["family"]
    common_bert = dict(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=FFN,
                       hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                       initializer_range=0.02)
    if fam == "roberta":
        cfg = transformers.RobertaConfig(vocab_size=tok_vocab, max_position_embeddings=MAX_SEQ + 2, type_vocab_size=1,
                                         pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
                                         **common_bert)
    elif fam == "xlm-roberta":
        cfg = transformers.XLMRobertaConfig(vocab_size=tok_vocab, max_position_embeddings=MAX_SEQ + 2,
                                            type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                            layer_norm_eps=1e-5, **common_bert)
    elif fam == "bert":
        cfg = transformers.BertConfig(vocab_size=tok_vocab, max_position_embeddings=64, type_vocab_size=2,
                                      pad_token_id=0, layer_norm_eps=1e-12,
                                      position_embedding_type=spec["position_embedding_type"], **common_bert)
    else:
        t5_common = dict(vocab_size=tok_vocab, d_model=HIDDEN, d_kv=HIDDEN // HEADS, d_ff=FFN, num_layers=LAYERS,
                         num_decoder_layers=LAYERS, num_heads=HEADS, relative_attention_num_buckets=32,
                         relative_attention_max_distance=24 if fam == "umt5" else 128, dropout_rate=0.1,
                         layer_norm_epsilon=1e-6, initializer_factor=1.0, is_encoder_decoder=True, use_cache=False,
                         pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
        if fam == "t5":
            cfg = transformers.T5Config(feed_forward_proj="relu", **t5_common)
        elif fam == "mt5":
            # tie_word_embeddings false as in google/mt5-* (5.24 forces True in the saved config; the encoder's
            # embed_tokens is shared.weight either way); for UMT5 it also sets scale_decoder_outputs false (decoder only)
            cfg = transformers.MT5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **t5_common)
        elif fam == "umt5":
            cfg = transformers.UMT5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **t5_common)
        else:
            raise Failure(fam)
    cfg.architectures = [spec["arch"]]
    return cfg


def roberta_bpe_tokenizer():
    """RoBERTa's layout over GPT-2's real byte-level BPE: <s>=0 <pad>=1 </s>=2 <unk>=3, GPT-2's 50,257 tokens in
    their order at +4 (<|endoftext|> becomes an ordinary, unreachable entry 50260), <mask>=50261; GPT-2's 50,000
    merges; ByteLevel pre-tokenizer without prefix space; RobertaProcessing <s> $A </s>."""
    with open(os.path.join(TOK, "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        g = json.load(f)
    order = sorted(g["model"]["vocab"].items(), key=lambda kv: kv[1])
    require([i for _, i in order] == list(range(len(order))), "gpt2 vocabulary ids are not 0..n-1")
    require(len(order) == 50257 and len(g["model"]["merges"]) == 50000, "unexpected gpt2 sizes")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t, i in order:
        require(t not in vocab, "gpt2 token %r collides with a RoBERTa special" % t)
        vocab[t] = i + 4
    vocab["<mask>"] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in g["model"]["merges"]]
    tok = Tokenizer(tk_models.BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None,
                                  continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                                  byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<s>", "<pad>", "</s>", "<unk>")]
                           + [AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok, g


ROBERTA_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
                    "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}


def tokenizer_files(name, spec, d):
    """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json (and vocab.txt for BERT) into d.
    Returns the vocabulary size."""
    fam = spec["family"]
    if fam == "roberta":
        tok, _ = roberta_bpe_tokenizer()
        tok.save(os.path.join(d, "tokenizer.json"))
        # transformers 5.24's RobertaTokenizer gives the same ids as this tokenizer.json (checked on every text)
        tcfg = dict(tokenizer_class="RobertaTokenizer", model_max_length=MAX_SEQ, add_prefix_space=False,
                    **ROBERTA_SPECIALS)
        smap = dict(ROBERTA_SPECIALS)
    elif fam == "bert":
        for f in ("vocab.txt", "special_tokens_map.json"):
            shutil.copyfile(os.path.join(MINILM, f), os.path.join(d, f))
        # MiniLM's tokenizer.json carries truncation 128 and fixed padding to 128: dropped here (sentence-
        # transformers truncates to max_seq_length itself); everything else as in the real file
        tok = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        tok.save(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(MINILM, "tokenizer_config.json"), encoding="utf-8") as f:
            tcfg = json.load(f)
        tcfg.pop("name_or_path", None)
        tcfg["model_max_length"] = MAX_SEQ
        smap = None
    else:
        src = {"xlm-roberta": "xlmr", "t5": "t5", "mt5": "umt5", "umt5": "umt5"}[fam]
        shutil.copyfile(os.path.join(TOK, src, "tokenizer.json"), os.path.join(d, "tokenizer.json"))
        # PreTrainedTokenizerFast: sentence-transformers then runs tokenizer.json as written (the T5Tokenizer and
        # XLMRobertaTokenizer classes of transformers 5.24 rebuild another pipeline; README "Tokenizers")
        if fam == "xlm-roberta":
            smap = dict(ROBERTA_SPECIALS)
        else:
            smap = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
        tcfg = dict(tokenizer_class="PreTrainedTokenizerFast", model_max_length=MAX_SEQ,
                    model_input_names=["input_ids", "attention_mask"], clean_up_tokenization_spaces=False, **smap)
    dump_json(os.path.join(d, "tokenizer_config.json"), tcfg)
    if smap is not None:
        dump_json(os.path.join(d, "special_tokens_map.json"), smap)
    return Tokenizer.from_file(os.path.join(d, "tokenizer.json")).get_vocab_size(with_added_tokens=True)


def dump_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ------------------------------------------------------------------ building one folder

def build_folder(name, spec, d):
    """Write the complete sentence-transformers folder for `name` into the empty directory d."""
    vocab = tokenizer_files(name, spec, d)
    cfg = tf_config(name, spec, vocab)
    cls = getattr(transformers, spec["arch"])
    model = cls(cfg)
    model.eval()
    pad_rows = []
    if spec["family"] in ("roberta", "xlm-roberta"):
        pad_rows = [("embeddings.word_embeddings.weight", cfg.pad_token_id),
                    ("embeddings.position_embeddings.weight", cfg.pad_token_id)]
    elif spec["family"] == "bert":
        pad_rows = [("embeddings.word_embeddings.weight", cfg.pad_token_id)]
    drawn = fill_weights(name, model, pad_rows)
    model.save_pretrained(d)

    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    os.makedirs(os.path.join(d, "1_Pooling"))
    dump_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": spec["pooling"] == "cls",
        "pooling_mode_mean_tokens": spec["pooling"] == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    if spec["dense"]:
        from sentence_transformers.models import Dense
        ds = spec["dense"]
        act_mod, act_cls = ds["activation"].rsplit(".", 1)
        act = getattr(__import__(act_mod, fromlist=[act_cls]), act_cls)()
        w = draw(name, "2_Dense/linear.weight", (ds["out_features"], ds["in_features"]))
        b = draw(name, "2_Dense/linear.bias", (ds["out_features"],)) if ds["bias"] else None
        dense = Dense(ds["in_features"], ds["out_features"], bias=ds["bias"], activation_function=act,
                      init_weight=w, init_bias=b)
        os.makedirs(os.path.join(d, "2_Dense"))
        dense.save(os.path.join(d, "2_Dense"))  # as sentence-transformers 6.2 saves it: config.json + model.safetensors
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    n = len(modules)
    modules.append({"idx": n, "name": str(n), "path": "%d_Normalize" % n, "type": "sentence_transformers.models.Normalize"})
    dump_json(os.path.join(d, "modules.json"), modules)
    dump_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    return drawn


def verify_folder(name, spec, d, drawn, texts):
    """Reload what was written: weights exactly as drawn, no missing/unexpected keys, tokenizer consistency."""
    cls = getattr(transformers, spec["arch"])
    m, info = cls.from_pretrained(d, output_loading_info=True, attn_implementation="eager")
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        require(not info.get(k), "%s: loading %s: %s %s" % (name, spec["arch"], k, info.get(k)))
    sd = m.state_dict()
    for k, v in drawn.items():
        require(torch.equal(sd[k], v), "%s: %s did not round-trip" % (name, k))
    cfg = m.config
    if spec["family"] == "bert":
        pe = spec["position_embedding_type"]
        require(cfg.position_embedding_type == pe, "config position_embedding_type")
        n_dist = sum(1 for k in sd if k.endswith("attention.self.distance_embedding.weight"))
        require(n_dist == LAYERS, "%s: %d distance_embedding tensors loaded, expected %d" % (name, n_dist, LAYERS))
    if spec["family"] in ("t5", "mt5"):
        rab = sorted(k for k in sd if k.endswith("relative_attention_bias.weight"))
        require(rab == ["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], rab)
    if spec["family"] == "umt5":
        rab = sorted(k for k in sd if k.endswith("relative_attention_bias.weight"))
        require(len(rab) == LAYERS, rab)
    del m

    # tokenizer: tokenizer.json through the tokenizers library == AutoTokenizer == what sentence-transformers feeds
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    raw_trunc = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    raw_trunc.enable_truncation(max_length=MAX_SEQ)
    hf = transformers.AutoTokenizer.from_pretrained(d)
    st = SentenceTransformer(d, device="cpu")
    require(st.max_seq_length == MAX_SEQ, "%s: ST max_seq_length %s" % (name, st.max_seq_length))
    bad_full = bad_trunc = bad_st = 0
    for t in texts:
        full = raw.encode(t).ids
        bad_full += hf(t)["input_ids"] != full
        tr = raw_trunc.encode(t).ids
        bad_trunc += hf(t, truncation=True, max_length=MAX_SEQ)["input_ids"] != tr
        bad_st += st_ids(st, t) != tr
    require(bad_full == bad_trunc == bad_st == 0,
            "%s: tokenizer.json vs AutoTokenizer (%s) differ on %d texts (full) / %d (truncated); vs "
            "sentence-transformers on %d" % (name, type(hf).__name__, bad_full, bad_trunc, bad_st))
    if spec["family"] == "roberta":
        # content ids are GPT-2's + 4 wherever the text holds no literal special token
        gpt2 = Tokenizer.from_file(os.path.join(TOK, "gpt2", "tokenizer.json"))
        checked = 0
        for t in texts:
            if any(s in t for s in ("<s>", "</s>", "<pad>", "<unk>", "<mask>", "<|endoftext|>")):
                continue
            require(raw.encode(t).ids[1:-1] == [i + 4 for i in gpt2.encode(t).ids], "%s: not GPT-2 + 4" % t[:40])
            checked += 1
        require(checked > 100, checked)
    return {"auto_tokenizer_class": type(hf).__name__, "vocab_size": raw.get_vocab_size(with_added_tokens=True),
            "example_ids": raw.encode(EXAMPLE).ids}


def st_ids(model, text):
    feats = model.preprocess([text]) if hasattr(model, "preprocess") else model.tokenize([text])
    return feats["input_ids"][0].tolist()


def folder_files(d):
    out = {}
    for base, _, files in os.walk(d):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def install_folder(tmp, final, check):
    """Replace `final` by `tmp` unless their contents are identical. Returns 'unchanged' / 'written'."""
    new = folder_files(tmp)
    old = folder_files(final) if os.path.isdir(final) else None
    if old == new:
        shutil.rmtree(tmp)
        if not check:
            normalize_modes(final)
        return "unchanged"
    if check:
        changed = sorted(k for k in set(new) | set(old or {}) if (old or {}).get(k) != new.get(k))
        shutil.rmtree(tmp)
        raise Failure("--check: %s would change (%s)" % (final, ", ".join(changed[:6])))
    normalize_modes(tmp)
    if os.path.isdir(final):
        shutil.rmtree(final)
    os.rename(tmp, final)
    return "written"


def normalize_modes(d):
    """mkdtemp makes 0700 and some writers 0600: folders 0755, files 0644."""
    os.chmod(d, 0o755)
    for base, dirs, files in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(base, x), 0o755)
        for x in files:
            os.chmod(os.path.join(base, x), 0o644)


def write_if_changed(path, data, check):
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return "unchanged"
    if check:
        raise Failure("--check: %s would change" % path)
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return "written"


# ------------------------------------------------------------------ goldens

def embedding_dim(model):
    f = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return f()


def encode_each(model, texts, tau=None, n_layers=None, n_heads=None, lengths=None):
    """generate.encode_each, tolerant of sentence-transformers 5.1 (no get_embedding_dimension)."""
    out = np.zeros((len(texts), embedding_dim(model)), dtype=np.float32)
    per_forward = set()
    for i, t in enumerate(texts):
        if tau is None:
            e = model.encode([t], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        else:
            calls = []
            with G.tempscale(tau, calls):
                e = model.encode([t], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
            per_forward.add(len(calls))
            require(len(calls) == n_layers, "softmax calls %d != layers %d" % (len(calls), n_layers))
            require(all(c == (1, n_heads, lengths[i], lengths[i]) for c in calls),
                    "softmax input %s, expected [1, %d, %d, %d]" % (calls[0], n_heads, lengths[i], lengths[i]))
        out[i] = e[0]
    return out, sorted(per_forward)


def bake_rule(spec):
    fam = spec["family"]
    if fam in ("roberta", "xlm-roberta") or (fam == "bert" and spec["position_embedding_type"] == "relative_key"):
        return "attention.self.query.{weight,bias} x 1/tau"
    if fam == "bert":
        return "attention.self.query.{weight,bias}, attention.self.key.{weight,bias}, distance_embedding x tau^-1/2"
    if fam in ("t5", "mt5"):
        return "SelfAttention.q.weight x 1/tau in every block; block 0's relative_attention_bias x 1/tau"
    return "SelfAttention.q.weight x 1/tau and every block's relative_attention_bias x 1/tau"


def baked_copy(st_model, spec, tau, query_only=False, first_bias_only=False):
    """A deep copy with tau baked into the weights (bake_rule). query_only: only the query projection scaled by
    1/tau (the negative control where that is the wrong rule); first_bias_only (UMT5): the T5 rule."""
    m = copy.deepcopy(st_model)
    am = m[0].auto_model
    fam = spec["family"]
    rkq = fam == "bert" and spec["position_embedding_type"] == "relative_key_query"
    n = 0
    with torch.no_grad():
        for k, v in am.state_dict().items():
            s = None
            if k.endswith(("attention.self.query.weight", "attention.self.query.bias", "SelfAttention.q.weight")):
                s = tau ** -0.5 if (rkq and not query_only) else 1.0 / tau
            elif query_only:
                s = None
            elif rkq and k.endswith(("attention.self.key.weight", "attention.self.key.bias",
                                     "attention.self.distance_embedding.weight")):
                s = tau ** -0.5
            elif k.endswith("relative_attention_bias.weight"):
                if fam == "umt5" and not first_bias_only:
                    s = 1.0 / tau
                elif ".block.0." in k:
                    s = 1.0 / tau
            if s is not None:
                v.copy_((v.to(torch.float64) * s).to(v.dtype))
                n += 1
    require(n > 0, "nothing baked")
    return m, n


def golden_for(name, spec, folder, texts, texts_sha, args, timings):
    t0 = time.time()
    path = os.path.relpath(folder, ROOT)
    temps = G.TINY_TEMPERATURES
    wsha = G.sha256_file(os.path.join(folder, "model.safetensors"))
    eager = G.load(folder, "eager")
    default = G.load(folder)
    am = eager[0].auto_model
    cfg = am.config
    require(cfg._attn_implementation == "eager", cfg._attn_implementation)
    arch = type(am).__name__
    require(arch == spec["arch"], "%s: sentence-transformers loaded %s, expected %s" % (name, arch, spec["arch"]))
    n_layers, n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
    max_len = eager.max_seq_length
    dim = embedding_dim(eager)
    want_dim = spec["dense"]["out_features"] if spec["dense"] else HIDDEN
    require(max_len == MAX_SEQ and dim == want_dim, (max_len, dim))
    kinds = [type(eager[i]).__name__ for i in range(len(eager))]
    want = ["Transformer", "Pooling"] + (["Dense"] if spec["dense"] else []) + ["Normalize"]
    require(kinds == want, "%s: modules %s, expected %s" % (name, kinds, want))
    pcfg = eager[1].get_config_dict()
    mode = pcfg.get("pooling_mode") or ("cls" if pcfg.get("pooling_mode_cls_token") else
                                        "mean" if pcfg.get("pooling_mode_mean_tokens") else None)
    require(mode == spec["pooling"], "%s: pooling %s" % (name, pcfg))
    modules_desc = None
    if spec["dense"]:
        dn = eager[2]
        ds = spec["dense"]
        act = type(dn.activation_function).__module__ + "." + type(dn.activation_function).__name__
        require((dn.in_features, dn.out_features, dn.bias, act) ==
                (ds["in_features"], ds["out_features"], ds["bias"], ds["activation"]),
                "%s: Dense loaded as %s" % (name, (dn.in_features, dn.out_features, dn.bias, act)))
        modules_desc = [
            {"type": "Pooling", "path": "1_Pooling", "mode": spec["pooling"]},
            {"type": "Dense", "path": "2_Dense", "in_features": ds["in_features"], "out_features": ds["out_features"],
             "bias": ds["bias"], "activation": ds["activation"], "weights": "2_Dense/model.safetensors",
             "tensors": ["linear.weight"] + (["linear.bias"] if ds["bias"] else [])},
            {"type": "Normalize", "path": "3_Normalize"},
        ]
    tok = eager.tokenizer

    strs = [t["text"] for t in texts]
    ids, full_lengths = [], []
    for s in strs:
        st = st_ids(eager, s)
        require(st == tok(s, truncation=True, max_length=max_len)["input_ids"], "ids differ: %r" % s[:40])
        full = tok(s, truncation=False)["input_ids"]
        require(full[:len(st) - 1] == st[:-1], "truncated ids are not a prefix")
        ids.append(st)
        full_lengths.append(len(full))
    lengths = [len(x) for x in ids]
    default_impl = default[0].auto_model.config._attn_implementation
    log("  %s: %s, %d layers x %d heads, dim %d, max_seq_length %d, pooling %s; default attn=%s" % (
        name, arch, n_layers, n_heads, dim, max_len, mode, default_impl))

    ref_eager, _ = encode_each(eager, strs)
    ref_default, _ = encode_each(default, strs)
    embs, calls_seen = {}, {}
    for tau in temps:
        embs[tau], calls_seen[tau] = encode_each(eager, strs, tau, n_layers, n_heads, lengths)
    w1 = embs[1.0]
    a_bitwise = bool(np.array_equal(w1.view(np.uint32), ref_eager.view(np.uint32)))
    a_max = G.max_abs(w1, ref_eager)
    require(a_bitwise, "%s: (a) tau = 1 through the wrapper is not bitwise the plain model (%.3g)" % (name, a_max))
    b = {}
    for tau in temps[1:]:
        changed = int(np.sum(np.any(embs[tau] != w1, axis=1)))
        b[str(tau)] = {"max_abs_diff_vs_tau1": G.max_abs(embs[tau], w1),
                       "min_cosine_vs_tau1": float(G.cos_rows(embs[tau], w1).min()),
                       "mean_cosine_vs_tau1": float(G.cos_rows(embs[tau], w1).mean()),
                       "texts_changed": changed}
        # texts of one token (T5 family: the empty text is "</s>" alone) attend only to themselves: tau cannot act
        movable = sum(1 for n in lengths if n > 1)
        require(changed >= movable, "%s: (b) tau %s changed %d texts of %d with >1 token" % (name, tau, changed, movable))
    neg_calls = []
    with G.tempscale(0.5, neg_calls):
        default.encode([strs[0]], batch_size=1, show_progress_bar=False)
    eager_vs_default = G.max_abs(ref_eager, ref_default)
    require(eager_vs_default < 1e-5, "%s: eager vs %s differ by %.3g" % (name, default_impl, eager_vs_default))

    batched = {}
    for tau in (1.0, 0.5):
        with G.tempscale(tau):
            eb = eager.encode(strs, batch_size=16, convert_to_numpy=True, show_progress_bar=False)
        batched[str(tau)] = G.max_abs(eb, embs[tau])
        require(batched[str(tau)] < 1e-5, "%s: batched vs single at tau %s: %.3g" % (name, tau, batched[str(tau)]))

    bake = {"rule": bake_rule(spec), "texts": len(strs), "max_abs_diff": {}}
    for tau in BAKE_TAUS:
        m, nb = baked_copy(eager, spec, tau)
        e, _ = encode_each(m, strs)
        bake["max_abs_diff"][str(tau)] = G.max_abs(e, embs[tau])
        bake["tensors_scaled"] = nb
        del m
        require(bake["max_abs_diff"][str(tau)] < 1e-5, "%s: baked vs wrapper at tau %s: %.3g" % (
            name, tau, bake["max_abs_diff"][str(tau)]))
    neg = None
    if spec["family"] in ("t5", "mt5", "umt5") or spec.get("position_embedding_type") == "relative_key_query":
        m, _ = baked_copy(eager, spec, 0.5, query_only=True)
        e, _ = encode_each(m, strs)
        neg = {"query_only_bake_tau0.5_max_abs_diff": G.max_abs(e, embs[0.5])}
        if spec["family"] == "umt5":
            m, _ = baked_copy(eager, spec, 0.5, first_bias_only=True)
            e, _ = encode_each(m, strs)
            neg["t5_rule_block0_bias_only_tau0.5_max_abs_diff"] = G.max_abs(e, embs[0.5])
        del m
        for k, v in neg.items():
            require(v > 100 * max(bake["max_abs_diff"].values()) and v > 1e-5,
                    "%s: negative control %s = %.3g is not detected" % (name, k, v))
        bake["negative_controls"] = neg

    checks = {
        "tau1_wrapper_vs_unpatched": {"max_abs_diff": a_max, "bitwise_equal": a_bitwise},
        "tau_changes_output": b,
        "softmax_calls_per_forward": {str(t): calls_seen[t] for t in temps},
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "softmax_calls_default_attn_negative_control": len(neg_calls),
        "default_attn_implementation": default_impl,
        "eager_vs_default_attn_tau1": {"max_abs_diff": eager_vs_default,
                                       "bitwise_equal": bool(np.array_equal(ref_eager, ref_default)),
                                       "texts": len(strs)},
        "batched16_vs_single_max_abs_diff": batched,
        "baked_weights_vs_wrapper": {"tau": BAKE_TAUS[0], "texts": len(strs),
                                     "max_abs_diff": bake["max_abs_diff"][str(BAKE_TAUS[0])]},
        "baked_weights_vs_wrapper_detail": bake,
    }
    if spec["family"] == "bert":
        checks.update(relative_checks(name, spec, folder, eager, strs, ids, embs, temps))
    for c in calls_seen.values():
        require(c == [n_layers], "(c) calls per forward %s" % c)

    log("  (a) tau=1 wrapper vs unpatched: max abs %.3g, bitwise %s" % (a_max, a_bitwise))
    for k, v in b.items():
        log("  (b) tau=%s vs tau=1: max abs %.3g, min cos %.6f, changed %d/%d" % (
            k, v["max_abs_diff_vs_tau1"], v["min_cosine_vs_tau1"], v["texts_changed"], len(strs)))
    log("  (c) softmax calls per forward %s (layers %d); default attn (%s): %d calls" % (
        calls_seen, n_layers, default_impl, len(neg_calls)))
    log("  eager vs default %.3g; batched vs single %s; baked vs wrapper %s (%s)%s" % (
        eager_vs_default, batched, bake["max_abs_diff"], bake["rule"],
        "; negative controls %s" % neg if neg else ""))

    settings = {"max_seq_length": max_len, "pooling": mode, "normalize": True, "dtype": "float32", "dimension": dim}
    if modules_desc:
        settings["modules"] = modules_desc
    doc = {
        "format": "tempscale-golden",
        "version": G.FORMAT_VERSION,
        "model": {"name": name, "path": path, "package": None, "package_version": None, "weights_sha256": wsha,
                  "architecture": arch},
        "reference": {"python": platform.python_version(), "torch": torch.__version__,
                      "transformers": transformers.__version__,
                      "sentence_transformers": sentence_transformers.__version__,
                      "numpy": np.__version__, "tokenizers": tokenizers.__version__,
                      "attn_implementation": "eager", "tempscale_method": G.TEMPSCALE_METHOD,
                      "batch_size": 1, "torch_threads": torch.get_num_threads()},
        "settings": settings,
        "temperatures": temps,
        "texts_sha256": texts_sha,
        "checks": checks,
        "texts": [],
    }
    for i, t in enumerate(texts):
        doc["texts"].append({
            "id": t["id"], "source": t["source"], "text": t["text"],
            "ids": ids[i], "truncated": full_lengths[i] > lengths[i], "full_length": full_lengths[i],
            "embeddings": {str(tau): G.b64_f32(embs[tau][i]) for tau in temps},
        })
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    import io
    bio = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=bio, compresslevel=9, mtime=0) as g:
        g.write(raw)
    out = os.path.join(args.out, "golden", name + ".json.gz")
    state = write_if_changed(out, bio.getvalue(), args.check)
    timings[name + " golden"] = time.time() - t0
    log("  %s %s (%d bytes) in %.0f s" % (state, os.path.relpath(out, ROOT), len(bio.getvalue()), time.time() - t0))
    ex = strs.index(EXAMPLE) if EXAMPLE in strs else None
    return {"example_ids": ids[ex] if ex is not None else tok(EXAMPLE)["input_ids"], "dim": dim,
            "checks": checks, "out": out}


def relative_checks(name, spec, folder, eager, strs, ids, embs, temps):
    """transformers 4.57 only: the relative position terms are really used, and the goldens agree with
    scripts/check_hf_export.py's independent float64 BERT."""
    require(TF_MAJOR == 4, "relative_key goldens need transformers 4.57 (.venv-tf4)")
    pe = spec["position_embedding_type"]
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    threads = torch.get_num_threads()
    import check_hf_export as ref  # noqa: E402 (sets torch threads on import)
    torch.set_num_threads(threads)
    from safetensors.torch import load_file
    sd = load_file(os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    # sd keys carry no "bert." prefix (BertModel.save_pretrained)
    worst = {}
    for tau in temps:
        d = 0.0
        for i, x in enumerate(ids):
            t = torch.tensor([x])
            h = ref.bert_reference(sd, cfg, t, torch.ones_like(t), pe, tau)[0]
            e = h.mean(0)
            e = e / e.norm()
            d = max(d, float((e - torch.from_numpy(embs[tau][i]).to(torch.float64)).abs().max()))
        worst[str(tau)] = d
        require(d < 1e-5, "%s: float64 reference (%s) vs golden at tau %s: %.3g" % (name, pe, tau, d))
    # the same weights with absolute positions: transformers drops distance_embedding (UNEXPECTED), outputs differ
    m_abs, info = transformers.BertModel.from_pretrained(folder, position_embedding_type="absolute",
                                                         attn_implementation="eager", output_loading_info=True)
    m_abs.eval()
    unexpected = sorted(info.get("unexpected_keys", []))
    require(len(unexpected) == LAYERS and all("distance_embedding" in k for k in unexpected), unexpected)
    ab = np.zeros_like(embs[1.0])
    ref_abs = 0.0
    with torch.no_grad():
        for i, x in enumerate(ids):
            t = torch.tensor([x])
            h = m_abs(input_ids=t, attention_mask=torch.ones_like(t)).last_hidden_state[0]
            e = torch.nn.functional.normalize(h.mean(0), dim=0)
            ab[i] = e.numpy()
            r = ref.bert_reference(sd, cfg, t, torch.ones_like(t), "absolute", 1.0)[0]
            ref_abs = max(ref_abs, float((h.to(torch.float64) - r).abs().max()))
    vs_abs = G.max_abs(ab, embs[1.0])
    cmin = float(G.cos_rows(ab, embs[1.0]).min())
    require(vs_abs > 1e-2, "%s: %s barely differs from absolute (%.3g)" % (name, pe, vs_abs))
    require(ref_abs < 1e-5, "%s: float64 reference (absolute) vs transformers %.3g" % (name, ref_abs))
    log("  %s: float64 reference vs golden %s; absolute-position run of the same weights differs by %.3g "
        "(min cos %.4f; UNEXPECTED %d distance_embedding keys); reference(absolute) vs transformers %.3g"
        % (pe, worst, vs_abs, cmin, len(unexpected), ref_abs))
    return {"float64_reference_vs_golden_max_abs_diff": worst,
            "relative_vs_absolute_positions_tau1": {"max_abs_diff": vs_abs, "min_cosine": cmin,
                                                    "unexpected_keys_when_absolute": unexpected},
            "float64_reference_absolute_vs_transformers_last_hidden_max_abs_diff": ref_abs}


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated: " + ",".join(SPECS))
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache"), help="writes OUT/tiny/<name>/ and OUT/golden/")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--texts", default=os.path.join(HERE, "texts.jsonl"))
    ap.add_argument("--check", action="store_true", help="recompute everything, write nothing, fail on any change")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    args.out = os.path.abspath(args.out)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    transformers.logging.set_verbosity_error()
    G._check_call_sites()

    names = [n for n in args.only.split(",") if n] or [n for n, s in SPECS.items() if s["tf"] == TF_MAJOR]
    for n in names:
        require(n in SPECS, "unknown model %r (known: %s)" % (n, ", ".join(SPECS)))
        require(SPECS[n]["tf"] == TF_MAJOR, "%s needs transformers %d.x (this is %s): run it with %s" % (
            n, SPECS[n]["tf"], transformers.__version__, ".venv-tf4/bin/python" if SPECS[n]["tf"] == 4 else
            ".venv/bin/python"))
    with open(args.texts, "rb") as f:
        raw = f.read()
    texts_sha = hashlib.sha256(raw).hexdigest()
    texts = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    os.makedirs(os.path.join(args.out, "tiny"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "golden"), exist_ok=True)
    log("torch %s, transformers %s, sentence-transformers %s, tokenizers %s, threads %d, %d texts: %s" % (
        torch.__version__, transformers.__version__, sentence_transformers.__version__, tokenizers.__version__,
        torch.get_num_threads(), len(texts), ", ".join(names)))
    t_all = time.time()
    timings, summary = {}, {}
    for n in names:
        spec = SPECS[n]
        t0 = time.time()
        final = os.path.join(args.out, "tiny", n)
        tmp = tempfile.mkdtemp(prefix=".%s.tmp-" % n, dir=os.path.join(args.out, "tiny"))
        try:
            drawn = build_folder(n, spec, tmp)
            tinfo = verify_folder(n, spec, tmp, drawn, [t["text"] for t in texts])
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        state = install_folder(tmp, final, args.check)
        timings[n + " build"] = time.time() - t0
        log("%s: folder %s %s (%.0f s); tokenizer %s, vocab %d, %r -> %s" % (
            n, os.path.relpath(final, ROOT), state, time.time() - t0, tinfo["auto_tokenizer_class"],
            tinfo["vocab_size"], EXAMPLE, tinfo["example_ids"]))
        summary[n] = golden_for(n, spec, final, texts, texts_sha, args, timings)
    log("timings (s): " + ", ".join("%s %.0f" % kv for kv in timings.items()))
    log("done: %d models in %.0f s%s" % (len(names), time.time() - t_all, " (--check: nothing would change)"
                                         if args.check else ""))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)

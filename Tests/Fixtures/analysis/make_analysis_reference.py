#!/usr/bin/env python3
"""Reference values for tempscale's analysis code (collapse statistics and the attention spectrum),
computed by the reference stack: numpy (float64) for the statistics, torch + transformers +
sentence-transformers for the model outputs, with run-time TempScale applied through
golden/generate.py's tempscale(tau) wrapper (imported, not copied).

Usage (from the package root, offline):
    HF_HUB_OFFLINE=1 /work/main/.venv/bin/python Tests/Fixtures/analysis/make_analysis_reference.py [OUT.json]

Writes Tests/Fixtures/analysis/analysis-reference.json (read by
Tests/TempScaleKitTests/AnalysisReferenceTests.swift). Deterministic: random inputs come from
numpy.random.default_rng(SEED); torch runs single-threaded with one text per forward (no padding).

Definitions (reference-notes.md section 1; Sources/TempScaleKit/Analysis):
  sigma_a(A)     = largest singular value of A - (1/n) 11^T, i.e.
                   numpy.linalg.svd(float64(A) - 1/n, compute_uv=False)[0], A given as float32
  hc_share(X)    = ||X - mean_rows(X)||_F / ||X||_F                     (X float32 [n, d], float64 maths)
  per bucket b at one tau, E = the embeddings of the bucket's texts (float32, from sentence-transformers):
    mean_pairwise_cosine      = mean over i < j of cos(e_i, e_j)           (null when the bucket has < 2 texts)
    mean_cosine_to_centroid   = mean over i of cos(e_i, c), c = mean of the bucket's raw embeddings
    mean_distance_to_global   = mean over i of ||e_i - g||_2, g = mean of every embedded row at this tau
                                (the texts in some bucket; texts below the first edge are not embedded)
  gap = (pairwise cosine of the last bucket that defines it) - (that of the first such bucket)
  Buckets: [e0, e1), [e1, e2), ..., [e_last, inf) over token counts after truncation; members in input order.

Float arrays are stored as base64 of little-endian float32 ("b64f32"), row-major.
"""

import base64
import hashlib
import json
import math
import os
import platform
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "golden"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import sentence_transformers  # noqa: E402

import generate  # noqa: E402  (golden/generate.py: the run-time TempScale wrapper and the model loader)

SEED = 20250117
# 1, 0.5, 0.1 as asked; 0.02 added because these tiny random models (weights ~N(0, 0.02)) barely react to tau:
# at 0.1 the embeddings move by only ~2e-4, at 0.02 by ~1.6e-3 (tiny-bert), so a tau that is ignored cannot pass.
TEMPERATURES = [1.0, 0.5, 0.1, 0.02]
# Token-count bucket edges: [4,8) [8,16) [16,32) [32,48) [48,inf). max_seq_length is 48, so the last
# bucket holds the truncated texts.
EDGES = [4, 8, 16, 32, 48]
# Target token counts (tiny-bert's tokenizer, before truncation at 48) of the 24 texts, in input order
# (deliberately not sorted by length): one below the first edge, exactly one in [4,8), and >= 5 in
# every other bucket. Each text is the longest character prefix of a golden text that fits.
TARGETS = [20, 3, 40, 9, 200, 17, 33, 12, 6, 24, 47, 15, 300, 28, 38, 10, 500, 31, 44, 13, 150, 22, 36, 80]
# Texts measured by the spectrum (indices into the 24): one per bucket from [4,8) up.
SPECTRUM_TEXTS = [8, 3, 5, 6, 4]
MODELS = [("tiny-bert", "Tests/Fixtures/models/tiny-bert"), ("tiny-mpnet", "Tests/Fixtures/models/tiny-mpnet")]


def b64f32(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def sigma_a(a32):
    a = np.asarray(a32, dtype=np.float32).astype(np.float64)
    n = a.shape[0]
    return float(np.linalg.svd(a - 1.0 / n, compute_uv=False)[0])


def hc_share(x32):
    x = np.asarray(x32, dtype=np.float32).astype(np.float64)
    total = np.linalg.norm(x)
    return float(np.linalg.norm(x - x.mean(axis=0, keepdims=True)) / total) if total > 0 else 0.0


def softmax_rows(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ (a) fixed matrices

def matrix_cases(rng):
    cases = []

    def add(name, a, note=""):
        a = np.asarray(a, dtype=np.float32)
        assert a.ndim == 2 and a.shape[0] == a.shape[1]
        cases.append({"name": name, "n": int(a.shape[0]), "note": note, "a_b64f32": b64f32(a), "sigma": sigma_a(a)})

    for n in (1, 2, 3, 7, 33, 100):
        add("softmax-n%d" % n, softmax_rows(rng.normal(0, 1.5, (n, n))), "softmax of N(0, 1.5^2) logits, rounded to f32")
    add("softmax-sharp-n16", softmax_rows(rng.normal(0, 8, (16, 16))), "nearly one-hot rows")
    add("softmax-flat-n33", softmax_rows(rng.normal(0, 0.01, (33, 33))), "nearly uniform rows: sigma ~ 1e-2 of the entries")
    add("identity-n5", np.eye(5), "sigma = 1 (eigenvalue 1 four times)")
    add("uniform-n4", np.full((4, 4), 0.25), "1/4 is exact in f32: sigma = 0 exactly")
    add("uniform-n7", np.full((7, 7), 1 / 7), "f32(1/7) - 1/7 = delta in every entry: sigma = 7|delta| ~ 1e-8")
    sink = np.zeros((9, 9))
    sink[:, 0] = 1
    add("sink-n9", sink, "every row attends to column 0: sigma = sqrt(n - 1)")
    rows = softmax_rows(rng.normal(0, 1, (2, 6)))
    add("repeated-rows-n6", rows[[0, 1, 0, 0, 1, 1]], "two distinct rows repeated: rank <= 2")
    half = np.zeros((8, 8))
    half[:4, :4] = 0.25
    half[4:, 4:] = 0.25
    add("block-diagonal-n8", half, "two independent halves: sigma = 1")
    assert abs(cases[[c["name"] for c in cases].index("sink-n9")]["sigma"] - math.sqrt(8)) < 1e-12

    shares = []

    def add_x(name, x, note=""):
        x = np.asarray(x, dtype=np.float32)
        shares.append({"name": name, "rows": int(x.shape[0]), "width": int(x.shape[1]), "note": note,
                       "x_b64f32": b64f32(x), "share": hc_share(x)})

    add_x("gaussian-5x8", rng.normal(0, 1, (5, 8)))
    add_x("gaussian-40x32", rng.normal(0, 1, (40, 32)))
    add_x("offset-12x16", 50 + rng.normal(0, 0.01, (12, 16)), "large common mean: share ~ 2e-4")
    add_x("one-row-1x8", rng.normal(0, 1, (1, 8)), "a single token is all mean: share 0")
    add_x("zero-3x4", np.zeros((3, 4)), "zero X: share defined as 0")
    r = rng.normal(0, 1, (3, 3))
    add_x("zero-mean-6x3", np.concatenate([r, -r]), "token mean 0: share 1")
    return cases, shares


# ------------------------------------------------------------------ (b) the tiny models

def pick_texts(tokenizer):
    with open(os.path.join(ROOT, "golden", "texts.jsonl"), encoding="utf-8") as f:
        golden = [json.loads(l) for l in f if l.strip()]
    long_sources = [g for g in golden if len(g["text"]) > 600 and g["source"] in ("bbc", "debian")]
    texts = []
    for k, target in enumerate(TARGETS):
        src = long_sources[(7 * k + 3) % len(long_sources)]["text"]
        lo, hi = 0, len(src)  # longest prefix with <= target tokens (token count is monotone in the prefix here)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(tokenizer(src[:mid], truncation=False)["input_ids"]) <= target:
                lo = mid
            else:
                hi = mid - 1
        texts.append(src[:lo])
    return texts


def bucket_index(length):
    if length < EDGES[0]:
        return None
    return max(i for i, e in enumerate(EDGES) if e <= length)


def collapse_statistics(emb32, buckets):
    e = np.asarray(emb32, dtype=np.float32).astype(np.float64)
    everyone = [i for b in buckets for i in b]
    g = e[everyone].mean(axis=0)
    out = []
    for members in buckets:
        n = len(members)
        if n == 0:
            out.append({"count": 0, "mean_pairwise_cosine": None, "mean_cosine_to_centroid": None,
                        "mean_distance_to_global_centroid": None})
            continue
        rows = e[members]
        units = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        pairs = [float(units[i] @ units[j]) for i in range(n) for j in range(i + 1, n)]
        c = rows.mean(axis=0)
        cu = c / np.linalg.norm(c)
        out.append({"count": n,
                    "mean_pairwise_cosine": float(np.mean(pairs)) if n >= 2 else None,
                    "mean_cosine_to_centroid": float(np.mean(units @ cu)),
                    "mean_distance_to_global_centroid": float(np.mean(np.linalg.norm(rows - g, axis=1)))})
    defined = [s["mean_pairwise_cosine"] for s in out if s["mean_pairwise_cosine"] is not None]
    gap = defined[-1] - defined[0] if len(defined) >= 2 else None
    return out, gap


def run_model(name, rel, texts):
    path = os.path.join(ROOT, rel)
    st = generate.load(path, "eager")
    am = st[0].auto_model
    cfg = am.config
    assert cfg._attn_implementation == "eager"
    n_layers, n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
    tok = st.tokenizer
    max_len = st.max_seq_length
    ids = []
    for t in texts:
        st_ids = st.preprocess([t])["input_ids"][0].tolist()
        assert st_ids == tok(t, truncation=True, max_length=max_len)["input_ids"]
        ids.append(st_ids)
    lengths = [len(x) for x in ids]
    index = [bucket_index(n) for n in lengths]
    buckets = [[i for i in range(len(texts)) if index[i] == b] for b in range(len(EDGES))]
    counts = [len(b) for b in buckets]
    # The shape the brief asks for: >= 3 buckets with >= 2 texts, one with exactly 1, one text below the first edge.
    assert sum(c >= 2 for c in counts) >= 3 and counts.count(1) >= 1 and index.count(None) == 1, (name, lengths, counts)

    per_tau = []
    for tau in TEMPERATURES:
        emb, calls = generate.encode_each(st, texts, tau, n_layers, n_heads, lengths)
        assert calls == [n_layers], calls
        stats, gap = collapse_statistics(emb, buckets)
        spectra = []
        for i in SPECTRUM_TEXTS:
            x = torch.tensor([ids[i]])
            seen = []
            with torch.no_grad(), generate.tempscale(tau, seen):
                out = am(input_ids=x, attention_mask=torch.ones_like(x), output_attentions=True,
                         output_hidden_states=True)
            assert len(seen) == n_layers and len(out.attentions) == n_layers and len(out.hidden_states) == n_layers + 1
            sig = []
            for layer in out.attentions:
                a = layer[0].numpy()
                assert a.shape == (n_heads, lengths[i], lengths[i]) and a.dtype == np.float32
                sig.append([sigma_a(a[h]) for h in range(n_heads)])
            shares = [hc_share(h[0].numpy()) for h in out.hidden_states]
            # The probed forward is the forward that made the embedding: mean-pool + normalise the last layer.
            pooled = out.hidden_states[-1][0].double().mean(0)
            pooled = (pooled / pooled.norm()).numpy()
            assert np.max(np.abs(pooled - emb[i])) < 1e-6, np.max(np.abs(pooled - emb[i]))
            spectra.append({"text": i, "tokens": lengths[i], "sigma": sig, "hc_share": shares})
        per_tau.append({"tau": tau, "embeddings_b64f32": b64f32(emb), "buckets": stats, "gap": gap,
                        "spectrum": spectra})
        print("  %s tau %g: counts %s, pairwise %s, gap %s" % (
            name, tau, counts, ["%.6f" % s["mean_pairwise_cosine"] if s["mean_pairwise_cosine"] is not None else None
                                for s in stats], gap))
    # tau must move something, or the comparison proves nothing about the temperature.
    e1 = np.frombuffer(base64.b64decode(per_tau[0]["embeddings_b64f32"]), "<f4")
    e01 = np.frombuffer(base64.b64decode(per_tau[-1]["embeddings_b64f32"]), "<f4")
    moved = float(np.max(np.abs(e1 - e01)))
    assert moved > 1e-3, moved
    return {"name": name, "path": rel, "architecture": type(am).__name__, "layers": n_layers, "heads": n_heads,
            "max_seq_length": max_len, "dimension": st.get_embedding_dimension(),
            "weights_sha256": generate.sha256_file(os.path.join(path, "model.safetensors")),
            "lengths": lengths, "bucket_counts": counts, "below_first_edge": index.count(None),
            "max_abs_embedding_change_tau1_vs_tau%g" % TEMPERATURES[-1]: moved,
            "temperatures": per_tau}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "analysis-reference.json")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generate._check_call_sites()
    rng = np.random.default_rng(SEED)
    matrices, shares = matrix_cases(rng)

    texts = pick_texts(generate.load(os.path.join(ROOT, MODELS[0][1]), "eager").tokenizer)
    models = [run_model(name, rel, texts) for name, rel in MODELS]

    doc = {
        "format": "tempscale-analysis-reference",
        "version": 1,
        "made_by": "Tests/Fixtures/analysis/make_analysis_reference.py",
        "reference": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                      "transformers": transformers.__version__,
                      "sentence_transformers": sentence_transformers.__version__,
                      "attn_implementation": "eager", "tempscale": generate.TEMPSCALE_METHOD + " (golden/generate.py)",
                      "torch_threads": 1, "batch_size": 1, "seed": SEED},
        "definitions": {
            "sigma_a": "numpy.linalg.svd(float64(A) - 1/n, compute_uv=False)[0]",
            "hc_share": "||X - mean_rows(X)||_F / ||X||_F in float64; 0 for X = 0",
            "mean_pairwise_cosine": "mean over i<j of cos(e_i, e_j); null for < 2 texts",
            "mean_cosine_to_centroid": "mean of cos(e_i, mean of the bucket's raw embeddings)",
            "mean_distance_to_global_centroid": "mean of ||e_i - g||, g = mean of all bucketed rows at this tau",
            "gap": "pairwise cosine of the last bucket defining it minus the first's",
            "spectrum": "sigma[layer][head] from output_attentions; hc_share[0..L] from output_hidden_states "
                        "(0 = embeddings output)",
        },
        "sigma_a": matrices,
        "hc_share": shares,
        "texts_sha256": hashlib.sha256(open(os.path.join(ROOT, "golden", "texts.jsonl"), "rb").read()).hexdigest(),
        "texts": texts,
        "edges": EDGES,
        "models": models,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %s (%d bytes)" % (os.path.relpath(out_path, ROOT), os.path.getsize(out_path)))


if __name__ == "__main__":
    main()

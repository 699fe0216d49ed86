#!/usr/bin/env python3
"""Reference values for tempscale's evaluation metrics (specs/tune-data.md), from numpy / scipy / scikit-learn.

Usage (from the package root):
    /work/main/.venv/bin/python Tests/Fixtures/analysis/make_metrics_expected.py [OUT.json]

Writes Tests/Fixtures/analysis/metrics-expected.json (or OUT.json): the inputs AND the expected outputs, so the
Swift tests (Tests/TempScaleKitTests/MetricsTests.swift) need nothing but this file. Deterministic: every input comes
from numpy.random.default_rng(20240611) or is written out by hand below; rerunning gives identical bytes.

JSON has no NaN: an expected NaN is written as null (see "spearman": all_tied_x).
"""

import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import ndcg_score
from sklearn.neighbors import KNeighborsClassifier

rng = np.random.default_rng(20240611)


def num(x):
    """A float for JSON: NaN becomes null (strict JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


# ---------------------------------------------------------------------------------------------------------------
# (a) Spearman's rho = scipy.stats.spearmanr (average ranks for ties); average ranks = scipy.stats.rankdata.
# ---------------------------------------------------------------------------------------------------------------
def spearman_cases():
    cases = []

    def add(name, x, y, note=""):
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scipy warns (ConstantInputWarning) when one side is constant
                rho = scipy.stats.spearmanr(x, y).statistic
        cases.append({
            "name": name, "note": note, "x": x, "y": y, "rho": num(rho),
            "ranks_x": [float(r) for r in scipy.stats.rankdata(x, method="average")],
            "ranks_y": [float(r) for r in scipy.stats.rankdata(y, method="average")],
        })

    add("small_ties_both_sides", [1, 2, 2, 3, 4, 4, 4, 5], [2.5, 1.0, 3.0, 3.0, 5.0, 4.0, 4.0, 0.5])
    add("heavy_ties", rng.integers(0, 4, 60), rng.integers(0, 3, 60) + (rng.integers(0, 4, 60) > 2),
        "integer ratings 0..3 against 0..3: most values tied")
    add("ratings_vs_cosines", np.round(rng.uniform(0, 5, 40) * 2) / 2, rng.uniform(-0.2, 0.95, 40),
        "human ratings on a half-point scale (ties) against distinct cosines")
    add("all_tied_x", [2.0] * 9, rng.normal(size=9),
        "one side constant: scipy returns nan (undefined correlation); so do we")
    add("n2_increasing", [1.0, 2.0], [-3.0, 7.5])
    add("n2_decreasing", [1.0, 2.0], [5.0, 3.0])
    x = rng.normal(size=500)
    add("random_n500", x, 0.6 * x + rng.normal(size=500))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# (b) nDCG@10 = sklearn.metrics.ndcg_score(k=10); MRR@10 in plain Python from the definition (sklearn has no MRR).
#     sklearn's ndcg_score averages the gains of documents whose SCORES tie (ignore_ties=False); tempscale breaks
#     score ties by corpus order instead. The scores below are distinct (checked), so the two definitions agree.
# ---------------------------------------------------------------------------------------------------------------
N_DOCS = 30


def ranking_cases():
    queries = []

    def add(name, gains, scores, note=""):
        gains = np.asarray(gains, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float64)
        assert len(np.unique(scores)) == len(scores), "scores must be distinct (see the comment above)"
        ranking = [int(i) for i in np.argsort(-scores, kind="stable")]
        mrr = 0.0
        for rank, doc in enumerate(ranking[:10], start=1):  # MRR@10 from the definition, not from a library
            if gains[doc] >= 1:
                mrr = 1.0 / rank
                break
        queries.append({
            "name": name, "note": note,
            "gains": [float(g) for g in gains], "scores": [float(s) for s in scores],
            "top10": ranking[:10],
            "ndcg10": float(ndcg_score(gains[None, :], scores[None, :], k=10)),
            "mrr10": mrr,
        })

    def distinct_scores():
        return rng.permutation(N_DOCS) / N_DOCS + rng.uniform(0, 1e-3, N_DOCS)

    for q in range(5):
        g = np.zeros(N_DOCS)
        rel = rng.choice(N_DOCS, size=int(rng.integers(1, 6)), replace=False)
        g[rel] = rng.integers(1, 4, size=len(rel))
        add(f"random_{q}", g, distinct_scores(), "1-5 relevant documents, gains 1..3")

    # More than 10 relevant documents: the ideal DCG is truncated at 10.
    g = rng.integers(0, 4, N_DOCS).astype(float)
    assert (g >= 1).sum() > 10
    add("many_relevant", g, distinct_scores(), "more than 10 relevant: IDCG truncated at rank 10")

    # The only relevant document is at rank 11 / rank 10.
    s = distinct_scores()
    order = np.argsort(-s)
    g = np.zeros(N_DOCS); g[order[10]] = 2
    add("first_relevant_at_rank_11", g, s, "nDCG@10 = 0 and MRR@10 = 0")
    s = distinct_scores()
    order = np.argsort(-s)
    g = np.zeros(N_DOCS); g[order[9]] = 1; g[order[20]] = 3
    add("first_relevant_at_rank_10", g, s, "MRR@10 = 1/10")

    # No relevant document: sklearn gives 0 (and tempscale excludes such queries upstream).
    add("no_relevant", np.zeros(N_DOCS), distinct_scores(), "no relevant document: nDCG 0 (sklearn's choice, ours too)")

    gains = np.array([q["gains"] for q in queries])
    scores = np.array([q["scores"] for q in queries])
    return {"queries": queries,
            "mean_ndcg10": float(ndcg_score(gains, scores, k=10)),
            "mean_mrr10": float(np.mean([q["mrr10"] for q in queries]))}


# ---------------------------------------------------------------------------------------------------------------
# (c) kNN accuracy = KNeighborsClassifier(n_neighbors=k, metric='cosine', algorithm='brute', weights='uniform').
#     Random embeddings (float32 values, then computed in float64 by sklearn), so no two train items sit at the
#     same distance from an eval item (checked, with a margin). Labels are strings chosen so byte order differs
#     from other orders: "10" < "9", "B" < "a", "z" < "é" (0x7A < 0xC3). A vote tie goes to the label that sorts
#     first (sklearn's classes_ are np.unique-sorted = code point order = UTF-8 byte order; the mode picks the
#     smallest class index). The script checks that vote ties occur and that, in some of them, the nearest
#     neighbour's label is NOT the winner (so "nearest wins" would fail the test).
# ---------------------------------------------------------------------------------------------------------------
LABELS = ["a", "B", "z", "é", "10", "9"]


def knn_case():
    n_train, n_eval, dim = 150, 60, 12
    train = (rng.normal(size=(n_train, dim)) * rng.uniform(0.5, 3.0, size=(n_train, 1))).astype(np.float32)
    evl = (rng.normal(size=(n_eval, dim)) * rng.uniform(0.5, 3.0, size=(n_eval, 1))).astype(np.float32)
    # Eval items 0..4 copy a train item's direction at another length: their nearest neighbour has cosine 1.
    for e in range(5):
        evl[e] = train[7 * e] * np.float32(1.5 + e)
    train_labels = [LABELS[i] for i in rng.integers(0, len(LABELS), n_train)]
    eval_labels = [LABELS[i] for i in rng.integers(0, len(LABELS), n_eval)]
    X, E = train.astype(np.float64), evl.astype(np.float64)

    # No distance ties among the 11 nearest (margin far above float64 rounding).
    xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    en = E / np.linalg.norm(E, axis=1, keepdims=True)
    sims = en @ xn.T
    for row in sims:
        top = np.sort(row)[::-1][:11]
        assert np.min(-np.diff(top)) > 1e-7, "near-tie in similarities"

    per_k = []
    for k in (1, 3, 5, 10):
        clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute", weights="uniform")
        clf.fit(X, train_labels)
        pred = [str(p) for p in clf.predict(E)]
        _, nbrs = clf.kneighbors(E)
        ties = ties_against_nearest = 0
        for e in range(n_eval):
            labs = [train_labels[j] for j in nbrs[e]]
            counts = {l: labs.count(l) for l in set(labs)}
            best = max(counts.values())
            if sum(1 for c in counts.values() if c == best) > 1:
                ties += 1
                if labs[0] != pred[e]:
                    ties_against_nearest += 1
        if k > 1:
            assert ties > 0 and ties_against_nearest > 0, f"k={k}: no useful vote tie"
        per_k.append({
            "k": k, "predictions": pred,
            "neighbours": [[int(j) for j in row] for row in nbrs],
            "accuracy": float(clf.score(E, eval_labels)),
            "vote_ties": ties, "vote_ties_not_won_by_nearest": ties_against_nearest,
        })
    return {"train": [[float(v) for v in row] for row in train], "eval": [[float(v) for v in row] for row in evl],
            "train_labels": train_labels, "eval_labels": eval_labels, "cases": per_k}


# ---------------------------------------------------------------------------------------------------------------
# (d) numpy.percentile, default method ('linear').
# ---------------------------------------------------------------------------------------------------------------
QS = [0.0, 2.5, 50.0, 97.5, 100.0, 33.3]


def percentile_cases():
    arrays = {
        "four": [1.0, 2.0, 3.0, 4.0],
        "single": [3.5],
        "unsorted_7": [float(v) for v in rng.normal(size=7)],
        "duplicates": [0.0, 0.0, 1.0, 1.0, 1.0, -2.0, 5.0, 5.0],
        "bootstrap_like_1000": [float(v) for v in rng.normal(0.01, 0.02, size=1000)],
        "two_points": [-1.0, 1e-3],
    }
    return [{"name": name, "values": a, "q": QS, "expected": [float(np.percentile(a, q)) for q in QS]}
            for name, a in arrays.items()]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "metrics-expected.json")
    doc = {
        "format": "tempscale-metrics-expected",
        "made_with": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "spearman": spearman_cases(),
        "ranking": ranking_cases(),
        "knn": knn_case(),
        "percentile": percentile_cases(),
    }
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    with open(out, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {out} ({len(text.encode()) // 1024} KiB)")


if __name__ == "__main__":
    main()

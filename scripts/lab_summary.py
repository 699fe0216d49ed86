#!/usr/bin/env python3
"""Markdown tables from the lab's JSON reports (results/<model>/*.json), for the README.
Usage: python3 scripts/lab_summary.py results/minilm results/mpnet"""
import gzip
import json
import os
import sys


def f(v, d=4):
    return "–" if v is None else f"{v:.{d}f}"


def signed(v):
    return f"{v:+.4f}"


def tau(t):
    return f"{t:g}"


def collapse(path):
    j = json.load(open(path))
    taus = j["temperatures"]
    print(f"Collapse — {j['model']}, {j['texts']:,} Debian descriptions, {j['truncated']} truncated at {j['max_length']} tokens; "
          "mean pairwise cosine within each length bucket:\n")
    print("| bucket (tokens) | texts | " + " | ".join(f"τ = {tau(t['tau'])}" for t in taus) + " |")
    print("|---|---|" + "---|" * len(taus))
    for b, info in enumerate(j["buckets"]):
        if info["embedded"] == 0:
            continue
        cells = [f(t["buckets"][b]["mean_pairwise_cosine"]) for t in taus]
        print(f"| {info['label']} | {info['embedded']} | " + " | ".join(cells) + " |")
    print("| **long − short gap** | | " + " | ".join(f"**{signed(t['long_short_gap'])}**" for t in taus) + " |\n")


def spectrum(path):
    j = json.load(gzip.open(path, "rt"))
    taus = j["temperatures"]
    print(f"Spectrum — {j['model']}: mean σ_a over texts, all {len(j['layers'])} layers and every head; "
          "in brackets the median σ_a/√n (σ_a against its ceiling √n) and the last layer's mean ‖HC[X]‖/‖X‖:\n")
    print("| bucket (tokens) | texts | mean n | " + " | ".join(f"τ = {tau(t['tau'])}" for t in taus) + " |")
    print("|---|---|---|" + "---|" * len(taus))
    for b in range(len(taus[0]["buckets"])):
        rows = taus[0]["buckets"][b]["per_text"]
        if not rows:
            continue
        n = sum(r["tokens"] for r in rows) / len(rows)
        cells = []
        for t in taus:
            bk = t["buckets"][b]
            share = sum(r["hc_share"][-1] for r in bk["per_text"]) / len(bk["per_text"])
            cells.append(f"{f(bk['mean_sigma_a'], 3)} ({f(bk['median_sigma_a_over_sqrt_n'], 3)}; {f(share, 3)})")
        print(f"| {taus[0]['buckets'][b]['label']} | {len(rows)} | {n:.0f} | " + " | ".join(cells) + " |")
    print()


def tune(paths):
    print("| model | data (task) | dev: chosen τ | test τ = 1 | test chosen τ | difference [95% CI] | verdict |")
    print("|---|---|---|---|---|---|---|")
    for p in paths:
        j = json.load(open(p))
        c = j["chosen"]
        name = (f"q {tau(c['query_tau'])} / d {tau(c['tau'])}" if c["query_tau"] is not None else tau(c["tau"]))
        t = j["test"]
        m = j["metrics"][0]
        data = os.path.basename(j["data"].rstrip("/"))
        items = f"{j['test_items']:,} test"
        verdict = j["verdict"].removeprefix("verdict: ")
        print(f"| {j['model']} | {data} ({m}, {items}) | {name} | {f(t['baseline'][0])} | {f(t['chosen'][0])} | "
              f"{signed(t['difference'][0])} [{signed(t['interval_low'][0])}, {signed(t['interval_high'][0])}] | {verdict} |")
    print()


def main():
    tunes = []
    for d in sys.argv[1:]:
        for c in ["collapse", "collapse-multilingual"]:
            if os.path.exists(f"{d}/{c}.json"):
                collapse(f"{d}/{c}.json")
        if os.path.exists(f"{d}/spectrum.json.gz"):
            spectrum(f"{d}/spectrum.json.gz")
        for name in ["lee", "lee-by-document", "debian", "bbc-classification", "bbc-retrieval"]:
            if os.path.exists(f"{d}/tune-{name}.json"):
                tunes.append(f"{d}/tune-{name}.json")
    tune(tunes)


if __name__ == "__main__":
    main()

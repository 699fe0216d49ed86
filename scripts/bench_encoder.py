#!/usr/bin/env python3
"""Encoder throughput and cold start: tempscale against its peers, measured in one run.

usage: bench_encoder.py TEMPSCALE MODEL_DIR --corpus FILE [--threads N] [--batch B] [--limit N]

Runs scripts/bench_peers.py (sentence-transformers on PyTorch CPU, ONNX Runtime) on the corpus,
then `tempscale embed` on exactly the same texts with the same thread count and batch size, and
prints texts/s and the ratios. Cold start: `tempscale embed` of one sentence from a native f32
file against a fresh sentence-transformers process doing the same (from bench_peers.py).
Effective GFLOP/s counts the encoder's matrix products (2·tokens·layers·(4h² + 2h·i); for T5
configs 4h·(heads·d_kv) + 2h·d_ff, or 3h·d_ff when the FFN is gated) against the sgemm GFLOP/s the
peers script measured in the same run.

T5 folders: torch 2.13's dynamo ONNX exporter fails on transformers 5.24's T5 with SDPA attention (the
default; "Cannot view a tensor with shape [b, s, 12, 64] ... as (b, s, 768)" at T5Attention's reshape),
so for them bench_peers.py's ONNX cache entry is made first, here, by bench_peers.py's own export_onnx
with the model loaded with eager attention (the same function; ORT optimizes the graph either way). The
sentence-transformers peer itself still runs the model's default attention.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPORT_EAGER = r"""
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "scripts"))
import bench_peers, sentence_transformers
path, key = bench_peers.onnx_cache_path(sys.argv[2])
if not os.path.exists(path):
    ST = sentence_transformers.SentenceTransformer
    sentence_transformers.SentenceTransformer = lambda d, **kw: ST(d, model_kwargs={"attn_implementation": "eager"}, **kw)
    print(f"bench_encoder: exporting ONNX with eager attention -> {path}", file=sys.stderr, flush=True)
    bench_peers.export_onnx(sys.argv[2], path, key)
    meta = path[:-5] + ".json"
    m = json.load(open(meta))
    m["attn_implementation"] = "eager (bench_encoder.py: the SDPA path does not export)"
    json.dump(m, open(meta, "w"), indent=1)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--precisions", default="f32",
                    help="tempscale --precision values to time (bf16, int8: also against ORT's quantize_dynamic)")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--short", type=int, default=0,
                    help="instead of the corpus: its first N first lines (Debian synopses) of at most 12 words")
    args = ap.parse_args()
    py = os.path.join(ROOT, ".venv", "bin", "python")
    work = tempfile.mkdtemp(prefix="tempscale-bench-")
    texts = [json.loads(l)["text"] for l in open(args.corpus)]
    if args.short:
        firsts = [t.split("\n", 1)[0].strip() for t in texts]
        texts = [t for t in firsts if t and len(t.split()) <= 12][: args.short]
    if args.limit:
        texts = texts[: args.limit]
    corpus = os.path.join(work, "corpus.jsonl")
    with open(corpus, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    peers_out = os.path.join(work, "peers.json")
    config = json.load(open(os.path.join(args.model, "config.json")))
    if config.get("model_type") in ("t5", "mt5", "umt5"):
        subprocess.run([py, "-c", EXPORT_EAGER, ROOT, args.model], check=True, stdout=subprocess.DEVNULL)
    precisions = [p for p in args.precisions.split(",") if p]
    peer_list = "st,ort" + (",ort-int8" if "int8" in precisions else "")
    subprocess.run([py, os.path.join(ROOT, "scripts", "bench_peers.py"), "--model", args.model, "--corpus", corpus,
                    "--threads", str(args.threads), "--batch", str(args.batch), "--out", peers_out, "--max-wait", "20",
                    "--cold-repeat", "2", "--peers", peer_list] + (["--no-cold"] if args.no_cold else []),
                   check=True, stdout=subprocess.DEVNULL)
    peers = json.load(open(peers_out))

    if "d_model" in config:  # T5 family: d_model, heads × d_kv (need not equal d_model), d_ff, num_layers
        h, i, layers = config["d_model"], config["d_ff"], config["num_layers"]
        inner = config["num_heads"] * config["d_kv"]
        ffn_mats = 3 if config.get("is_gated_act") or config.get("feed_forward_proj", "").startswith("gated") else 2
    else:
        h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
        inner, ffn_mats = h, 2
    native = os.path.join(work, "model.tsm")
    subprocess.run([args.binary, "convert", args.model, "-o", native], check=True, stdout=subprocess.DEVNULL)
    tok = subprocess.run([args.binary, "tokenize", native, "--input", corpus, "--json"], check=True, capture_output=True, text=True)
    tokens = sum(len(json.loads(l)["ids"]) for l in tok.stdout.splitlines())
    import numpy as np
    walls, cosines = {}, {}
    ref = np.load(peers_out[:-5] + "-st.npy") if os.path.exists(peers_out[:-5] + "-st.npy") else None
    for p in precisions:
        out = os.path.join(work, f"e-{p}.npy")
        cmd = [args.binary, "embed", native, "--input", corpus, "--output", out, "--format", "npy",
               "--threads", str(args.threads), "--batch", str(args.batch), "--precision", p]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)  # warm-up (page cache, CPU clocks)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        walls[p] = time.perf_counter() - start
        if ref is not None:
            e = np.load(out)
            cosines[p] = float((np.sum(e * ref, axis=1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref, axis=1))).min())
    wall = walls.get("f32") or walls[precisions[0]]
    one = os.path.join(work, "one.txt")
    open(one, "w").write("This is an example sentence.\n")
    colds = []
    for _ in range(0 if args.no_cold else 5):
        s = time.perf_counter()
        subprocess.run([args.binary, "embed", native, "--input", one], check=True, stdout=subprocess.DEVNULL)
        colds.append(time.perf_counter() - s)

    flops = 2 * tokens * layers * (4 * h * inner + ffn_mats * h * i)
    def peer(name):
        return (peers.get(name) or {}).get("wall_s_median")
    st_wall, ort_wall, ort8_wall = peer("st"), peer("ort"), peer("ort-int8")
    sgemm = {"numpy": peers.get("sgemm_numpy_before"), "system openblas": peers.get("sgemm_system_openblas_forced_coretype")}
    kind = f"short texts (<= 12 words)" if args.short else "mixed corpus"
    print(f"model {os.path.basename(args.model.rstrip('/'))}, {kind}: {len(texts)} texts, {tokens} tokens, threads {args.threads}, batch {args.batch}")
    print(f"{'engine':<26}{'wall s':>9}{'texts/s':>10}{'× ST':>7}{'× ORT':>7}{'× ORT8':>8}{'× our f32':>10}{'min cos vs ST':>15}")
    rows = [("sentence-transformers", st_wall, None), ("onnxruntime", ort_wall, None)]
    if ort8_wall:
        rows.append(("onnxruntime int8 dynamic", ort8_wall, (peers.get("ort-int8") or {}).get("min_cosine_vs_st")))
    rows += [(f"tempscale {p}", w, cosines.get(p)) for p, w in walls.items()]
    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else "-"
    for name, w, cos in rows:
        if not w:
            print(f"{name:<26}{'n/a':>9}")
            continue
        print(f"{name:<26}{w:>9.2f}{len(texts) / w:>10.1f}{ratio(st_wall, w):>7}{ratio(ort_wall, w):>7}{ratio(ort8_wall, w):>8}"
              f"{ratio(walls.get('f32'), w):>10}{(f'{cos:.6f}' if cos is not None else '-'):>15}")
    print(f"tempscale effective {flops / wall / 1e9:.1f} GFLOP/s (matrix products); sgemm in this run: {json.dumps(sgemm)[:200]}")
    if args.no_cold:
        print(f"load average start/end: {peers.get('machine', {}).get('loadavg_start')} / {peers.get('machine', {}).get('loadavg_end')}")
        return
    st_cold = (peers.get("cold_start_st") or {}).get("median_process_wall_s")
    ratio = f" ({st_cold / statistics.median(colds):.0f}× faster)" if st_cold else ""
    print(f"cold start, one sentence: tempscale {statistics.median(colds):.3f} s; sentence-transformers {st_cold} s{ratio}")
    print(f"load average start/end: {peers.get('machine', {}).get('loadavg_start')} / {peers.get('machine', {}).get('loadavg_end')}")


if __name__ == "__main__":
    main()

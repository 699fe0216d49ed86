#!/usr/bin/env python3
"""Measure tempscale's peers on a fixed corpus, in one run, on one machine.

usage: bench_peers.py --model DIR --corpus FILE --threads N --batch B --out RESULT.json
                      [--limit N] [--repeat R] [--cold-repeat R] [--peers st,ort] [--no-cold]

Peers, on the same texts (the corpus from scripts/bench_corpus.py, optionally its first --limit):
  st   sentence-transformers on PyTorch CPU: SentenceTransformer(DIR, device="cpu"),
       torch.set_num_threads(N), model.encode(texts, batch_size=B).
  ort  ONNX Runtime: the model's transformer exported once from the reference stack with
       torch.onnx.export (dynamo exporter, opset 18, dynamic batch/sequence axes), cached in
       .cache/onnx/<model-name>/ under a key of the model path and weights; run by an
       InferenceSession (intra_op N, inter_op 1, ORT_ENABLE_ALL) on batches made exactly as
       sentence-transformers makes them (texts sorted by descending character length, B per
       batch, tokenized with the model's tokenizer, truncation at max_seq_length, padding to the
       longest in the batch), mean pooling + L2 normalize in numpy (as the model's modules say).
For each peer: one warm-up pass on the first 50 texts, then the whole corpus timed (wall,
texts/s, tokens/s; tokens = sum over texts of the truncated token count with special tokens).
ORT's embeddings are compared with sentence-transformers' (max abs difference; goal < 1e-4).

Also in the same run: cold start (a fresh Python process that imports sentence-transformers,
loads the model and embeds one sentence; wall time of the whole process, median of
--cold-repeat), and sgemm GFLOP/s of numpy float32 matmul (128×384)·(384×1536) and
(512×768)·(768×3072) at N threads (threadpoolctl), before and after the peers; plus the
system's OpenBLAS (the library tempscale links) through ctypes when it is installed.

Noise: before each timed section the script waits (at most --max-wait s) for other processes to
use < 0.3 cores, and records the CPU that other processes used during each timed run
("other_cores_during", in cores). The system OpenBLAS is also probed with OPENBLAS_CORETYPE forced
to Haswell/SkylakeX in child processes, as a diagnostic only.

The OPENBLAS_* variables are left as the environment has them and recorded in the result.
With --threads 1, the tokenizers library's own parallelism is switched off
(TOKENIZERS_PARALLELISM=false) so that no peer uses a second core; with N > 1 RAYON_NUM_THREADS
defaults to N.
"""
import argparse
import ctypes
import ctypes.util
import gc
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_CACHE = os.path.join(REPO, ".cache", "onnx")
OPSET = 18
WARMUP_TEXTS = 50
COLD_SENTENCE = "This is an example sentence."
SGEMM_SHAPES = [(128, 384, 1536), (512, 768, 3072)]  # M, K, N: (M×K)·(K×N)
ENV_KEYS = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OPENBLAS_VERBOSE",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS", "RAYON_NUM_THREADS",
            "TOKENIZERS_PARALLELISM", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"]


def log(msg):
    print(f"[bench_peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def _proc_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle  # busy jiffies, all cores (guest time is already in user)


class OtherLoad:
    """CPU used by everything except this process during an interval, in cores (0..cpu_count)."""

    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), _proc_stat(), sum(os.times()[:4])
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t
        busy = (_proc_stat() - self.busy) / os.sysconf("SC_CLK_TCK")
        own = sum(os.times()[:4]) - self.own
        self.cores = max(0.0, (busy - own) / wall) if wall > 0 else 0.0
        return False


def wait_quiet(max_wait, threshold=0.3, sample=2.0):
    """Wait (at most max_wait s) until other processes use < threshold cores over a sample."""
    start = time.perf_counter()
    while True:
        with OtherLoad() as ol:
            time.sleep(sample)
        waited = time.perf_counter() - start
        if ol.cores < threshold or waited >= max_wait:
            return {"waited_s": round(waited, 1), "other_cores_at_start": round(ol.cores, 2),
                    "quiet": ol.cores < threshold}
        if int(waited) % 20 < sample:
            log(f"  others use {ol.cores:.2f} cores; waiting for quiet ({waited:.0f}/{max_wait:.0f} s)")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --------------------------------------------------------------------------- ONNX export


def onnx_cache_path(model_dir):
    model_dir = os.path.abspath(model_dir)
    import torch  # noqa: the exporter's version is part of the key
    key = {"model": model_dir, "torch": torch.__version__, "opset": OPSET}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith((".safetensors", ".bin")) or name == "config.json":
            st = os.stat(os.path.join(model_dir, name))
            key[name] = [st.st_size, st.st_mtime_ns]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = os.path.join(ONNX_CACHE, os.path.basename(model_dir.rstrip("/")))
    return os.path.join(folder, f"model-{digest}.onnx"), key


def export_onnx(model_dir, path, key):
    """Runs in its own process (--_export) so the timed process never held the exporter."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cpu")
    hf = st[0].auto_model.eval()
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids")
              if n in st.tokenizer.model_input_names]

    class Encoder(torch.nn.Module):
        def __init__(self, hf):
            super().__init__()
            self.hf = hf

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return self.hf(**kw).last_hidden_state

    enc = st.tokenizer(["an example input of some length, for tracing", "short", "a third one"],
                       padding=True, return_tensors="pt")
    args = tuple(enc[n] for n in inputs)
    batch = torch.export.Dim("batch", min=1, max=65536)
    seq = torch.export.Dim("seq", min=1, max=st.max_seq_length)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.onnx"
    t0 = time.perf_counter()
    torch.onnx.export(Encoder(hf).eval(), args, tmp, input_names=inputs,
                      output_names=["last_hidden_state"],
                      dynamic_shapes={n: {0: batch, 1: seq} for n in inputs},
                      opset_version=OPSET, dynamo=True, external_data=False)
    wall = time.perf_counter() - t0
    os.replace(tmp, path)
    meta = dict(key, route="torch.onnx.export(dynamo=True, dynamic_shapes=Dim(batch), Dim(seq))",
                export_seconds=wall, inputs=inputs, max_seq_length=st.max_seq_length)
    with open(path[:-5] + ".json", "w") as f:
        json.dump(meta, f, indent=1)


def ensure_onnx(model_dir):
    path, key = onnx_cache_path(model_dir)
    if os.path.exists(path):
        return path, {"cached": True, "path": path}
    log(f"exporting ONNX → {path}")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.abspath(__file__), "--_export", "--model", model_dir],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(path[:-5] + ".json") as f:
        meta = json.load(f)
    return path, {"cached": False, "path": path, "export_process_seconds": wall,
                  "export_seconds": meta.get("export_seconds"), "route": meta.get("route")}


# --------------------------------------------------------------------------- sgemm


def time_loop(fn, min_seconds=1.0, min_iters=10):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def sgemm_system_coretypes(threads, coretypes=("Haswell", "SkylakeX")):
    """Diagnostic only: the system OpenBLAS with OPENBLAS_CORETYPE forced, in child processes
    (the main measurements keep the environment as it is)."""
    out = {}
    for ct in coretypes:
        env = dict(os.environ, OPENBLAS_CORETYPE=ct)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--_sgemm_system", "--model", "-",
                            "--threads", str(threads)], env=env, capture_output=True, text=True)
        out[ct] = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {"error": p.stderr[-500:]}
    return out


def sgemm_numpy(threads):
    import numpy as np
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    out = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for m, k, n in SGEMM_SHAPES:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            times = time_loop(lambda: np.matmul(a, b, out=c))
            flop = 2.0 * m * k * n
            out[f"{m}x{k}x{n}"] = {"gflops_best": flop / min(times) / 1e9,
                                   "gflops_median": flop / statistics.median(times) / 1e9,
                                   "iters": len(times)}
    return out


def sgemm_system_openblas(threads):
    """cblas_sgemm of the system's libopenblas (what tempscale links), if present."""
    import numpy as np
    name = None
    for cand in ("/usr/lib/x86_64-linux-gnu/libopenblas.so.0", ctypes.util.find_library("openblas")):
        if cand and (os.path.exists(cand) or not cand.startswith("/")):
            name = cand
            break
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.openblas_set_num_threads(ctypes.c_int(threads))
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    f = ctypes.POINTER(ctypes.c_float)
    lib.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, f, ctypes.c_int, f, ctypes.c_int,
                                                     ctypes.c_float, f, ctypes.c_int]
    rng = np.random.default_rng(0)
    res = {"library": os.path.realpath(name) if name.startswith("/") else name,
           "config": lib.openblas_get_config().decode(), "core": lib.openblas_get_corename().decode(),
           "threads": lib.openblas_get_num_threads()}
    for m, k, n in SGEMM_SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), dtype=np.float32)
        pa, pb, pc = (x.ctypes.data_as(f) for x in (a, b, c))
        call = lambda: lib.cblas_sgemm(101, 111, 111, m, n, k, 1.0, pa, k, pb, n, 0.0, pc, n)  # noqa: E731
        times = time_loop(call)
        assert np.allclose(c, a @ b, rtol=1e-3, atol=1e-2)
        flop = 2.0 * m * k * n
        res[f"{m}x{k}x{n}"] = {"gflops_best": flop / min(times) / 1e9,
                               "gflops_median": flop / statistics.median(times) / 1e9,
                               "iters": len(times)}
    return res


# --------------------------------------------------------------------------- cold start

COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[2]))
from sentence_transformers import SentenceTransformer
t1 = time.perf_counter()
m = SentenceTransformer(sys.argv[1], device="cpu")
t2 = time.perf_counter()
e = m.encode([sys.argv[3]])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "encode_s": t3 - t2,
                  "first5": [float(x) for x in e[0][:5]]}))
"""


def cold_start(model_dir, threads, repeat):
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", COLD_CHILD, model_dir, str(threads), COLD_SENTENCE],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"cold-start child failed: {p.stderr[-2000:]}")
        inner = json.loads(p.stdout.strip().splitlines()[-1])
        runs.append(dict(inner, process_wall_s=wall))
    return {"runs": runs, "median_process_wall_s": statistics.median(r["process_wall_s"] for r in runs),
            "sentence": COLD_SENTENCE}


# --------------------------------------------------------------------------- peers


def length_order(texts):
    import numpy as np
    # exactly sentence-transformers' order (np.argsort of negative character lengths)
    return np.argsort([-len(t) for t in texts])


class OrtPeer:
    def __init__(self, path, st_model, threads, batch):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.session_seconds = time.perf_counter() - t0
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = st_model.tokenizer
        self.max_len = st_model.max_seq_length
        self.batch = batch
        pooling = st_model[1]
        mode = getattr(pooling, "pooling_mode", None) or (
            "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else None)
        if mode != "mean":
            raise SystemExit(f"bench_peers: ORT peer implements mean pooling only, model has {mode}")
        self.normalize = any(type(m).__name__ == "Normalize" for m in st_model)

    def encode(self, texts):
        import numpy as np
        order = length_order(texts)
        out = [None] * len(texts)
        for s in range(0, len(texts), self.batch):
            idx = order[s:s + self.batch]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation="longest_first",
                                 max_length=self.max_len, return_tensors="np")
            feeds = {n: enc[n].astype(np.int64, copy=False) for n in self.inputs}
            hidden = self.session.run(None, feeds)[0]
            mask = enc["attention_mask"].astype(np.float32)[:, :, None]
            emb = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            if self.normalize:
                emb = emb / np.clip(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12, None)
            for j, i in enumerate(idx):
                out[i] = emb[j]
        return np.stack(out)


def ensure_ort_int8(onnx_path):
    """ONNX Runtime's dynamic int8 quantisation of the same export, with its defaults (QInt8 weights per tensor,
    activations u8 per tensor at run time), made once next to the f32 export."""
    path = onnx_path[:-5] + "-int8-dynamic.onnx"
    if not os.path.exists(path):
        from onnxruntime.quantization import quantize_dynamic, QuantType
        log(f"quantize_dynamic → {path}")
        tmp = path + ".tmp.onnx"
        quantize_dynamic(onnx_path, tmp, weight_type=QuantType.QInt8)
        os.replace(tmp, path)
    return path


def timed(fn, repeat, max_wait):
    runs = []
    result = None
    for _ in range(repeat):
        gc.collect()
        quiet = wait_quiet(max_wait)
        la = loadavg()
        with OtherLoad() as ol:
            t0 = time.perf_counter()
            result = fn()
            wall = time.perf_counter() - t0
        runs.append({"wall_s": wall, "loadavg_before": la, "other_cores_during": round(ol.cores, 2),
                     "wait": quiet})
    return result, runs


def summarize(runs, n_texts, n_tokens):
    best = min(r["wall_s"] for r in runs)
    med = statistics.median(r["wall_s"] for r in runs)
    return {"runs": runs, "wall_s_best": best, "wall_s_median": med,
            "texts_per_s": n_texts / med, "tokens_per_s": n_tokens / med,
            "texts_per_s_best": n_texts / best, "tokens_per_s_best": n_tokens / best}


def versions():
    import importlib.metadata as md
    v = {"python": sys.version.split()[0]}
    for pkg in ["torch", "transformers", "sentence-transformers", "tokenizers", "onnxruntime", "onnx",
                "onnxscript", "onnx-ir", "numpy", "threadpoolctl", "safetensors"]:
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            v[pkg] = None
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N texts of the corpus")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes over the corpus per peer")
    ap.add_argument("--cold-repeat", type=int, default=3)
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--peers", default="st,ort")
    ap.add_argument("--max-wait", type=float, default=60,
                    help="before each timed section, wait up to this many seconds for other processes "
                         "to go quiet (< 0.3 cores); the CPU they used during each run is recorded")
    ap.add_argument("--_export", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_sgemm_system", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a._sgemm_system:
        print(json.dumps(sgemm_system_openblas(a.threads)))
        return
    if a._export:
        path, key = onnx_cache_path(a.model)
        export_onnx(a.model, path, key)
        return
    if not (a.corpus and a.out):
        ap.error("--corpus and --out are required")
    if a.threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("RAYON_NUM_THREADS", str(a.threads))
    peers = [p.strip() for p in a.peers.split(",") if p.strip()]

    env = {k: os.environ.get(k) for k in ENV_KEYS}
    with open(a.corpus, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    corpus_total = len(texts)
    if a.limit:
        texts = texts[:a.limit]
    result = {
        "model": os.path.abspath(a.model), "corpus": os.path.abspath(a.corpus),
        "corpus_texts_total": corpus_total, "texts": len(texts), "chars": sum(map(len, texts)),
        "limit": a.limit or None, "threads": a.threads, "batch": a.batch, "repeat": a.repeat,
        "environment": env, "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                                        "loadavg_start": loadavg(), "platform": platform.platform()},
        "versions": versions(),
    }

    log("sgemm before the peers")
    result["sgemm_wait"] = wait_quiet(a.max_wait)
    with OtherLoad() as ol:
        result["sgemm_numpy_before"] = sgemm_numpy(a.threads)
        result["sgemm_system_openblas"] = sgemm_system_openblas(a.threads)
    result["sgemm_other_cores_during"] = round(ol.cores, 2)
    if result["sgemm_system_openblas"]:
        result["sgemm_system_openblas_forced_coretype"] = sgemm_system_coretypes(a.threads)

    onnx_path = None
    if "ort" in peers:
        onnx_path, result["onnx_export"] = ensure_onnx(a.model)

    if not a.no_cold:
        log(f"cold start ×{a.cold_repeat}")
        wait = wait_quiet(a.max_wait)
        with OtherLoad() as ol:
            result["cold_start_st"] = cold_start(a.model, a.threads, a.cold_repeat)
        result["cold_start_st"].update(wait=wait, other_cores_during=round(ol.cores, 2))

    import numpy as np
    import torch
    from threadpoolctl import threadpool_info
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    st = SentenceTransformer(a.model, device="cpu")
    result["st_load_s"] = time.perf_counter() - t0
    result["max_seq_length"] = st.max_seq_length
    result["torch_threads"] = torch.get_num_threads()
    result["torch_interop_threads"] = torch.get_num_interop_threads()
    result["attn_implementation"] = getattr(st[0].auto_model.config, "_attn_implementation", None)

    lengths = [len(x) for x in st.tokenizer(texts, truncation="longest_first",
                                            max_length=st.max_seq_length)["input_ids"]]
    n_tokens = sum(lengths)
    order = length_order(texts)
    padded = sum(max(lengths[i] for i in order[s:s + a.batch]) * len(order[s:s + a.batch])
                 for s in range(0, len(texts), a.batch))
    result["tokens"] = {"total": n_tokens, "padded_total": padded, "mean": n_tokens / len(texts),
                        "max": max(lengths), "truncated_texts": sum(1 for x in lengths if x >= st.max_seq_length)}
    warm = texts[:WARMUP_TEXTS]
    emb = {}

    if "st" in peers:
        log(f"sentence-transformers: warm-up {len(warm)}, then {len(texts)} texts")
        st.encode(warm, batch_size=a.batch)
        emb["st"], runs = timed(lambda: st.encode(texts, batch_size=a.batch, convert_to_numpy=True),
                                a.repeat, a.max_wait)
        result["st"] = summarize(runs, len(texts), n_tokens)
        log(f"  st: {result['st']['wall_s_median']:.2f} s, {result['st']['texts_per_s']:.1f} texts/s")

    if "ort" in peers:
        peer = OrtPeer(onnx_path, st, a.threads, a.batch)
        log(f"onnxruntime: warm-up {len(warm)}, then {len(texts)} texts")
        peer.encode(warm)
        emb["ort"], runs = timed(lambda: peer.encode(texts), a.repeat, a.max_wait)
        result["ort"] = summarize(runs, len(texts), n_tokens)
        result["ort"]["session_create_s"] = peer.session_seconds
        result["ort"]["settings"] = {"intra_op_num_threads": a.threads, "inter_op_num_threads": 1,
                                     "graph_optimization_level": "ORT_ENABLE_ALL",
                                     "execution_mode": "ORT_SEQUENTIAL", "opset": OPSET,
                                     "normalize": peer.normalize}
        log(f"  ort: {result['ort']['wall_s_median']:.2f} s, {result['ort']['texts_per_s']:.1f} texts/s")

    if "ort-int8" in peers:
        q_path = ensure_ort_int8(onnx_path or ensure_onnx(a.model)[0])
        peer = OrtPeer(q_path, st, a.threads, a.batch)
        log(f"onnxruntime int8 (quantize_dynamic): warm-up {len(warm)}, then {len(texts)} texts")
        peer.encode(warm)
        emb["ort-int8"], runs = timed(lambda: peer.encode(texts), a.repeat, a.max_wait)
        result["ort-int8"] = summarize(runs, len(texts), n_tokens)
        result["ort-int8"]["path"] = q_path
        if "st" in emb:
            e, r = emb["ort-int8"], emb["st"]
            cos = np.sum(e * r, axis=1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(r, axis=1))
            result["ort-int8"]["min_cosine_vs_st"] = float(cos.min())
        log(f"  ort-int8: {result['ort-int8']['wall_s_median']:.2f} s, {result['ort-int8']['texts_per_s']:.1f} texts/s")

    if "st" in emb:
        np.save(a.out[:-5] + "-st.npy", emb["st"])

    if "st" in emb and "ort" in emb:
        d = np.abs(emb["st"] - emb["ort"])
        cos = np.sum(emb["st"] * emb["ort"], axis=1) / (
            np.linalg.norm(emb["st"], axis=1) * np.linalg.norm(emb["ort"], axis=1))
        result["ort_vs_st"] = {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
                               "min_cosine": float(cos.min()), "goal": 1e-4,
                               "ok": bool(d.max() < 1e-4)}
        if "st" in result and "ort" in result:
            result["ort_speedup_vs_st"] = result["st"]["wall_s_median"] / result["ort"]["wall_s_median"]

    log("sgemm (numpy) after the peers")
    with OtherLoad() as ol:
        result["sgemm_numpy_after"] = sgemm_numpy(a.threads)
    result["sgemm_numpy_after_other_cores_during"] = round(ol.cores, 2)
    result["threadpools"] = threadpool_info()
    result["machine"]["loadavg_end"] = loadavg()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"wrote {a.out}")
    brief = {k: result[k] for k in ("texts", "threads", "batch") }
    for p in ("st", "ort", "ort-int8"):
        if p in result:
            brief[p] = {"wall_s": round(result[p]["wall_s_median"], 2),
                        "texts_per_s": round(result[p]["texts_per_s"], 1),
                        "tokens_per_s": round(result[p]["tokens_per_s"]),
                        "other_cores_during": result[p]["runs"][-1]["other_cores_during"]}
    if "ort_vs_st" in result:
        brief["ort_vs_st_max_abs_diff"] = result["ort_vs_st"]["max_abs_diff"]
    if "cold_start_st" in result:
        brief["cold_start_s"] = round(result["cold_start_st"]["median_process_wall_s"], 2)
    brief["sgemm_numpy_gflops"] = {s: round(v["gflops_best"], 1) for s, v in result["sgemm_numpy_before"].items()}
    if result.get("sgemm_system_openblas"):
        brief["sgemm_system_openblas_gflops"] = {
            result["sgemm_system_openblas"]["core"]: {s: round(result["sgemm_system_openblas"][s]["gflops_best"], 1)
                                                      for s in result["sgemm_numpy_before"]}}
    brief["sgemm_other_cores_during"] = result["sgemm_other_cores_during"]
    print(json.dumps(brief))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tempscale benchmarks: ratios against peers measured in the same run, on the same inputs.

usage: bench.py TEMPSCALE_BINARY MODEL_DIR [MODEL_DIR …] [--repeat N] [--llama-convert PATH --python PY]

convert: `tempscale convert MODEL -o X.tsm` (f32, f16) against `cp` of the weight file — wall
time (median of N warm runs) as a ratio to cp, and peak RSS of the child (wait4's ru_maxrss)
against the goal of model bytes + 64 MB.

patch: `tempscale patch MODEL -t 0.8` to native and to an HF folder, against `cp` and against
llama.cpp's own converter (convert_hf_to_gguf.py from the llama-cpp-python source package, run
by the reference venv's python) on the same model, where it supports the architecture.

deployed files (FILE.onnx / FILE.gguf arguments): `tempscale patch FILE -t 0.8` against `cp` of the
file and, for ONNX, against onnx.load + onnx.save in Python (the floor of any Python ONNX edit);
peak RSS against the file size (model + external data). tempscale fsyncs what it writes; cp does not.
"""
import os, shutil, statistics, subprocess, sys, tempfile, time


def run(cmd):
    """Wall seconds and peak RSS (bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed: {err}")
    return wall, usage.ru_maxrss * 1024


def measure(cmd, repeat):
    runs = [run(cmd) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), max(r for _, r in runs)


def patch_section(binary, model, repeat, convert, python):
    weights = os.path.join(model, "model.safetensors")
    size = os.path.getsize(weights)
    out = tempfile.mkdtemp(prefix="tempscale-bench-")
    try:
        run(["cat", weights])
        cp_wall, cp_rss = measure(["cp", weights, os.path.join(out, "copy")], repeat)
        rows = [("cp model.safetensors", cp_wall, cp_rss)]
        for fmt, dst in [("native", "p.tsm"), ("hf", "p-hf")]:
            wall, rss = measure([binary, "patch", model, "-t", "0.8", "--format", fmt, "-o", os.path.join(out, dst), "--force"], repeat)
            rows.append((f"tempscale patch → {fmt}", wall, rss))
        if convert and python and os.path.exists(convert):
            cmd = [python, convert, model, "--outfile", os.path.join(out, "l.gguf"), "--outtype", "f32"]
            probe = subprocess.run(cmd, capture_output=True, text=True)
            if probe.returncode == 0:
                wall, rss = measure(cmd, max(1, repeat // 2))
                rows.append(("llama.cpp convert_hf_to_gguf", wall, rss))
            else:
                rows.append(("llama.cpp convert_hf_to_gguf", None, (probe.stderr.strip().splitlines() or ["failed"])[-1][:60]))
        name = os.path.basename(model.rstrip("/"))
        print(f"\npatch {name} ({size / 1e6:.1f} MB weights), τ = 0.8")
        print(f"{'job':<32}{'wall s':>9}{'× cp':>8}{'× llama':>9}{'peak RSS MB':>13}")
        llama = next((w for j, w, _ in rows if j.startswith("llama") and w), None)
        for job, wall, rss in rows:
            if wall is None:
                print(f"{job:<32}  {rss}")
                continue
            lr = f"{wall / llama:>9.2f}" if llama else f"{'—':>9}"
            print(f"{job:<32}{wall:>9.3f}{wall / cp_wall:>8.2f}{lr}{rss / 1e6:>13.1f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def deployed_section(binary, files, repeat, python):
    """`tempscale patch FILE -t 0.8 -o OUT` on deployed .onnx/.gguf files, against `cp` of the same file and, for
    ONNX, against the least a Python tool pays to change one tensor: onnx.load + onnx.save of the same model."""
    out = tempfile.mkdtemp(prefix="tempscale-bench-")
    try:
        print(f"\npatch deployed files in place (τ = 0.8), median of {repeat} warm runs")
        print(f"{'file':<34}{'MB':>8}{'cp s':>8}{'patch s':>9}{'× cp':>7}{'× onnx py':>10}{'RSS MB':>9}{'RSS/size':>9}")
        for f in files:
            data = f + ".data" if os.path.exists(f + ".data") else None
            size = os.path.getsize(f) + (os.path.getsize(data) if data else 0)
            run(["cat", f])
            ext = os.path.splitext(f)[1]
            cp_wall, _ = measure(["cp", f] + ([data] if data else []) + [out + "/"], repeat)
            wall, rss = measure([binary, "patch", f, "-t", "0.8", "-o", os.path.join(out, "p" + ext), "--force"], repeat)
            peer = ""
            if ext == ".onnx" and python:
                code = ("import onnx,sys; m = onnx.load(sys.argv[1]); onnx.save(m, sys.argv[2], save_as_external_data=True, location='py.onnx.data')"
                        if data else "import onnx,sys; onnx.save(onnx.load(sys.argv[1]), sys.argv[2])")
                pw, _ = measure([python, "-c", code, f, os.path.join(out, "py.onnx")], max(1, repeat // 2))
                peer = f"{wall / pw:>10.2f}"
            name = "/".join(f.rstrip("/").split("/")[-2:])
            print(f"{name:<34}{size / 1e6:>8.1f}{cp_wall:>8.3f}{wall:>9.3f}{wall / cp_wall:>7.1f}{peer or '':>10}{rss / 1e6:>9.1f}{rss / size:>9.2f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    def opt(name, default=None):
        return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default
    binary, model = sys.argv[1], sys.argv[2]
    repeat = int(opt("--repeat", 5))
    models = [a for a in sys.argv[2:] if os.path.isdir(a)]
    weights = os.path.join(model, "model.safetensors")
    size = os.path.getsize(weights)
    out = tempfile.mkdtemp(prefix="tempscale-bench-")
    try:
        run(["cat", weights])  # warm the page cache for everyone alike
        cp_wall, cp_rss = measure(["cp", weights, os.path.join(out, "copy.safetensors")], repeat)
        print(f"machine: {os.cpu_count()} cores; model {model} ({size / 1e6:.1f} MB weights); median of {repeat} warm runs")
        print(f"{'job':<28}{'wall s':>9}{'× cp':>8}{'peak RSS MB':>13}{'goal MB':>9}  verdict")
        print(f"{'cp model.safetensors':<28}{cp_wall:>9.3f}{1.0:>8.2f}{cp_rss / 1e6:>13.1f}{'':>9}")
        goal = size + 64 * 2**20
        for dtype in ["f32", "f16"]:
            dst = os.path.join(out, f"m-{dtype}.tsm")
            wall, rss = measure([binary, "convert", model, "-o", dst, "--dtype", dtype, "--force"], repeat)
            verdict = "ok" if rss <= goal else f"over by {(rss - goal) / 1e6:.1f} MB"
            print(f"{'tempscale convert ' + dtype:<28}{wall:>9.3f}{wall / cp_wall:>8.2f}{rss / 1e6:>13.1f}{goal / 1e6:>9.1f}  {verdict}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for m in models:
        patch_section(binary, m, repeat, opt("--llama-convert"), opt("--python"))
    deployed = [a for a in sys.argv[2:] if os.path.isfile(a) and a.endswith((".onnx", ".gguf"))]
    if deployed:
        deployed_section(binary, deployed, repeat, opt("--python"))


if __name__ == "__main__":
    main()

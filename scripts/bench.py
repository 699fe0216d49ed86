#!/usr/bin/env python3
"""tempscale benchmarks: ratios against peers measured in the same run, on the same inputs.

usage: bench.py TEMPSCALE_BINARY MODEL_DIR [--repeat N]

convert: `tempscale convert MODEL -o X.tsm` (f32, f16) against `cp` of the weight file — wall
time (median of N warm runs) as a ratio to cp, and peak RSS of the child (wait4's ru_maxrss)
against the goal of model bytes + 64 MB.
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


def main():
    binary, model = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 5
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


if __name__ == "__main__":
    main()

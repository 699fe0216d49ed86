#!/usr/bin/env python3
"""Peak RSS of `tempscale embed` on native f32, bf16 and q8 files (each at its default precision: f32, bf16, int8)
against the goal file size × 1.2 + 64 MB, on one sentence and on 200 real texts.

usage: bench_memory.py TEMPSCALE MODEL_DIR...
"""
import json, os, resource, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak(cmd):
    """Peak RSS (bytes) of one child process, from wait4's rusage."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"bench_memory: {' '.join(cmd)} failed ({status})")
    return ru.ru_maxrss * 1024


def main():
    binary, models = sys.argv[1], sys.argv[2:]
    work = tempfile.mkdtemp(prefix="tempscale-mem-")
    texts = os.path.join(work, "texts.jsonl")
    src = os.path.join(ROOT, ".cache", "data", "bbc-classification", "texts.jsonl")
    with open(src) as f, open(texts, "w") as out:
        for i, line in enumerate(f):
            if i >= 200:
                break
            out.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
    one = os.path.join(work, "one.txt")
    open(one, "w").write("This is an example sentence.\n")
    print(f"{'file':<34}{'MB':>8}{'goal MB':>9}{'1 text MB':>11}{'200 BBC MB':>12}  verdict")
    for m in models:
        name = os.path.basename(m.rstrip("/"))
        for dtype in ["f32", "bf16", "q8"]:
            path = os.path.join(work, f"{name}-{dtype}.tsm")
            subprocess.run([binary, "convert", m, "-o", path, "--dtype", dtype], check=True, stdout=subprocess.DEVNULL)
            size = os.path.getsize(path)
            goal = size * 1.2 + 64 * 2**20
            a = peak([binary, "embed", path, "--input", one])
            b = peak([binary, "embed", path, "--input", texts, "--format", "npy", "--output", os.path.join(work, "e.npy")])
            verdict = "ok" if max(a, b) <= goal else f"over by {(max(a, b) - goal) / 1e6:.1f} MB"
            if dtype == "f32":
                verdict = "(no goal for f32)"
            print(f"{name + ' ' + dtype:<34}{size / 1e6:>8.1f}{goal / 1e6:>9.1f}{a / 1e6:>11.1f}{b / 1e6:>12.1f}  {verdict}")
            os.remove(path)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The demo's last step: patch MiniLM with τ = 0.8 into every format, verify each against the
reference stack's τ = 0.8 golden, print one table.

usage: demo_summary.py TEMPSCALE MODEL GOLDEN OUTDIR
native and hf are verified by `tempscale verify` (our encoder, τ baked in the weights, no run-time
τ); gguf by llama.cpp itself (llama-cpp-python, scripts/check_gguf.py), on the golden texts of up
to 128 ids that llama.cpp tokenizes exactly as HF does.
"""
import json, os, subprocess, sys

binary, model, golden, out = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
python = os.path.join(os.path.dirname(here), ".venv", "bin", "python")
tau = "0.8"
rows = []


def size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


for fmt, dest, extra in [("native", "minilm-t08.tsm", []), ("hf", "minilm-t08-hf", []), ("gguf", "minilm-t08.gguf", ["--dtype", "f32"])]:
    path = os.path.join(out, dest)
    subprocess.run([binary, "patch", model, "--temperature", tau, "--format", fmt, "-o", path, "--force"] + extra,
                   check=True, stdout=subprocess.DEVNULL)
    if fmt == "gguf":
        r = subprocess.run([python, os.path.join(here, "check_gguf.py"), "llama", path, golden, "--tau", tau, "--max-ids", "128"],
                           capture_output=True, text=True)
        j = json.loads(r.stdout)
        rows.append((fmt, size(path), j["worst_cosine"], None, r.returncode == 0,
                     f"llama.cpp, {j['compared']} texts ({j['set_aside']} tokenized differently, {j['long']} over 128 ids left out)"))
    else:
        r = subprocess.run([binary, "verify", path, "--golden", golden, "--temperature", tau, "--json"], capture_output=True, text=True)
        j = json.loads(r.stdout)["temperatures"][0]
        rows.append((fmt, size(path), j["worst_cosine"], j["max_abs_diff"], r.returncode == 0, "tempscale encoder, all 123 texts"))

print(f"\nMiniLM patched with τ = {tau}, checked against the reference stack's run-time τ = {tau} golden")
print(f"{'format':<8}{'size':>10}{'worst cosine':>15}{'max abs diff':>14}  {'result':<6}  checked by")
for fmt, n, cos, diff, ok, how in rows:
    d = f"{diff:.2e}" if diff is not None else "—"
    print(f"{fmt:<8}{n / 1e6:>8.1f}MB{cos:>15.7f}{d:>14}  {'pass' if ok else 'FAIL':<6}  {how}")
sys.exit(0 if all(r[4] for r in rows) else 1)

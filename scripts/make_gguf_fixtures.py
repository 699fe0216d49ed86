#!/usr/bin/env python3
"""GGUF files made by llama.cpp's own tools, for testing `tempscale patch FILE.gguf` (built at test time).

    make_gguf_fixtures.py --convert CONVERT_HF_TO_GGUF.PY --tempscale BIN --model MINILM_DIR --out DIR [--tau 0.8]

Writes into DIR (atomically: a temp folder renamed into place, then .complete):
  minilm-f32.gguf, minilm-f16.gguf          convert_hf_to_gguf.py --outtype f32 / f16 of the HF folder
  minilm-q8_0.gguf, -q4_0, -q4_1, -q5_0, -q5_1, -q4_k_m, -q6_k
                                            llama_model_quantize (llama-cpp-python) of minilm-f32.gguf
  baked/minilm-<type>.gguf                  the same, made from `tempscale patch MINILM -t TAU --format hf`
                                            (τ baked into the f32 checkpoint before converting and quantizing)
  MANIFEST.json                             the files, their tensor types (gguf-py) and sha256, the tool versions

llama.cpp's K-quants need rows that are a multiple of 256; MiniLM's 384-wide matrices are not, so the quantizer
falls back to other types for them (the manifest lists what each file holds).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

QUANTS = {  # llama.h enum llama_ftype
    "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q6_k": 18, "q4_k_m": 15,
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert(script, model, out, outtype):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    subprocess.run([sys.executable, script, model, "--outfile", out, "--outtype", outtype], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def quantize(src, dst, ftype):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        raise SystemExit(f"llama_model_quantize {dst}: status {rc}")


def types_of(path):
    from gguf import GGUFReader
    counts = {}
    for t in GGUFReader(path).tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    return counts


def family(script, model, folder, prefix):
    files = {}
    for outtype in ("f32", "f16"):
        p = os.path.join(folder, f"{prefix}-{outtype}.gguf")
        convert(script, model, p, outtype)
        files[outtype] = p
    for name, ftype in QUANTS.items():
        p = os.path.join(folder, f"{prefix}-{name}.gguf")
        quantize(files["f32"], p, ftype)
        files[name] = p
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convert", required=True)
    ap.add_argument("--tempscale", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tau", type=float, default=0.8)
    a = ap.parse_args()
    import llama_cpp
    import gguf

    parent = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".gguf-fixtures-", dir=parent)
    try:
        files = family(a.convert, a.model, tmp, "minilm")
        baked_hf = os.path.join(tmp, "baked-hf")
        subprocess.run([a.tempscale, "patch", a.model, "-t", str(a.tau), "--format", "hf", "-o", baked_hf], check=True,
                       stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(tmp, "baked"))
        baked = family(a.convert, baked_hf, os.path.join(tmp, "baked"), "minilm")
        shutil.rmtree(baked_hf)
        manifest = {
            "tau": a.tau, "model": os.path.basename(os.path.normpath(a.model)),
            "llama_cpp_python": llama_cpp.__version__, "gguf": gguf.__version__ if hasattr(gguf, "__version__") else None,
            "files": {k: {"path": os.path.basename(v), "types": types_of(v), "sha256": sha256(v)} for k, v in files.items()},
            "baked": {k: {"path": "baked/" + os.path.basename(v), "types": types_of(v), "sha256": sha256(v)} for k, v in baked.items()},
        }
        with open(os.path.join(tmp, "MANIFEST.json"), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        open(os.path.join(tmp, ".complete"), "w").close()
        if os.path.exists(a.out):
            shutil.rmtree(a.out)
        os.rename(tmp, a.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for k, v in manifest["files"].items():
        print(f"{k:8} {v['types']}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Expected tensor values for a real model, as the reference stack reads them, plus a PyTorch
zip checkpoint of the same weights (torch.save) for the .bin reader tests.

usage: real_model_expectations.py MODEL_DIR OUT_DIR
writes OUT_DIR/minilm-expected.json and OUT_DIR/minilm-bin/{pytorch_model.bin,config.json}
The JSON has the layout of Tests/Fixtures/expected.json: name -> {dtype, shape, sha256_f32 | sha256_raw, first, sum}.
"""
import hashlib, json, os, shutil, sys, tempfile

import torch
from safetensors.torch import load_file

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32"}


def describe(t):
    t = t.detach().contiguous()
    entry = {"dtype": DTYPES[t.dtype], "shape": list(t.shape)}
    if t.is_floating_point():
        f = t.to(torch.float32).contiguous()
        entry["sha256_f32"] = hashlib.sha256(f.numpy().tobytes()).hexdigest()
        entry["first"] = [float(x) for x in f.flatten()[:4]]
    else:
        entry["sha256_raw"] = hashlib.sha256(t.numpy().tobytes()).hexdigest()
        entry["first"] = [int(x) for x in t.flatten()[:4]]
    entry["sum"] = float(t.to(torch.float64).sum())
    return entry


def atomic_write(path, write):
    """Write under the final file name in a temp folder beside it (torch names the archive's top
    folder after the file), then rename into place."""
    tmp_dir = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=".tmp-")
    tmp = os.path.join(tmp_dir, os.path.basename(path))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def main():
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    os.makedirs(os.path.join(out_dir, "minilm-bin"), exist_ok=True)
    bin_path = os.path.join(out_dir, "minilm-bin", "pytorch_model.bin")
    atomic_write(bin_path, lambda p: torch.save(state, p))
    shutil.copy(os.path.join(model_dir, "config.json"), os.path.join(out_dir, "minilm-bin", "config.json"))
    expected = {name: describe(t) for name, t in state.items()}
    text = json.dumps({"model.safetensors": expected, "torch": torch.__version__}, indent=1)
    atomic_write(os.path.join(out_dir, "minilm-expected.json"), lambda p: open(p, "w").write(text))
    print(f"{len(expected)} tensors described; wrote {bin_path}")


if __name__ == "__main__":
    main()

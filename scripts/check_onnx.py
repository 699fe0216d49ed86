#!/usr/bin/env python3
"""Checks ONNX files tempscale reads and writes, with onnx and onnxruntime (scripts/onnx-requirements.txt).
Prints one JSON object.

  check_onnx.py reference IN OUT --tau T [--multiply] [--only 0,2]
      The run-time-τ reference: IN with a Div(τ) inserted before every Softmax (the scores S/τ exactly as
      TempScale defines them). Refuses a graph without Softmax nodes. --multiply: Mul(1/τ) instead, the same
      scores up to f32 rounding (how far two such references drift apart is the noise floor of int8 graphs,
      which re-quantize activations).

  check_onnx.py forms IN OUTDIR
      The forms ONNX Runtime's own tools make of IN: fused.onnx (onnxruntime.transformers optimize_model,
      model_type bert, opt_level 0), int8.onnx (quantize_dynamic, QInt8 weights), fused-int8.onnx
      (quantize_dynamic of the fused graph), external.onnx (+ external.onnx.data: every tensor outside),
      ort-extended.onnx / ort-int8-extended.onnx (what an InferenceSession saves at ORT_ENABLE_EXTENDED:
      FusedMatMul; DynamicQuantizeMatMul, MatMulIntegerToFloat), nbits.onnx (MatMulNBitsQuantizer, 4 bits).

  check_onnx.py compare A B --golden G [--batch 8] [--max-texts N]
      Runs A and B in onnxruntime on the golden file's token ids (texts batched by --batch, padded, so
      the mask is exercised) and reports, per output name they share, the largest absolute difference
      and the smallest row cosine (for 2-D outputs; 3-D outputs over the real tokens only).

  check_onnx.py golden MODEL --golden G --tau T --output NAME [--batch 8]
      MODEL's output NAME against the golden embeddings at τ: the smallest and median cosine.

  check_onnx.py optimize IN OUT --heads H --hidden D
      optimize_model(IN, model_type bert, opt_level 0) saved to OUT, and the fused operators it made.

  check_onnx.py check FILE
      onnx.checker (full_check) on FILE, its opsets, IR version, inputs/outputs and metadata_props.
"""
import argparse
import base64
import json
import os
import sys

import numpy as np

from check_gguf import load_golden  # the golden files (gzip or not), read one way for every check


def session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def batches(golden, batch, max_texts=None):
    texts = golden["texts"][: max_texts or None]
    for i in range(0, len(texts), batch):
        group = texts[i : i + batch]
        n = max(len(t["ids"]) for t in group)
        ids = np.zeros((len(group), n), np.int64)
        mask = np.zeros((len(group), n), np.int64)
        for r, t in enumerate(group):
            ids[r, : len(t["ids"])] = t["ids"]
            mask[r, : len(t["ids"])] = 1
        yield group, ids, mask


def feeds(sess, ids, mask):
    out = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            out[i.name] = ids
        elif i.name == "attention_mask":
            out[i.name] = mask
        elif i.name == "token_type_ids":
            out[i.name] = np.zeros_like(ids)
        else:
            raise SystemExit(f"{i.name}: an input this check does not know")
    return out


def cosines(a, b):
    a = a.reshape(-1, a.shape[-1]).astype(np.float64)
    b = b.reshape(-1, b.shape[-1]).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(na * nb, 1e-30)


def reference(args):
    import onnx

    m = onnx.load(args.input)
    g = m.graph
    tau_name = "tempscale_reference_tau"
    value = np.float32(1) / np.float32(args.tau) if args.multiply else args.tau
    g.initializer.append(onnx.numpy_helper.from_array(np.array(value, np.float32), tau_name))
    nodes, count, seen = [], 0, 0
    for n in g.node:
        if n.op_type == "Softmax" and n.domain in ("", "ai.onnx") and (args.only is None or seen in args.only):
            scaled = f"{n.input[0]}__div_tau_{count}"
            op = "Mul" if args.multiply else "Div"
            nodes.append(onnx.helper.make_node(op, [n.input[0], tau_name], [scaled], name=f"tempscale_reference_div_{count}"))
            n.input[0] = scaled
            count += 1
        if n.op_type == "Softmax":
            seen += 1
        nodes.append(n)
    if count == 0:
        raise SystemExit(f"{args.input}: no Softmax nodes")
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(m, args.output)
    return {"softmax": count, "tau": args.tau}


def forms(args):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    os.makedirs(args.outdir, exist_ok=True)
    out = {}
    fused = os.path.join(args.outdir, "fused.onnx")
    o = optimize_model(args.input, model_type="bert", num_heads=args.heads, hidden_size=args.hidden, opt_level=0)
    o.save_model_to_file(fused)
    out["fused"] = sorted({n.op_type for n in onnx.load(fused).graph.node if n.domain == "com.microsoft"})
    quantize_dynamic(args.input, os.path.join(args.outdir, "int8.onnx"), weight_type=QuantType.QInt8)
    quantize_dynamic(fused, os.path.join(args.outdir, "fused-int8.onnx"), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    m = onnx.load(args.input)
    onnx.save(m, os.path.join(args.outdir, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="external.onnx.data", size_threshold=0)
    # What onnxruntime itself saves after its extended graph optimizations: FusedMatMul scores; for int8,
    # DynamicQuantizeMatMul and MatMulIntegerToFloat.
    import onnxruntime as ort

    for src, dst in [(args.input, "ort-extended.onnx"), (os.path.join(args.outdir, "int8.onnx"), "ort-int8-extended.onnx")]:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = os.path.join(args.outdir, dst)
        so.log_severity_level = 3
        ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    # 4-bit weights (MatMulNBits), as onnxruntime's MatMulNBitsQuantizer writes them.
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(args.input), block_size=32, is_symmetric=False)
    q.process()
    q.model.save_model_to_file(os.path.join(args.outdir, "nbits.onnx"), use_external_data_format=False)
    out["files"] = sorted(os.listdir(args.outdir))
    return out


def compare(args):
    golden = load_golden(args.golden)
    a, b = session(args.a), session(args.b)
    names = [o.name for o in a.get_outputs() if o.name in {x.name for x in b.get_outputs()}]
    worst = {n: 0.0 for n in names}
    cos = {n: 1.0 for n in names}
    texts = 0
    for group, ids, mask in batches(golden, args.batch, args.max_texts):
        ya = dict(zip([o.name for o in a.get_outputs()], a.run(None, feeds(a, ids, mask))))
        yb = dict(zip([o.name for o in b.get_outputs()], b.run(None, feeds(b, ids, mask))))
        for n in names:
            x, y = np.asarray(ya[n]), np.asarray(yb[n])
            if x.shape != y.shape:
                raise SystemExit(f"output {n}: shapes {x.shape} and {y.shape}")
            if x.dtype.kind != "f":
                continue
            if x.ndim == 3:  # [batch, seq, hidden]: the real tokens only (padding rows are undefined)
                keep = mask.astype(bool)
                x, y = x[keep], y[keep]
            worst[n] = max(worst[n], float(np.abs(x - y).max()))
            if x.ndim >= 2:
                cos[n] = min(cos[n], float(cosines(x, y).min()))
        texts += len(group)
    return {"texts": texts, "outputs": names, "max_abs": worst, "min_cosine": cos}


def golden_check(args):
    golden = load_golden(args.golden)
    key = str(float(args.tau))
    sess = session(args.model)
    names = [o.name for o in sess.get_outputs()]
    if args.output not in names:
        raise SystemExit(f"{args.model}: no output {args.output} (has {names})")
    cs = []
    for group, ids, mask in batches(golden, args.batch, args.max_texts):
        y = dict(zip(names, sess.run(None, feeds(sess, ids, mask))))[args.output]
        want = np.stack([np.frombuffer(base64.b64decode(t["embeddings"][key]), "<f4") for t in group])
        cs.extend(cosines(np.asarray(y), want).tolist())
    return {"texts": len(cs), "tau": args.tau, "min_cosine": float(np.min(cs)), "median_cosine": float(np.median(cs))}


def optimize(args):
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    o = optimize_model(args.input, model_type="bert", num_heads=args.heads, hidden_size=args.hidden, opt_level=0)
    o.save_model_to_file(args.output)
    m = onnx.load(args.output)
    return {"fused": sorted({n.op_type for n in m.graph.node if n.domain == "com.microsoft"}), "nodes": len(m.graph.node)}


def check(args):
    import onnx

    m = onnx.load(args.file)
    onnx.checker.check_model(m, full_check=True)
    def shape(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    return {
        "ir_version": m.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "inputs": {i.name: [onnx.TensorProto.DataType.Name(i.type.tensor_type.elem_type), shape(i)] for i in m.graph.input},
        "outputs": {o.name: [onnx.TensorProto.DataType.Name(o.type.tensor_type.elem_type), shape(o)] for o in m.graph.output},
        "domains": sorted({n.domain for n in m.graph.node}),
        "metadata": {p.key: p.value for p in m.metadata_props},
        "initializer_types": sorted({onnx.TensorProto.DataType.Name(t.data_type) for t in m.graph.initializer}),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference"); r.add_argument("input"); r.add_argument("output"); r.add_argument("--tau", type=float, required=True)
    r.add_argument("--only", type=lambda v: [int(x) for x in v.split(",")], help="the Softmax nodes (0-based, in file order) to divide")
    r.add_argument("--multiply", action="store_true", help="Mul(1/τ) instead of Div(τ): the same scores up to f32 rounding")
    f = sub.add_parser("forms"); f.add_argument("input"); f.add_argument("outdir")
    f.add_argument("--heads", type=int, default=12); f.add_argument("--hidden", type=int, default=384)
    c = sub.add_parser("compare"); c.add_argument("a"); c.add_argument("b"); c.add_argument("--golden", required=True)
    c.add_argument("--batch", type=int, default=8); c.add_argument("--max-texts", type=int)
    g = sub.add_parser("golden"); g.add_argument("model"); g.add_argument("--golden", required=True)
    g.add_argument("--tau", type=float, default=1.0); g.add_argument("--output", default="sentence_embedding")
    g.add_argument("--batch", type=int, default=8); g.add_argument("--max-texts", type=int)
    o = sub.add_parser("optimize"); o.add_argument("input"); o.add_argument("output")
    o.add_argument("--heads", type=int, required=True); o.add_argument("--hidden", type=int, required=True)
    k = sub.add_parser("check"); k.add_argument("file")
    args = ap.parse_args()
    fn = {"reference": reference, "forms": forms, "compare": compare, "golden": golden_check, "optimize": optimize, "check": check}[args.cmd]
    print(json.dumps(fn(args)))


if __name__ == "__main__":
    main()

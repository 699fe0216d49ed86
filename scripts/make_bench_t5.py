#!/usr/bin/env python3
"""A base-size T5 encoder with random weights and the real T5 vocabulary, for `make bench`.

usage: HF_HUB_OFFLINE=1 .venv/bin/python scripts/make_bench_t5.py --out DIR [--tempscale BIN] [--threads N]

Writes DIR, a sentence-transformers folder (Transformer -> mean Pooling -> Normalize, max_seq_length 512)
around a T5EncoderModel with t5-base's encoder dimensions: d_model 768, 12 layers, 12 heads x d_kv 64,
d_ff 3072 (relu), 32 relative-position buckets, max distance 128, vocab_size 32,128 (as t5-base's config;
the tokenizer has 32,100 pieces, so the last 28 rows are never looked up). The tokenizer is the real T5
tokenizer.json (.cache/tokenizers/t5, written by `make tokenizers`) run as PreTrainedTokenizerFast, as
golden/tiny_families.py does for tiny-t5. It exists so that scripts/bench_encoder.py times tempscale's T5
forward pass at a realistic size; it is not a model of anything (no pretrained T5 checkpoint is available
offline).

Weights (deterministic, not transformers' initialisation): every tensor from numpy's PCG64 seeded with
sha256("tempscale-bench-t5-base-v1/<tensor name>"), at scales that keep attention far from uniform and far
from one-hot: embeddings N(0, 1); k, v, o, wi, wo N(0, 1/fan_in); q N(0, 1/(fan_in * d_kv)) -- T5 does not
divide the logits by sqrt(d_kv), so at N(0, 1/fan_in) the logits would have standard deviation ~sqrt(64) = 8
and every head would be an argmax; t5's own initialisation folds the factor into q the same way;
relative_attention_bias N(0, 0.5^2); RMS-norm weights 1 + N(0, 0.1^2).

Checks (any failure exits 1 and leaves DIR as it was): the saved folder reloads as T5EncoderModel with no
missing/unexpected keys and every tensor as drawn; SentenceTransformer loads it (max_seq_length 512,
dimension 768) and feeds the same ids as tokenizer.json (truncated at 512); attention statistics per layer
(mean of each query's largest probability) are printed and must lie in (0.05, 0.95); `tempscale inspect DIR`
reports a t5-encoder of these dimensions and `tempscale embed DIR` gives embeddings with cosine >= 0.9999 to
sentence-transformers' for the same texts (skipped, with a note, when the tempscale binary does not exist).

The folder is built and checked in a temporary sibling directory, then renamed into place; DIR/.complete
(a small JSON summary) is written last, inside the temporary directory, so DIR/.complete exists only for a
complete, checked folder.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, ".cache", "tokenizers", "t5", "tokenizer.json")
SEED_PREFIX = "tempscale-bench-t5-base-v1"
D_MODEL, D_KV, HEADS, LAYERS, D_FF, VOCAB = 768, 64, 12, 12, 3072, 32128
MAX_SEQ = 512
MIN_COSINE = 0.9999
TEXTS = [
    "This is an example sentence.",
    "Each sentence is converted into a vector, and similar sentences end up close together.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le modèle encode des phrases en français, avec des accents : é, è, à, ç.",
    "tempscale bakes an attention temperature into the weights of an embedding model, exactly.",
    # long enough to be truncated at 512 tokens: exercises truncation in both engines
    " ".join("Paragraph %d of a long document about relative position buckets in T5 encoders." % i
             for i in range(60)),
]


def log(msg):
    print("make_bench_t5: " + msg, flush=True)


def require(cond, msg):
    if not cond:
        raise SystemExit("make_bench_t5: FAILED: " + msg)


def scale(name, shape):
    """(std, mean) of each tensor kind (see the module docstring)."""
    if name.endswith("relative_attention_bias.weight"):
        return 0.5, 0.0
    if "layer_norm" in name:
        return 0.1, 1.0
    if name.endswith("shared.weight") or name.endswith("embed_tokens.weight"):
        return 1.0, 0.0
    if len(shape) == 2:  # nn.Linear [out, in]
        std = 1.0 / math.sqrt(shape[1])
        if name.endswith("SelfAttention.q.weight"):
            std /= math.sqrt(D_KV)
        return std, 0.0
    raise SystemExit("make_bench_t5: no scale rule for %s %s" % (name, tuple(shape)))


def draw(name, shape):
    seed = int.from_bytes(hashlib.sha256(("%s/%s" % (SEED_PREFIX, name)).encode()).digest()[:8], "little")
    std, mean = scale(name, shape)
    a = np.random.Generator(np.random.PCG64(seed)).standard_normal(size=tuple(shape), dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(a * np.float32(std) + np.float32(mean), dtype=np.float32))


def dump_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config():
    cfg = transformers.T5Config(
        vocab_size=VOCAB, d_model=D_MODEL, d_kv=D_KV, d_ff=D_FF, num_layers=LAYERS, num_decoder_layers=LAYERS,
        num_heads=HEADS, relative_attention_num_buckets=32, relative_attention_max_distance=128,
        dropout_rate=0.1, layer_norm_epsilon=1e-6, initializer_factor=1.0, feed_forward_proj="relu",
        is_encoder_decoder=True, use_cache=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    cfg.architectures = ["T5EncoderModel"]
    return cfg


def build(d):
    """Write the whole sentence-transformers folder into the empty directory d; returns the drawn tensors."""
    shutil.copyfile(TOKENIZER, os.path.join(d, "tokenizer.json"))
    n_pieces = Tokenizer.from_file(TOKENIZER).get_vocab_size(with_added_tokens=True)
    require(n_pieces <= VOCAB, "tokenizer has %d pieces > vocab_size %d" % (n_pieces, VOCAB))
    smap = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    # PreTrainedTokenizerFast: sentence-transformers runs tokenizer.json as written (golden/tiny_families.py)
    dump_json(os.path.join(d, "tokenizer_config.json"), dict(
        tokenizer_class="PreTrainedTokenizerFast", model_max_length=MAX_SEQ,
        model_input_names=["input_ids", "attention_mask"], clean_up_tokenization_spaces=False, **smap))
    dump_json(os.path.join(d, "special_tokens_map.json"), smap)

    torch.manual_seed(0)  # the initialisation is overwritten below; seeded anyway
    model = transformers.T5EncoderModel(config()).eval()
    drawn = {}
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied shared/embed_tokens appears once
            v = draw(name, p.shape)
            p.copy_(v)
            drawn[name] = v
    model.save_pretrained(d)  # safetensors
    del model

    os.makedirs(os.path.join(d, "1_Pooling"))
    dump_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": D_MODEL, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    os.makedirs(os.path.join(d, "2_Normalize"))
    dump_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    dump_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    dump_json(os.path.join(d, "SOURCE.json"), {
        "generator": "scripts/make_bench_t5.py", "seed_prefix": SEED_PREFIX,
        "note": "random weights at t5-base encoder dimensions, for benchmarking only; not a trained model",
        "tokenizer_json_sha256": sha256_file(TOKENIZER)})
    return drawn


def check_reload(d, drawn):
    m, info = transformers.T5EncoderModel.from_pretrained(d, output_loading_info=True, attn_implementation="eager")
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        require(not info.get(k), "reloading T5EncoderModel: %s %s" % (k, info.get(k)))
    sd = m.state_dict()
    for k, v in drawn.items():
        require(torch.equal(sd[k], v), "%s did not round-trip" % k)
    n_params = sum(p.numel() for p in m.parameters())
    log("reloaded T5EncoderModel: %d tensors as drawn, %.1f M parameters" % (len(drawn), n_params / 1e6))

    # attention statistics on one sentence: mean over heads/queries of the largest probability, per layer
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    ids = torch.tensor([tok.encode(TEXTS[1]).ids])
    with torch.no_grad():
        out = m(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
    peaks = [float(a.max(dim=-1).values.mean()) for a in out.attentions]
    n = ids.shape[1]
    log("attention, %d tokens (uniform = %.3f): mean max probability per layer %s"
        % (n, 1.0 / n, " ".join("%.2f" % p for p in peaks)))
    require(all(0.05 < p < 0.95 for p in peaks), "attention degenerate: %s" % peaks)
    del m
    return n_params, peaks


def check_sentence_transformers(d):
    st = SentenceTransformer(d, device="cpu")
    require(st.max_seq_length == MAX_SEQ, "ST max_seq_length %s" % st.max_seq_length)
    require(st.get_embedding_dimension() == D_MODEL, "ST dimension %s" % st.get_embedding_dimension())
    require(type(st[0].auto_model).__name__ == "T5EncoderModel", "ST runs %s" % type(st[0].auto_model).__name__)
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    raw.enable_truncation(max_length=MAX_SEQ)
    lengths = []
    for t in TEXTS:
        feats = st.preprocess([t]) if hasattr(st, "preprocess") else st.tokenize([t])
        ids = feats["input_ids"][0].tolist()
        require(ids == raw.encode(t).ids, "ST ids differ from tokenizer.json on %r" % t[:40])
        lengths.append(len(ids))
    require(max(lengths) == MAX_SEQ, "the long text was not truncated at %d (%s)" % (MAX_SEQ, lengths))
    emb = st.encode(TEXTS, batch_size=4, convert_to_numpy=True)
    log("sentence-transformers: %s, ids equal tokenizer.json's on %d texts (lengths %s)"
        % (type(st[0].auto_model).__name__, len(TEXTS), lengths))
    return emb, lengths


def check_tempscale(binary, d, st_emb, threads):
    if not os.path.exists(binary):
        log("NOTE: %s does not exist; tempscale checks skipped" % binary)
        return None
    p = subprocess.run([binary, "inspect", d], capture_output=True, text=True)
    require(p.returncode == 0, "tempscale inspect failed: %s" % p.stderr[-2000:])
    print(p.stdout.rstrip(), flush=True)
    require("t5-encoder" in p.stdout, "inspect does not say t5-encoder")
    require("hidden %d, layers %d, heads %d × %d, intermediate %d" % (D_MODEL, LAYERS, HEADS, D_KV, D_FF)
            in p.stdout, "inspect dimensions")
    work = tempfile.mkdtemp(prefix="make-bench-t5-")
    try:
        src = os.path.join(work, "texts.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for t in TEXTS:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        out = os.path.join(work, "e.npy")
        p = subprocess.run([binary, "embed", d, "--input", src, "--output", out, "--format", "npy",
                            "--threads", str(threads)], capture_output=True, text=True)
        require(p.returncode == 0, "tempscale embed failed: %s" % p.stderr[-2000:])
        ts = np.load(out).astype(np.float64)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ref = st_emb.astype(np.float64)
    require(ts.shape == ref.shape, "tempscale shape %s, ST %s" % (ts.shape, ref.shape))
    cos = (ts * ref).sum(1) / (np.linalg.norm(ts, axis=1) * np.linalg.norm(ref, axis=1))
    diff = float(np.abs(ts - ref).max())
    log("tempscale embed vs sentence-transformers on %d texts: cosine %s (min %.7f), max |diff| %.2e"
        % (len(TEXTS), " ".join("%.7f" % c for c in cos), cos.min(), diff))
    require(float(cos.min()) >= MIN_COSINE, "cosine %.7f < %g" % (cos.min(), MIN_COSINE))
    return {"min_cosine": float(cos.min()), "max_abs_diff": diff}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--tempscale", default=os.path.join(ROOT, ".build", "release", "tempscale"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    require(os.path.exists(TOKENIZER), "%s missing (make tokenizers)" % TOKENIZER)
    torch.set_num_threads(a.threads)

    final = os.path.abspath(a.out.rstrip("/"))
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(final) + ".tmp-", dir=parent)
    try:
        log("building in %s" % tmp)
        drawn = build(tmp)
        n_params, peaks = check_reload(tmp, drawn)
        st_emb, lengths = check_sentence_transformers(tmp)
        ts = check_tempscale(a.tempscale, tmp, st_emb, a.threads)
        dump_json(os.path.join(tmp, ".complete"), {
            "parameters": n_params, "attention_mean_max_probability": [round(p, 4) for p in peaks],
            "tempscale_vs_sentence_transformers": ts,
            "model_safetensors_sha256": sha256_file(os.path.join(tmp, "model.safetensors")),
            "torch": torch.__version__, "transformers": transformers.__version__})
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700, save_pretrained leaves model.safetensors 0600
        for base, _, files in os.walk(tmp):
            for f in files:
                os.chmod(os.path.join(base, f), 0o644)
        old = None
        if os.path.lexists(final):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(final) + ".old-", dir=parent)
            os.rename(final, os.path.join(old, "x"))
        os.rename(tmp, final)
        tmp = None
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    log("wrote %s" % final)


if __name__ == "__main__":
    main()

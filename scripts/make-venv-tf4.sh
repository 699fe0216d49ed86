#!/usr/bin/env bash
# Build .venv-tf4: transformers 4.57 + sentence-transformers 5.1 (golden/requirements-tf4.txt, all --no-deps)
# on top of .venv's torch, which is linked in, not installed again. Idempotent: does nothing when
# .venv-tf4/.stamp is newer than golden/requirements-tf4.txt, this script and .venv/.stamp, and the torch link
# resolves. Needs .venv (make venv) first.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
VENV=.venv-tf4
REQ=golden/requirements-tf4.txt
STAMP=$VENV/.stamp
# up to date: stamp newer than the pins, this script and .venv (whose torch is linked), and the link resolves
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$REQ" ] && [ "$STAMP" -nt "$SELF" ] && [ "$STAMP" -nt .venv/.stamp ] \
   && [ -f $VENV/torch-site/torch/__init__.py ]; then exit 0; fi
[ -x .venv/bin/python ] || { echo "make-venv-tf4.sh: .venv is missing (run make venv first)" >&2; exit 1; }
SRC=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -d "$SRC/torch" ] || { echo "make-venv-tf4.sh: no torch in $SRC" >&2; exit 1; }

rm -f "$STAMP"
[ -x $VENV/bin/python ] || python3 -m venv $VENV
DST=$($VENV/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# torch and the packages only torch needs, as symlinks into .venv (filelock, typing_extensions and fsspec, which
# transformers needs too, are pinned in $REQ and installed here; site-packages comes before the .pth folder).
LINKS=$ROOT/$VENV/torch-site
rm -rf "$LINKS" && mkdir -p "$LINKS"
for pat in 'torch' 'torch-*.dist-info' 'torchgen' 'functorch' 'sympy' 'sympy-*.dist-info' 'mpmath' \
           'mpmath-*.dist-info' 'networkx' 'networkx-*.dist-info' 'jinja2' 'jinja2-*.dist-info' \
           'markupsafe' 'markupsafe-*.dist-info'; do
  n=0
  for p in "$SRC"/$pat; do [ -e "$p" ] || continue; ln -s "$p" "$LINKS/"; n=$((n + 1)); done
  [ $n -gt 0 ] || { echo "make-venv-tf4.sh: nothing matches $SRC/$pat" >&2; exit 1; }
done
echo "$LINKS" > "$DST/zz-torch-from-venv.pth"

$VENV/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $REQ
$VENV/bin/python -m pip check --disable-pip-version-check
# fail loudly if the stack is not what was asked for, or if transformers 5 leaks in
$VENV/bin/python - <<'PY'
import os, sys
import torch, transformers, sentence_transformers, tokenizers, numpy, safetensors, huggingface_hub
assert transformers.__version__.startswith("4.57."), transformers.__version__
assert sentence_transformers.__version__ == "5.1.2", sentence_transformers.__version__
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert os.path.realpath(transformers.__file__).startswith(os.path.realpath(sys.prefix)), transformers.__file__
from transformers.models.bert.modeling_bert import BertModel  # noqa: F401
print("venv-tf4: torch %s, transformers %s, sentence-transformers %s, tokenizers %s, numpy %s, safetensors %s, hub %s"
      % (torch.__version__, transformers.__version__, sentence_transformers.__version__, tokenizers.__version__,
         numpy.__version__, safetensors.__version__, huggingface_hub.__version__))
PY
touch "$STAMP"

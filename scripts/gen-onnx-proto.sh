#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift from specs/onnx/onnx.proto with protoc + protoc-gen-swift
# (apple/swift-protobuf). The generated file is committed; this script is for humans regenerating it
# and is NEVER called by make test, .ci/run or CI: the first build of protoc-gen-swift takes minutes.
#
#   scripts/gen-onnx-proto.sh                        regenerate from the committed specs/onnx/onnx.proto
#   scripts/gen-onnx-proto.sh --check                regenerate into scratch only; exit 1 if the committed file differs
#   scripts/gen-onnx-proto.sh --fetch-proto 1.23.2   first replace specs/onnx/onnx.proto with onnx/onnx.proto from
#                                                    that onnx wheel on PyPI (then update specs/onnx/README.md)
#
# Needs: git, a Swift toolchain >= 6.1 (swift-protobuf 1.39's manifest needs it, and the generated code
# writes `nonisolated` on types, SE-0449, Swift 6.1), protoc (Debian: apt-get install protobuf-compiler),
# and python3 with pip for --fetch-proto.
# The plugin is built outside the repo, in $PROTOGEN_DIR (default ${TMPDIR:-/tmp}/tempscale-protogen), and reused.
# Env: SWIFT_PROTOBUF_VERSION (default 1.39.0, must equal the SwiftProtobuf version that Package.swift pins, exact:),
#      SWIFT_PROTOBUF_URL (default https://github.com/apple/swift-protobuf.git).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
sp_version="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
sp_url="${SWIFT_PROTOBUF_URL:-https://github.com/apple/swift-protobuf.git}"
scratch="${PROTOGEN_DIR:-${TMPDIR:-/tmp}/tempscale-protogen}"
proto_dir="$root/specs/onnx"
proto="$proto_dir/onnx.proto"
out_dir="$root/Sources/ONNXProto"
out="$out_dir/onnx.pb.swift"
# protoc only parses the .proto; the Swift text comes from the plugin. This is the protoc the committed
# file was made with; another version should give the same output, and a difference is reported below.
protoc_expected="libprotoc 3.21.12"

check=0
fetch_version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --fetch-proto) fetch_version="${2:?--fetch-proto needs an onnx version, e.g. 1.23.2}"; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "gen-onnx-proto: $*" >&2; exit 1; }
command -v git >/dev/null || die "git not found"
command -v swift >/dev/null || die "swift not found"
command -v protoc >/dev/null || die "protoc not found; on Debian/Ubuntu: apt-get install -y protobuf-compiler"
mkdir -p "$scratch"

# 0. Optionally refresh the .proto from an onnx wheel (the wheel ships onnx/onnx.proto, generated from onnx.in.proto).
if [ -n "$fetch_version" ]; then
  [ "$check" = 0 ] || die "--check and --fetch-proto do not go together"
  whl_dir="$scratch/onnx-wheel-$fetch_version"
  mkdir -p "$whl_dir"
  ls "$whl_dir"/onnx-"$fetch_version"-*.whl >/dev/null 2>&1 ||
    python3 -m pip download -q --no-deps --only-binary :all: "onnx==$fetch_version" -d "$whl_dir" >&2
  whl=$(ls "$whl_dir"/onnx-"$fetch_version"-*.whl | head -1)
  python3 - "$whl" "$proto" <<'PY'
import sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    data = z.read("onnx/onnx.proto")
with open(dest, "wb") as f:
    f.write(data)
PY
  echo "specs/onnx/onnx.proto <- onnx/onnx.proto in $(basename "$whl"); update specs/onnx/README.md (version, sha256)" >&2
fi
[ -f "$proto" ] || die "$proto missing"

# 1. Build protoc-gen-swift at the pinned tag, outside the repo (reused on later runs).
src="$scratch/swift-protobuf-$sp_version"
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git clone --quiet "$sp_url" "$src"
fi
git -C "$src" -c advice.detachedHead=false checkout --quiet "refs/tags/$sp_version" 2>/dev/null || {
  git -C "$src" fetch --quiet --tags origin
  git -C "$src" -c advice.detachedHead=false checkout --quiet "refs/tags/$sp_version"
}
echo "building protoc-gen-swift $sp_version in $src (minutes the first time) ..." >&2
nice -n 19 swift build -c release --package-path "$src" --product protoc-gen-swift >&2
plugin="$(swift build -c release --package-path "$src" --show-bin-path)/protoc-gen-swift"
[ -x "$plugin" ] || die "plugin not built: $plugin"
plugin_version=$("$plugin" --version)
[ "$plugin_version" = "protoc-gen-swift $sp_version" ] || die "plugin says '$plugin_version', wanted $sp_version"

# 2-4. Generate into scratch, then move into place.
gen="$scratch/out"
rm -rf "$gen"; mkdir -p "$gen"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out="$gen" \
  -I "$proto_dir" "$proto"
[ -f "$gen/onnx.pb.swift" ] || die "protoc wrote no onnx.pb.swift"

protoc_version=$(protoc --version)
echo "swift-protobuf:   $sp_version ($(git -C "$src" rev-parse HEAD))"
echo "protoc-gen-swift: $plugin_version"
echo "protoc:           $protoc_version$([ "$protoc_version" = "$protoc_expected" ] || echo " (committed file made with $protoc_expected)")"
echo "swift:            $(swift --version 2>/dev/null | head -1)"
echo "onnx.proto:       sha256 $(sha256sum "$proto" | cut -d' ' -f1)"
echo "command:          protoc --plugin=protoc-gen-swift=<plugin> --swift_opt=Visibility=Public --swift_out=<out> -I specs/onnx specs/onnx/onnx.proto"

if [ "$check" = 1 ]; then
  if cmp -s "$gen/onnx.pb.swift" "$out"; then
    echo "Sources/ONNXProto/onnx.pb.swift is up to date"
  else
    echo "Sources/ONNXProto/onnx.pb.swift differs from a fresh generation (diff: $gen/onnx.pb.swift)" >&2
    exit 1
  fi
else
  mkdir -p "$out_dir"
  if cmp -s "$gen/onnx.pb.swift" "$out"; then
    echo "Sources/ONNXProto/onnx.pb.swift unchanged ($(wc -c <"$out") bytes)"
  else
    cp "$gen/onnx.pb.swift" "$out"
    echo "Sources/ONNXProto/onnx.pb.swift written ($(wc -c <"$out") bytes)"
  fi
fi

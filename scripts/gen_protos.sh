#!/usr/bin/env bash
# Generate Python messages, gRPC stubs and their .pyi type stubs from protos/.
# Usage: scripts/gen_protos.sh VENV_BIN OUT_DIR
set -euo pipefail
bin=$1
out=$2
rm -rf "$out"
mkdir -p "$out"
mapfile -t protos < <(cd protos && find . -name '*.proto' | sed 's|^\./||' | sort)
PATH="$bin:$PATH" "$bin/python" -m grpc_tools.protoc -I protos \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  "${protos[@]}"
# Make every generated directory a regular package so the editable install maps it.
find "$out/gaap" -type d -exec sh -c 'touch "$0/__init__.py"' {} \;
touch "$out/gaap/py.typed"

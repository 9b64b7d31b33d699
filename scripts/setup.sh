#!/usr/bin/env bash
# Create .venv inside the repository and install patscape with the given extras (idempotent).
# Usage: scripts/setup.sh [EXTRAS]      e.g. scripts/setup.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
"$python" - <<'PY' || { echo "patscape needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.patscape-setup
hash="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
want="$hash[$extras]"
# What is installed covers what is asked for when it is the same, or a superset: the test setup
# (dev) holds serve, openai, milvus, ray and the GGUF backend; any setup holds the base install.
case "$(cat "$stamp" 2>/dev/null || true):$extras" in
  "$want:$extras" | "$hash[dev]:" | "$hash[dev]:serve" | "$hash[dev]:openai" | "$hash[dev]:milvus" | \
  "$hash[dev]:ray" | "$hash[dev]:gguf" | "$hash[serve]:") covered=yes ;;
  *) covered=no ;;
esac
if [ "$covered" = no ]; then
  echo "setting up .venv (first time: a few minutes) ..." >&2
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build of torch first: anything that pulls torch later finds it satisfied.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  if [ -n "$extras" ]; then spec=".[$extras]"; else spec="."; fi
  # llama-cpp-python (the gguf backend, in the dev extra) compiles llama.cpp: ~10-15 min once, then pip's wheel cache.
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
    .venv/bin/python -m pip install -q -e "$spec"
  echo "$want" > "$stamp"
fi

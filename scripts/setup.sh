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
  case "$extras" in
    dev|gguf)
      # llama-cpp-python (the GGUF backend) compiles llama.cpp: ~10-15 min, once. Built for any CPU of
      # this architecture, not for this one (-march=native): a native build on a CPU that advertises
      # AMX died with "Illegal instruction" in a virtual machine that does not enable it, and pip's
      # own wheel cache, keyed by version only, would carry a native build to other machines. The
      # wheel is kept in patscape's cache, keyed by version and build flags.
      llama_version=0.3.36
      llama_flags="-DGGML_NATIVE=OFF"
      wheels="${PATSCAPE_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/patscape/wheels}/llama-cpp-python-$llama_version-$(printf %s "$llama_flags" | sha256sum | cut -c1-8)"
      if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        CMAKE_ARGS="$llama_flags" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
          .venv/bin/python -m pip wheel -q --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python==$llama_version"
      fi
      .venv/bin/python -m pip install -q --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl
      ;;
  esac
  .venv/bin/python -m pip install -q -e "$spec"
  echo "$want" > "$stamp"
fi

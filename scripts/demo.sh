#!/usr/bin/env bash
# Set everything up and build a landscape of a real patent sample on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
# The serve extra too: the README's next step after the demo is `patscape serve out/demo/store`.
scripts/setup.sh serve
export HF_HUB_OFFLINE=1
dev=../shared/data/patents-dev.jsonl
if [ -f "$dev" ]; then
  exec .venv/bin/patscape demo --input "$dev" --workdir out/demo "$@"
fi
exec .venv/bin/patscape demo --workdir out/demo "$@"

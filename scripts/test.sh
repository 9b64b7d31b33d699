#!/usr/bin/env bash
# Set everything up and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
export HF_HUB_OFFLINE=1 PATSCAPE_NO_PROGRESS=1
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The main job on the embedded defaults, offline: set up, check the example runs and the CRDs.
# (The end-to-end offline run with the scripted model joins this script with the run engine.)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
BIN="$ROOT/.venv/bin"

"$BIN/autopack" validate examples/*.yaml
"$BIN/autopack" crds --check --output crds

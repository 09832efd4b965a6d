#!/usr/bin/env bash
# Install kubectl 1.30 into .tools/bin when the machine has none (see
# scripts/install-layer-tool.sh): the one way a fresh machine gets the client the cluster tests
# drive. Idempotent.
set -euo pipefail
if command -v kubectl >/dev/null 2>&1; then
    exit 0
fi
exec "$(dirname "${BASH_SOURCE[0]}")/install-layer-tool.sh" kubectl

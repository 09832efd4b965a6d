#!/usr/bin/env bash
# Install Helm 3.17 into .tools/bin (see scripts/install-layer-tool.sh). Idempotent.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/install-layer-tool.sh" helm

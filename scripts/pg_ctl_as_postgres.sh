#!/bin/sh
# pg_ctl wrapper for the test suite (pytest-postgresql's `postgresql_exec`).
#
# PostgreSQL's initdb and server refuse to run as root. When the suite runs as root (CI and
# the build machines do), hand the test's data directory to the `postgres` user, make the
# directories above it traversable, and run pg_ctl as that user. As any other user it simply
# runs pg_ctl. The PostgreSQL binaries come from PG_BINDIR, `pg_config --bindir`, or the
# newest /usr/lib/postgresql/*/bin.
set -eu

bindir="${PG_BINDIR:-}"
if [ -z "$bindir" ]; then
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        bindir="$candidate"
        break
    done
fi
if [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1; then
    bindir="$(pg_config --bindir)"
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "pg_ctl_as_postgres: no PostgreSQL server binaries found (set PG_BINDIR, or apt-get install postgresql)" >&2
    exit 127
fi

if [ "$(id -u)" != "0" ]; then
    exec "$bindir/pg_ctl" "$@"
fi

# Find the data directory argument (-D DIR, --pgdata DIR, --pgdata=DIR).
datadir=""
previous=""
for arg in "$@"; do
    case "$previous" in
        -D|--pgdata) datadir="$arg" ;;
    esac
    case "$arg" in
        --pgdata=*) datadir="${arg#--pgdata=}" ;;
    esac
    previous="$arg"
done

if [ -n "$datadir" ]; then
    parent="$(dirname "$datadir")"
    mkdir -p "$parent"
    chown -R postgres "$parent"
    dir="$parent"
    while [ "$dir" != "/" ]; do
        dir="$(dirname "$dir")"
        chmod o+x "$dir" 2>/dev/null || true
    done
fi

cd /
exec runuser -u postgres -- "$bindir/pg_ctl" "$@"

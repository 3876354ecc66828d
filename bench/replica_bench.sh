#!/usr/bin/env bash
# Runs build/bench/replica_bench against a throw-away versitygw server on loopback
# (e2e/s3/server.sh), then stops the server.
#
#   bench/replica_bench.sh [BUILD_DIR] [replica_bench flags...]
#   e.g. bench/replica_bench.sh build-replica --scale 0.25 --versions 6
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
shift || true
BIN=$BUILD/bench/replica_bench
[[ -x $BIN ]] || { echo "no $BIN (build the replica_bench target)" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/dk-replica-bench-s3-XXXXXX")
trap '"$SRC/e2e/s3/server.sh" stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
"$SRC/e2e/s3/server.sh" start "$DIR"
"$BIN" --env "$DIR/env" "$@"

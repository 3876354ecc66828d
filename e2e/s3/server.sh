#!/usr/bin/env bash
# A real S3-compatible server for tests: versitygw (posix backend) on loopback. See README.md.
#
#   e2e/s3/server.sh start DIR   build (cached) and start the server; writes DIR/env
#   e2e/s3/server.sh stop DIR    stop it and delete its data (logs are kept)
#   e2e/s3/server.sh build       build (or find) the cached binary and print its path
#
# DIR/env holds KEY="VALUE" lines (source it with `set -a; . DIR/env; set +a`):
#   S3_ENDPOINT (http), S3_TLS_ENDPOINT (https, same data), S3_CA_FILE, S3_REGION, S3_BUCKET,
#   S3_ACCESS_KEY, S3_SECRET_KEY, S3_SERVER (name and version).
# The binary is cached in ${DIFFKEEPER_CACHE:-/var/cache/diffkeeper}, keyed by go.mod/go.sum.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../free-port.sh
source "$SRC/../free-port.sh"
ACCESS_KEY=dk-test-access
SECRET_KEY=dk-test-secret-0123456789abcdef
REGION=us-east-1
BUCKET=dk-test
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

log() { printf '[s3server %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

version() {
  awk '$1=="github.com/versity/versitygw" && $2 ~ /^v/ {print $2; exit}' "$SRC/go.mod"
}

cache_dir() {
  local d=${DIFFKEEPER_CACHE:-/var/cache/diffkeeper}
  if ! mkdir -p "$d" 2>/dev/null || [[ ! -w $d ]]; then
    d=${XDG_CACHE_HOME:-$HOME/.cache}/diffkeeper
    mkdir -p "$d"
  fi
  printf '%s\n' "$d"
}

find_go() {
  if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go; return; fi
  die "go not found (set GO=/path/to/go)"
}

# Prints the path of the versitygw binary, building it when the cache has none for this key.
build() {
  local ver cache key bin go start
  ver=$(version)
  [[ -n $ver ]] || die "cannot read the versitygw version from $SRC/go.mod"
  cache=$(cache_dir)
  key=$(cat "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-12)
  bin="$cache/versitygw-$ver-$key"
  if [[ -x $bin ]]; then
    printf '%s\n' "$bin"
    return
  fi
  exec 9>"$cache/.versitygw-build.lock"
  flock 9
  if [[ ! -x $bin ]]; then
    go=$(find_go)
    log "building versitygw $ver -> $bin (first build: 2-7 min on 2 cores; Go caches: $("$go" env GOMODCACHE), $("$go" env GOCACHE))"
    start=$SECONDS
    (
      cd "$SRC"
      CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 10 "$go" build -p 2 -trimpath -ldflags "-s -w" \
        -o "$bin.tmp.$$" github.com/versity/versitygw/cmd/versitygw
    ) || { rm -f "$bin.tmp.$$"; die "go build of versitygw failed"; }
    mv -f "$bin.tmp.$$" "$bin"
    log "built in $((SECONDS - start))s"
    # Keep the two newest builds.
    # shellcheck disable=SC2012
    ls -1t "$cache"/versitygw-v* 2>/dev/null | tail -n +3 | while read -r old; do rm -f "$old"; done
  fi
  flock -u 9
  exec 9>&-
  printf '%s\n' "$bin"
}

# pid recorded in DIR/NAME.pid when that process is alive and is versitygw, else nothing.
live_pid() {
  local f=$1/$2.pid pid
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q versitygw; then
    printf '%s\n' "$pid"
  fi
}

# Stops the named servers of DIR: SIGTERM, then SIGKILL after 3 s (versitygw's graceful
# shutdown may wait up to 10 s for connections; the data is throw-away test data).
stop_all() {
  local dir=$1 name pid pids=()
  shift
  for name in "$@"; do
    pid=$(live_pid "$dir" "$name")
    rm -f "$dir/$name.pid"
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  for _ in $(seq 1 30); do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && break
      pid=""
    done
    [[ -z $pid ]] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# start_one DIR NAME BIN PORT [TLS args...]: starts versitygw, waits for its health endpoint.
start_one() {
  local dir=$1 name=$2 bin=$3 port=$4 scheme=http
  shift 4
  local curl_tls=()
  if (($#)); then
    scheme=https
    curl_tls=(--cacert "$dir/tls/ca.crt")
  fi
  printf '\n===== %s start %s port %s =====\n' "$(date -Is)" "$name" "$port" >>"$dir/logs/$name.log"
  ROOT_ACCESS_KEY_ID=$ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$SECRET_KEY \
    setsid "$bin" --port "127.0.0.1:$port" --region "$REGION" --health /health --quiet "$@" \
    posix "$dir/root" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 2 "${curl_tls[@]}" "$scheme://127.0.0.1:$port/health" 2>/dev/null; then
      [[ -n $(live_pid "$dir" "$name") ]] && return 0
    fi
    [[ -n $(live_pid "$dir" "$name") ]] || return 1  # exited (port taken?)
    sleep 0.1
  done
  return 1
}

make_tls() {
  local t=$1/tls
  mkdir -p "$t"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$t/ca.key" -out "$t/ca.crt" -days 3650 -subj "/CN=diffkeeper-s3-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>>"$1/logs/openssl.log"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=127.0.0.1" 2>>"$1/logs/openssl.log"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$t/server.ext" -out "$t/server.crt" 2>>"$1/logs/openssl.log"
  rm -f "$t/server.csr" "$t/server.ext"
  chmod 600 "$t"/*.key
}

# env_line KEY VALUE: one line of DIR/env, KEY="VALUE", which `. DIR/env` reads back as VALUE
# (spaces kept). A value with a double quote, backslash, $ or backquote is refused: readers
# that only strip the quotes (tests/libs3, tests/libreplica, bench/replica_bench) would get it
# wrong.
env_line() {
  case $2 in
    *[\"\\\$\`]*) log "ERROR: $1 cannot be written to the env file: its value has a \", \\, \$ or \`"; return 1 ;;
  esac
  printf '%s="%s"\n' "$1" "$2"
}

cmd_stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  stop_all "$dir" versitygw-tls versitygw
  rm -rf "$dir/root" "$dir/tls"
  rm -f "$dir/env"
  log "stopped (logs kept in $dir/logs)"
}

cmd_start() {
  local dir=$1 bin t0=$SECONDS port tls_port attempt ok=0 code
  command -v curl >/dev/null || die "curl not found"
  command -v openssl >/dev/null || die "openssl not found"
  bin=$(build)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cmd_stop "$dir" >/dev/null 2>&1  # a server left behind by an earlier run
  mkdir -p "$dir/root" "$dir/logs"
  make_tls "$dir"
  for attempt in 1 2 3; do
    e2e_free_port port || die "no free port found"
    if start_one "$dir" versitygw "$bin" "$port"; then ok=1; break; fi
    stop_all "$dir" versitygw
    log "versitygw did not come up on port $port (attempt $attempt); see $dir/logs/versitygw.log"
  done
  ((ok)) || die "versitygw did not start"
  ok=0
  for attempt in 1 2 3; do
    e2e_free_port tls_port || die "no free port found"
    if start_one "$dir" versitygw-tls "$bin" "$tls_port" --cert "$dir/tls/server.crt" --key "$dir/tls/server.key"; then
      ok=1
      break
    fi
    stop_all "$dir" versitygw-tls
    log "versitygw (TLS) did not come up on port $tls_port (attempt $attempt)"
  done
  ((ok)) || { cmd_stop "$dir"; die "versitygw (TLS) did not start; see $dir/logs/versitygw-tls.log"; }

  # CreateBucket, signed by curl's own SigV4 implementation.
  code=$(curl -sS -o "$dir/logs/create-bucket.xml" -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "http://127.0.0.1:$port/$BUCKET") || code=000
  if [[ $code != 200 ]]; then
    cmd_stop "$dir"
    die "CreateBucket $BUCKET answered HTTP $code: $(cat "$dir/logs/create-bucket.xml" 2>/dev/null)"
  fi

  # `&&`: set -e does not apply inside a list whose status `||` tests.
  {
    env_line S3_SERVER "versitygw $(version)" &&
    env_line S3_ENDPOINT "http://127.0.0.1:$port" &&
    env_line S3_TLS_ENDPOINT "https://127.0.0.1:$tls_port" &&
    env_line S3_CA_FILE "$dir/tls/ca.crt" &&
    env_line S3_REGION "$REGION" &&
    env_line S3_BUCKET "$BUCKET" &&
    env_line S3_ACCESS_KEY "$ACCESS_KEY" &&
    env_line S3_SECRET_KEY "$SECRET_KEY"
  } >"$dir/env.tmp" || { cmd_stop "$dir"; die "cannot write $dir/env"; }
  mv -f "$dir/env.tmp" "$dir/env"
  log "versitygw $(version) up in $((SECONDS - t0))s: http://127.0.0.1:$port https://127.0.0.1:$tls_port bucket $BUCKET (env: $dir/env)"
}

case ${1:-} in
  start) [[ $# -eq 2 ]] || { usage >&2; exit 2; }; cmd_start "$2" ;;
  stop) [[ $# -eq 2 ]] || { usage >&2; exit 2; }; cmd_stop "$2" ;;
  build) build ;;
  -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac

# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Shared by e2e/cluster/{up,down,restart-apiserver,smoke}. Not executable on its own.

DKC_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../free-port.sh
source "$DKC_SRC/../free-port.sh"
DKC_DEFAULT_DIR=${DKCLUSTER_DIR:-/tmp/dkcluster}
# Components in start order; stopped in reverse.
DKC_COMPONENTS=(etcd apiserver controller-manager scheduler nodesim)

dkc_log() { printf '[dkcluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
dkc_die() { dkc_log "ERROR: $*"; exit 1; }

# Pinned versions, read from go.mod.
dkc_versions() {
  DKC_K8S_VERSION=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$DKC_SRC/go.mod")
  DKC_ETCD_VERSION=$(awk '$1=="go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$DKC_SRC/go.mod")
  [[ -n $DKC_K8S_VERSION && -n $DKC_ETCD_VERSION ]] || dkc_die "cannot read pinned versions from $DKC_SRC/go.mod"
}

dkc_cache_dir() {
  local d=${DIFFKEEPER_CACHE:-/var/cache/diffkeeper}
  if ! mkdir -p "$d" 2>/dev/null || [[ ! -w $d ]]; then
    d=${XDG_CACHE_HOME:-$HOME/.cache}/diffkeeper
    mkdir -p "$d"
  fi
  printf '%s\n' "$d"
}

dkc_go() {
  if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go; return; fi
  dkc_die "go not found (set GO=/path/to/go)"
}

# Cache key: pinned versions + hash of go.mod, go.sum and every .go file.
dkc_key() {
  (
    cd "$DKC_SRC" || exit 1
    printf 'k8s=%s etcd=%s\n' "$DKC_K8S_VERSION" "$DKC_ETCD_VERSION"
    find . \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum | LC_ALL=C sort | while read -r f; do
      printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"
    done
  ) | sha256sum | cut -c1-16
}

dkc_binary_in_use() {
  local exe
  for exe in /proc/[0-9]*/exe; do
    [[ $(readlink "$exe" 2>/dev/null) == "$1" ]] && return 0
  done
  grep -qsF "$1" /tmp/*/run/*.sh /tmp/*/*/run/*.sh 2>/dev/null
}

# Sets DKC_BIN, building it when the cache has no binary for the key.
dkc_build() {
  dkc_versions
  local cache key bin
  cache=$(dkc_cache_dir)
  key=$(dkc_key)
  bin="$cache/dkcluster-$DKC_K8S_VERSION-etcd$DKC_ETCD_VERSION-$key"
  if [[ -x $bin ]]; then
    DKC_BIN=$bin
    dkc_log "using cached binary $bin"
    return
  fi
  exec 9>"$cache/.build.lock"
  flock 9
  if [[ -x $bin ]]; then
    DKC_BIN=$bin
    flock -u 9
    dkc_log "using cached binary $bin"
    return
  fi
  local go ld p minor start
  go=$(dkc_go)
  minor=${DKC_K8S_VERSION#v1.}; minor=${minor%%.*}
  ld="-s -w -X main.kubeVersion=$DKC_K8S_VERSION -X main.etcdVersion=$DKC_ETCD_VERSION"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$DKC_K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  dkc_log "building dkcluster (kubernetes $DKC_K8S_VERSION, etcd $DKC_ETCD_VERSION) -> $bin"
  dkc_log "  a cold build takes ~5 min on 2 idle cores (9 CPU-min), longer on a busy machine (module + build cache are Go's defaults: $("$go" env GOMODCACHE), $("$go" env GOCACHE))"
  start=$SECONDS
  (
    cd "$DKC_SRC"
    CGO_ENABLED=0 nice -n 10 "$go" build -trimpath -buildvcs=false -ldflags "$ld" -o "$bin.tmp.$$" ./cmd/dkcluster
  ) || { rm -f "$bin.tmp.$$"; flock -u 9; dkc_die "go build failed"; }
  mv -f "$bin.tmp.$$" "$bin"
  dkc_log "built in $((SECONDS - start))s ($(du -h "$bin" | cut -f1))"
  # Keep the three newest binaries, and any binary a running cluster uses.
  # shellcheck disable=SC2012
  ls -1t "$cache"/dkcluster-v* 2>/dev/null | tail -n +4 | while read -r old; do
    dkc_binary_in_use "$old" || rm -f "$old"
  done
  flock -u 9
  DKC_BIN=$bin
}

# Sets variable $1 to a free TCP port (see ../free-port.sh).
dkc_free_port() { e2e_free_port "$1" || dkc_die "no free port found"; }

# pid of a component when it is running (and really is ours), else empty.
dkc_pid() {
  local dir=$1 name=$2 pid
  [[ -f $dir/pids/$name.pid ]] || return 0
  pid=$(<"$dir/pids/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "dkcluster"; then
    printf '%s\n' "$pid"
  fi
}

dkc_start() {
  local dir=$1 name=$2
  [[ -x $dir/run/$name.sh ]] || dkc_die "no run script $dir/run/$name.sh"
  printf '\n===== %s start %s =====\n' "$(date -Is)" "$name" >>"$dir/logs/$name.log"
  setsid "$dir/run/$name.sh" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 50); do
    [[ -n $(dkc_pid "$dir" "$name") ]] && return 0
    sleep 0.1
  done
  dkc_die "$name did not start; see $dir/logs/$name.log"
}

# A process that exists and is not a zombie (our parent may be a slow reaper).
dkc_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# Stop a component: SIGTERM, wait up to $3 seconds, then SIGKILL.
dkc_stop() {
  local dir=$1 name=$2 wait=${3:-20} pid
  pid=$(dkc_pid "$dir" "$name")
  if [[ -z $pid ]]; then
    rm -f "$dir/pids/$name.pid"
    return 0
  fi
  if ((wait == 0)); then
    kill -KILL "$pid" 2>/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 $((wait * 10))); do
    dkc_alive "$pid" || break
    sleep 0.1
  done
  if ((wait > 0)) && dkc_alive "$pid"; then
    dkc_log "$name (pid $pid) did not stop after ${wait}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 50); do
    dkc_alive "$pid" || break
    sleep 0.1
  done
  rm -f "$dir/pids/$name.pid"
}

dkc_curl_api() { # path
  curl -sS --max-time 5 --cacert "$DKC_DIR/pki/ca.crt" --cert "$DKC_DIR/pki/admin.crt" --key "$DKC_DIR/pki/admin.key" \
    "https://127.0.0.1:$DKCLUSTER_API_PORT$1"
}

# Wait until a command succeeds, while the component's process lives.
dkc_wait() { # dir name timeout description cmd...
  local dir=$1 name=$2 timeout=$3 what=$4
  shift 4
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [[ -n $name && -z $(dkc_pid "$dir" "$name") ]]; then
      dkc_log "$name exited while waiting for $what; last log lines:"
      tail -n 30 "$dir/logs/$name.log" >&2
      return 1
    fi
    if ((SECONDS - start > timeout)); then
      dkc_log "timed out after ${timeout}s waiting for $what; last lines of $dir/logs/$name.log:"
      [[ -n $name ]] && tail -n 30 "$dir/logs/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

dkc_wait_ready() { # dir component
  local dir=$1 name=$2
  case $name in
    etcd) dkc_wait "$dir" etcd 60 "etcd /health" \
      sh -c "curl -sf --max-time 2 http://127.0.0.1:$DKCLUSTER_ETCD_PORT/health | grep -q '\"health\":\"true\"'" ;;
    apiserver) dkc_wait "$dir" apiserver 180 "kube-apiserver /readyz" \
      sh -c "curl -sf --max-time 5 --cacert $dir/pki/ca.crt --cert $dir/pki/admin.crt --key $dir/pki/admin.key https://127.0.0.1:$DKCLUSTER_API_PORT/readyz | grep -qx ok" ;;
    controller-manager) dkc_wait "$dir" controller-manager 120 "kube-controller-manager /healthz" \
      sh -c "curl -skf --max-time 2 https://127.0.0.1:$DKCLUSTER_CM_PORT/healthz | grep -qx ok" ;;
    scheduler) dkc_wait "$dir" scheduler 120 "kube-scheduler /readyz" \
      sh -c "curl -skf --max-time 2 https://127.0.0.1:$DKCLUSTER_SCHEDULER_PORT/readyz | grep -qx ok" ;;
    nodesim) dkc_wait "$dir" nodesim 120 "simulated nodes Ready and untainted" dkc_nodes_ready "$dir" ;;
  esac
}

dkc_nodes_ready() {
  local dir=$1 out
  out=$(KUBECONFIG=$dir/admin.kubeconfig kubectl get nodes -l dkcluster.diffkeeper.io/simulated=true \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints}{"\n"}{end}') || return 1
  [[ $(grep -c . <<<"$out") -ge ${DKCLUSTER_NODE_COUNT:-1} ]] || return 1
  # Ready, and no lingering not-ready taint (cordon / other taints are fine).
  ! grep -v ' True' <<<"$out" | grep -q . || return 1
  ! grep -q 'node.kubernetes.io/not-ready\|node.kubernetes.io/unreachable' <<<"$out"
}

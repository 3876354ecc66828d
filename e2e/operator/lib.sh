# shellcheck shell=bash
# Shared by the operator e2e tests (e2e/operator/*.sh). Not executable on its own.
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   DK_SOURCE_DIR        the source tree
#   DK_OP_E2E_DIR        working directory: the cluster (cluster/), operator replicas (operators/)
#   DK_OPERATOR_BIN      diffkeeper-operator
#   DK_RESTORE_WAIT_BIN  restore-wait (run by the node simulator for the init container)
set -euo pipefail

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${DK_SOURCE_DIR:-$(cd "$E2E_SRC/../.." && pwd)}
WORK=${DK_OP_E2E_DIR:-/tmp/dk-operator-e2e}
CLUSTER_DIR=$WORK/cluster
OPS_DIR=$WORK/operators
OVERLAY=$SRC/manifests/overlays/e2e
OP_NS=diffkeeper-system
# The e2e overlay points the webhook at port 29443 (manifests/overlays/e2e/kustomization.yaml);
# a suite that sets DK_WEBHOOK_PORT installs through install_overlay, which patches the URL, so
# clusters of several suites (or the local demo) can run side by side.
WEBHOOK_PORT=${DK_WEBHOOK_PORT:-29443}
T0=$SECONDS

log() { printf '[%s +%3ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"; }
fail() {
  printf '[%s +%3ss] FAIL: %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*" >&2
  mkdir -p "$WORK" && touch "$WORK/failed"
  if [[ -n ${KUBECONFIG:-} && -f ${KUBECONFIG:-} ]]; then
    kubectl get statepolicies,staterestores,pods -A -o wide >&2 2>/dev/null || true
  fi
  for f in "$OPS_DIR"/*.log; do
    [[ -f $f ]] || continue
    echo "--- last lines of $f" >&2
    grep -v '"level":"debug"' "$f" | tail -n 15 >&2 || true
  done
  exit 1
}

# The kustomization to apply: the e2e overlay itself, or (another WEBHOOK_PORT) an overlay of it
# in WORK that points the webhook at that port.
install_overlay() {
  if [[ $WEBHOOK_PORT == 29443 ]]; then
    echo "$OVERLAY"
    return
  fi
  local dir=$WORK/overlay
  mkdir -p "$dir"
  cat >"$dir/kustomization.yaml" <<EOF2
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$dir" "$OVERLAY")
patches:
- target: {kind: MutatingWebhookConfiguration, name: diffkeeper-restore-gate}
  patch: |-
    - op: replace
      path: /webhooks/0/clientConfig/url
      value: https://127.0.0.1:$WEBHOOK_PORT/mutate
EOF2
  echo "$dir"
}

# Loads the cluster's environment (KUBECONFIG, DKCLUSTER_*).
use_cluster() {
  [[ -f $CLUSTER_DIR/env ]] || fail "no cluster in $CLUSTER_DIR (run the operator_e2e_cluster_up fixture)"
  # shellcheck source=/dev/null
  source "$CLUSTER_DIR/env"
}

# until_ok TIMEOUT DESCRIPTION CMD...: retries CMD every 0.5 s.
until_ok() {
  local timeout=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - start < timeout)) || fail "timed out after ${timeout}s: $what"
    sleep 0.5
  done
}

# jsonpath NS KIND NAME PATH: one field ("" when absent).
field() { kubectl -n "$1" get "$2" "$3" -o "jsonpath=$4" 2>/dev/null || true; }

# The status of a condition of a StatePolicy.
cond() { field "$1" statepolicy "$2" "{.status.conditions[?(@.type==\"$3\")].$4}"; }

# Predicates for until_ok (re-evaluated on every try; "$(…)" in until_ok's arguments would
# be evaluated only once).
cond_is() { [[ $(cond "$1" "$2" "$3" "$4") == "$5" ]]; }      # NS POLICY TYPE FIELD WANT
field_is() { [[ $(field "$1" "$2" "$3" "$4") == "$5" ]]; }    # NS KIND NAME PATH WANT
gone() { ! kubectl -n "$1" get "$2" "$3" >/dev/null 2>&1; }     # NS KIND NAME
exists() { kubectl -n "$1" get "$2" "$3" >/dev/null 2>&1; }     # NS KIND NAME
has_leader() { [[ -n $(leader) ]]; }

expect_eq() { # WHAT GOT WANT
  [[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"
}

expect_contains() { # WHAT GOT SUBSTRING
  [[ $2 == *"$3"* ]] || fail "$1: '$2' does not contain '$3'"
}

# Events (events.k8s.io) the operator recorded about NAME in NS: "reason: note" lines.
operator_events() { # NS NAME
  kubectl get events.events.k8s.io -n "$1" \
    --field-selector "reportingController=diffkeeper.io/operator,regarding.name=$2" \
    -o jsonpath='{range .items[*]}{.reason}: {.note}{"\n"}{end}' 2>/dev/null || true
}

has_event() { # NS NAME REASON
  operator_events "$1" "$2" | grep -q "^$3:"
}

events_contain() { # NS NAME TEXT
  operator_events "$1" "$2" | grep -qF "$3"
}

new_namespace() { # NAME: a fresh namespace, deleted when the test exits
  kubectl delete namespace "$1" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  kubectl create namespace "$1" >/dev/null
  CLEANUP_NAMESPACES+=("$1")
}
CLEANUP_NAMESPACES=()
cleanup_namespaces() {
  local ns
  for ns in "${CLEANUP_NAMESPACES[@]}"; do
    # Policies carry a finalizer the operator removes; don't wait on the namespace.
    kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  done
}

# A StatefulSet whose containers the node simulator "runs" (no exec map entry: reported
# running) with an emptyDir volume "data".
apply_statefulset() { # NS NAME REPLICAS
  kubectl -n "$1" apply -f - >/dev/null <<EOF2
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $2}
spec:
  serviceName: $2
  replicas: $3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {app: $2}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: example.invalid/app:1
        command: [app-server]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        emptyDir: {}
EOF2
}

apply_policy() { # NS NAME TARGET [extra spec YAML lines, indented by 2]
  local extra=${4:-}
  kubectl -n "$1" apply -f - >/dev/null <<EOF2
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: $2}
spec:
  targetRef: {name: $3}
  paths: [{volume: data}]
$extra
EOF2
}

pod_ready() { [[ $(field "$1" pod "$2" '{.status.phase}') == Running ]]; }

# ---------------------------------------------------------------- operator replicas

# Writes a kubeconfig for the operator's service account (least-privilege RBAC from the
# manifests, not the admin's certificate).
operator_kubeconfig() {
  local token
  token=$(kubectl -n "$OP_NS" create token diffkeeper-operator --duration=4h)
  mkdir -p "$OPS_DIR"
  cat >"$OPS_DIR/operator.kubeconfig" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $DKCLUSTER_API_SERVER
    certificate-authority: $DKCLUSTER_CA
users:
- name: diffkeeper-operator
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: e2e, user: diffkeeper-operator, namespace: $OP_NS}
current-context: e2e
EOF2
  chmod 600 "$OPS_DIR/operator.kubeconfig"
}

# Replica NAME: webhook on WEBHOOK_PORT for "a" (the URL the API server calls), another port
# for "b"; metrics on a free port written to operators/NAME.metrics. Extra operator flags after
# the name (later flags win). By default the replicas do not manage the agent DaemonSet: the
# tests play the agents' part of the protocol, except test-full-restore.sh, which restarts
# them with OPERATOR_AGENT_ARGS.
start_operator() { # NAME [FLAG...]
  local name=$1 port
  shift
  case $name in a) port=$WEBHOOK_PORT ;; *) port=$((WEBHOOK_PORT + 1)) ;; esac
  mkdir -p "$OPS_DIR"
  [[ -f $OPS_DIR/operator.kubeconfig ]] || operator_kubeconfig
  local log=$OPS_DIR/$name.log before=0
  [[ -f $log ]] && before=$(wc -l <"$log")
  setsid "$DK_OPERATOR_BIN" \
    --kubeconfig "$OPS_DIR/operator.kubeconfig" --namespace "$OP_NS" --identity "operator-$name" \
    --metrics-bind-address 127.0.0.1:0 --webhook-bind-address "127.0.0.1:$port" \
    --lease-duration 6s --renew-deadline 4s --retry-period 1s \
    --restore-grace 2s --resync 30s --purge-timeout 20s --log-level debug \
    --manage-agent=false "$@" \
    >>"$log" 2>&1 </dev/null &
  echo $! >"$OPS_DIR/$name.pid"
  # The metrics server listens on a free port and logs its URL.
  local i url=""
  for i in $(seq 1 100); do
    url=$(tail -n +"$((before + 1))" "$log" | grep -o '"server":"metrics","url":"[^"]*"' | head -1 |
      sed 's/.*"url":"\([^"]*\)"/\1/') || true
    [[ -n $url ]] && break
    operator_alive "$name" || fail "operator $name exited at start-up (see $log)"
    sleep 0.1
  done
  [[ -n $url ]] || fail "operator $name did not start its metrics server"
  echo "$url" >"$OPS_DIR/$name.metrics"
  until_ok 30 "operator $name /healthz" curl -sf "$url/healthz"
}

operator_pid() { [[ -f $OPS_DIR/$1.pid ]] && cat "$OPS_DIR/$1.pid"; }

operator_alive() { local p; p=$(operator_pid "$1") && kill -0 "$p" 2>/dev/null; }

stop_operator() { # NAME [SIGNAL]
  local pid sig=${2:-TERM}
  pid=$(operator_pid "$1") || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$OPS_DIR/$1.pid"
}

metrics_of() { curl -sf "$(cat "$OPS_DIR/$1.metrics")/metrics"; }
readyz_of() { curl -sf "$(cat "$OPS_DIR/$1.metrics")/readyz"; }

leader() { field "$OP_NS" lease diffkeeper-operator '{.spec.holderIdentity}'; }

# Operator flags that let it run real agents on the simulated nodes: the node simulator runs
# the DaemonSet's pods as host processes (diffkeeper-agent is in its exec map), all on
# 127.0.0.1, so the agents bind free ports and advertise 127.0.0.1; the service-account
# directory is passed as an argument so the simulator maps it to the pod's projected token.
# The DaemonSet mounts only <kubelet root>/pods (not the kubelet's credentials next to it); the
# simulator rewrites arguments under a mount path, so the kubelet root is named through it.
OPERATOR_AGENT_ARGS=(
  --manage-agent=true
  --agent-arg=--kubelet-root=/var/lib/kubelet/pods/..
  --agent-arg=--peer-port=0 --agent-arg=--metrics-addr=127.0.0.1:0
  --agent-arg=--advertise-address=127.0.0.1
  --agent-arg=--service-account-dir=/var/run/secrets/kubernetes.io/serviceaccount
  --agent-arg=--report-interval=2s --agent-arg=--debounce-ms=100 --agent-arg=--max-delay-ms=1000
  --agent-arg=--restore-peer-timeout=90s
)

# Both replicas up and one of them leading.
ensure_operators() {
  local n
  for n in a b; do operator_alive "$n" || start_operator "$n"; done
  until_ok 60 "a leader" has_leader
  until_ok 60 "replica a ready" readyz_of a
}

# shellcheck shell=bash
# Shared by the mission e2e scenarios (e2e/mission/*.sh) and the local cluster demo
# (scripts/cluster-demo.sh). Not executable on its own. Builds on the operator e2e helpers
# (e2e/operator/lib.sh: logging, until_ok, fields, operator replicas as host processes).
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   DK_SOURCE_DIR        the source tree
#   DK_MISSION_DIR       working directory: cluster/, operators/, control/, s3/
#   DK_OPERATOR_BIN      diffkeeper-operator
#   DK_AGENT_BIN         diffkeeper-agent (the node simulator runs the DaemonSet's pods with it)
#   DK_RESTORE_WAIT_BIN  restore-wait (the gate's init container)
#   DK_DKCTL_BIN         dkctl (reads the agents' stores, read-only)
#   DK_WEBHOOK_PORT      port of the admission webhook (default 29453)
#   DK_MISSION_NODES     simulated nodes (default 5)
set -euo pipefail
export DK_OP_E2E_DIR=${DK_MISSION_DIR:-/tmp/dk-mission}
export DK_WEBHOOK_PORT=${DK_WEBHOOK_PORT:-29453}
# shellcheck source=../operator/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/operator/lib.sh"
MISSION_SRC=$SRC/e2e/mission
CONTROL_DIR=$WORK/control
NODES=${DK_MISSION_NODES:-5}
NS=mission
DKCTL=${DK_DKCTL_BIN:-$SRC/build/tools/dkctl}

state_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/host/var/lib/diffkeeper"; }
store_dir() { echo "$(state_dir "$1")/stores/$2/$3/$4"; } # NODE NS STS ORDINAL
volume_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/pods/$2/volumes/kubernetes.io~empty-dir/$3"; }
pod_uid() { field "$1" pod "$2" '{.metadata.uid}'; }
pod_node() { field "$1" pod "$2" '{.spec.nodeName}'; }
agent_info() { jq -r ".$2" "$(state_dir "$1")/agent.json" 2>/dev/null || true; }
agent_alive() { local pid; pid=$(agent_info "$1" pid); [[ -n $pid && -d /proc/$pid ]]; }
node_names() { kubectl get nodes -o jsonpath='{.items[*].metadata.name}'; }

# sha256 and mode of every entry below DIR, relative, sorted: a byte-exact fingerprint.
tree_fingerprint() {
  (cd "$1" && find . -mindepth 1 \( -type f -o -type l -o -type d \) -printf '%p %y %m\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# The node report's entry for an identity, as JSON ("" when absent).
report_entry() { # NODE NS STS ORDINAL
  kubectl -n "$OP_NS" get configmap "diffkeeper-node-$1" -o jsonpath='{.data.pods}' 2>/dev/null |
    jq -c --arg ns "$2" --arg sts "$3" --argjson o "$4" \
      '.[] | select(.namespace == $ns and .statefulSet == $sts and .ordinal == $o)' 2>/dev/null || true
}
report_field() { local e; e=$(report_entry "$1" "$2" "$3" "$4"); [[ -n $e ]] && jq -r ".$5 // empty" <<<"$e"; }

# The application: a StatefulSet NAME of REPLICAS pods running workload.py on the emptyDir
# "data", and its StatePolicy (extra spec lines in EXTRA, indented by 2).
apply_app() { # NS NAME REPLICAS [EXTRA] [WORKLOAD ARGS...]
  local ns=$1 name=$2 replicas=$3 extra=${4:-}
  shift 4 2>/dev/null || shift $#
  local wargs="" a
  for a in "$@"; do wargs+=", \"$a\""; done
  mkdir -p "$CONTROL_DIR" "$WORK/apps"
  # Kept for re-applying the same manifests (GitOps scenario).
  tee "$WORK/apps/$ns-$name.yaml" <<EOF2 | kubectl -n "$ns" apply -f - >/dev/null
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: $name}
spec:
  targetRef: {name: $name}
  paths: [{volume: data}]
  capture: {debounce: 200ms}
$([[ $extra == *"restore:"* ]] || echo "  restore: {timeout: 180s}")
$extra
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $name}
spec:
  serviceName: $name
  replicas: $replicas
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: example.invalid/mission-app:1
        command: [python3, "$MISSION_SRC/workload.py", /data, "$CONTROL_DIR"$wargs]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}}]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        emptyDir: {}
EOF2
}

# Restarts operator replicas that exited, as their Deployment would: a replica that cannot renew
# the lease (e.g. the API server is down longer than --renew-deadline) exits on purpose.
revive_operators() {
  local n
  for n in a b; do
    if ! operator_alive "$n"; then
      log "  operator-$n had exited ($(grep -o '"reason":"[^"]*"' "$OPS_DIR/$n.log" | tail -1)); restarting it as its Deployment would"
      start_operator "$n" "${OPERATOR_AGENT_ARGS[@]}"
    fi
  done
  until_ok 60 "a leader" has_leader
  until_ok 60 "replica a ready (it serves the webhook)" readyz_of a
}

# Pauses every workload and waits until the pods named in "$@" (NS/POD) acknowledged it.
pause_workloads() {
  mkdir -p "$CONTROL_DIR"
  touch "$CONTROL_DIR/pause"
  local p
  for p in "$@"; do until_ok 30 "$p paused" test -f "$CONTROL_DIR/${p#*/}.paused"; done
}
resume_workloads() { rm -f "$CONTROL_DIR/pause"; }

# Waits until the latest capture set of POD's store equals its volume (all writes captured);
# prints "set root". The store is read with dkctl, read-only, next to the running agent.
wait_captured() { # NS STS ORDINAL
  local ns=$1 sts=$2 ord=$3 pod=$2-$3 node uid vol store t0=$SECONDS
  node=$(pod_node "$ns" "$pod")
  uid=$(pod_uid "$ns" "$pod")
  vol=$(volume_dir "$node" "$uid" data)
  store=$(store_dir "$node" "$ns" "$sts" "$ord")
  local want got
  want=$(tree_fingerprint "$vol")
  while ((SECONDS - t0 < 60)); do
    rm -rf "$WORK/probe"
    if "$DKCTL" --store "$store" restore "$WORK/probe" >/dev/null 2>&1; then
      got=$(tree_fingerprint "$WORK/probe/data" 2>/dev/null || true)
      [[ $got == "$want" ]] && break
    fi
    sleep 1
  done
  [[ ${got:-} == "$want" ]] || fail "the store of $pod on $node never caught up with its volume"
  rm -rf "$WORK/probe"
  "$DKCTL" --store "$store" log 2>/dev/null | awk 'NR > 1 {s = $1; r = $NF} END {print s, r}'
}

# A value of the S3 server's env file (KEY=VALUE lines, values possibly double-quoted).
s3_env() { sed -n "s/^$1=//p" "$WORK/s3/env" | sed 's/^"\(.*\)"$/\1/'; }

# The storage stanza of the mission's policies: the S3 server of the cluster-up fixture, with
# the credentials in Secret mission-s3 of the operator's namespace (create_s3_secret).
s3_storage() {
  echo "  storage: {type: S3, s3: {endpoint: \"$(s3_env S3_ENDPOINT)\", bucket: $(s3_env S3_BUCKET), prefix: mission/, region: $(s3_env S3_REGION), credentialsSecretRef: {name: mission-s3}}}"
}
create_s3_secret() {
  kubectl -n "$OP_NS" create secret generic mission-s3 --dry-run=client -o yaml \
    --from-literal=accessKeyID="$(s3_env S3_ACCESS_KEY)" \
    --from-literal=secretAccessKey="$(s3_env S3_SECRET_KEY)" | kubectl apply -f - >/dev/null
}

sqlite_ok() { [[ $(sqlite3 "$1" 'PRAGMA integrity_check;') == ok ]]; }

# Seconds from the pod's creation to its restore-wait init container's exit (the release).
release_seconds() { # NS POD
  local created finished
  created=$(field "$1" pod "$2" '{.metadata.creationTimestamp}')
  finished=$(field "$1" pod "$2" '{.status.initContainerStatuses[0].state.terminated.finishedAt}')
  [[ -n $created && -n $finished ]] || { echo "?"; return; }
  echo $(($(date -d "$finished" +%s) - $(date -d "$created" +%s)))
}

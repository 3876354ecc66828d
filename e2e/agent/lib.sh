# shellcheck shell=bash
# Shared by the agent e2e tests (e2e/agent/*.sh). Not executable on its own.
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   DK_SOURCE_DIR        the source tree
#   DK_AGENT_E2E_DIR     working directory (the cluster lives in cluster/)
#   DK_AGENT_BIN         diffkeeper-agent (run by the node simulator for the DaemonSet's pods)
#   DK_RESTORE_WAIT_BIN  restore-wait (run by the node simulator for the gate's init container)
#   DK_DKCTL_BIN         dkctl (reads the agents' stores, read-only, from the outside)
set -euo pipefail

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${DK_SOURCE_DIR:-$(cd "$E2E_SRC/../.." && pwd)}
WORK=${DK_AGENT_E2E_DIR:-/tmp/dk-agent-e2e}
CLUSTER_DIR=$WORK/cluster
AGENT_NS=diffkeeper-system
NS=e2e-agent
DKCTL=${DK_DKCTL_BIN:-$SRC/build/tools/dkctl}
T0=$SECONDS

log() { printf '[%s +%3ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"; }
fail() {
  printf '[%s +%3ss] FAIL: %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*" >&2
  mkdir -p "$WORK" && touch "$WORK/failed"
  if [[ -n ${KUBECONFIG:-} && -f ${KUBECONFIG:-} ]]; then
    kubectl get staterestores,pods -A -o wide >&2 2>/dev/null || true
  fi
  if [[ -d $CLUSTER_DIR/nodes ]]; then
    for f in "$CLUSTER_DIR"/nodes/*/logs/"${AGENT_NS}"_diffkeeper-agent-*/agent/*.log; do
      [[ -f $f ]] || continue
      echo "--- last lines of $f" >&2
      grep -v '"level":"debug"' "$f" | tail -n 12 >&2 || true
    done
  fi
  exit 1
}

use_cluster() {
  [[ -f $CLUSTER_DIR/env ]] || fail "no cluster in $CLUSTER_DIR (run the agent_e2e_cluster_up fixture)"
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

field() { kubectl -n "$1" get "$2" "$3" -o "jsonpath=$4" 2>/dev/null || true; }
field_is() { [[ $(field "$1" "$2" "$3" "$4") == "$5" ]]; }
expect_eq() { [[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"; }
expect_contains() { [[ $2 == *"$3"* ]] || fail "$1: '$2' does not contain '$3'"; }

node_dir() { echo "$DKCLUSTER_NODES_ROOT/$1"; }
state_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/host/var/lib/diffkeeper"; }
store_dir() { echo "$(state_dir "$1")/stores/$2/$3/$4"; }  # NODE NS STS ORDINAL
# The host directory of a pod's emptyDir volume.
volume_dir() { # NODE UID VOLUME
  echo "$DKCLUSTER_NODES_ROOT/$1/pods/$2/volumes/kubernetes.io~empty-dir/$3"
}
pod_node() { field "$1" pod "$2" '{.spec.nodeName}'; }
pod_uid() { field "$1" pod "$2" '{.metadata.uid}'; }
# A field of <state-dir>/agent.json of NODE's agent (peer, metrics, pid).
agent_info() { jq -r ".$2" "$(state_dir "$1")/agent.json" 2>/dev/null || true; }
agent_alive() { local pid; pid=$(agent_info "$1" pid); [[ -n $pid && -d /proc/$pid ]]; }
agent_metric() { # NODE METRIC-LINE-PREFIX → value (sum of matching lines)
  curl -sf --max-time 5 "$(agent_info "$1" metrics)/metrics" |
    awk -v p="$2" 'index($0, p) == 1 {s += $NF} END {print s + 0}'
}
# Capture sets of a store, "set root" per line (read-only; the agent may hold it open).
store_sets() { "$DKCTL" --store "$1" log 2>/dev/null | awk 'NR > 1 {print $1, $NF}'; }
store_has() { "$DKCTL" --store "$1" log "$2" >/dev/null 2>&1; }
# The node report's entry for an identity, as JSON ("" when absent).
report_entry() { # NODE NS STS ORDINAL
  kubectl -n "$AGENT_NS" get configmap "diffkeeper-node-$1" -o jsonpath='{.data.pods}' 2>/dev/null |
    jq -c --arg ns "$2" --arg sts "$3" --argjson o "$4" \
      '.[] | select(.namespace == $ns and .statefulSet == $sts and .ordinal == $o)' 2>/dev/null || true
}
report_last_set() { local e; e=$(report_entry "$@"); [[ -n $e ]] && jq -r .lastSet <<<"$e" || echo 0; }
report_has_set() { (($(report_last_set "$@") > 0)); }

# Plays the operator's part of the restore gate: a StateRestore for the gated pod NAME.
create_restore() { # NS POD POLICY ORDINAL
  local uid
  uid=$(pod_uid "$1" "$2")
  [[ -n $uid ]] || fail "pod $1/$2 has no uid"
  kubectl -n "$1" apply -f - >/dev/null <<EOF
apiVersion: diffkeeper.io/v1alpha1
kind: StateRestore
metadata:
  name: $2-${uid:0:8}
  labels: {diffkeeper.io/pod-uid: "$uid"}
spec: {policy: $3, ordinal: $4, pod: $2, podUID: "$uid"}
EOF
  echo "$2-${uid:0:8}"
}
restore_phase() { field "$1" staterestore "$2" '{.status.phase}'; }
restore_done() { [[ $(restore_phase "$1" "$2") == Succeeded || $(restore_phase "$1" "$2") == Failed ]]; }

# sha256 and mode of every entry below DIR, relative, sorted: a byte-exact fingerprint.
tree_fingerprint() {
  (cd "$1" && find . -mindepth 1 \( -type f -o -type l -o -type d \) -printf '%p %y %m\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

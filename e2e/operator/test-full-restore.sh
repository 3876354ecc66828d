#!/usr/bin/env bash
# The whole system: the operator's agent DaemonSet runs real diffkeeper-agents on the simulated
# nodes; a protected pod's files are captured, its node report shows up in StatePolicy.status;
# the pod is deleted and re-created on the other node, where the webhook gates it, the operator
# creates its StateRestore, the agent there fetches the state from its peer and restores it,
# and restore-wait lets the application start on the restored files.
# Needs DK_AGENT_BIN (the cluster's exec map); runs last (it leaves agents running).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
[[ -x ${DK_AGENT_BIN:-} ]] || { echo "DK_AGENT_BIN not set: skipped"; exit 77; }
# A namespace of its own per run: stores of an identity outlive its pods (and, with Retain,
# its policy), so a re-run in the same namespace would rightly restore the previous run's state.
NS=e2e-full-$(date +%s)
new_namespace "$NS"
trap 'kubectl uncordon node-1 node-2 >/dev/null 2>&1 || true; cleanup_namespaces' EXIT
state_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/host/var/lib/diffkeeper"; }
agent_alive() { local pid; pid=$(jq -r .pid "$(state_dir "$1")/agent.json" 2>/dev/null) && [[ -n $pid && -d /proc/$pid ]]; }
volume_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/pods/$2/volumes/kubernetes.io~empty-dir/$3"; }
pod_uid() { field "$NS" pod "$1" '{.metadata.uid}'; }
pod_node() { field "$NS" pod "$1" '{.spec.nodeName}'; }
report_has() { # NODE: its report lists e2e-full/db/0 with a restore point
  kubectl -n "$OP_NS" get configmap "diffkeeper-node-$1" -o jsonpath='{.data.pods}' 2>/dev/null |
    jq -e --arg ns "$NS" '.[] | select(.namespace == $ns and .statefulSet == "db" and .ordinal == 0 and .lastSet > 0)' >/dev/null
}
fingerprint() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

log "operators restarted to manage real agents"
for n in a b; do stop_operator "$n"; done
start_operator a "${OPERATOR_AGENT_ARGS[@]}"
start_operator b "${OPERATOR_AGENT_ARGS[@]}"
until_ok 60 "a leader" has_leader
until_ok 60 "agent DaemonSet" exists "$OP_NS" daemonset diffkeeper-agent
expect_eq "DaemonSet owner" "$(field "$OP_NS" daemonset diffkeeper-agent '{.metadata.ownerReferences[0].name}')" diffkeeper-operator
argo=$(kubectl -n "$OP_NS" get daemonset diffkeeper-agent -o json |
  jq -r '[.metadata.labels // {}, .metadata.annotations // {} | keys[]] | map(select(startswith("argocd.argoproj.io"))) | length')
expect_eq "no Argo CD tracking metadata on the DaemonSet" "$argo" 0
for n in node-1 node-2; do until_ok 90 "agent running on $n" agent_alive "$n"; done
log "  agents: $(kubectl -n "$OP_NS" get pods -l app.kubernetes.io/component=agent -o jsonpath='{range .items[*]}{.metadata.name}@{.spec.nodeName} {end}')"

log "a protected StatefulSet: its first pod is gated and starts empty"
apply_policy "$NS" db db "  restore: {timeout: 120s}"
until_ok 20 "webhook entry" bash -c "kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies -o jsonpath='{.webhooks[*].name}' | grep -q db.$NS.policy"
apply_statefulset "$NS" db 1
until_ok 60 "db-0 running" pod_ready "$NS" db-0
node=$(pod_node db-0)
uid=$(pod_uid db-0)
first=$(kubectl -n "$NS" get staterestore -l "diffkeeper.io/pod-uid=$uid" -o jsonpath='{.items[0].metadata.name}')
expect_eq "first restore" "$(field "$NS" staterestore "$first" '{.status.phase}')" Succeeded
expect_eq "first restore message" "$(field "$NS" staterestore "$first" '{.status.message}')" \
  "no captured state; starting empty"

log "the application writes; the agent on $node captures; status shows it"
vol=$(volume_dir "$node" "$uid" data)
mkdir -p "$vol/db/pages"
for i in $(seq 1 20); do head -c $((4096 * i)) /dev/urandom >"$vol/db/pages/p$i"; done
echo "state v1" >"$vol/db/meta"
until_ok 60 "node report of $node lists db-0" report_has "$node"
until_ok 30 "policy status shows db-0" field_is "$NS" statepolicy db '{.status.pods[0].node}' "$node"
stored() { (($(field "$NS" statepolicy db '{.status.storedBytes}') > 40000)); }
until_ok 60 "the written files' bytes stored (status.storedBytes)" stored
(($(field "$NS" statepolicy db '{.status.versions}') >= 1)) || fail "versions in status"
log "  $(kubectl -n "$NS" get statepolicy db --no-headers)"
sleep 3  # the last capture set lands
fingerprint "$vol" >"$WORK/full-before.txt"

log "db-0 is deleted and re-created on the other node"
kubectl cordon "$node" >/dev/null
kubectl -n "$NS" delete pod db-0 --wait=true --timeout=60s >/dev/null
moved() { local u; u=$(pod_uid db-0); [[ -n $u && $u != "$uid" && -n $(pod_node db-0) ]]; }
until_ok 90 "db-0 re-created and scheduled" moved
new_node=$(pod_node db-0)
new_uid=$(pod_uid db-0)
[[ $new_node != "$node" ]] || fail "db-0 came back on the cordoned node"
expect_eq "gated" "$(field "$NS" pod db-0 '{.spec.initContainers[0].name}')" diffkeeper-restore-wait
sr=db-0-${new_uid:0:8}
until_ok 30 "the operator's StateRestore $sr" exists "$NS" staterestore "$sr"
until_ok 150 "$sr Succeeded" field_is "$NS" staterestore "$sr" '{.status.phase}' Succeeded
expect_eq "restore source" "$(field "$NS" staterestore "$sr" '{.status.source}')" "peer:$node"
expect_eq "restore node" "$(field "$NS" staterestore "$sr" '{.status.node}')" "$new_node"
until_ok 90 "db-0 running on $new_node" pod_ready "$NS" db-0
fingerprint "$(volume_dir "$new_node" "$new_uid" data)" >"$WORK/full-after.txt"
diff -u "$WORK/full-before.txt" "$WORK/full-after.txt" >&2 || fail "the restored files differ"
until_ok 20 "RestoreSucceeded event" events_contain "$NS" db "restored from peer:$node"
until_ok 30 "lastRestore in status" field_is "$NS" statepolicy db '{.status.pods[0].lastRestore.result}' Succeeded
log "  $(field "$NS" staterestore "$sr" '{.status}')"
kubectl uncordon "$node" >/dev/null
log "PASS"

#!/usr/bin/env bash
# Scenario 3 — Reschedule, twice:
#  a) db-1's node is cordoned and the pod deleted: the agent on the new node restores from the
#     old node's agent (peer API);
#  b) db-2's node dies (the node simulator stops it: no kubelet, no agent) and is cordoned and
#     deleted: the pod garbage collector removes the pod, and the agent on the new node
#     restores from the bucket.
# Each time the StatefulSet controller re-creates the pod, the scheduler places it on another
# node, the webhook gates it, the operator creates its StateRestore, restore-wait releases it
# once restored, and the workload finds every file byte-exact as of the last captured version
# (the SQLite database passes PRAGMA integrity_check) and continues from it. Reports the time
# from the new pod's creation to its release.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
pod=db-1

# move_pod POD pod|node: cordon its node and delete the pod, or kill and delete the node; wait
# for its replacement to be restored; checks the files against the last captured version.
# Sets MOVED_FROM, MOVED_TO, RELEASE_S.
move_pod() {
  local pod=$1 how=$2 ord=${1##*-} old_node old_uid set root
  old_node=$(pod_node "$NS" "$pod")
  old_uid=$(pod_uid "$NS" "$pod")
  pause_workloads "$NS/$pod"
  read -r set root < <(wait_captured "$NS" db "$ord")
  replicated() { [[ $(report_field "$old_node" "$NS" db "$ord" replication.lastRoot) == "$root"* ]]; }
  until_ok 60 "set $set of $pod in the bucket" replicated
  local tick
  tick=$(jq -r .tick "$(volume_dir "$old_node" "$old_uid" data)/state.json")
  tree_fingerprint "$(volume_dir "$old_node" "$old_uid" data)" >"$WORK/$pod-before.txt"
  if [[ $how == pod ]]; then
    log "$pod on $old_node: tick $tick captured as set $set; cordon $old_node, delete $pod"
    kubectl cordon "$old_node" >/dev/null
    kubectl -n "$NS" delete pod "$pod" --wait=true --timeout=60s >/dev/null
  else
    log "$pod on $old_node: tick $tick captured as set $set; $old_node dies, is cordoned and deleted"
    touch "$DKCLUSTER_NODES_ROOT/$old_node/down"
    until_ok 30 "the agent of $old_node stopped" bash -c "! kill -0 $(agent_info "$old_node" pid) 2>/dev/null"
    kubectl cordon "$old_node" >/dev/null
    kubectl delete node "$old_node" --wait=true --timeout=60s >/dev/null
  fi
  moved() { local u; u=$(pod_uid "$NS" "$pod"); [[ -n $u && $u != "$old_uid" && -n $(pod_node "$NS" "$pod") ]]; }
  # A deleted node's pods go when the pod garbage collector finds them orphaned (~1 min).
  until_ok 180 "$pod re-created and scheduled" moved
  local new_node new_uid sr
  new_node=$(pod_node "$NS" "$pod")
  new_uid=$(pod_uid "$NS" "$pod")
  [[ $new_node != "$old_node" ]] || fail "$pod came back on the cordoned node"
  expect_eq "$pod gated" "$(field "$NS" pod "$pod" '{.spec.initContainers[0].name}')" diffkeeper-restore-wait
  sr=$pod-${new_uid:0:8}
  until_ok 30 "the operator's StateRestore $sr" exists "$NS" staterestore "$sr"
  until_ok 180 "$sr Succeeded" field_is "$NS" staterestore "$sr" '{.status.phase}' Succeeded
  until_ok 90 "$pod running on $new_node" pod_ready "$NS" "$pod"
  local vol
  vol=$(volume_dir "$new_node" "$new_uid" data)
  tree_fingerprint "$vol" >"$WORK/$pod-after.txt"
  diff -u "$WORK/$pod-before.txt" "$WORK/$pod-after.txt" >&2 || fail "the restored files of $pod differ from set $set"
  sqlite_ok "$vol/app.db" || fail "$pod: the restored database fails PRAGMA integrity_check"
  expect_eq "restored set" "$(field "$NS" staterestore "$sr" '{.status.set}')" "$set"
  logs_continue() { kubectl -n "$NS" logs "$pod" -c app 2>/dev/null | grep -q "found state.json at tick $tick"; }
  until_ok 30 "the workload continues from tick $tick" logs_continue
  RELEASE_S=$(release_seconds "$NS" "$pod")
  log "$pod: $old_node -> $new_node, restored set $set from $(field "$NS" staterestore "$sr" '{.status.source}') ($(field "$NS" staterestore "$sr" '{.status.files}') files, $(field "$NS" staterestore "$sr" '{.status.bytes}') bytes, restore $(field "$NS" staterestore "$sr" '{.status.durationSeconds}')s); pod creation -> release ${RELEASE_S}s; byte-exact, integrity_check ok"
  MOVED_FROM=$old_node MOVED_TO=$new_node
  resume_workloads
}

source_of() { field "$NS" staterestore "$1-$(pod_uid "$NS" "$1" | cut -c1-8)" '{.status.source}'; }

move_pod db-1 pod
expect_eq "restore source of db-1" "$(source_of db-1)" "peer:$MOVED_FROM"
kubectl uncordon "$MOVED_FROM" >/dev/null
log "3a PASS: pod deleted, restored from peer:$MOVED_FROM in ${RELEASE_S}s from pod creation to release"

move_pod db-2 node
expect_eq "restore source of db-2" "$(source_of db-2)" bucket
log "3b PASS: node deleted, restored from the bucket in ${RELEASE_S}s from pod creation to release"
dead=$MOVED_FROM
log "$dead comes back (its kubelet registers the Node again)"
rm -f "$DKCLUSTER_NODES_ROOT/$dead/down"
until_ok 60 "$dead registered and Ready" bash -c "kubectl get node $dead -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
until_ok 120 "agent on $dead running again" agent_alive "$dead"
log "PASS"

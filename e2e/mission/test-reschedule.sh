#!/usr/bin/env bash
# Scenario 3 — Reschedule: db-1's node is cordoned and the pod deleted; the StatefulSet
# controller re-creates it, the scheduler places it on another node, the webhook gates it, the
# operator creates its StateRestore, the agent there restores it from the old node's agent,
# restore-wait releases it, and the workload finds every file byte-exact as of the last
# captured version (the SQLite database passes PRAGMA integrity_check) and continues from it.
# Reports the time from the new pod's creation to its release.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
pod=db-1

# move_pod POD: cordon its node, delete it, wait for its replacement to be restored; checks the
# files against the last captured version. Sets MOVED_FROM, MOVED_TO, RELEASE_S.
move_pod() {
  local pod=$1 ord=${1##*-} old_node old_uid set root
  old_node=$(pod_node "$NS" "$pod")
  old_uid=$(pod_uid "$NS" "$pod")
  pause_workloads "$NS/$pod"
  read -r set root < <(wait_captured "$NS" db "$ord")
  local tick
  tick=$(jq -r .tick "$(volume_dir "$old_node" "$old_uid" data)/state.json")
  tree_fingerprint "$(volume_dir "$old_node" "$old_uid" data)" >"$WORK/$pod-before.txt"
  log "$pod on $old_node: tick $tick captured as set $set; cordon $old_node, delete $pod"
  kubectl cordon "$old_node" >/dev/null
  kubectl -n "$NS" delete pod "$pod" --wait=true --timeout=60s >/dev/null
  moved() { local u; u=$(pod_uid "$NS" "$pod"); [[ -n $u && $u != "$old_uid" && -n $(pod_node "$NS" "$pod") ]]; }
  until_ok 90 "$pod re-created and scheduled" moved
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

move_pod "$pod"
expect_eq "restore source" "$(field "$NS" staterestore "$pod-$(pod_uid "$NS" "$pod" | cut -c1-8)" '{.status.source}')" "peer:$MOVED_FROM"
kubectl uncordon "$MOVED_FROM" >/dev/null
log "PASS"

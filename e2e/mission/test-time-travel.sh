#!/usr/bin/env bash
# Scenario 4 — Time travel: a StateRestore that a user creates for db-0 with spec.time waits
# (Pending) while db-0 runs; the user deletes the pod; its gated replacement is restored from
# that StateRestore (the operator adopts it instead of creating its own), so the files are
# byte-exact as they were at that time, not the latest state.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
pod=db-0
resume_workloads
sleep 2
pause_workloads "$NS/$pod"
read -r set1 root1 < <(wait_captured "$NS" db 0)
node=$(pod_node "$NS" $pod)
uid=$(pod_uid "$NS" $pod)
vol=$(volume_dir "$node" "$uid" data)
tick1=$(jq -r .tick "$vol/state.json")
tree_fingerprint "$vol" >"$WORK/tt-then.txt"
sleep 1.2
then_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2
log "$pod at $then_time: tick $tick1, set $set1 (root $root1); the workload goes on"
resume_workloads
sleep 4
pause_workloads "$NS/$pod"
read -r set2 _ < <(wait_captured "$NS" db 0)
tick2=$(jq -r .tick "$vol/state.json")
((set2 > set1 && tick2 > tick1)) || fail "no new state after $then_time (set $set1 -> $set2, tick $tick1 -> $tick2)"
log "$pod now: tick $tick2, set $set2"

log "a StateRestore of $pod to $then_time"
kubectl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: diffkeeper.io/v1alpha1
kind: StateRestore
metadata: {name: db-0-back}
spec: {policy: db, pod: $pod, time: "$then_time"}
EOF
until_ok 30 "db-0-back Pending while $pod runs" field_is "$NS" staterestore db-0-back '{.status.phase}' Pending
log "  $(field "$NS" staterestore db-0-back '{.status.message}')"
kubectl -n "$NS" delete pod $pod --wait=true --timeout=60s >/dev/null
moved() { local u; u=$(pod_uid "$NS" $pod); [[ -n $u && $u != "$uid" ]]; }
until_ok 90 "$pod re-created" moved
new_uid=$(pod_uid "$NS" $pod)
until_ok 30 "db-0-back adopted by the new pod" field_is "$NS" staterestore db-0-back '{.metadata.labels.diffkeeper\.io/pod-uid}' "$new_uid"
until_ok 120 "db-0-back Succeeded" field_is "$NS" staterestore db-0-back '{.status.phase}' Succeeded
! exists "$NS" staterestore "$pod-${new_uid:0:8}" || fail "the operator also created its own StateRestore"
expect_eq "restored set" "$(field "$NS" staterestore db-0-back '{.status.set}')" "$set1"
until_ok 90 "$pod running" pod_ready "$NS" $pod
new_vol=$(volume_dir "$(pod_node "$NS" $pod)" "$new_uid" data)
tree_fingerprint "$new_vol" >"$WORK/tt-now.txt"
diff -u "$WORK/tt-then.txt" "$WORK/tt-now.txt" >&2 || fail "the files are not as they were at $then_time"
sqlite_ok "$new_vol/app.db" || fail "the database of $then_time fails PRAGMA integrity_check"
rows=$(sqlite3 "$new_vol/app.db" 'SELECT max(n) FROM ticks;')
expect_eq "last database row" "$rows" "$tick1"
logs_then() { kubectl -n "$NS" logs $pod -c app 2>/dev/null | grep -q "found state.json at tick $tick1"; }
until_ok 30 "the workload continues from tick $tick1" logs_then
log "$pod is back at $then_time: set $set1, tick $tick1 (was $tick2), from $(field "$NS" staterestore db-0-back '{.status.source}'), byte-exact, integrity_check ok, last row $rows"
resume_workloads
log "PASS"

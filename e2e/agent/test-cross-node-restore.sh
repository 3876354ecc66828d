#!/usr/bin/env bash
# A StateRestore on another node pulls the state from the first node's agent (peer API over
# HTTPS, service-account token checked by TokenReview, certificate pinned from the node report)
# and restores it byte-exact (contents, modes, the symlink, the empty directory) before the
# application starts. Needs the db StatefulSet of test-capture.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster

old_node=$(pod_node "$NS" db-0)
old_uid=$(pod_uid "$NS" db-0)
[[ -n $old_node ]] || fail "no pod db-0 (run test-capture.sh first)"
old_vol=$(volume_dir "$old_node" "$old_uid" data)
store=$(store_dir "$old_node" "$NS" db 0)
until_ok 60 "dataset of db-0 captured" store_has "$store" data/done
tree_fingerprint "$old_vol" >"$WORK/before.txt"
sleep 2  # let the last capture and node report land (report interval 2 s)
last_set=$(report_last_set "$old_node" "$NS" db 0)
((last_set > 0)) || fail "node report of $old_node has no restore point for db-0"
served_before=$(agent_metric "$old_node" 'diffkeeper_agent_peer_requests_total{endpoint="objects",code="200"}')

log "cordon $old_node and delete db-0: the StatefulSet re-creates it elsewhere"
kubectl cordon "$old_node" >/dev/null
trap 'kubectl uncordon "$old_node" >/dev/null 2>&1 || true' EXIT
kubectl -n "$NS" delete pod db-0 --wait=true --timeout=60s >/dev/null
new_pod_here() { local u; u=$(pod_uid "$NS" db-0); [[ -n $u && $u != "$old_uid" && -n $(pod_node "$NS" db-0) ]]; }
until_ok 90 "db-0 re-created and scheduled" new_pod_here
new_node=$(pod_node "$NS" db-0)
new_uid=$(pod_uid "$NS" db-0)
[[ $new_node != "$old_node" ]] || fail "db-0 came back on the cordoned node $old_node"
log "db-0 ($new_uid) is on $new_node; it waits in restore-wait"
sleep 1
expect_eq "new pod phase before its restore" "$(field "$NS" pod db-0 '{.status.phase}')" Pending

sr=$(create_restore "$NS" db-0 db 0)
until_ok 150 "StateRestore $sr finished" restore_done "$NS" "$sr"
status=$(kubectl -n "$NS" get staterestore "$sr" -o json | jq -c .status)
log "status: $status"
expect_eq "phase" "$(jq -r .phase <<<"$status")" Succeeded
expect_eq "node" "$(jq -r .node <<<"$status")" "$new_node"
expect_eq "source" "$(jq -r .source <<<"$status")" "peer:$old_node"
expect_eq "set" "$(jq -r .set <<<"$status")" "$last_set"
[[ $(jq -r .verifiedRoot <<<"$status") =~ ^[0-9a-f]{64}$ ]] || fail "verifiedRoot missing"
(($(jq -r .files <<<"$status") == 23)) || fail "files restored: $(jq -r .files <<<"$status"), want 23"

until_ok 120 "db-0 Running after its restore" field_is "$NS" pod db-0 '{.status.phase}' Running
new_vol=$(volume_dir "$new_node" "$new_uid" data)
tree_fingerprint "$new_vol" >"$WORK/after.txt"
diff -u "$WORK/before.txt" "$WORK/after.txt" >&2 || fail "the restored volume differs from the captured one"
[[ $(cat "$DKCLUSTER_NODES_ROOT/$new_node/host/var/lib/diffkeeper/markers/$new_uid" | jq -r .result) == restored ]] ||
  fail "marker of $new_uid does not say restored"
served_after=$(agent_metric "$old_node" 'diffkeeper_agent_peer_requests_total{endpoint="objects",code="200"}')
((served_after > served_before)) || fail "the agent on $old_node served no objects"

log "the new node captures from here on, continuing the same identity"
new_store=$(store_dir "$new_node" "$NS" db 0)
until_ok 60 "store of db-0 on $new_node" store_has "$new_store" data/done
until_ok 30 "node report of $new_node lists db-0" report_has_set "$new_node" "$NS" db 0
log "PASS"

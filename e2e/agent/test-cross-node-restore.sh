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
# The volume is idle (the dataset is complete): the store's latest set is what the node report
# must show before the pod moves.
same_as_volume() {
  rm -rf "$WORK/pre-check"
  "$DKCTL" --store "$store" restore "$WORK/pre-check" >/dev/null 2>&1 &&
    [[ $(tree_fingerprint "$WORK/pre-check/data") == "$(cat "$WORK/before.txt")" ]]
}
until_ok 60 "the store holds the volume's final state" same_as_volume
last_set=$(store_sets "$store" | tail -n 1 | cut -d' ' -f1)
reported() { [[ $(report_last_set "$old_node" "$NS" db 0) == "$last_set" ]]; }
until_ok 30 "node report of $old_node shows set $last_set" reported
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

log "the peer API serves only entitled callers"
# The token of the agent on the third node (no restore of db-0 runs there) and of the new
# node's agent (its restore is finished): both are agents, neither is entitled now.
ep=$(kubectl -n "$AGENT_NS" get configmap "diffkeeper-node-$old_node" -o jsonpath='{.data.endpoint}')
kubectl -n "$AGENT_NS" get configmap "diffkeeper-node-$old_node" -o jsonpath='{.data.certificate}' >"$WORK/peer.crt"
port=${ep##*:}
peer_get() { # TOKEN-FILE → HTTP code of GET manifest of db-0
  local auth=()
  [[ -n $1 ]] && auth=(-H "Authorization: Bearer $(cat "$1")")
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$WORK/peer.crt" \
    --resolve "diffkeeper-agent:$port:127.0.0.1" "${auth[@]}" \
    "https://diffkeeper-agent:$port/v1/stores/$NS/db/0/manifest"
}
token_of() { # NODE → the token file of its agent pod
  local uid
  uid=$(kubectl -n "$AGENT_NS" get pods -o json |
    jq -r --arg n "$1" '.items[] | select(.spec.nodeName == $n) | .metadata.uid')
  ls "$DKCLUSTER_NODES_ROOT/$1/pods/$uid"/volumes/kubernetes.io~projected/*/token | head -n 1
}
third=""
for n in ${DKCLUSTER_NODES//,/ }; do [[ $n != "$old_node" && $n != "$new_node" ]] && third=$n; done
expect_eq "no token" "$(peer_get "")" 401
echo "not-a-token" >"$WORK/bad.token"
expect_eq "invalid token" "$(peer_get "$WORK/bad.token")" 401
expect_eq "agent of $third (no restore there)" "$(peer_get "$(token_of "$third")")" 403
expect_eq "agent of $new_node (restore finished)" "$(peer_get "$(token_of "$new_node")")" 403

log "the new node captures from here on, continuing the same identity"
new_store=$(store_dir "$new_node" "$NS" db 0)
until_ok 60 "store of db-0 on $new_node" store_has "$new_store" data/done
until_ok 30 "node report of $new_node lists db-0" report_has_set "$new_node" "$NS" db 0
log "PASS"

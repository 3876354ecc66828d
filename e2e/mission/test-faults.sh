#!/usr/bin/env bash
# Scenario 6 — Faults:
#  a) the operator's leader is killed (SIGKILL) as a pod is deleted: its replacement is gated
#     while there is no leader; the other replica takes over, creates its StateRestore, the
#     restore completes and is recorded in the policy status;
#  b) an agent is killed with SIGKILL while it captures: no capture set it had acknowledged is
#     lost (same set, same root), its store verifies, the restarted agent captures again;
#  c) the API server is restarted: the operator and the agents resume (versions grow, node
#     reports are fresh, a leader holds the lease);
#  d) a policy with a bad spec is rejected with a message that names the field;
#  e) a restore whose source is gone (Local storage, the node holding the state dead) fails
#     with a clear message, and the pod is handled as its policy says (StartEmpty: it starts).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
resume_workloads

log "a) the leader killed while a pod moves"
# Replica a serves the webhook (its port is in the webhook configuration), so b must lead: the
# gate keeps working while the leader is dead, and only the leader creates StateRestores.
if [[ $(leader) != operator-b ]]; then
  stop_operator a TERM # releases the lease
  until_ok 60 "operator-b leads" field_is "$OP_NS" lease diffkeeper-operator '{.spec.holderIdentity}' operator-b
  start_operator a "${OPERATOR_AGENT_ARGS[@]}"
fi
old_uid=$(pod_uid "$NS" db-1)
node=$(pod_node "$NS" db-1)
kubectl cordon "$node" >/dev/null
stop_operator b KILL
kubectl -n "$NS" delete pod db-1 --wait=true --timeout=60s >/dev/null
log "  killed the leader operator-b and deleted db-1 on $node"
recreated() { local u; u=$(pod_uid "$NS" db-1); [[ -n $u && $u != "$old_uid" ]]; }
until_ok 60 "db-1 re-created" recreated
new_uid=$(pod_uid "$NS" db-1)
sr=db-1-${new_uid:0:8}
log "  db-1 re-created and gated; StateRestore $sr: $(exists "$NS" staterestore "$sr" && echo exists || echo "not yet (no leader)")"
until_ok 60 "operator-a leads" field_is "$OP_NS" lease diffkeeper-operator '{.spec.holderIdentity}' operator-a
until_ok 60 "$sr exists" exists "$NS" staterestore "$sr"
until_ok 120 "$sr Succeeded" field_is "$NS" staterestore "$sr" '{.status.phase}' Succeeded
until_ok 60 "db-1 running" pod_ready "$NS" db-1
last_restore() { [[ $(kubectl -n "$NS" get statepolicy db -o json | jq -r '.status.pods[] | select(.ordinal == 1) | .lastRestore.name // empty') == "$sr" ]]; }
until_ok 60 "policy status shows $sr as db-1's last restore" last_restore
kubectl uncordon "$node" >/dev/null
log "  operator-a took over; $sr Succeeded from $(field "$NS" staterestore "$sr" '{.status.source}'); recorded in the policy status"
start_operator b "${OPERATOR_AGENT_ARGS[@]}"

log "b) an agent killed with SIGKILL during captures"
node=$(pod_node "$NS" db-0)
store=$(store_dir "$node" "$NS" db 0)
pid=$(agent_info "$node" pid)
sleep 2
kill -STOP "$pid"  # freeze it to read what it had acknowledged, then kill it mid-flight
acked=$("$DKCTL" --store "$store" log 2>/dev/null | awk 'NR > 1 {print $1, $NF}')
reported=$(report_field "$node" "$NS" db 0 lastSet)
kill -KILL "$pid"
log "  killed the agent of $node (pid $pid): $(wc -l <<<"$acked") sets in its store, $reported reported"
restarted() { local p; p=$(agent_info "$node" pid); [[ -n $p && $p != "$pid" && -d /proc/$p ]]; }
until_ok 120 "the agent of $node restarted" restarted
after=$("$DKCTL" --store "$store" log 2>/dev/null | awk 'NR > 1 {print $1, $NF}')
missing=$(comm -23 <(sort <<<"$acked") <(sort <<<"$after"))
[[ -z $missing ]] || fail "sets acknowledged before the kill are gone or changed: $missing"
((reported <= $(tail -1 <<<"$acked" | cut -d' ' -f1))) || fail "the node report named set $reported, beyond the store"
"$DKCTL" --store "$store" verify >/dev/null 2>&1 || true  # (the live agent may hold it; verified below)
grown() { (($(report_field "$node" "$NS" db 0 lastSet) > reported)); }
until_ok 60 "the restarted agent records new sets" grown
log "  all $(wc -l <<<"$acked") acknowledged sets kept; now at set $(report_field "$node" "$NS" db 0 lastSet)"

log "c) the API server restarted"
v0=$(field "$NS" statepolicy db '{.status.versions}')
t_restart=$(date -u +%s)
"$SRC/e2e/cluster/restart-apiserver" "$CLUSTER_DIR" >/dev/null || fail "restart-apiserver failed"
until_ok 60 "API server back" kubectl get --raw /readyz
revive_operators
grown_v() { (($(field "$NS" statepolicy db '{.status.versions}') > v0)); }
until_ok 90 "policy versions grow again" grown_v
fresh() { # every node's report written after the restart
  local n hb
  for n in $(node_names); do
    hb=$(field "$OP_NS" configmap "diffkeeper-node-$n" '{.data.heartbeat}')
    [[ -n $hb ]] && (($(date -d "$hb" +%s) >= t_restart)) || return 1
  done
}
until_ok 90 "fresh node reports from every agent" fresh
log "  versions $v0 -> $(field "$NS" statepolicy db '{.status.versions}'), reports fresh, leader $(leader)"

log "d) a bad spec is rejected"
out=$(kubectl -n "$NS" apply -f - 2>&1 <<EOF
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: bad}
spec:
  targetRef: {name: db}
  paths: [{volume: data}]
  restore: {timeout: 5s}
EOF
) && fail "a policy with restore.timeout 5s was accepted"
expect_contains "rejection" "$out" "restore.timeout must be between 10s and 24h"
log "  $(grep -o 'spec.restore.timeout.*' <<<"$out" | head -1)"

log "e) a restore whose source is gone"
apply_app "$NS" frag 1 "  restore: {timeout: 20s, onTimeout: StartEmpty}" --blob-mib 1
expect_eq "frag timeout" "$(field "$NS" statepolicy frag '{.spec.restore.timeout}')" 20s
until_ok 90 "frag-0 running" pod_ready "$NS" frag-0
fnode=$(pod_node "$NS" frag-0)
fuid=$(pod_uid "$NS" frag-0)
captured() { (($(report_field "$fnode" "$NS" frag 0 lastSet || echo 0) > 0)); }
until_ok 60 "frag-0 captured on $fnode" captured
fpid=$(agent_info "$fnode" pid)
touch "$DKCLUSTER_NODES_ROOT/$fnode/down"
until_ok 30 "the agent of $fnode stopped" bash -c "! kill -0 $fpid 2>/dev/null"
kubectl cordon "$fnode" >/dev/null
kubectl -n "$NS" delete pod frag-0 --force --grace-period=0 >/dev/null 2>&1
moved() { local u; u=$(pod_uid "$NS" frag-0); [[ -n $u && $u != "$fuid" && -n $(pod_node "$NS" frag-0) ]]; }
until_ok 60 "frag-0 re-created elsewhere" moved
fsr=frag-0-$(pod_uid "$NS" frag-0 | cut -c1-8)
until_ok 90 "$fsr Failed" field_is "$NS" staterestore "$fsr" '{.status.phase}' Failed
msg=$(field "$NS" staterestore "$fsr" '{.status.message}')
expect_contains "failure message" "$msg" "timed out after 20s"
until_ok 60 "frag-0 starts empty (StartEmpty)" pod_ready "$NS" frag-0
log "  $fsr Failed: $msg"
rm -f "$DKCLUSTER_NODES_ROOT/$fnode/down"
kubectl uncordon "$fnode" >/dev/null
until_ok 120 "agent on $fnode back" agent_alive "$fnode"
kubectl -n "$NS" delete statefulset frag --wait=false >/dev/null
log "PASS"

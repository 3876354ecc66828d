#!/usr/bin/env bash
# Scenario 1 — Install: `kubectl apply -k` of the e2e overlay on the fresh control plane; two
# operator replicas (host processes, as the operator's ServiceAccount) elect a leader and
# become ready; the agent DaemonSet they manage runs a real diffkeeper-agent on every node.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
overlay=$(install_overlay)
log "kubectl apply -k $overlay"
out=$(kubectl apply -k "$overlay" 2>&1) || fail "kubectl apply -k failed: $out"
echo "$out"
kubectl wait --for=condition=Established --timeout=60s \
  crd/statepolicies.diffkeeper.io crd/staterestores.diffkeeper.io >/dev/null
t0=$SECONDS
start_operator a "${OPERATOR_AGENT_ARGS[@]}"
start_operator b "${OPERATOR_AGENT_ARGS[@]}"
until_ok 60 "a leader" has_leader
until_ok 60 "replica a ready" readyz_of a
until_ok 60 "replica b ready" readyz_of b
log "operator ready in $((SECONDS - t0))s, leader $(leader)"
until_ok 60 "agent DaemonSet" exists "$OP_NS" daemonset diffkeeper-agent
ds_ready() { [[ $(field "$OP_NS" daemonset diffkeeper-agent '{.status.numberReady}') == "$NODES" ]]; }
until_ok 120 "$NODES agents ready (DaemonSet status)" ds_ready
for n in $(node_names); do
  until_ok 60 "agent process on $n" agent_alive "$n"
  until_ok 60 "node report of $n" exists "$OP_NS" configmap "diffkeeper-node-$n"
done
log "agents ready on all $NODES nodes $((SECONDS - t0))s after the operator started"
kubectl -n "$OP_NS" get pods -o wide
out=$(kubectl apply -k "$overlay" 2>&1) || fail "second apply failed: $out"
changed=$(grep -v ' unchanged$' <<<"$out" || true)
[[ -z $changed ]] || fail "a second apply changed objects: $changed"
log "PASS"

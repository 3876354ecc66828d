#!/usr/bin/env bash
# Reconcile: status conditions and observedGeneration follow spec changes; node reports are
# aggregated into status; deleting a policy removes protection and its finalizer (both retention
# choices); the agent configuration and the per-policy webhook entry follow; metrics count it.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
ensure_operators
NS=e2e-reconcile
new_namespace "$NS"
# Node reports are written below as an agent would; start and end without them.
drop_reports() {
  kubectl -n "$OP_NS" delete configmap -l diffkeeper.io/node-report=true --ignore-not-found >/dev/null
}
drop_reports
trap 'drop_reports; cleanup_namespaces' EXIT

agent_policies() {
  kubectl -n "$OP_NS" get configmap diffkeeper-agent-config -o jsonpath='{.data.policies\.json}'
}
policy_entries() {
  kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies \
    -o jsonpath='{.webhooks[*].name}' 2>/dev/null || true
}
agent_has() { grep -qF "$1" <<<"$(agent_policies)"; }
agent_lacks() { ! agent_has "$1"; }
entry_has() { grep -qF "$1" <<<"$(policy_entries)"; }
entry_lacks() { ! entry_has "$1"; }

log "a policy whose StatefulSet does not exist yet"
apply_policy "$NS" db db
until_ok 20 "Ready=False TargetNotFound" cond_is "$NS" db Ready reason TargetNotFound
expect_eq "Ready" "$(cond "$NS" db Ready status)" False
expect_eq "Degraded" "$(cond "$NS" db Degraded status)" True
expect_eq "Degraded message" "$(cond "$NS" db Degraded message)" \
  "StatefulSet db not found in namespace $NS"
expect_eq "observedGeneration" "$(field "$NS" statepolicy db '{.status.observedGeneration}')" 1
expect_eq "finalizer" "$(field "$NS" statepolicy db '{.metadata.finalizers[0]}')" diffkeeper.io/protection
until_ok 20 "TargetNotFound event" has_event "$NS" db TargetNotFound
# Protection is published even before the target exists: its first pods are gated.
until_ok 20 "policy in the agent configuration" agent_has "\"namespace\": \"$NS\""
until_ok 20 "strict webhook entry" entry_has "db.$NS.policy.diffkeeper.io"

log "the StatefulSet appears: Ready"
apply_statefulset "$NS" db 1
until_ok 20 "Ready=True" cond_is "$NS" db Ready status True
expect_eq "Ready reason" "$(cond "$NS" db Ready reason)" Protecting
expect_eq "Degraded" "$(cond "$NS" db Degraded status)" False
until_ok 20 "ProtectionReady event" has_event "$NS" db ProtectionReady
until_ok 20 "Recovered event" has_event "$NS" db Recovered
t_ready=$(cond "$NS" db Ready lastTransitionTime)

log "pause: generation 2 observed, Ready=False Paused, gate removed"
kubectl -n "$NS" patch statepolicy db --type merge -p '{"spec":{"paused":true}}' >/dev/null
expect_eq "generation" "$(field "$NS" statepolicy db '{.metadata.generation}')" 2
until_ok 20 "observedGeneration 2" field_is "$NS" statepolicy db '{.status.observedGeneration}' 2
expect_eq "Ready reason" "$(cond "$NS" db Ready reason)" Paused
expect_eq "Ready observedGeneration" "$(cond "$NS" db Ready observedGeneration)" 2
until_ok 20 "ProtectionPaused event" has_event "$NS" db ProtectionPaused
until_ok 20 "strict entry removed while paused" entry_lacks "db.$NS.policy"
until_ok 20 "paused in the agent configuration" agent_has '"paused": true'

log "resume: generation 3"
kubectl -n "$NS" patch statepolicy db --type merge -p '{"spec":{"paused":false}}' >/dev/null
until_ok 20 "observedGeneration 3" field_is "$NS" statepolicy db '{.status.observedGeneration}' 3
until_ok 20 "Ready=True again" cond_is "$NS" db Ready status True
until_ok 20 "ProtectionResumed event" has_event "$NS" db ProtectionResumed
[[ $(cond "$NS" db Ready lastTransitionTime) > "$t_ready" || $(cond "$NS" db Ready lastTransitionTime) == "$t_ready" ]] \
  || fail "lastTransitionTime went backwards"

log "node reports are aggregated into status (as an agent would write them)"
report() { # NODE PODS_JSON
  kubectl -n "$OP_NS" apply --server-side --field-manager=diffkeeper-agent -f - >/dev/null <<EOF2
apiVersion: v1
kind: ConfigMap
metadata:
  name: diffkeeper-node-$1
  labels: {diffkeeper.io/node-report: "true"}
data:
  node: $1
  endpoint: https://127.0.0.1:9443
  heartbeat: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  pods: '$2'
EOF2
}
report node-1 "[{\"namespace\":\"$NS\",\"policy\":\"db\",\"statefulSet\":\"db\",\"ordinal\":0,\"pod\":\"db-0\",\"podUID\":\"u0\",\"versions\":30,\"sets\":12,\"logicalBytes\":4096,\"storedBytes\":1048576,\"lastCapture\":\"2025-11-27T12:00:00Z\",\"lastRoot\":\"aa11\",\"lastSet\":12,\"errors\":[]}]"
report node-2 "[{\"namespace\":\"$NS\",\"policy\":\"db\",\"statefulSet\":\"db\",\"ordinal\":0,\"pod\":\"db-0\",\"podUID\":\"u1\",\"versions\":40,\"sets\":15,\"logicalBytes\":5000,\"storedBytes\":2097152,\"lastCapture\":\"2025-11-27T13:00:00Z\",\"lastRoot\":\"bb22\",\"lastSet\":15,\"errors\":[]}]"
until_ok 20 "status.pods from the reports" field_is "$NS" statepolicy db '{.status.pods[0].node}' node-2
expect_eq "protectedPods" "$(field "$NS" statepolicy db '{.status.protectedPods}')" 1
expect_eq "versions" "$(field "$NS" statepolicy db '{.status.versions}')" 15
expect_eq "storedBytes (both nodes)" "$(field "$NS" statepolicy db '{.status.storedBytes}')" 3145728
expect_eq "lastVerifiedRoot" "$(field "$NS" statepolicy db '{.status.pods[0].lastVerifiedRoot}')" bb22
row=$(kubectl -n "$NS" get statepolicy db --no-headers)
expect_contains "printer columns" "$row" "True"
expect_contains "printer columns" "$row" "3.0 MiB"
log "  kubectl get: $row"
report node-2 "[{\"namespace\":\"$NS\",\"policy\":\"db\",\"statefulSet\":\"db\",\"ordinal\":0,\"pod\":\"db-0\",\"sets\":16,\"storedBytes\":2097152,\"lastCapture\":\"2025-11-27T13:05:00Z\",\"errors\":[\"no space left on device\"]}]"
until_ok 20 "Degraded AgentErrors" cond_is "$NS" db Degraded reason AgentErrors
expect_eq "Degraded message" "$(cond "$NS" db Degraded message)" "node-2: db-0: no space left on device"
until_ok 20 "AgentErrors event" has_event "$NS" db AgentErrors

log "delete (retention Retain): protection removed, finalizer gone at once"
kubectl -n "$NS" delete statepolicy db --wait=false >/dev/null
until_ok 20 "policy gone" gone "$NS" statepolicy db
until_ok 20 "ProtectionRemoved event" has_event "$NS" db ProtectionRemoved
until_ok 20 "agent configuration without it" agent_lacks "\"namespace\": \"$NS\""
until_ok 20 "strict entry gone" entry_lacks "db.$NS.policy"

log "delete (retention Delete): the finalizer waits until agents purged the state"
apply_policy "$NS" purge db "  retention: {onDelete: Delete}"
until_ok 20 "Ready" cond_is "$NS" purge Ready status True
kubectl -n "$NS" delete statepolicy purge --wait=false >/dev/null
until_ok 20 "PurgingState event" has_event "$NS" purge PurgingState
purge=$(kubectl -n "$OP_NS" get configmap diffkeeper-agent-config -o jsonpath='{.data.purge\.json}')
expect_contains "purge request" "$purge" "\"policy\": \"purge\""
expect_eq "still there while stores remain" "$(field "$NS" statepolicy purge '{.status.conditions[?(@.type=="Ready")].reason}')" Deleting
# The agents delete the stores and stop reporting them.
kubectl -n "$OP_NS" delete configmap diffkeeper-node-node-1 diffkeeper-node-node-2 >/dev/null
until_ok 20 "policy gone after the purge" gone "$NS" statepolicy purge
until_ok 20 "ProtectionRemoved (deleted)" events_contain "$NS" purge "stored versions deleted"

log "metrics"
l=$(leader); l=${l#operator-}
m=$(metrics_of "$l")
grep -q '^diffkeeper_operator_leader 1$' <<<"$m" || fail "leader metric"
n=$(awk '$1 == "diffkeeper_operator_reconcile_total{kind=\"policy\",result=\"success\"}" {print $2}' <<<"$m")
[[ ${n:-0} -gt 5 ]] || fail "policy reconciles counted: ${n:-0}"
grep -q '^diffkeeper_operator_reconcile_duration_seconds_count{kind="policy"}' <<<"$m" || fail "durations"
grep -q '^diffkeeper_operator_workqueue_depth ' <<<"$m" || fail "queue depth"
log "PASS"

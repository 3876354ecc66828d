#!/usr/bin/env bash
# The restore gate: the webhook adds the restore-wait init container (first) only to pods of
# protected StatefulSets; the operator creates each gated pod's StateRestore; restore-wait (run
# by the node simulator) holds the pod until the marker an agent writes says restored, fails it
# on a failed restore, and applies the policy's timeout action (Fail / StartEmpty), while the
# operator fails the unfinished StateRestore with a reason. The test plays the agent's part
# (docs/protocol.md, "The restore gate", steps 3-4).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
ensure_operators
NS=e2e-webhook
new_namespace "$NS"
trap cleanup_namespaces EXIT

policy_entry() {
  kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies \
    -o jsonpath='{.webhooks[*].name}' 2>/dev/null | grep -qF "$1"
}
pod_uid() { field "$NS" pod "$1" '{.metadata.uid}'; }
pod_node() { field "$NS" pod "$1" '{.spec.nodeName}'; }
init_state() { # POD: running / terminated:<code> / waiting:<reason>
  local s
  s=$(kubectl -n "$NS" get pod "$1" -o json 2>/dev/null | jq -r '
    .status.initContainerStatuses[]? | select(.name=="diffkeeper-restore-wait") | .state |
    if .running then "running" elif .terminated then "terminated:\(.terminated.exitCode)"
    elif .waiting then "waiting:\(.waiting.reason)" else "unknown" end') || true
  echo "${s:-none}"
}
init_is() { [[ $(init_state "$1") == "$2" ]]; }
# An agent's completion marker: <state-dir>/markers/<pod-uid> on the pod's node, written
# temp-then-rename.
write_marker() { # POD JSON
  local dir
  dir=$DKCLUSTER_NODES_ROOT/$(pod_node "$1")/host/var/lib/diffkeeper/markers
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/.tmp.$$"
  mv "$dir/.tmp.$$" "$dir/$(pod_uid "$1")"
}
restore_of() { echo "$1-$(pod_uid "$1" | cut -c1-8)"; }
set_restore_status() { # RESTORE STATUS_JSON
  kubectl -n "$NS" patch staterestore "$1" --subresource=status --type merge \
    -p "{\"status\": $2}" >/dev/null
}

log "policies first (their strict webhook entries do not need the StatefulSets to exist)"
apply_policy "$NS" db db "  restore: {timeout: 60s}"
apply_policy "$NS" slow slow "  restore: {timeout: 10s, onTimeout: Fail}"
apply_policy "$NS" lenient lenient "  restore: {timeout: 10s, onTimeout: StartEmpty}"
for p in db slow lenient; do until_ok 20 "webhook entry for $p" policy_entry "$p.$NS.policy"; done

log "protected and unprotected StatefulSets, and a plain pod"
apply_statefulset "$NS" db 2
apply_statefulset "$NS" slow 1
apply_statefulset "$NS" lenient 1
apply_statefulset "$NS" plain 1
kubectl -n "$NS" run bare --image=example.invalid/bare:1 --restart=Never --command -- sleep 1000 >/dev/null
for p in db-0 db-1 slow-0 lenient-0 plain-0 bare; do until_ok 30 "pod $p" exists "$NS" pod "$p"; done

log "only pods of protected StatefulSets are gated, restore-wait first"
for p in db-0 db-1 slow-0 lenient-0; do
  expect_eq "$p first init container" \
    "$(field "$NS" pod "$p" '{.spec.initContainers[0].name}')" diffkeeper-restore-wait
  expect_eq "$p gated label" "$(field "$NS" pod "$p" '{.metadata.labels.diffkeeper\.io/gated}')" true
done
expect_eq "db-0 policy annotation" "$(field "$NS" pod db-0 '{.metadata.annotations.diffkeeper\.io/policy}')" db
expect_eq "db-0 args" "$(field "$NS" pod db-0 '{.spec.initContainers[0].args}')" \
  '["--marker-dir","/var/run/diffkeeper/markers","--timeout","60","--on-timeout","fail"]'
expect_eq "lenient-0 timeout action" "$(field "$NS" pod lenient-0 '{.spec.initContainers[0].args[5]}')" start-empty
expect_eq "db-0 marker volume" \
  "$(field "$NS" pod db-0 '{.spec.volumes[?(@.name=="diffkeeper-markers")].hostPath.path}')" \
  /var/lib/diffkeeper/markers
for p in plain-0 bare; do
  expect_eq "$p init containers" "$(field "$NS" pod "$p" '{.spec.initContainers}')" ""
  expect_eq "$p gated label" "$(field "$NS" pod "$p" '{.metadata.labels.diffkeeper\.io/gated}')" ""
done
until_ok 30 "plain-0 running" pod_ready "$NS" plain-0

log "each gated pod gets its StateRestore; restore-wait holds it"
for p in db-0 db-1; do
  r=$(restore_of "$p")
  until_ok 20 "StateRestore $r" exists "$NS" staterestore "$r"
  expect_eq "$r podUID" "$(field "$NS" staterestore "$r" '{.spec.podUID}')" "$(pod_uid "$p")"
  expect_eq "$r policy" "$(field "$NS" staterestore "$r" '{.spec.policy}')" db
  expect_eq "$r owner" "$(field "$NS" staterestore "$r" '{.metadata.ownerReferences[0].kind}')" Pod
  until_ok 30 "$p: restore-wait running" init_is "$p" running
done
until_ok 20 "RestoreRequested event on db-0" has_event "$NS" db-0 RestoreRequested
sleep 2
expect_eq "db-0 held in Pending" "$(field "$NS" pod db-0 '{.status.phase}')" Pending

log "the agent restores db-0: marker + Succeeded → the application starts"
write_marker db-0 '{"result":"restored","set":7,"root":"3f2a9c0d5e6f7a8b","message":"12 files"}'
set_restore_status "$(restore_of db-0)" \
  '{"phase":"Succeeded","node":"'"$(pod_node db-0)"'","source":"local","files":12,"bytes":4096,"durationSeconds":0.4,"verifiedRoot":"3f2a9c0d5e6f7a8b","set":7,"completionTime":"'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'"}'
until_ok 30 "db-0 restore-wait exited 0" init_is db-0 terminated:0
until_ok 30 "db-0 running" pod_ready "$NS" db-0
until_ok 20 "RestoreSucceeded event on the policy" has_event "$NS" db RestoreSucceeded
expect_contains "RestoreSucceeded note" "$(operator_events "$NS" db)" "pod db-0 restored from local: 12 files"
# With a node report for the ordinal, status shows the restore as its last one.
kubectl -n "$OP_NS" apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: ConfigMap
metadata:
  name: diffkeeper-node-e2e-webhook
  labels: {diffkeeper.io/node-report: "true"}
data:
  node: $(pod_node db-0)
  pods: '[{"namespace":"$NS","policy":"db","statefulSet":"db","ordinal":0,"sets":7,"lastCapture":"2025-11-27T12:00:00Z","lastSet":7}]'
EOF2
until_ok 20 "lastRestore in status" field_is "$NS" statepolicy db '{.status.pods[0].lastRestore.result}' Succeeded
expect_eq "lastRestore source" "$(field "$NS" statepolicy db '{.status.pods[0].lastRestore.source}')" local
kubectl -n "$OP_NS" delete configmap diffkeeper-node-e2e-webhook >/dev/null

log "a failed restore keeps db-1 from starting (onTimeout: Fail) and is reported"
write_marker db-1 '{"result":"failed","message":"chunk 9e1f failed verification"}'
until_ok 30 "db-1 restore-wait exited 1" bash -c "[[ \$(kubectl -n $NS get pod db-1 -o jsonpath='{.status.initContainerStatuses[0].restartCount}') -ge 0 ]] && \
  kubectl -n $NS get pod db-1 -o json | jq -e '.status.initContainerStatuses[0] | (.state.terminated.exitCode // .lastState.terminated.exitCode) == 1' >/dev/null"
until_ok 30 "RestoreGateFailed event on db-1" has_event "$NS" db-1 RestoreGateFailed
expect_contains "RestoreGateFailed note" "$(operator_events "$NS" db-1)" "exited with code 1"
expect_eq "db-1 not running" "$(field "$NS" pod db-1 '{.status.phase}')" Pending

log "timeouts: slow-0 fails (Fail), lenient-0 starts empty (StartEmpty); both restores fail with a reason"
until_ok 40 "slow-0 restore-wait timed out (exit 2)" bash -c \
  "kubectl -n $NS get pod slow-0 -o json | jq -e '.status.initContainerStatuses[0] | (.state.terminated.exitCode // .lastState.terminated.exitCode) == 2' >/dev/null"
until_ok 40 "lenient-0 running without restore" pod_ready "$NS" lenient-0
for p in slow-0 lenient-0; do
  r=$(restore_of "$p")
  until_ok 30 "$r Failed by the operator" field_is "$NS" staterestore "$r" '{.status.phase}' Failed
  expect_contains "$r message" "$(field "$NS" staterestore "$r" '{.status.message}')" \
    "timed out after 10s: no node agent finished the restore (the pod is on node"
  until_ok 20 "RestoreTimedOut event on $p" has_event "$NS" "$p" RestoreTimedOut
done
expect_contains "slow-0 consequence" "$(field "$NS" staterestore "$(restore_of slow-0)" '{.status.message}')" \
  "restore-wait keeps the pod from starting"
expect_eq "slow-0 not running" "$(field "$NS" pod slow-0 '{.status.phase}')" Pending
until_ok 20 "RestoreGateFailed on slow-0" has_event "$NS" slow-0 RestoreGateFailed

log "a restarted pod of a protected StatefulSet is gated again, with a new StateRestore"
old_uid=$(pod_uid db-0)
kubectl -n "$NS" delete pod db-0 --wait=true >/dev/null
until_ok 30 "db-0 re-created" bash -c "[[ \$(kubectl -n $NS get pod db-0 -o jsonpath='{.metadata.uid}' 2>/dev/null) != '' && \$(kubectl -n $NS get pod db-0 -o jsonpath='{.metadata.uid}') != $old_uid ]]"
expect_eq "new db-0 gated" "$(field "$NS" pod db-0 '{.spec.initContainers[0].name}')" diffkeeper-restore-wait
until_ok 20 "new StateRestore" exists "$NS" staterestore "$(restore_of db-0)"
write_marker db-0 '{"result":"empty","message":"no captured state; starting empty"}'
until_ok 30 "new db-0 running" pod_ready "$NS" db-0

log "metrics"
l=$(leader); l=${l#operator-}
m=$(metrics_of "$l")
for want in 'diffkeeper_operator_restores_total{result="Succeeded"}' \
  'diffkeeper_operator_restores_total{result="Failed"}' 'diffkeeper_operator_restores_created_total' \
  'diffkeeper_operator_restores_timed_out_total'; do
  n=$(awk -v k="$want" '$1 == k {print $2}' <<<"$m")
  [[ ${n:-0} -ge 1 ]] || fail "metric $want = ${n:-absent}"
done
gated=$(metrics_of a | awk '$1 == "diffkeeper_operator_webhook_requests_total{result=\"gated\"}" {print $2}')
[[ ${gated:-0} -ge 5 ]] || fail "webhook gated count on replica a: ${gated:-0}"
log "PASS"

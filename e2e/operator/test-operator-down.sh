#!/usr/bin/env bash
# With every operator replica down, unrelated pods (plain pods, pods of unprotected
# StatefulSets, in the same namespace or another) are created normally, while a pod of a
# protected StatefulSet is held back with a message naming the webhook — never started
# unrestored. When the operator returns, it is created, gated.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
ensure_operators
NS=e2e-down
OTHER=e2e-down-other
new_namespace "$NS"
new_namespace "$OTHER"
restart_operators() { ensure_operators; }
trap 'restart_operators >/dev/null 2>&1 || true; cleanup_namespaces' EXIT

apply_policy "$NS" db db "  restore: {timeout: 60s}"
until_ok 20 "policy Ready=False (no target yet)" cond_is "$NS" db Ready reason TargetNotFound
strict_entry() {
  kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies \
    -o jsonpath='{.webhooks[*].name}' 2>/dev/null | grep -qF "db.$NS.policy"
}
until_ok 20 "strict webhook entry" strict_entry

log "stop both operator replicas"
stop_operator a
stop_operator b
down_at=$SECONDS

log "unrelated pods are created normally"
kubectl -n "$NS" run bare --image=example.invalid/bare:1 --restart=Never --command -- sleep 1000 >/dev/null
kubectl -n "$OTHER" run bare --image=example.invalid/bare:1 --restart=Never --command -- sleep 1000 >/dev/null
apply_statefulset "$NS" plain 1
apply_statefulset "$OTHER" db 1   # same name as the protected one, other namespace
for target in "$NS bare" "$OTHER bare" "$NS plain-0" "$OTHER db-0"; do
  read -r ns pod <<<"$target"
  until_ok 30 "$ns/$pod created and running" pod_ready "$ns" "$pod"
  expect_eq "$ns/$pod not gated" "$(field "$ns" pod "$pod" '{.spec.initContainers}')" ""
done
log "  unrelated pods ran $((SECONDS - down_at))s after the operator went down"

log "a protected pod is held back, with the reason on its StatefulSet"
apply_statefulset "$NS" db 1
failed_create() {
  kubectl -n "$NS" get events --field-selector reason=FailedCreate,involvedObject.name=db \
    -o jsonpath='{.items[*].message}' 2>/dev/null | grep -qF "db.$NS.policy.diffkeeper.io"
}
until_ok 30 "FailedCreate naming the strict webhook" failed_create
gone "$NS" pod db-0 || fail "db-0 was created while the restore gate was down"
log "  $(kubectl -n "$NS" get events --field-selector reason=FailedCreate -o jsonpath='{.items[0].message}' | cut -c1-160)"

log "the operator returns: the pod is created, gated"
down_for=$((SECONDS - down_at))
start_operator a
start_operator b
back_at=$SECONDS
until_ok 60 "a leader" has_leader
# The StatefulSet controller retries a failed pod creation with exponential backoff (5 ms
# doubling per failure), so its next try can come up to as long after the operator's return
# as the operator was down.
until_ok $((90 + down_for)) "db-0 created" exists "$NS" pod db-0
log "  db-0 created $((SECONDS - back_at))s after the operator returned (it was down ${down_for}s)"
expect_eq "db-0 gated" "$(field "$NS" pod db-0 '{.spec.initContainers[0].name}')" diffkeeper-restore-wait
log "PASS"

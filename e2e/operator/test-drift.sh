#!/usr/bin/env bash
# No spec drift: after the operator has reconciled (webhook caBundle set, per-policy webhook
# entries, agent configuration created), `kubectl diff -k` of the installed overlay
# is empty and applying it again changes nothing. The operator never edits the user's
# StatefulSet.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
ensure_operators
NS=e2e-drift
new_namespace "$NS"
trap cleanup_namespaces EXIT
apply_statefulset "$NS" db 1
apply_policy "$NS" db db
until_ok 20 "Ready" cond_is "$NS" db Ready status True
until_ok 30 "db-0" exists "$NS" pod db-0
sts_gen=$(field "$NS" statefulset db '{.metadata.generation}')
until_ok 30 "per-policy webhook configuration" exists "" mutatingwebhookconfiguration diffkeeper-restore-gate-policies
sleep 2  # let any in-flight reconcile land

log "kubectl diff -k is empty"
set +e
diff_out=$(kubectl diff -k "$OVERLAY" 2>&1)
rc=$?
set -e
[[ $rc -eq 0 && -z $diff_out ]] || fail "kubectl diff exited $rc:\n$diff_out"

log "apply again: unchanged"
out=$(kubectl apply -k "$OVERLAY" 2>&1)
changed=$(grep -v ' unchanged$' <<<"$out" || true)
[[ -z $changed ]] || fail "apply changed: $changed"

log "the operator owns what it created, and nothing of the user's"
expect_eq "StatefulSet generation" "$(field "$NS" statefulset db '{.metadata.generation}')" "$sts_gen"
managers=$(kubectl -n "$NS" get statefulset db --show-managed-fields -o jsonpath='{.metadata.managedFields[*].manager}')
[[ $managers != *diffkeeper* ]] || fail "diffkeeper manages fields of the StatefulSet: $managers"
expect_eq "policy webhook owner" \
  "$(kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies -o jsonpath='{.metadata.ownerReferences[0].name}')" \
  diffkeeper-restore-gate
argo=$(kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies -o json |
  jq -r '[.metadata.labels // {}, .metadata.annotations // {} | keys[]] | map(select(startswith("argocd.argoproj.io"))) | length')
expect_eq "no Argo CD tracking metadata copied" "$argo" 0
log "PASS"

#!/usr/bin/env bash
# `kubectl apply -k manifests/overlays/e2e` installs cleanly; applying it again changes nothing;
# `kubectl explain` documents the CRDs; the RBAC is least privilege.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster

log "first apply"
out=$(kubectl apply -k "$OVERLAY" 2>&1) || fail "kubectl apply -k failed: $out"
echo "$out"
# Clean: no warnings, no errors; 16 objects (namespace, 2 CRDs, 2 service accounts, 2 roles,
# 2 cluster roles, 4 bindings, service, deployment, webhook configuration).
noise=$(grep -vE ' (created|configured|unchanged)$' <<<"$out" || true)
[[ -z $noise ]] || fail "kubectl apply printed more than object lines: $noise"
expect_eq "objects applied" "$(grep -c . <<<"$out")" 16
kubectl wait --for=condition=Established --timeout=60s \
  crd/statepolicies.diffkeeper.io crd/staterestores.diffkeeper.io >/dev/null

log "second apply changes nothing"
out=$(kubectl apply -k "$OVERLAY" 2>&1) || fail "second apply failed: $out"
changed=$(grep -v ' unchanged$' <<<"$out" || true)
[[ -z $changed ]] || fail "second apply changed objects: $changed"

log "kubectl explain"
explain=$(kubectl explain statepolicy.spec.restore.onTimeout)
expect_contains "explain onTimeout" "$explain" "StartEmpty"
expect_contains "explain onTimeout" "$explain" "When the restore does not finish in time"
expect_contains "explain staterestore" "$(kubectl explain staterestore.spec)" "Restore the state as it was at this time"
kubectl explain statepolicy.status.conditions.lastTransitionTime >/dev/null

log "printer columns"
cols=$(kubectl get crd statepolicies.diffkeeper.io -o jsonpath='{.spec.versions[0].additionalPrinterColumns[*].name}')
expect_eq "StatePolicy columns" "$cols" "Target Ready Pods Versions Stored Replicated Lag Paused Age"
cols=$(kubectl get crd staterestores.diffkeeper.io -o jsonpath='{.spec.versions[0].additionalPrinterColumns[*].name}')
expect_eq "StateRestore columns" "$cols" "Phase Pod Policy Source Message Age"

log "least privilege: the operator may not touch what it does not own"
op=system:serviceaccount:$OP_NS:diffkeeper-operator
agent=system:serviceaccount:$OP_NS:diffkeeper-agent
can() { kubectl auth can-i "$@" 2>/dev/null || true; }
expect_eq "operator updates StatefulSets" "$(can update statefulsets --as "$op" -n default)" no
expect_eq "operator deletes pods" "$(can delete pods --as "$op" -n default)" no
expect_eq "operator reads secrets elsewhere" "$(can get secrets --as "$op" -n default)" no
expect_eq "operator edits other webhooks" \
  "$(can patch mutatingwebhookconfigurations/other --as "$op")" no
expect_eq "operator patches its webhook" \
  "$(can patch mutatingwebhookconfigurations/diffkeeper-restore-gate --as "$op")" yes
expect_eq "operator writes policy status" \
  "$(can update statepolicies --subresource=status --as "$op" -n x)" yes
expect_eq "operator writes restore specs" "$(can update staterestores --as "$op" -n x)" no
expect_eq "agent writes restore status" \
  "$(can update staterestores --subresource=status --as "$agent" -n x)" yes
expect_eq "agent writes policy status" \
  "$(can update statepolicies --subresource=status --as "$agent" -n x)" no
expect_eq "agent edits policies" "$(can update statepolicies --as "$agent" -n x)" no
expect_eq "agent reads secrets elsewhere" "$(can get secrets --as "$agent" -n default)" no
expect_eq "cluster-admin for nobody" "$(can '*' '*' --as "$op")" no
log "PASS"

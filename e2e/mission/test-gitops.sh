#!/usr/bin/env bash
# Scenario 5 — GitOps: the install manifests and the policy applied again with server-side
# apply under another field manager (as Argo CD does) change nothing and conflict with nothing;
# `kubectl diff` is empty after reconciliation; the Argo CD health check (manifests/argocd)
# reports Progressing then Healthy for a policy, and Degraded when its StatefulSet is missing.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
overlay=$(install_overlay)
argo=(--server-side --field-manager=argocd-controller)
health() { # NS POLICY → "Status: message"
  kubectl -n "$1" get statepolicy "$2" -o json |
    lua5.4 "$SRC/tests/operator/argocd_health_test.lua" "$SRC" --live StatePolicy
}
health_is() { [[ $(health "$1" "$2") == "$3:"* ]]; }
versions() { # install objects: resourceVersion; the app's (whose status moves): generation
  { kubectl get -k "$overlay" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion} {.metadata.generation}{"\n"}{end}'
    kubectl -n "$NS" get -f "$WORK/apps/$NS-db.yaml" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} generation {.metadata.generation}{"\n"}{end}'
  } | sort
}

log "server-side apply under the field manager argocd-controller takes the fields over"
out=$(kubectl apply -k "$overlay" "${argo[@]}" 2>&1) || fail "server-side apply of the install conflicts: $out"
out=$(kubectl -n "$NS" apply -f "$WORK/apps/$NS-db.yaml" "${argo[@]}" 2>&1) || fail "server-side apply of the policy conflicts: $out"
sleep 5 # the operator reconciles whatever it would
before=$(versions)
log "applied again: no change"
kubectl apply -k "$overlay" "${argo[@]}" >/dev/null 2>&1 || fail "second server-side apply failed"
kubectl -n "$NS" apply -f "$WORK/apps/$NS-db.yaml" "${argo[@]}" >/dev/null 2>&1 || fail "second server-side apply failed"
sleep 5
after=$(versions)
diff -u <(echo "$before") <(echo "$after") >&2 || fail "re-applying the same manifests changed objects"
log "  $(wc -l <<<"$after") objects unchanged (resourceVersion, or generation where status moves)"
# kubectl diff compares the live object with a dry-run apply read a moment later, so status
# that moves in between (versions, bytes) shows up: with the workload paused it settles.
pause_workloads "$NS/db-0" "$NS/db-1" "$NS/db-2"
diff_empty() { # WHAT ARGS...: kubectl diff ARGS is empty within 60 s, else fail showing it
  local what=$1 i
  shift
  for i in $(seq 1 60); do
    kubectl diff "$@" "${argo[@]}" >"$WORK/diff.txt" 2>&1 && return 0
    sleep 1
  done
  fail "kubectl diff of $what is not empty: $(cat "$WORK/diff.txt")"
}
diff_empty "the install" -k "$overlay"
diff_empty "the policy and StatefulSet" -n "$NS" -f "$WORK/apps/$NS-db.yaml"
resume_workloads
log "  kubectl diff: empty"
managers=$(kubectl -n "$NS" get statepolicy db --show-managed-fields -o json | jq -r '[.metadata.managedFields[].manager] | unique | join(",")')
log "  field managers of StatePolicy db: $managers"

log "Argo CD health"
until_ok 10 "db Healthy" health_is "$NS" db Healthy
log "  db: $(health "$NS" db)"
kubectl -n "$NS" apply "${argo[@]}" -f - >/dev/null <<EOF2
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: cache}
spec:
  targetRef: {name: cache}
  paths: [{volume: data}]
EOF2
# Progressing until the operator has looked at it (no observedGeneration yet), then Degraded.
first=$(health "$NS" cache)
log "  cache right after apply: $first"
until_ok 30 "cache Degraded (no StatefulSet cache)" health_is "$NS" cache Degraded
log "  cache: $(health "$NS" cache)"
apply_app "$NS" cache 1 "" --blob-mib 1
until_ok 60 "cache Healthy once its StatefulSet runs and is captured" health_is "$NS" cache Healthy
log "  cache: $(health "$NS" cache)"
kubectl -n "$NS" delete statefulset cache --wait=false >/dev/null
kubectl -n "$NS" delete statepolicy cache --wait=false >/dev/null
log "PASS"

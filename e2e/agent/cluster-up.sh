#!/usr/bin/env bash
# Fixture: a 3-node control plane with diffkeeper-agent running on every node as a DaemonSet
# (the node simulator runs its pods as host processes), the CRDs, the agents' RBAC from
# manifests/base, and restore-wait for the gate's init container.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for b in "${DK_AGENT_BIN:-}" "${DK_RESTORE_WAIT_BIN:-}" "$DKCTL"; do
  [[ -x $b ]] || fail "missing binary '$b' (DK_AGENT_BIN, DK_RESTORE_WAIT_BIN, DK_DKCTL_BIN)"
done
command -v kubectl >/dev/null || fail "kubectl not on PATH"
command -v jq >/dev/null || fail "jq not on PATH"
"$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
rm -rf "$WORK"
mkdir -p "$WORK"
log "starting the cluster in $CLUSTER_DIR"
"$SRC/e2e/cluster/up" --nodes 3 --dir "$CLUSTER_DIR" \
  --exec "diffkeeper-agent=$DK_AGENT_BIN" --exec "restore-wait=$DK_RESTORE_WAIT_BIN" \
  --exec sh=/bin/sh --exec sleep=/bin/sleep || fail "e2e/cluster/up failed"
use_cluster
kubectl apply -f "$SRC/crds/diffkeeper.io_statepolicies.yaml" -f "$SRC/crds/diffkeeper.io_staterestores.yaml"
kubectl wait --for condition=Established --timeout=60s crd/statepolicies.diffkeeper.io crd/staterestores.diffkeeper.io
kubectl apply -f "$SRC/manifests/base/namespace.yaml" -f "$SRC/manifests/base/agent-rbac.yaml"
kubectl apply -f "$E2E_SRC/agent-daemonset.yaml"
log "waiting for an agent on every node and its first node report"
for n in ${DKCLUSTER_NODES//,/ }; do
  until_ok 120 "agent on $n running" agent_alive "$n"
  until_ok 120 "node report of $n" kubectl -n "$AGENT_NS" get configmap "diffkeeper-node-$n"
done
kubectl create namespace "$NS"
kubectl -n "$AGENT_NS" get pods -o wide
log "cluster up, agents running"

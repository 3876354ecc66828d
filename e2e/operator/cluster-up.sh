#!/usr/bin/env bash
# Fixture: a 2-node control plane for the operator e2e tests, with restore-wait (and, when
# DK_AGENT_BIN is set, diffkeeper-agent) in the node simulator's exec map, so the restore
# gate's init container (and the operator's agent DaemonSet) really run.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -x ${DK_RESTORE_WAIT_BIN:-} ]] || fail "DK_RESTORE_WAIT_BIN is not set to the restore-wait binary"
command -v kubectl >/dev/null || fail "kubectl not on PATH"
# Leftovers of an interrupted run: its operator replicas (their pid files are in WORK), its cluster.
for n in a b; do stop_operator "$n"; done
"$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
rm -rf "$WORK"
mkdir -p "$WORK"
log "starting the cluster in $CLUSTER_DIR"
execs=(--exec "restore-wait=$DK_RESTORE_WAIT_BIN")
# The agent DaemonSet's pods run for real only when the agent was built (test-full-restore.sh).
[[ -x ${DK_AGENT_BIN:-} ]] && execs+=(--exec "diffkeeper-agent=$DK_AGENT_BIN")
"$SRC/e2e/cluster/up" --nodes 2 --dir "$CLUSTER_DIR" "${execs[@]}" || fail "e2e/cluster/up failed"
use_cluster
kubectl get nodes
log "cluster up"

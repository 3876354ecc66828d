#!/usr/bin/env bash
# Fixture: the mission's control plane (DK_MISSION_NODES simulated nodes, default 5) with
# diffkeeper-agent, restore-wait and python3 (the workload) in the node simulator's exec map,
# and a real S3 server (e2e/s3) for policies that replicate. Nothing of DiffKeeper is installed
# yet: scenario 1 (test-install.sh) does that.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for b in "${DK_OPERATOR_BIN:-}" "${DK_AGENT_BIN:-}" "${DK_RESTORE_WAIT_BIN:-}" "$DKCTL"; do
  [[ -x $b ]] || fail "missing binary '$b' (DK_OPERATOR_BIN, DK_AGENT_BIN, DK_RESTORE_WAIT_BIN, DK_DKCTL_BIN)"
done
for t in kubectl jq curl sqlite3 python3; do command -v "$t" >/dev/null || fail "$t not on PATH"; done
for n in a b; do stop_operator "$n"; done
"$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
"$SRC/e2e/s3/server.sh" stop "$WORK/s3" >/dev/null 2>&1 || true
rm -rf "$WORK"
mkdir -p "$WORK" "$CONTROL_DIR"
log "starting the S3 server"
"$SRC/e2e/s3/server.sh" start "$WORK/s3" || fail "e2e/s3/server.sh start failed"
log "starting the cluster ($NODES nodes) in $CLUSTER_DIR"
# The API server audits DiffKeeper's requests (audit-policy.yaml) for the scale scenario.
DKCLUSTER_APISERVER_ARGS="--audit-policy-file=$MISSION_SRC/audit-policy.yaml --audit-log-path=$WORK/audit.log --audit-log-format=json --audit-log-mode=batch" \
  "$SRC/e2e/cluster/up" --nodes "$NODES" --dir "$CLUSTER_DIR" \
  --exec "diffkeeper-agent=$DK_AGENT_BIN" --exec "restore-wait=$DK_RESTORE_WAIT_BIN" \
  --exec "python3=$(command -v python3)" || fail "e2e/cluster/up failed"
use_cluster
kubectl get nodes
log "cluster up"

#!/usr/bin/env bash
# Fixture cleanup: stops the operator replicas, the cluster (its agents and workloads) and the
# S3 server. The working directory is kept when a scenario failed or DK_E2E_KEEP is set.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for n in a b; do stop_operator "$n"; done
if [[ -f $WORK/failed || -n ${DK_E2E_KEEP:-} ]]; then
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" --keep || true
  "$SRC/e2e/s3/server.sh" stop "$WORK/s3" || true
  log "kept $WORK (cluster logs in $CLUSTER_DIR/logs, agent logs in $CLUSTER_DIR/nodes/*/logs, operator logs in $OPS_DIR)"
else
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" || true
  "$SRC/e2e/s3/server.sh" stop "$WORK/s3" || true
  rm -rf "$WORK"
fi

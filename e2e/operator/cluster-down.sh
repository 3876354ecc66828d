#!/usr/bin/env bash
# Fixture cleanup: stops the operator replicas (if any) and the cluster. Logs are kept in
# DK_OP_E2E_DIR when a test failed (the tests leave a "failed" marker there).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for n in a b; do stop_operator "$n"; done
if [[ -f $WORK/failed || -n ${DK_E2E_KEEP:-} ]]; then
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" --keep || true
  log "kept $WORK (cluster logs in $CLUSTER_DIR/logs, operator logs in $OPS_DIR)"
else
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" || true
  rm -rf "$WORK"
fi

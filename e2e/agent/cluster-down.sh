#!/usr/bin/env bash
# Fixture cleanup: stops the cluster; keeps its directory (logs) when a test failed or
# DK_E2E_KEEP=1.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ -f $WORK/failed || ${DK_E2E_KEEP:-0} == 1 ]]; then
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" --keep || true
  log "kept $WORK (logs: $CLUSTER_DIR/logs, agent logs: $CLUSTER_DIR/nodes/*/logs)"
else
  "$SRC/e2e/cluster/down" --dir "$CLUSTER_DIR" || true
  rm -rf "$WORK"
fi

#!/usr/bin/env bash
# A pod of a protected StatefulSet is discovered on its node and captured:
#  - its first restore (nothing captured anywhere yet) ends "no captured state; starting empty"
#    and restore-wait lets the application start;
#  - the agent of the pod's node (and no other) captures the protected volume, not the
#    unprotected one, into the store of the identity e2e-agent/db/0;
#  - the store's latest state is byte-exact the volume (dkctl restore, read-only);
#  - the node report lists the identity with its restore point; /metrics counts captures.
# Leaves StatefulSet db running for test-cross-node-restore.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=workload.sh
source "$E2E_SRC/workload.sh"
use_cluster

log "StatefulSet db (gated, emptyDir data + scratch) and StatePolicy db"
apply_db db
until_ok 90 "pod db-0 scheduled" test -n "$(pod_uid "$NS" db-0)"
until_ok 90 "pod db-0 on a node" test -n "$(pod_node "$NS" db-0)"
node=$(pod_node "$NS" db-0)
uid=$(pod_uid "$NS" db-0)
log "db-0 ($uid) is on $node; playing the operator: StateRestore for it"
sr=$(create_restore "$NS" db-0 db 0)
until_ok 90 "StateRestore $sr finished" restore_done "$NS" "$sr"
expect_eq "first restore phase" "$(restore_phase "$NS" "$sr")" Succeeded
expect_eq "first restore message" "$(field "$NS" staterestore "$sr" '{.status.message}')" \
  "no captured state; starting empty"
expect_eq "restoring node" "$(field "$NS" staterestore "$sr" '{.status.node}')" "$node"
until_ok 120 "db-0 Running" field_is "$NS" pod db-0 '{.status.phase}' Running

store=$(store_dir "$node" "$NS" db 0)
log "waiting for the dataset in $store"
until_ok 120 "data/done captured on $node" store_has "$store" data/done
vol=$(volume_dir "$node" "$uid" data)
[[ -f $vol/done ]] || fail "the application did not write its dataset into $vol"
for other in ${DKCLUSTER_NODES//,/ }; do
  [[ $other == "$node" ]] && continue
  [[ ! -e $(store_dir "$other" "$NS" db 0) ]] || fail "node $other has a store for db-0, which never ran there"
done

log "the store's latest state is the volume, byte for byte"
rm -rf "$WORK/capture-check"
# Capture sets may still be landing (mtimes of the last files): retry until equal.
same() {
  rm -rf "$WORK/capture-check"
  "$DKCTL" --store "$store" restore "$WORK/capture-check" >/dev/null 2>&1 || return 1
  [[ $(tree_fingerprint "$WORK/capture-check/data") == "$(tree_fingerprint "$vol")" ]]
}
until_ok 60 "store content equals the volume" same
[[ ! -e $WORK/capture-check/scratch/x ]] || fail "the unprotected volume scratch was captured"
"$DKCTL" --store "$store" verify >/dev/null || fail "dkctl verify found problems in $store"

log "node report and metrics"
latest=$(store_sets "$store" | tail -n 1 | cut -d' ' -f1)
reported_latest() { (($(report_last_set "$node" "$NS" db 0) >= latest)); }
until_ok 30 "node report of $node shows set $latest of e2e-agent/db/0" reported_latest
entry=$(report_entry "$node" "$NS" db 0)
expect_eq "report podUID" "$(jq -r .podUID <<<"$entry")" "$uid"
expect_eq "report policy" "$(jq -r .policy <<<"$entry")" db
[[ $(jq -r .lastRoot <<<"$entry") =~ ^[0-9a-f]{64}$ ]] || fail "report lastRoot: $entry"
(($(jq -r .storedBytes <<<"$entry") > 0)) || fail "report storedBytes: $entry"
# On disk: the data file (LMDB pages) and any pack files, never less than what is stored.
(($(jq -r .diskBytes <<<"$entry") >= $(jq -r .storedBytes <<<"$entry"))) ||
  fail "report diskBytes below storedBytes: $entry"
(($(agent_metric "$node" "diffkeeper_agent_store_disk_bytes{identity=\"$NS/db/0\"}") > 0)) ||
  fail "no diffkeeper_agent_store_disk_bytes for $NS/db/0 in the metrics of $node"
(($(agent_metric "$node" 'diffkeeper_agent_captures_total{result="ok"}') >= 1)) ||
  fail "no successful capture in the metrics of $node"
expect_eq "protected pods on $node" "$(agent_metric "$node" diffkeeper_agent_protected_pods)" 1
log "PASS"

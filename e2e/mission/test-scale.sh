#!/usr/bin/env bash
# Scenario 7 — Scale: 50 protected pods (10 StatefulSets x 5 replicas) across the 5 nodes, each
# writing continuously (twice a second) for a minute. Then every pod's latest captured set
# equals its volume and every store verifies (no lost version). Reports the API requests per
# second of the operator and of the agents (counted in the API server's audit log) and their
# memory (resident set, peak).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
SETS=${DK_SCALE_SETS:-10}
REPLICAS=5
SECONDS_WRITING=${DK_SCALE_SECONDS:-60}
resume_workloads
revive_operators
kubectl create namespace scale >/dev/null 2>&1 || true
t0=$SECONDS
for s in $(seq 0 $((SETS - 1))); do apply_app scale "s$s" "$REPLICAS" "" --blob-mib 1; done
running() { [[ $(kubectl -n scale get pods --field-selector=status.phase=Running -o name | wc -l) == $((SETS * REPLICAS)) ]]; }
until_ok 300 "$((SETS * REPLICAS)) pods running" running
log "$((SETS * REPLICAS)) pods running after $((SECONDS - t0))s: $(kubectl -n scale get pods -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
all_ready() {
  local s
  for s in $(seq 0 $((SETS - 1))); do
    [[ $(field scale statepolicy "s$s" '{.status.protectedPods}') == "$REPLICAS" ]] || return 1
  done
}
until_ok 120 "every policy reports $REPLICAS protected pods" all_ready

audit_count() { # USER-SUFFIX: requests of that service account so far
  grep -c "\"username\":\"system:serviceaccount:$OP_NS:$1\"" "$WORK/audit.log" 2>/dev/null || echo 0
}
op0=$(audit_count diffkeeper-operator)
ag0=$(audit_count diffkeeper-agent)
v0=0
for s in $(seq 0 $((SETS - 1))); do v0=$((v0 + $(field scale statepolicy "s$s" '{.status.versions}'))); done
log "writing for ${SECONDS_WRITING}s (versions so far: $v0)"
start=$SECONDS
sleep "$SECONDS_WRITING"
elapsed=$((SECONDS - start))
op1=$(audit_count diffkeeper-operator)
ag1=$(audit_count diffkeeper-agent)
v1=0
for s in $(seq 0 $((SETS - 1))); do v1=$((v1 + $(field scale statepolicy "s$s" '{.status.versions}'))); done

pause_workloads
log "every pod's store equals its volume; every store verifies"
n=0
for s in $(seq 0 $((SETS - 1))); do
  for o in $(seq 0 $((REPLICAS - 1))); do
    until_ok 30 "s$s-$o paused" test -f "$CONTROL_DIR/s$s-$o.paused"
    wait_captured scale "s$s" "$o" >/dev/null
    node=$(pod_node scale "s$s-$o")
    "$DKCTL" --store "$(store_dir "$node" scale "s$s" "$o")" verify >/dev/null 2>&1 ||
      fail "the store of s$s-$o on $node does not verify"
    n=$((n + 1))
  done
done
log "  $n pods: latest set == volume, store verified"

rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.2f", n / s}'; }
# Resident memory: anonymous (heap) and file-backed (the stores' LMDB maps, shared with the
# page cache), and the peak.
rss() {
  awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} /^VmHWM/ {h = $2}
    END {printf "%.0f MiB anonymous + %.0f MiB file-backed (peak RSS %.0f MiB)", a / 1024, f / 1024, h / 1024}' \
    "/proc/$1/status" 2>/dev/null || echo "?"
}
log "results over ${elapsed}s of writing by $n pods on $NODES nodes:"
log "  versions captured: $((v1 - v0)) ($(rate $((v1 - v0)) "$elapsed")/s)"
log "  API requests: operator $((op1 - op0)) ($(rate $((op1 - op0)) "$elapsed")/s), agents $((ag1 - ag0)) ($(rate $((ag1 - ag0)) "$elapsed")/s, $(rate $((ag1 - ag0)) $((elapsed * NODES)))/s per agent)"
for r in a b; do log "  operator $r: $(rss "$(operator_pid "$r")")"; done
for node in $(node_names); do log "  agent on $node: $(rss "$(agent_info "$node" pid)")"; done
# Not a speed limit: a flood guard. Node reports are rate-limited and status writes coalesced,
# so requests must not grow with the number of captures (≈ one per version would be ~100/s).
total=$(((op1 - op0) + (ag1 - ag0)))
((total < 20 * elapsed)) || fail "operator and agents made $total API requests in ${elapsed}s"
resume_workloads
for s in $(seq 0 $((SETS - 1))); do kubectl -n scale delete statefulset "s$s" --wait=false >/dev/null; done
log "PASS"

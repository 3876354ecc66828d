#!/usr/bin/env bash
# SIGKILL of the agent while it captures a pod that writes without pause loses no acknowledged
# version, and the agent resumes on restart:
#  - the capture sets committed before the kill (read from the store) are all still there,
#    with the same Merkle roots, and the store verifies clean;
#  - the DaemonSet's container is restarted (by the node simulator, as the kubelet would), the
#    new agent opens the same store (the writer lock of the killed process is gone) and records
#    new capture sets; its node report is written again.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=workload.sh
source "$E2E_SRC/workload.sh"
use_cluster

apply_writer writer
until_ok 90 "writer-0 Running" field_is "$NS" pod writer-0 '{.status.phase}' Running
node=$(pod_node "$NS" writer-0)
store=$(store_dir "$node" "$NS" writer 0)
count_sets() { store_sets "$store" | wc -l; }
at_least() { (($(count_sets) >= $1)); }
until_ok 90 "3 capture sets of writer-0 on $node" at_least 3

for round in 1 2 3; do
  pid=$(agent_info "$node" pid)
  [[ -n $pid && -d /proc/$pid ]] || fail "no running agent on $node"
  grep -q diffkeeper-agent "/proc/$pid/cmdline" || fail "pid $pid is not diffkeeper-agent"
  # Kill while a capture is in flight (the agent's gauge says one runs; the writer never pauses).
  n=$(count_sets)
  until_ok 30 "another capture set" at_least $((n + 1))
  in_flight() { (($(agent_metric "$node" diffkeeper_agent_capture_in_flight) >= 1)); }
  until_ok 30 "a capture in flight" in_flight
  store_sets "$store" >"$WORK/acked-$round.txt"
  kill -KILL "$pid"
  log "round $round: killed agent $pid on $node with $(wc -l <"$WORK/acked-$round.txt") acknowledged sets"
  restarted() { local p; p=$(agent_info "$node" pid); [[ -n $p && $p != "$pid" && -d /proc/$p ]]; }
  until_ok 90 "agent on $node restarted" restarted
  # Every acknowledged set, with its root, survived.
  store_sets "$store" >"$WORK/after-$round.txt"
  missing=$(comm -23 <(sort "$WORK/acked-$round.txt") <(sort "$WORK/after-$round.txt"))
  [[ -z $missing ]] || fail "acknowledged capture sets lost or changed after SIGKILL: $missing"
  "$DKCTL" --store "$store" verify >/dev/null || fail "the store does not verify after SIGKILL"
  before=$(wc -l <"$WORK/acked-$round.txt")
  until_ok 60 "new capture sets after the restart" at_least $((before + 2))
done
hb() { kubectl -n "$AGENT_NS" get configmap "diffkeeper-node-$node" -o jsonpath='{.data.heartbeat}'; }
h1=$(hb)
sleep 3
changed() { [[ $(hb) != "$h1" ]]; }
until_ok 60 "node report written by the restarted agent" changed
kubectl -n "$NS" delete statefulset writer --wait=false >/dev/null
log "PASS"

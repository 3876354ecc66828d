#!/usr/bin/env bash
# Leader election: the leader killed (SIGKILL) → the other replica takes the Lease after it
# expires and reconciles; the leader stopped (SIGTERM) → it releases the Lease and the other
# takes over at once. Prints the takeover times.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
ensure_operators
NS=e2e-failover
new_namespace "$NS"
trap 'ensure_operators >/dev/null 2>&1 || true; cleanup_namespaces' EXIT
apply_statefulset "$NS" db 0
apply_statefulset "$NS" web 0

leader_is() { [[ $(leader) == "$1" ]]; }
# The page is read whole before grep: `curl | grep -q` fails under pipefail when grep exits at the
# match while curl still writes (SIGPIPE), which the longer page since the bucket GC metrics hit.
leader_metric_is() { local m; m=$(metrics_of "$1") && grep -q "^diffkeeper_operator_leader $2\$" <<<"$m"; }
other() { [[ $1 == a ]] && echo b || echo a; }

log "kill -9 the leader"
first=$(leader); first=${first#operator-}
second=$(other "$first")
log "  leader: operator-$first"
start=$SECONDS
stop_operator "$first" KILL
until_ok 30 "operator-$second takes over" leader_is "operator-$second"
took=$((SECONDS - start))
log "  operator-$second leads after ${took}s (lease duration 6s)"
[[ $took -le 15 ]] || fail "takeover took ${took}s"
until_ok 10 "new leader's leader metric" leader_metric_is "$second" 1

log "the new leader reconciles"
apply_policy "$NS" db db
until_ok 20 "Ready from the new leader" cond_is "$NS" db Ready status True
grep -q '"name":"db","generation":1' "$OPS_DIR/$second.log" || fail "operator-$second did not write the status"

log "restart the killed replica: it follows"
start_operator "$first"
until_ok 30 "operator-$first ready" readyz_of "$first"
expect_eq "leader" "$(leader)" "operator-$second"
leader_metric_is "$first" 0 || fail "follower's leader metric"

log "SIGTERM the leader: the Lease is released and taken over at once"
start=$SECONDS
stop_operator "$second" TERM
grep -q 'Stopped diffkeeper-operator' "$OPS_DIR/$second.log" || fail "operator-$second did not stop cleanly"
until_ok 15 "operator-$first takes over" leader_is "operator-$first"
log "  operator-$first leads after $((SECONDS - start))s"
apply_policy "$NS" web web
until_ok 20 "Ready from operator-$first" cond_is "$NS" web Ready status True
start_operator "$second"
until_ok 30 "operator-$second ready" readyz_of "$second"
log "PASS"

#!/usr/bin/env bash
# State replicated to S3 survives the loss of its node: a pod of a StatefulSet whose policy has
# storage S3 (versitygw on loopback, e2e/s3/server.sh; credentials in a Secret of the agents'
# namespace) is captured and replicated by the agent of node A; node A is then stopped (its
# agent and pods are killed, as when a node dies) and its local store directory deleted, node A
# is cordoned and the pod deleted. The re-created pod waits in restore-wait on node B, whose
# agent finds no local copy and no reachable peer and restores from the bucket: StateRestore
# Succeeded with source "bucket", the reported root verified, the volume byte-exact.
# Also: the node report shows the replication status (lag 0, last replicated set = restore
# point) and /metrics counts the uploaded bytes; the bucket's head is read back with curl's own
# SigV4 signer. Node A comes back (uncordoned, agent restarted) at the end.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=workload.sh
source "$E2E_SRC/workload.sh"
use_cluster

S3_DIR=$WORK/s3
down_node=""
cleanup() {
  if [[ -n $down_node ]]; then
    rm -f "$(node_dir "$down_node")/down"
    kubectl uncordon "$down_node" >/dev/null 2>&1 || true
  fi
  kubectl -n "$NS" delete statefulset bkt --wait=false >/dev/null 2>&1 || true
  "$SRC/e2e/s3/server.sh" stop "$S3_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "starting the S3 server (versitygw)"
"$SRC/e2e/s3/server.sh" start "$S3_DIR" || fail "the S3 server did not start"
# DIR/env is KEY="VALUE" lines, made to be sourced.
set -a
# shellcheck disable=SC1091
. "$S3_DIR/env"
set +a
[[ -n $S3_ENDPOINT && -n $S3_BUCKET && -n $S3_SECRET_KEY ]] || fail "incomplete $S3_DIR/env"
kubectl -n "$AGENT_NS" delete secret s3-creds --ignore-not-found >/dev/null
kubectl -n "$AGENT_NS" create secret generic s3-creds \
  --from-literal=accessKeyID="$S3_ACCESS_KEY" --from-literal=secretAccessKey="$S3_SECRET_KEY" >/dev/null
# A HEAD/GET of a bucket key signed by curl (independent of libs3).
s3_get() { # KEY → body on stdout; fails on HTTP errors
  curl -sf --max-time 10 --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$S3_ENDPOINT/$S3_BUCKET/$1"
}

log "StatefulSet bkt with a StatePolicy storing to s3://$S3_BUCKET/e2e/"
apply_db bkt "{type: S3, s3: {endpoint: \"$S3_ENDPOINT\", bucket: $S3_BUCKET, prefix: e2e/, region: $S3_REGION, credentialsSecretRef: {name: s3-creds}}}"
until_ok 90 "pod bkt-0 on a node" test -n "$(pod_node "$NS" bkt-0)"
node_a=$(pod_node "$NS" bkt-0)
uid_a=$(pod_uid "$NS" bkt-0)
sr=$(create_restore "$NS" bkt-0 bkt 0)
until_ok 90 "first StateRestore $sr finished" restore_done "$NS" "$sr"
expect_eq "first restore message" "$(field "$NS" staterestore "$sr" '{.status.message}')" \
  "no captured state; starting empty"
until_ok 120 "bkt-0 Running on $node_a" field_is "$NS" pod bkt-0 '{.status.phase}' Running

store=$(store_dir "$node_a" "$NS" bkt 0)
vol=$(volume_dir "$node_a" "$uid_a" data)
until_ok 120 "data/done captured on $node_a" store_has "$store" data/done
tree_fingerprint "$vol" >"$WORK/bkt-before.txt"
same_as_volume() {
  rm -rf "$WORK/bkt-check"
  "$DKCTL" --store "$store" restore "$WORK/bkt-check" >/dev/null 2>&1 &&
    [[ $(tree_fingerprint "$WORK/bkt-check/data") == "$(cat "$WORK/bkt-before.txt")" ]]
}
until_ok 60 "the store holds the volume's final state" same_as_volume
last_set=$(store_sets "$store" | tail -n 1 | cut -d' ' -f1)
replicated() {
  local e
  e=$(report_entry "$node_a" "$NS" bkt 0)
  [[ -n $e && $(jq -r .lastSet <<<"$e") == "$last_set" &&
    $(jq -r .replication.lastSet <<<"$e") == "$last_set" &&
    $(jq -r .replication.lagSets <<<"$e") == 0 && $(jq -r .replication.failing <<<"$e") == false ]]
}
until_ok 60 "node report of $node_a: set $last_set replicated" replicated
entry=$(report_entry "$node_a" "$NS" bkt 0)
log "replication: $(jq -c .replication <<<"$entry")"
expect_eq "replicated root = restore point" "$(jq -r .replication.lastRoot <<<"$entry")" \
  "$(jq -r .lastRoot <<<"$entry")"
expect_eq "replication state" "$(jq -r .replication.state <<<"$entry")" idle
head=$(s3_get "e2e/heads/$NS/bkt/0.json") || fail "no head e2e/heads/$NS/bkt/0.json in the bucket"
expect_eq "head root" "$(jq -r .root <<<"$head")" "$(jq -r .lastRoot <<<"$entry")"
expect_eq "head writer" "$(jq -r .writer <<<"$head")" "$node_a"
uploaded=$(agent_metric "$node_a" diffkeeper_agent_replication_bytes_uploaded_total)
(($(printf '%.0f' "$uploaded") > 3000000)) || fail "replication_bytes_uploaded_total on $node_a: $uploaded"
(($(agent_metric "$node_a" 'diffkeeper_agent_replication_sets_total{result="replicated"}') >= 1)) ||
  fail "no replicated set in the metrics of $node_a"
log "bucket: $(jq -c . <<<"$head"); $uploaded bytes uploaded by $node_a"

log "node $node_a goes down; its local store is deleted; it is cordoned and bkt-0 deleted"
down_node=$node_a
agent_pid=$(agent_info "$node_a" pid)
touch "$(node_dir "$node_a")/down"
gone() { [[ ! -d /proc/$agent_pid ]]; }
until_ok 60 "agent $agent_pid on $node_a killed" gone
rm -rf "$store"
[[ ! -e $store ]] || fail "could not delete $store"
kubectl cordon "$node_a" >/dev/null
kubectl -n "$NS" delete pod bkt-0 --grace-period=0 --force >/dev/null 2>&1
new_pod() { local u; u=$(pod_uid "$NS" bkt-0); [[ -n $u && $u != "$uid_a" && -n $(pod_node "$NS" bkt-0) ]]; }
until_ok 90 "bkt-0 re-created and scheduled" new_pod
node_b=$(pod_node "$NS" bkt-0)
uid_b=$(pod_uid "$NS" bkt-0)
[[ $node_b != "$node_a" ]] || fail "bkt-0 came back on the cordoned node $node_a"
[[ ! -e $(store_dir "$node_b" "$NS" bkt 0) ]] || fail "$node_b already has a store of bkt-0"
log "bkt-0 ($uid_b) waits in restore-wait on $node_b"

t0=$(date +%s.%N)
sr=$(create_restore "$NS" bkt-0 bkt 0)
until_ok 150 "StateRestore $sr finished" restore_done "$NS" "$sr"
t1=$(date +%s.%N)
status=$(kubectl -n "$NS" get staterestore "$sr" -o json | jq -c .status)
log "status: $status"
expect_eq "phase" "$(jq -r .phase <<<"$status")" Succeeded
expect_eq "node" "$(jq -r .node <<<"$status")" "$node_b"
expect_eq "source" "$(jq -r .source <<<"$status")" bucket
expect_eq "verifiedRoot" "$(jq -r .verifiedRoot <<<"$status")" "$(jq -r .lastRoot <<<"$entry")"
(($(jq -r .files <<<"$status") == 23)) || fail "files restored: $(jq -r .files <<<"$status"), want 23"
until_ok 120 "bkt-0 Running after its restore" field_is "$NS" pod bkt-0 '{.status.phase}' Running
tree_fingerprint "$(volume_dir "$node_b" "$uid_b" data)" >"$WORK/bkt-after.txt"
diff -u "$WORK/bkt-before.txt" "$WORK/bkt-after.txt" >&2 || fail "the volume restored from the bucket differs"
expect_eq "marker" "$(jq -r .result "$(state_dir "$node_b")/markers/$uid_b")" restored
log "restored from the bucket: $(jq -r .bytes <<<"$status") bytes in $(jq -r .durationSeconds <<<"$status") s (agent), $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s StateRestore created → Succeeded"
(($(agent_metric "$node_b" 'diffkeeper_agent_restores_total{result="succeeded",source="bucket"}') == 1)) ||
  fail "restores_total{source=bucket} on $node_b"

log "node $node_a comes back"
rm -f "$(node_dir "$node_a")/down"
kubectl uncordon "$node_a" >/dev/null
down_node=""
until_ok 120 "agent on $node_a running again" agent_alive "$node_a"
log "PASS"

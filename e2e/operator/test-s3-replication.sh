#!/usr/bin/env bash
# Replication to S3 seen from the control plane: real agents (the operator's DaemonSet) replicate
# a protected pod to a real S3 server (versitygw, e2e/s3/server.sh); StatePolicy.status shows
# each pod's replication and the Replicated condition; a policy whose bucket cannot be reached
# becomes Replicated=False and, after --replication-degraded-after, Degraded; deleting a policy
# with onDelete: Delete deletes its identities' heads and manifests from the bucket.
# Needs DK_AGENT_BIN; leaves agents running (like test-full-restore.sh).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
[[ -x ${DK_AGENT_BIN:-} ]] || { echo "DK_AGENT_BIN not set: skipped"; exit 77; }
NS=e2e-s3-$(date +%s)
S3_DIR=$WORK/s3
new_namespace "$NS"
trap '"$SRC/e2e/s3/server.sh" stop "$S3_DIR" >/dev/null 2>&1 || true; cleanup_namespaces' EXIT
state_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/host/var/lib/diffkeeper"; }
agent_alive() { local pid; pid=$(jq -r .pid "$(state_dir "$1")/agent.json" 2>/dev/null) && [[ -n $pid && -d /proc/$pid ]]; }
volume_dir() { echo "$DKCLUSTER_NODES_ROOT/$1/pods/$2/volumes/kubernetes.io~empty-dir/$3"; }

log "S3 server and its credentials Secret"
"$SRC/e2e/s3/server.sh" start "$S3_DIR" || fail "the S3 server did not start"
set -a
# shellcheck disable=SC1091
. "$S3_DIR/env"
set +a
kubectl -n "$OP_NS" delete secret e2e-s3 --ignore-not-found >/dev/null
kubectl -n "$OP_NS" create secret generic e2e-s3 \
  --from-literal=accessKeyID="$S3_ACCESS_KEY" --from-literal=secretAccessKey="$S3_SECRET_KEY" >/dev/null
s3_code() { # KEY → the HTTP status of a GET of that key (signed by curl)
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$S3_ENDPOINT/$S3_BUCKET/$1"
}
s3_list() { # PREFIX → keys (ListObjectsV2, signed by curl; '/' encoded for the signature)
  local xml
  xml=$(curl -sf --max-time 10 --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$S3_ENDPOINT/$S3_BUCKET?list-type=2&prefix=${1//\//%2F}") || fail "listing $1 in the bucket failed"
  grep -o '<Key>[^<]*</Key>' <<<"$xml" | sed 's/<[^>]*>//g' || true
}

log "operators with real agents and --replication-degraded-after=5s"
for n in a b; do stop_operator "$n"; done
start_operator a "${OPERATOR_AGENT_ARGS[@]}" --replication-degraded-after=5s
start_operator b "${OPERATOR_AGENT_ARGS[@]}" --replication-degraded-after=5s
until_ok 60 "a leader" has_leader
until_ok 60 "agent DaemonSet" exists "$OP_NS" daemonset diffkeeper-agent
for n in node-1 node-2; do until_ok 90 "agent running on $n" agent_alive "$n"; done

storage() { # ENDPOINT
  echo "  storage: {type: S3, s3: {endpoint: \"$1\", bucket: $S3_BUCKET, prefix: e2e-op/, region: $S3_REGION, credentialsSecretRef: {name: e2e-s3}}}"
}
log "StatefulSet db with a policy storing to s3://$S3_BUCKET/e2e-op/ (onDelete: Delete)"
apply_policy "$NS" db db "$(storage "$S3_ENDPOINT")
  retention: {onDelete: Delete}
  restore: {timeout: 120s}"
until_ok 20 "webhook entry" bash -c "kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate-policies -o jsonpath='{.webhooks[*].name}' | grep -q db.$NS.policy"
apply_statefulset "$NS" db 1
until_ok 60 "db-0 running" pod_ready "$NS" db-0
node=$(field "$NS" pod db-0 '{.spec.nodeName}')
uid=$(field "$NS" pod db-0 '{.metadata.uid}')
vol=$(volume_dir "$node" "$uid" data)
mkdir -p "$vol/db"
for i in $(seq 1 8); do head -c $((8192 * i)) /dev/urandom >"$vol/db/p$i"; done
echo "state v1" >"$vol/db/meta"

stored() { (($(field "$NS" statepolicy db '{.status.storedBytes}') > 40000)); }
until_ok 60 "the written files' bytes stored (status.storedBytes)" stored
# The bucket has the pod's restore point (the set with the written files).
replicated() {
  local want got
  want=$(field "$NS" statepolicy db '{.status.pods[0].lastSet}')
  got=$(field "$NS" statepolicy db '{.status.pods[0].replication.lastSet}')
  [[ -n $want && $want == "$got" ]]
}
until_ok 90 "status.pods[0].replication.lastSet = status.pods[0].lastSet" replicated
until_ok 60 "Replicated=True UpToDate" cond_is "$NS" db Replicated reason UpToDate
rep=$(kubectl -n "$NS" get statepolicy db -o jsonpath='{.status.pods[0].replication}')
log "  pods[0].replication: $rep"
expect_eq "replicating node" "$(jq -r .node <<<"$rep")" "$node"
expect_eq "lagSets" "$(jq -r .lagSets <<<"$rep")" 0
expect_eq "failing" "$(jq -r .failing <<<"$rep")" false
[[ $(jq -r .lastRoot <<<"$rep") =~ ^[0-9a-f]{64}$ ]] || fail "lastRoot is not a root: $rep"
[[ -n $(jq -r '.lastReplicated // empty' <<<"$rep") ]] || fail "no lastReplicated: $rep"
bucket_set=$(jq -r .bucketSet <<<"$rep")
expect_eq "status.replication.bucket" "$(field "$NS" statepolicy db '{.status.replication.bucket}')" "s3://$S3_BUCKET/e2e-op/"
expect_eq "status.replication.upToDate" "$(field "$NS" statepolicy db '{.status.replication.upToDate}')" 1
head_json=$(s3_list "e2e-op/heads/$NS/db/")
expect_eq "the bucket's head of $NS/db/0" "$head_json" "e2e-op/heads/$NS/db/0.json"
manifest=$(printf 'e2e-op/manifests/%s/db/0/%020d.dkm' "$NS" "$bucket_set")
expect_eq "the manifest named by bucketSet is in the bucket" "$(s3_code "$manifest")" 200
log "  $(kubectl -n "$NS" get statepolicy db -o wide --no-headers)"
wide=$(kubectl -n "$NS" get statepolicy db -o wide)
expect_contains "wide columns" "$(head -1 <<<"$wide")" "REPLICATED"

log "a second policy whose endpoint is down: Replicated=False, then Degraded"
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# onReschedule: Skip: web-0 is not gated (its restore would wait for the unreachable bucket).
apply_policy "$NS" web web "$(storage "http://127.0.0.1:$closed_port")
  restore: {onReschedule: Skip}"
apply_statefulset "$NS" web 1
until_ok 60 "web-0 running" pod_ready "$NS" web-0
wnode=$(field "$NS" pod web-0 '{.spec.nodeName}')
wuid=$(field "$NS" pod web-0 '{.metadata.uid}')
mkdir -p "$(volume_dir "$wnode" "$wuid" data)"
echo "web state" >"$(volume_dir "$wnode" "$wuid" data)/index.html"
until_ok 90 "Replicated=False ReplicationFailing" cond_is "$NS" web Replicated reason ReplicationFailing
until_ok 60 "Degraded=True ReplicationFailing" cond_is "$NS" web Degraded reason ReplicationFailing
expect_eq "web still Ready" "$(cond "$NS" web Ready status)" True
expect_eq "the failing pod's reason" "$(field "$NS" statepolicy web '{.status.pods[0].replication.lastErrorReason}')" EndpointUnavailable
log "  Degraded: $(cond "$NS" web Degraded message)"
until_ok 20 "ReplicationFailing event" has_event "$NS" web ReplicationFailing
msg=$(cond "$NS" web Replicated message)
[[ $msg != *"$S3_SECRET_KEY"* ]] || fail "the secret key is in a condition message"

log "deleting policy db (onDelete: Delete) deletes its copies in the bucket"
kubectl -n "$NS" delete statefulset db --wait=false >/dev/null
kubectl -n "$NS" delete statepolicy db --wait=false >/dev/null
until_ok 120 "policy db gone (finalizer removed after the purge)" gone "$NS" statepolicy db
expect_eq "heads of $NS/db/* in the bucket" "$(s3_list "e2e-op/heads/$NS/db/")" ""
expect_eq "manifests of $NS/db/* in the bucket" "$(s3_list "e2e-op/manifests/$NS/db/")" ""
expect_eq "the manifest by key" "$(s3_code "$manifest")" 404
until_ok 20 "ProtectionRemoved event names the bucket" events_contain "$NS" db "bucket copies deleted from s3://$S3_BUCKET/e2e-op/"
purged_metric() {
  local m n
  m=$(for n in a b; do metrics_of "$n" 2>/dev/null || true; done)
  grep -q '^diffkeeper_operator_bucket_purged_identities_total 1$' <<<"$m"
}
until_ok 10 "operator_bucket_purged_identities_total 1 on the leader" purged_metric
log "PASS"

#!/usr/bin/env bash
# Every schema and CEL rule of the CRDs: a bad object is rejected by the API server with the
# documented message (the messages in crds/*.yaml).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
NS=e2e-cel
new_namespace "$NS"
trap cleanup_namespaces EXIT

# rejected KIND SPEC_YAML FIELD MESSAGE: server-side dry-run create must fail with FIELD and MESSAGE.
checked=0
rejected() {
  local kind=$1 spec=$2 field=$3 msg=$4 out
  if out=$(kubectl -n "$NS" create --dry-run=server -o name -f - 2>&1 <<EOF2
apiVersion: diffkeeper.io/v1alpha1
kind: $kind
metadata: {name: bad}
spec:
$spec
EOF2
  ); then
    fail "$kind accepted, want rejection '$msg' for:\n$spec"
  fi
  expect_contains "$kind rejection" "$out" "$field"
  expect_contains "$kind rejection" "$out" "$msg"
  checked=$((checked + 1))
}
P='  targetRef: {name: db}'
D='  paths: [{volume: data}]'

log "StatePolicy rules"
rejected StatePolicy "$P" "spec.paths" "Required value"
rejected StatePolicy "  targetRef: {name: Db_1}
$D" "spec.targetRef.name" "targetRef.name must be a StatefulSet name: lower-case letters, digits, '-' and '.'"
rejected StatePolicy "  targetRef: {name: db, kind: Deployment}
$D" "spec.targetRef.kind" 'Unsupported value: "Deployment"'
rejected StatePolicy "$P
  paths: []" "spec.paths" "spec.paths must name at least one volume to protect"
rejected StatePolicy "$P
  paths: [{volume: data}, {volume: data, subPath: ''}]" "spec.paths[1]" "Duplicate value"
rejected StatePolicy "$P
  paths: [{volume: Data}]" "spec.paths[0].volume" "volume must be the name of a volume of the pod template"
rejected StatePolicy "$P
  paths: [{volume: data, subPath: /etc}]" "spec.paths[0].subPath" "subPath must be relative to the volume (no leading '/')"
rejected StatePolicy "$P
  paths: [{volume: data, subPath: a/../../etc}]" "spec.paths[0].subPath" "subPath must not contain '..'"
rejected StatePolicy "$P
$D
  capture: {debounce: 2 seconds}" "spec.capture.debounce" "capture.debounce must be a duration such as 500ms, 2s or 1m"
rejected StatePolicy "$P
$D
  capture: {debounce: 50ms}" "spec.capture.debounce" "capture.debounce must be between 100ms and 10m"
rejected StatePolicy "$P
$D
  capture: {snapshotEvery: 0}" "spec.capture.snapshotEvery" "should be greater than or equal to 1"
rejected StatePolicy "$P
$D
  capture: {deltaEngine: xdelta}" "spec.capture.deltaEngine" 'Unsupported value: "xdelta"'
rejected StatePolicy "$P
$D
  capture: {chunking: {minSize: 70000, avgSize: 65536, maxSize: 262144}}" "spec.capture.chunking" "capture.chunking sizes must satisfy minSize < avgSize < maxSize"
rejected StatePolicy "$P
$D
  capture: {chunking: {minSize: 1024, avgSize: 5000, maxSize: 262144}}" "spec.capture.chunking" "capture.chunking.avgSize must be a power of two, e.g. 65536"
rejected StatePolicy "$P
$D
  retention: {keepVersions: 0}" "spec.retention.keepVersions" "should be greater than or equal to 1"
rejected StatePolicy "$P
$D
  retention: {keepFor: 7d}" "spec.retention.keepFor" "retention.keepFor must be a duration such as 30m, 24h or 720h"
rejected StatePolicy "$P
$D
  retention: {keepFor: 30s}" "spec.retention.keepFor" "retention.keepFor must be at least 1m"
rejected StatePolicy "$P
$D
  retention: {onDelete: Purge}" "spec.retention.onDelete" 'Unsupported value: "Purge"'
rejected StatePolicy "$P
$D
  restore: {timeout: 5s}" "spec.restore.timeout" "restore.timeout must be between 10s and 24h"
rejected StatePolicy "$P
$D
  restore: {timeout: soon}" "spec.restore.timeout" "restore.timeout must be a duration such as 90s, 10m or 1h"
rejected StatePolicy "$P
$D
  restore: {onTimeout: Retry}" "spec.restore.onTimeout" 'Unsupported value: "Retry"'
rejected StatePolicy "$P
$D
  restore: {onReschedule: Always}" "spec.restore.onReschedule" 'Unsupported value: "Always"'
rejected StatePolicy "$P
$D
  storage: {type: S3}" "spec.storage" "storage.s3 is required when storage.type is S3"
rejected StatePolicy "$P
$D
  storage: {type: Local, s3: {bucket: bkt, credentialsSecretRef: {name: c}}}" "spec.storage" "storage.s3 may only be set when storage.type is S3"
rejected StatePolicy "$P
$D
  storage: {type: S3, s3: {bucket: My_Bucket, credentialsSecretRef: {name: c}}}" "spec.storage.s3.bucket" "s3.bucket must be a bucket name: 3 to 63 lower-case letters, digits, '.' and '-'"
rejected StatePolicy "$P
$D
  storage: {type: S3, s3: {bucket: bkt, endpoint: 'minio:9000', credentialsSecretRef: {name: c}}}" "spec.storage.s3.endpoint" "s3.endpoint must be an http:// or https:// URL"
rejected StatePolicy "$P
$D
  storage: {type: S3, s3: {bucket: bkt, prefix: /x, credentialsSecretRef: {name: c}}}" "spec.storage.s3.prefix" "s3.prefix must not start with '/'"
rejected StatePolicy "$P
$D
  storage: {type: S3, s3: {bucket: bkt}}" "spec.storage.s3.credentialsSecretRef" "Required value"

log "StateRestore rules"
rejected StateRestore "  ordinal: 0" "spec.policy" "Required value"
rejected StateRestore "  policy: db" "spec" "set spec.pod or spec.ordinal to choose the pod to restore"
rejected StateRestore "  policy: db
  pod: db-1
  ordinal: 0" "spec" "spec.pod and spec.ordinal name different pods"
rejected StateRestore "  policy: db
  ordinal: 0
  set: 3
  time: '2025-11-27T12:00:00Z'" "spec" "set at most one of spec.set and spec.time"
rejected StateRestore "  policy: db
  ordinal: 0
  paths: ['data/../etc']" "spec.paths[0]" "paths must be relative ('<volume>/<path>') and must not contain '..'"
rejected StateRestore "  policy: Db
  ordinal: 0" "spec.policy" "policy must be the name of a StatePolicy"
rejected StateRestore "  policy: db
  ordinal: 0
  time: yesterday" "spec.time" 'must be of type date-time'

log "defaults are filled in"
kubectl -n "$NS" apply -f - >/dev/null <<'EOF2'
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: good}
spec:
  targetRef: {name: db}
  paths: [{volume: data}]
EOF2
spec=$(kubectl -n "$NS" get statepolicy good -o jsonpath='{.spec}')
for want in '"debounce":"2s"' '"snapshotEvery":20' '"onTimeout":"Fail"' '"type":"Local"' \
  '"avgSize":262144' '"onDelete":"Retain"' '"paused":false' '"subPath":""'; do
  expect_contains "defaulted spec" "$spec" "$want"
done
kubectl -n "$NS" apply -f - >/dev/null <<'EOF2'
apiVersion: diffkeeper.io/v1alpha1
kind: StateRestore
metadata: {name: good}
spec: {policy: good, pod: db-2, ordinal: 2}
EOF2

log "transition rules (immutable fields)"
updated() { # KIND NAME PATCH FIELD MESSAGE
  local out
  if out=$(kubectl -n "$NS" patch "$1" "$2" --type merge -p "$3" 2>&1); then
    fail "$1 $2: patch $3 accepted"
  fi
  expect_contains "$1 update" "$out" "$4"
  expect_contains "$1 update" "$out" "$5"
  checked=$((checked + 1))
}
updated statepolicy good '{"spec":{"targetRef":{"name":"other"}}}' "spec.targetRef" \
  "targetRef.name is immutable: create a new StatePolicy to protect another StatefulSet"
updated statepolicy good '{"spec":{"capture":{"chunking":{"minSize":8192,"avgSize":32768,"maxSize":131072}}}}' \
  "spec.capture.chunking" "capture.chunking cannot change after creation"
updated staterestore good '{"spec":{"ordinal":3,"pod":"db-3"}}' "spec" \
  "the spec of a StateRestore is immutable: create a new StateRestore"
# Other fields stay editable.
kubectl -n "$NS" patch statepolicy good --type merge -p '{"spec":{"paused":true,"restore":{"timeout":"1h"}}}' >/dev/null
log "PASS ($checked rules checked)"

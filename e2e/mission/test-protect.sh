#!/usr/bin/env bash
# Scenario 2 — Protect: a 3-replica StatefulSet whose pods write into an emptyDir (workload.py:
# an appended log, a rewritten text file, a 20 MiB binary with 64 KiB partial rewrites, a SQLite
# database, twice a second) and a StatePolicy applied with `kubectl apply -f` that also
# replicates to the S3 server. Within seconds the policy is Ready with 3 protected pods and its
# version count grows; once the workload pauses every pod's store catches up with its volume
# and the bucket with the store (replication lag 0).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
kubectl create namespace "$NS" >/dev/null 2>&1 || true
create_s3_secret
t0=$SECONDS
apply_app "$NS" db 3 "$(s3_storage)"
for i in 0 1 2; do until_ok 90 "db-$i running" pod_ready "$NS" "db-$i"; done
log "3 pods running after $((SECONDS - t0))s: $(kubectl -n "$NS" get pods -o jsonpath='{range .items[*]}{.metadata.name}@{.spec.nodeName} {end}')"
until_ok 60 "StatePolicy Ready" cond_is "$NS" db Ready status True
pods3() { [[ $(field "$NS" statepolicy db '{.status.protectedPods}') == 3 ]]; }
until_ok 60 "3 protected pods in status" pods3
has_versions() { (($(field "$NS" statepolicy db '{.status.versions}') > 0)); }
until_ok 60 "versions in status" has_versions
log "Ready, 3 pods, versions after $((SECONDS - t0))s"
kubectl -n "$NS" get statepolicy db
v1=$(field "$NS" statepolicy db '{.status.versions}')
grown() { (($(field "$NS" statepolicy db '{.status.versions}') > v1)); }
until_ok 30 "versions growing beyond $v1" grown
log "versions $v1 -> $(field "$NS" statepolicy db '{.status.versions}')"
kubectl -n "$NS" get statepolicy db

log "pause the workload: every store catches up with its volume"
pause_workloads "$NS/db-0" "$NS/db-1" "$NS/db-2"
for i in 0 1 2; do
  node=$(pod_node "$NS" "db-$i")
  vol=$(volume_dir "$node" "$(pod_uid "$NS" "db-$i")" data)
  sqlite_ok "$vol/app.db" || fail "db-$i: the live database fails PRAGMA integrity_check"
  read -r set root < <(wait_captured "$NS" db "$i")
  replicated() { [[ $(report_field "$node" "$NS" db "$i" replication.lastRoot) == "$root"* && $(report_field "$node" "$NS" db "$i" replication.lagSets) == 0 ]]; }
  until_ok 60 "db-$i: set $set replicated to the bucket (node report)" replicated
  log "  db-$i on $node: tick $(jq -r .tick "$vol/state.json"), $(du -sh "$vol" | cut -f1) in the volume, captured as set $set (root $root), replicated: $(report_entry "$node" "$NS" db "$i" | jq -c '.replication | {state, lastBucketSet, lagSets, objectsUploaded, bytesUploaded}')"
done
"$DKCTL" --store "$(store_dir "$(pod_node "$NS" db-0)" "$NS" db 0)" stats || true
resume_workloads
log "PASS"

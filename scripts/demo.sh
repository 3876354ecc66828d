#!/usr/bin/env bash
# The demos: installs what is missing, builds DiffKeeper, then the standalone demo (protects a
# directory, breaks it, restores it and shows its history; needs no cluster), then the local
# cluster demo (scripts/cluster-demo.sh: a local control plane, DiffKeeper installed, pods
# moved between nodes with their state; left running with its KUBECONFIG printed).
#
# Environment: DK_DEMO_DIR (default /tmp/diffkeeper-demo), DK_BUILD_DIR (default build/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${DK_BUILD_DIR:-$root/build/demo}
demo=${DK_DEMO_DIR:-/tmp/diffkeeper-demo}

bash scripts/install-deps.sh
echo "== building DiffKeeper in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDK_BUILD_TESTS=OFF \
  -DDK_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" >/dev/null
dkctl=$build/tools/dkctl
agent=$build/nodeagent/diffkeeper-agent

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$demo" && mkdir -p "$demo/app/db" "$demo/app/logs"
data=$demo/app store=$demo/store
export DK_STORE=$store

step "1. An application directory with a config, a 20 MiB database file and a log"
printf 'listen: 8080\nworkers: 4\n' >"$data/config.yaml"
head -c $((20 << 20)) /dev/urandom >"$data/db/pages.bin"
echo "started" >"$data/logs/app.log"
ln -s config.yaml "$data/current-config"
ls -lR "$data" | sed 's/^/   /'

step "2. Protect it: the agent captures the initial state and then every change (inotify)"
if [[ -x "$agent" ]]; then
  "$agent" --standalone --watch "$data" --store "$store" --debounce-ms 100 \
    --log-level info 2>"$demo/agent.log" &
else
  "$dkctl" init >/dev/null
  "$dkctl" watch "$data" --debounce-ms 100 >"$demo/agent.log" 2>&1 &
fi
watcher=$!
trap 'kill $watcher 2>/dev/null || true' EXIT
wait_for_sets() {  # waits until the store has at least $1 capture sets
  for _ in $(seq 1 100); do
    n=$("$dkctl" log 2>/dev/null | tail -n +2 | wc -l || echo 0)
    ((n >= $1)) && return 0
    sleep 0.1
  done
  echo "timed out waiting for capture set $1" >&2
  cat "$demo/agent.log" >&2
  return 1
}
wait_for_sets 1

step "3. The application works: edits its config, rewrites 1% of its database, appends to its log"
sed -i 's/workers: 4/workers: 8/' "$data/config.yaml"
wait_for_sets 2
for off in 100 1000 3000 5000; do
  dd if=/dev/urandom of="$data/db/pages.bin" bs=4096 count=1 seek=$off conv=notrunc status=none
done
echo "request 1 served" >>"$data/logs/app.log"
wait_for_sets 3
sha256sum "$data"/db/pages.bin "$data"/config.yaml | sed 's/^/   /' | tee "$demo/expected.sha"
"$dkctl" log

step "4. Disaster: the database is truncated, the config deleted, garbage written to the log"
kill $watcher && wait $watcher 2>/dev/null || true
trap - EXIT
truncate -s 1000 "$data/db/pages.bin"
rm "$data/config.yaml"
echo "#### corrupted ####" >"$data/logs/app.log"
ls -lR "$data" | sed 's/^/   /'

step "5. Restore the latest verified state"
"$dkctl" restore "$data"
sha256sum -c "$demo/expected.sha" | sed 's/^/   /'

step "6. Go back in time: the state as of the first capture set"
"$dkctl" restore "$demo/as-of-set-1" --set 1
grep workers "$demo/as-of-set-1/config.yaml" | sed 's/^/   before the edit: /'
grep workers "$data/config.yaml" | sed 's/^/   latest:          /'

step "7. History and storage"
"$dkctl" log config.yaml
"$dkctl" log db/pages.bin
"$dkctl" diff db/pages.bin 1 2 | head -n 8
"$dkctl" stats
"$dkctl" verify
echo
echo "Standalone demo done. Data: $data  Store: $store  (DK_STORE=$store $dkctl log)"
kill $watcher 2>/dev/null || true

step "The local cluster demo (scripts/cluster-demo.sh)"
DK_BUILD_DIR=$build bash scripts/cluster-demo.sh up

#!/usr/bin/env bash
# The local cluster demo: starts the local control plane of e2e/cluster (kube-apiserver, etcd,
# controller-manager, scheduler built from the upstream Go modules; 5 simulated nodes) and an
# S3 server, installs DiffKeeper with `kubectl apply -k`, protects a 3-replica StatefulSet,
# moves its pods (once by deleting a pod, once by killing and deleting a node) and shows every
# file restored byte-exact. Leaves the cluster running and prints its KUBECONFIG.
#
#   scripts/cluster-demo.sh [up]   build (cached), start, run the demo, leave it up
#   scripts/cluster-demo.sh down   stop everything and delete the demo's directory
#
# Environment: DK_DEMO_CLUSTER_DIR (default /tmp/diffkeeper-cluster-demo), DK_BUILD_DIR (default
# build/demo). The steps are the mission e2e scenarios 1-3 (e2e/mission), so what the demo shows
# is what CI checks. The first run builds the control plane from Go modules (5-25 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${DK_BUILD_DIR:-$root/build/demo}
export DK_MISSION_DIR=${DK_DEMO_CLUSTER_DIR:-/tmp/diffkeeper-cluster-demo}
export DK_WEBHOOK_PORT=${DK_WEBHOOK_PORT:-29463}
export DK_SOURCE_DIR=$root
export DK_OPERATOR_BIN=$build/operator/diffkeeper-operator DK_AGENT_BIN=$build/nodeagent/diffkeeper-agent
export DK_RESTORE_WAIT_BIN=$build/tools/restore-wait/restore-wait DK_DKCTL_BIN=$build/tools/dkctl
mission=$root/e2e/mission
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

case ${1:-up} in
  down)
    bash "$mission/cluster-down.sh"
    exit 0
    ;;
  up) ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 1
    ;;
esac

bash scripts/install-deps.sh
step "building DiffKeeper in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDK_BUILD_TESTS=OFF \
  -DDK_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" diffkeeper-operator diffkeeper-agent restore-wait dkctl >/dev/null
step "starting the local control plane and an S3 server in $DK_MISSION_DIR"
bash "$mission/cluster-up.sh"
step "1. installing DiffKeeper: kubectl apply -k manifests/overlays/e2e; the operator, an agent per node"
bash "$mission/test-install.sh"
step "2. protecting StatefulSet db (3 pods writing text, a 20 MiB binary, a SQLite database)"
bash "$mission/test-protect.sh"
step "3. moving pods: the state follows them"
bash "$mission/test-reschedule.sh"
# shellcheck source=/dev/null
source "$DK_MISSION_DIR/cluster/env"
step "the cluster stays up for exploring:"
cat <<EOF
  export KUBECONFIG=$KUBECONFIG
  kubectl get statepolicies,staterestores -A
  kubectl -n mission get pods -o wide
  kubectl -n diffkeeper-system get configmaps -l diffkeeper.io/node-report=true
Tear it down with: scripts/cluster-demo.sh down
EOF

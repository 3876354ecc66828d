#!/usr/bin/env bash
# Runs libkube's integration tests against a fresh real control plane.
#
#   tests/libkube/with_cluster.sh path/to/libkube_integration_test [gtest flags...]
#
# Brings a cluster up with e2e/cluster/up in a temporary directory, exports DK_KUBECONFIG (its
# admin kubeconfig), DK_RESTART_APISERVER_CMD and DK_ETCD_ENDPOINT (to compact etcd and force
# 410 Gone), runs the test binary, and always stops the cluster (trap). On failure the cluster
# directory (logs/) is kept and its path printed.
# Exits 77 — "skipped" for ctest — when DK_KUBECONFIG is already set: the per-test ctest
# entries then run against that cluster instead.
set -euo pipefail

if (($# < 1)); then
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
test_bin=$1
shift
root=${DK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cluster=$root/e2e/cluster

if [[ -n ${DK_KUBECONFIG:-} ]]; then
  echo "with_cluster.sh: DK_KUBECONFIG is set ($DK_KUBECONFIG); not starting another cluster" >&2
  exit 77
fi
[[ -x $test_bin ]] || { echo "with_cluster.sh: $test_bin is not executable" >&2; exit 2; }
[[ -x $cluster/up ]] || { echo "with_cluster.sh: $cluster/up not found" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/dk-libkube-cluster.XXXXXX")
status=1
cleanup() {
  if ((status == 0)); then
    "$cluster/down" --dir "$dir" || true
  else
    "$cluster/down" --dir "$dir" --keep || true
    echo "with_cluster.sh: tests failed; cluster directory (logs) kept in $dir" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$cluster/up" --nodes 1 --dir "$dir"
# shellcheck source=/dev/null
source "$dir/env"
export DK_KUBECONFIG=$dir/admin.kubeconfig
export DK_RESTART_APISERVER_CMD="$cluster/restart-apiserver $dir"
export DK_ETCD_ENDPOINT=http://127.0.0.1:$DKCLUSTER_ETCD_PORT

set +e
"$test_bin" "$@"
status=$?
set -e
exit "$status"

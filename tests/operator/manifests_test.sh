#!/usr/bin/env bash
# The kustomize layers build, reference one image tag, and carry what the docs promise:
#   tests/operator/manifests_test.sh <source dir>
set -euo pipefail
src=${1:-.}
fail() { echo "FAIL: $*" >&2; exit 1; }
base=$(kubectl kustomize "$src/manifests/base") || fail "manifests/base does not build"
e2e=$(kubectl kustomize "$src/manifests/overlays/e2e") || fail "manifests/overlays/e2e does not build"
kubectl kustomize "$src/crds" >/dev/null || fail "crds does not build"
kubectl kustomize "$src/crds/samples" >/dev/null || fail "crds/samples does not build"
images=$(grep -E '^\s+(image|value): .*diffkeeper/diffkeeper' <<<"$base" | awk '{print $2}' | sort -u)
[[ $(wc -l <<<"$images") -eq 1 ]] || fail "the Deployment and DIFFKEEPER_IMAGE disagree: $images"
grep -q 'failurePolicy: Ignore' <<<"$base" || fail "the static webhook entry must not block pods"
grep -q 'url: https://127.0.0.1:29443/mutate' <<<"$e2e" || fail "e2e overlay: webhook URL"
grep -q 'replicas: 0' <<<"$e2e" || fail "e2e overlay: operator replicas"
! grep -q 'cluster-admin' <<<"$base" || fail "no cluster-admin"
! grep -q ':latest' <<<"$base" || fail "no :latest image in the manifests"
echo "manifests OK"

#!/usr/bin/env bash
# Fixture: two diffkeeper-operator replicas as host processes (there is no container engine),
# running as the operator's service account, with fast leader election.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_cluster
[[ -x ${DK_OPERATOR_BIN:-} ]] || fail "DK_OPERATOR_BIN is not set to the diffkeeper-operator binary"
for n in a b; do stop_operator "$n"; done
operator_kubeconfig
start_operator a
start_operator b
until_ok 60 "a leader" has_leader
log "leader: $(leader)"
until_ok 60 "replica a ready (caches synced, webhook serving)" readyz_of a
until_ok 60 "replica b ready" readyz_of b
# The leader installs the webhook certificate and the caBundle.
ca_bundle_set() {
  [[ -n $(kubectl get mutatingwebhookconfiguration diffkeeper-restore-gate \
    -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]
}
until_ok 60 "caBundle on the webhook configuration" ca_bundle_set
log "operators up"

#!/usr/bin/env bash
# Fixture cleanup: stops the operator replicas (SIGTERM: they release the lease).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for n in a b; do stop_operator "$n"; done

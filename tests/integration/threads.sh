#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# threads: four threads verify and rewrite their own slices of the memory for 2 s while
# the pager is still evicting it (no wait for the target).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops threads:4,verify
note "SIGUSR1 -> memload at once: threads:4 while eviction runs"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
((MAX_EVICTIONS > 0)) || fail "the status never showed an eviction while the threads ran"
echo "PASS: threads:4 during eviction (evictions_total $MAX_EVICTIONS, faults_total $MAX_FAULTS)"

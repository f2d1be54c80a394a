#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# clean_refill: a page read back from the store is mapped write-protected and keeps its store
# copy, so evicting it again costs no write; a write to it must drop that copy first. 256 MiB
# under a 64 MiB target is read back twice (clean re-evictions), half of it rewritten right
# after being read (clean pages written while their neighbours stay clean), read, rewritten
# whole and read again; every read verifies every page. A write the pager missed would
# bring back the stale store copy: a mismatch.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
require_uffd wp
memload_under_shim --size 256 --wait --ops verify,verify,rewrite-odd,verify,verify,rewrite,verify
wait_at_target "$READY_PID"
note "SIGUSR1 -> memload"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
note "evictions $MAX_EVICTIONS (clean $MAX_CLEAN), store writes $MAX_WRITES"
((MAX_CLEAN > 0)) || fail "no page was evicted clean (evictions_clean_total stayed 0)"
((MAX_WRITES + MAX_CLEAN <= MAX_EVICTIONS)) ||
	fail "store writes $MAX_WRITES + clean $MAX_CLEAN exceed evictions $MAX_EVICTIONS"
echo "PASS: clean pages re-evicted without writes ($MAX_CLEAN of $MAX_EVICTIONS), data verified"

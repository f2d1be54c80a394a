#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stash_clobber: an attached program whose pages are evicted maps over the pager's stash with
# MAP_FIXED (memory that is not its own, as a buggy or address-reusing program may). The
# pager must keep serving the evicted pages and only stop evicting from that process
# (regression: it dropped the process with its evicted pages, which then blocked forever).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
"$USWAP_WORKLOADS/remap" --hole --size 64 --ready "$T/ready" --clobber "$T/stash" \
	>"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
wait_ready "$T/ready"
shim_attach "$wl"
wait_at_target "$wl"
stash=$(sed -n "s/.*pid $wl: armed (.*stash \(0x[0-9a-f]*\).*/\1/p" "$T/shim.log" | head -n 1)
[[ -n $stash ]] || fail "no stash address in the pager's log"
echo "$stash" >"$T/stash"
note "remap pid $wl held at $(mib "$(rss_anon "$wl")"); SIGUSR1: map over the stash at $stash"
kill -USR1 "$wl"
wait_exit "$wl" "$TIMEOUT" || fail "remap did not finish within ${TIMEOUT}s: $(tail -n 3 "$T/shim.log")"
no_mismatch
((EXIT_RC == 0)) || fail "remap exited $EXIT_RC: $(cat "$T/workload.out")"
grep -q "unmapped the pager's stash" "$T/shim.log" || fail "the pager did not notice its stash go"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program mapping over the pager's stash keeps every evicted page"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mlock: memory a program locks (mlock, mlockall) must stay in RAM, as under kernel swap.
#  1. run, half of the memory mlock'ed after the fill: the other half is evicted, the locked
#     half never is, and the pager does not even try (regression: it tried a MOVE of the
#     locked range every round, which the kernel refused);
#  2. run, mlockall(MCL_CURRENT | MCL_FUTURE) once armed: it locked the pager's 16 MiB stash
#     with the program's memory (regression: the program's RssAnon grew by 16 MiB, and its
#     id pages filled so that the pager no longer knew the process);
#  3. attach to a program that already called mlockall: the pager's new mappings are locked
#     at once.
# The status says why the target is not met (reason anon-locked); every page verifies.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init

locked_kib() { awk '/^VmLck:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# expect_locked PID MIB: the status says anon-locked, and PID holds at least MIB MiB locked
# and resident, and at most 3 MiB more anonymous memory than it has locked.
expect_locked() {
	local rss lck
	wait_status "$STATUS" rss_anon_bytes gt 0 "$TIMEOUT" || fail "no status"
	poll_until "$TIMEOUT" status_is "$STATUS" reason anon-locked ||
		fail "status reason is '$(status_get "$STATUS" reason)', not anon-locked"
	lck=$(($(locked_kib "$1") * 1024))
	((lck >= $2 * MI)) || fail "pid $1 has $(mib "$lck") locked, not $2 MiB"
	rss=$(rss_anon "$1")
	((rss >= $2 * MI && rss <= lck + 3 * MI)) ||
		fail "pid $1: RssAnon $(mib "$rss") with $(mib "$lck") locked"
	note "pid $1: $(mib "$lck") locked, RssAnon $(mib "$rss"), reason anon-locked"
}

no_move_refused() {
	! grep -q 'MOVE at .*Invalid argument' "$T/shim.log" ||
		fail "the pager tried to evict locked memory: $(grep -m1 'MOVE at' "$T/shim.log")"
}

note "1. run: 64 MiB, the first 32 MiB of it mlock'ed"
memload_under_shim --size 64 --mlock half --wait --ops verify
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "nothing evicted"
expect_locked "$READY_PID" 32
sleep 1 # a few more rounds of eviction: none may try the locked range
no_move_refused
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
no_mismatch

note "2. run: mlockall(MCL_CURRENT | MCL_FUTURE), 64 MiB"
rm -f "$T/ready" "$T/result"
mv "$T/shim.log" "$T/shim.1.log"
memload_under_shim --size 64 --mlock all --wait --ops fork,verify
poll_until "$TIMEOUT" grep -q "pid $READY_PID: locks its memory" "$T/shim.log" ||
	fail "the pager did not see that pid $READY_PID locked its mappings"
poll_until "$TIMEOUT" rss_tree_le $((67 * MI)) "$READY_PID" ||
	fail "RssAnon of pid $READY_PID is $(mib "$(rss_anon "$READY_PID")"): the pager's stash stays locked"
expect_locked "$READY_PID" 64
status_cmp "$STATUS" evicted_pages eq 0 || fail "locked pages were evicted"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
no_mismatch

note "3. attach to a program that called mlockall before"
rm -f "$T/ready" "$T/result"
mv "$T/shim.log" "$T/shim.2.log"
"$USWAP_WORKLOADS/memload" --size 64 --mlock all --wait --ready "$T/ready" --result "$T/result" \
	--ops verify >"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
wait_ready "$T/ready"
shim_attach "$wl"
poll_until "$TIMEOUT" grep -q "pid $wl: locks its memory" "$T/shim.log" ||
	fail "the pager did not see that pid $wl locks its memory"
expect_locked "$wl" 64
((!$(status_get "$STATUS" evicted_pages))) || fail "locked pages were evicted"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
kill -USR1 "$wl"
wait_exit "$wl" "$TIMEOUT" || fail "memload did not finish"
((EXIT_RC == 0)) || fail "memload exited $EXIT_RC after the pager detached"
no_mismatch
echo "PASS: locked memory stays resident and unlocked memory is paged around it"

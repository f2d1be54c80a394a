#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runner_clobber: an attached program maps over the page of the pager's runner (the code that
# makes a round of MOVEs in one ptrace stop) with MAP_FIXED, then needs more memory. The pager
# must see that the runner is no longer its own before running it (running the program's
# bytes as code would crash it), go on evicting with one injection per MOVE, and lose nothing.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
"$USWAP_WORKLOADS/remap" --hole --size 64 --ready "$T/ready" --clobber "$T/runner" \
	>"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
wait_ready "$T/ready"
shim_attach "$wl"
wait_at_target "$wl"
runner=$(sed -n "s/.*pid $wl: armed (.*runner \(0x[0-9a-f]*\)).*/\1/p" "$T/shim.log" | head -n 1)
[[ -n $runner ]] || fail "no runner address in the pager's log"
[[ $runner != 0x0 ]] || skip "no runner in this process (executable memory refused)"
echo "$runner 4096" >"$T/runner"
note "remap pid $wl held at $(mib "$(rss_anon "$wl")"); SIGUSR1: map over the runner at $runner"
kill -USR1 "$wl"
wait_exit "$wl" "$TIMEOUT" || fail "remap did not finish within ${TIMEOUT}s: $(tail -n 3 "$T/shim.log")"
no_mismatch
((EXIT_RC == 0)) || fail "remap exited $EXIT_RC: $(cat "$T/workload.out")"
grep -q "the runner at $runner was replaced" "$T/shim.log" ||
	fail "the pager did not notice its runner go"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program mapping over the pager's runner keeps every page"

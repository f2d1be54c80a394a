#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runner_clobber: an attached program maps over the page of the pager's runner (the code that
# makes a round of MOVEs in one ptrace stop) with MAP_FIXED, then needs more memory. With
# other bytes there (HOW=garbage), the pager must see that the runner is no longer its own
# before running it. With the same bytes in memory that is not executable (HOW=copy), running
# it faults at once: the pager must take its thread back without the signal and learn from
# the stash what the MOVE in flight did. Either way eviction goes on with one injection per
# MOVE and nothing is lost.

if [[ -z ${HOW:-} ]]; then
	for how in garbage copy; do
		HOW=$how bash "$0" || exit
	done
	exit 0
fi

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
clobber_start
armed_addr runner
runner=$ARMED
[[ $runner != 0 ]] || skip "no runner in this process (executable memory refused)"
if [[ $HOW == copy ]]; then
	clobber_run "$runner" 4096 copy
	want="the runner at $runner faulted"
else
	clobber_run "$runner" 4096
	want="the runner at $runner was replaced"
fi
grep -q "$want" "$T/shim.log" || fail "the pager did not say: $want"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program mapping over the pager's runner ($HOW) keeps every page"

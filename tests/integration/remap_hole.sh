#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# remap_hole: a running program with a hole where it unmapped memory is attached; its pages
# are evicted; then it maps the hole back with MAP_FIXED, as a program that owns those
# addresses may. The pager's own mappings must not be in that hole (regression: mmap put the
# stash there, MAP_FIXED unmapped it, and the pager dropped the process with its evicted
# pages, which it then waited for forever).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
"$USWAP_WORKLOADS/remap" --hole --size 64 --ready "$T/ready" >"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
wait_ready "$T/ready"
shim_attach "$wl"
wait_at_target "$wl"
note "remap pid $wl held at $(mib "$(rss_anon "$wl")"); SIGUSR1: map the hole back"
kill -USR1 "$wl"
wait_exit "$wl" "$TIMEOUT" || fail "remap did not finish within ${TIMEOUT}s: $(tail -n 3 "$T/shim.log")"
no_mismatch
((EXIT_RC == 0)) || fail "remap exited $EXIT_RC: $(cat "$T/workload.out")"
! grep -q "unmapped the pager's stash" "$T/shim.log" ||
	fail "the program's MAP_FIXED landed on the pager's stash"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program mapping its own hole back with MAP_FIXED keeps every page"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# forktree: a tree of five processes (root, two children, two grandchildren) with private,
# copy-on-write shared and diverged pages, held at the target as a whole; then every process
# verifies its own view.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
shim_run "$USWAP_WORKLOADS/forktree" --size 48 --ready "$T/ready"
wait_ready "$T/ready"
((${#READY_PIDS[@]} == 5)) || fail "forktree reported ${#READY_PIDS[@]} pids, expected 5"
note "forktree pids: ${READY_PIDS[*]}"
wait_at_target "$READY_PID"
for p in "${READY_PIDS[@]}"; do
	status_has_pid "$STATUS" "$p" ||
		fail "pid $p not in the status pids: $(status_get "$STATUS" pids)"
done
check_rss_matches "$READY_PID"

note "SIGUSR1 -> forktree root (it forwards to the tree)"
kill -USR1 "$READY_PID"
expect_shim_exit 0
echo "PASS: forktree held at $TARGET and verified"

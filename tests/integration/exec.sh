#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# exec: memload execs itself after its memory was evicted. The old mm and its store slots
# go away; the new image (same pid, fresh fill) must be taken over and held at the target
# again, then verify. Both CPUs are kept busy meanwhile: the pager then often sees the new
# mm before exec has mapped its vDSO, and must arm it a moment later rather than leave it
# unpaged (it did, about one run in six).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops exec
pid=$READY_PID
wait_at_target "$pid"
before=$(status_get "$STATUS" evictions_total) || fail "no evictions_total in the status"

command -v stress-ng >/dev/null || fail "stress-ng is not installed (tests/deps.sh)"
stress-ng --cpu 2 --timeout 60 >/dev/null 2>&1 &
track $!
load=$!
note "SIGUSR1 -> memload: verify, then exec (with stress-ng --cpu 2 beside it)"
kill -USR1 "$pid"
wait_ready "$T/ready.exec"
kill "$load" 2>/dev/null
[[ $READY_PID == "$pid" ]] || fail "ready.exec names pid $READY_PID, expected $pid"
wait_status "$STATUS" evictions_total gt "$before" "$TIMEOUT" ||
	fail "no eviction after exec within ${TIMEOUT}s: the new image was not taken over"
status_has_pid "$STATUS" "$pid" || fail "pid $pid not in the status pids after exec"
wait_at_target "$pid"

note "SIGUSR1 -> the new image: verify"
kill -USR1 "$pid"
expect_shim_exit 0
expect_result
echo "PASS: exec under the pager"

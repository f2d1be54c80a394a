#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# exec_thread: memload execs itself from a second thread after its memory was evicted. The
# kernel ends the other threads (the main one included) and the exec'ing thread takes over
# the pid; the new image must be taken over and held at the target again, then verify.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops exec-thread
pid=$READY_PID
wait_at_target "$pid"
before=$(status_get "$STATUS" evictions_total) || fail "no evictions_total in the status"
note "SIGUSR1 -> memload: verify, then exec from a second thread"
kill -USR1 "$pid"
wait_ready "$T/ready.exec"
[[ $READY_PID == "$pid" ]] || fail "ready.exec names pid $READY_PID, expected $pid"
wait_status "$STATUS" evictions_total gt "$before" "$TIMEOUT" ||
	fail "no eviction after exec within ${TIMEOUT}s: the new image was not taken over"
wait_at_target "$pid"
note "SIGUSR1 -> the new image: verify"
kill -USR1 "$pid"
expect_shim_exit 0
expect_result
no_mismatch
echo "PASS: exec from a second thread under the pager"

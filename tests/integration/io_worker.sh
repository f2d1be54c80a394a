#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# io_worker: the program's main thread sits 3 s in vfork (it cannot stop for a tracer until
# the child is done) while fresh memory waits to be evicted, and its only other thread is an
# io_uring worker (iou-wrk), which never runs user code. The pager must not borrow the
# worker: it would never come back from the pager's system call (the old pager held it 60 s,
# then its trap killed the program). It waits for the main thread instead.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops vfork-wait,rewrite-odd
wait_at_target "$READY_PID"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
no_mismatch
! grep -q 'held in a ptrace stop for [0-9]\{4,\}' "$T/shim.log" ||
	fail "a thread was held for seconds: $(grep -m1 'held in a ptrace stop' "$T/shim.log")"
echo "PASS: the io_uring worker thread left alone, memory paged through the main thread"

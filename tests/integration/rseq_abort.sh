#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# rseq_abort: a thread the pager stops inside an rseq critical section (rseq(2); glibc
# registers an area for every thread) must resume at the section's abort handler, as after
# any preemption. The pager runs its own code on the thread first, outside the section, and
# the kernel then forgets the section; given its own registers back unchanged, the thread
# would finish it as if never preempted (a per-CPU allocator's data torn). The workload's
# main thread (the one the pager stops first) spins in sections while a second thread
# rewrites pages that the pager keeps evicting; a section that runs to its end although its
# thread was switched out inside it (getrusage's context switches, read at both ends) fails
# it. Skipped (77) where glibc registers no rseq area.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops rseq
wait_at_target "$READY_PID"
kill -USR1 "$READY_PID"
wait_exit "$SHIM_PID" "$RUN_TIMEOUT" || fail "shim still running after ${RUN_TIMEOUT}s"
((EXIT_RC != 77)) || skip "$(grep -h -m1 'rseq:' "$T/shim.out")"
((EXIT_RC == 0)) || fail "shim exited $EXIT_RC: $(grep -h -m2 -E 'MISMATCH|rseq' "$T/shim.out")"
expect_result
grep -E '^memload: rseq:' "$T/shim.out" | sed 's/^/# /'
n=$(grep -c 'stopped in an rseq critical section' "$T/shim.log")
((n > 0)) || fail "the pager never stopped the workload inside a section: nothing was tested"
echo "PASS: $n stops inside an rseq critical section, each resumed at its abort handler"

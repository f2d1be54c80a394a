#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# main_exit: the program's main thread ends (pthread_exit) and another thread runs on, with
# an io_uring worker thread beside it. /proc/PID then shows neither the process's memory nor
# its files: the pager must not take the uffd for closed nor the process for gone. It pages
# on through a live thread (the waits op checks that memory is evicted meanwhile) and loses
# nothing.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_check() {
	grep -q 'its main thread has ended; paged through thread' "$T/shim.log" ||
		fail "the pager did not notice the main thread's end"
	! grep -q "closed the pager's uffd" "$T/shim.log" ||
		fail "the pager took the uffd for closed: $(grep -m1 "closed the pager's uffd" "$T/shim.log")"
}
scenario_ops 256 main-exit,waits,rewrite-odd

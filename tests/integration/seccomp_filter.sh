#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# seccomp_filter: the program loads a seccomp filter that kills it for system calls it never
# makes itself (as systemd's SystemCallFilter= does), after the pager armed it. The pager
# injects system calls into it, so from the moment it sees the filter it keeps to the
# commonest ones: a filter that kills for process_madvise and userfaultfd must not kill the
# program. A filter that refuses tgkill (the runner's rounds end with a signal the thread sends
# itself) must not either. A filter that kills for madvise does (the pager frees its stash
# with it): then `uswap-shim run` must exit with the program's own status, 128 + SIGSYS.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --seccomp-kill process_madvise,userfaultfd --wait \
	--ops rewrite-odd,verify
wait_at_target "$READY_PID"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
grep -q 'runs under a seccomp filter' "$T/shim.log" ||
	fail "the pager did not notice the program's seccomp filter"
note "a filter that kills for process_madvise and userfaultfd: paged and verified"

# A filter that refuses tgkill: the runner's rounds cannot end with their marker signal, and
# end on a trap instead.
rm -f "$T/ready" "$T/result"
memload_under_shim --size 256 --seccomp-refuse tgkill --wait --ops rewrite-odd,verify
wait_at_target "$READY_PID"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
note "a filter that refuses tgkill: paged and verified"

TARGET=16M
rm -f "$T/ready" "$T/result"
memload_under_shim --size 64 --seccomp-kill madvise --wait --ops rewrite
kill -USR1 "$READY_PID"
expect_shim_exit $((128 + 31))
note "a filter that kills for madvise: the program died of SIGSYS, and run said so"
echo "PASS: seccomp filters: the pager keeps to common calls, and reports a kill it caused"

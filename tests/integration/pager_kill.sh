#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# pager_kill: the pager dies (SIGKILL) and a new one takes over, with nothing lost. 256 MiB
# under a 64 MiB target; each round kills the pager once, then the workload checks that its
# signal mask is its own, reads every page back, rewrites it and reads it again, and must
# exit 0. The rounds:
#   idle             kill -9 from outside while the workload sits at the target
#   in-hold          the pager holds the workload's thread (signals blocked) for a round of
#                    MOVEs: the new pager gives the thread its signal mask back
#   fault-read       the pager has read a fault on an evicted page and not served it (the
#                    workload's thread waits), while the workload reads its pages back
#   stash-moved      a batch is in the stash, not read out (its pages are nowhere else)
#   batch-published  a batch is read out into the pager's memory, its store write not done
#   in-runner        the held thread runs a round of MOVEs in the runner, untraced from then on
#   runner-stop      the held thread sits in the stop that ends a runner round
#   in-syscall       the held thread runs a single injected system call
# In the last three the thread carries the pager's registers: the new pager finds it parked
# in the runner page and gives it its own registers and signal mask back.
#   caught           in-runner again, in a workload that catches SIGURG and SIGWINCH: the
#                    round's end signal must be one it ignores (SIGCHLD), never one of those
#   filtered         in-runner again, once the workload runs under a seccomp filter (while
#                    it rewrites its pages)
#   event-read       the pager has read the workload's MADV_DONTNEED (a REMOVE event) and
#                    not applied it: the new pager applies it, and the range reads zeros
#   remap-mid        the pager dies moving the page states of the workload's mremap (of 32
#                    MiB, mostly evicted) with one at both addresses: the new pager finishes
#                    the move, and the moved range reads its own pages
#   remap-done       the pager dies after that move, before it marks the event done: the
#                    new pager finds nothing left to move, and clears nothing
# The other twelve kill at the point itself (USWAP_TEST_CRASH). The shim's pid (the keeper)
# stays; the log must show the takeover and what it settled. Last, the keeper itself is
# killed: its pager must go on to the end and say that it is on its own.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init

# took_over: the takeover line of the pager's log, once it is there.
took_over() { grep -m1 'took over' "$T/shim.log"; }

# round NAME: one run of the workload with the pager killed once.
round() {
	local name=$1 crash=${2:-} pager line
	rm -rf "$T/ready" "$T/result" "$T/shim.log" "$T/shim.out" "$T/store" "$STATUS"
	# shellcheck disable=SC2034 # read through ${!name} by sample_status (lib.sh)
	MAX_EVICTIONS=0 MAX_FAULTS=0 MAX_CLEAN=0 MAX_WRITES=0
	if [[ -n $crash ]]; then
		export USWAP_TEST_CRASH=$crash
	else
		unset USWAP_TEST_CRASH
	fi
	if [[ $name == caught ]]; then
		memload_under_shim --size 256 --wait --catch --ops sigmask,verify,rewrite,verify,caught
	elif [[ $name == event-read ]]; then
		memload_under_shim --size 256 --wait --ops sigmask,dontneed,verify
	elif [[ $name == remap-* ]]; then
		memload_under_shim --size 256 --wait --ops sigmask,mremap,verify
	elif [[ $name == filtered ]]; then
		memload_under_shim --size 256 --wait --seccomp-kill process_madvise,userfaultfd \
			--ops sigmask,verify,rewrite,verify
	else
		memload_under_shim --size 256 --wait --ops sigmask,verify,rewrite,verify
	fi
	if [[ $name == fault-read || $name == filtered || $name == event-read ||
		$name == remap-* ]]; then
		# the faults come from its reading, the events from its madvise and mremap; the
		# filter's rounds from its rewriting (the filter comes after the fill, when the
		# pager may have caught up already); the mremap must move evicted pages
		[[ $name != remap-* ]] || wait_at_target "$READY_PID"
		kill -USR1 "$READY_PID"
	elif [[ -z $crash ]]; then
		wait_at_target "$READY_PID"
		pager=$(shim_pager)
		[[ -n $pager ]] || fail "$name: no pager process under the shim (pid $SHIM_PID)"
		note "$name: kill -9 pager $pager (the shim, pid $SHIM_PID, stays)"
		kill -9 "$pager"
	fi
	poll_until "$TIMEOUT" took_over ||
		fail "$name: no takeover in the log: $(grep -m3 -E 'error|killed' "$T/shim.log")"
	line=$(took_over)
	note "$name: ${line#*info: }"
	is_alive "$SHIM_PID" || fail "$name: the shim (pid $SHIM_PID) is gone"
	poll_until "$TIMEOUT" status_is "$STATUS" shim_pid "$SHIM_PID" ||
		fail "$name: status shim_pid $(status_get "$STATUS" shim_pid), not $SHIM_PID"
	poll_until "$TIMEOUT" status_is "$STATUS" takeovers_total 1 ||
		fail "$name: status takeovers_total $(status_get "$STATUS" takeovers_total), not 1"
	if [[ $name != fault-read && $name != filtered && $name != event-read &&
		$name != remap-* ]]; then
		wait_at_target "$READY_PID"
		kill -USR1 "$READY_PID"
	fi
	expect_shim_exit 0
	expect_result
	case $name in
	stash-moved) [[ $line =~ [^0-9][1-9][0-9]*\ read\ from\ a\ stash ]] ||
		fail "$name: the takeover read nothing from the stash" ;;
	batch-published) [[ $line =~ [^0-9][1-9][0-9]*\ written\ out\ from\ memory ]] ||
		fail "$name: the takeover wrote nothing out from memory" ;;
	in-hold) grep -q -E 'signal mask (is|are) its own again' "$T/shim.log" ||
		fail "$name: the held thread's signal mask was not given back" ;;
	event-read) grep -q 'applied the MADV_DONTNEED of' "$T/shim.log" ||
		fail "$name: the event the dead pager had read was not applied" ;;
	remap-mid | remap-done) grep -q 'finished the mremap' "$T/shim.log" ||
		fail "$name: the mremap the dead pager was moving was not finished" ;;
	in-runner | runner-stop | in-syscall | caught | filtered)
		grep -q 'its registers and signal mask are its own again' "$T/shim.log" ||
			fail "$name: the held thread was not found parked in the runner" ;;
	esac
	echo "ok: $name"
}

# The keeper itself killed: its pager goes on to the end and says it is on its own.
keeper_round() {
	rm -rf "$T/ready" "$T/result" "$T/shim.log" "$T/shim.out" "$T/store" "$STATUS"
	unset USWAP_TEST_CRASH
	memload_under_shim --size 256 --wait --ops sigmask,verify,rewrite,verify
	wait_at_target "$READY_PID"
	local pager
	pager=$(shim_pager)
	[[ -n $pager ]] || fail "keeper: no pager process under the shim (pid $SHIM_PID)"
	track "$pager"
	note "keeper: kill -9 the shim (keeper, pid $SHIM_PID); pager $pager goes on"
	kill -9 "$SHIM_PID"
	SHIM_PID=$pager # what the waits below watch
	poll_until "$TIMEOUT" grep -q 'the keeper (pid [0-9]*) is gone' "$T/shim.log" ||
		fail "keeper: the pager did not notice the keeper is gone"
	kill -USR1 "$READY_PID"
	expect_result
	wait_gone "$pager" "$TIMEOUT" || fail "keeper: pager $pager still runs after the workload"
	no_mismatch
	echo "ok: keeper"
}

round idle
round in-hold in-hold:3
round fault-read fault-read:2000
round stash-moved stash-moved:4
round batch-published batch-published:4
round in-runner in-runner:3
round runner-stop runner-stop:3
round in-syscall in-syscall:20
round caught in-runner:3
round filtered in-runner-filtered:2
round event-read event-read:1
round remap-mid remap-mid:1
round remap-done remap-done:1
keeper_round
echo "PASS: thirteen pager deaths taken over, a keeper death outlived, every page verified"

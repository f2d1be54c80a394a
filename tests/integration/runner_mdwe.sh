#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runner_mdwe: a process that refuses to make memory executable (PR_SET_MDWE, as under
# systemd's MemoryDenyWriteExecute=) cannot get the pager's runner. The pager must see
# mprotect refused at arm time, unmap the page, and evict with one injection per MOVE: 128 MiB
# held at 32 MiB is read back, half rewritten and read again, every page verified.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=32M
TARGET_SLACK=$((32 * MI * 115 / 100))
lib_init
"$USWAP_WORKLOADS/memload" --deny-exec --size 128 --wait --ops verify,rewrite-odd,verify \
	--ready "$T/ready" --result "$T/result" >"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
for _ in {1..50}; do
	if [[ -s $T/ready ]] || ! is_alive "$wl"; then
		break
	fi
	sleep 0.1
done
if ! is_alive "$wl" && [[ ! -s $T/ready ]]; then
	wait "$wl"
	rc=$?
	((rc == 77)) && skip "this kernel has no PR_SET_MDWE: $(cat "$T/workload.out")"
	fail "memload --deny-exec exited $rc: $(cat "$T/workload.out")"
fi
wait_ready "$T/ready"
shim_attach "$wl"
wait_at_target "$wl"
grep -q "pid $wl: armed (.*runner 0)" "$T/shim.log" ||
	fail "the pager did not arm without a runner: $(grep -m1 "armed" "$T/shim.log")"
kill -USR1 "$wl"
expect_result
no_mismatch
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a process that denies executable memory is paged without the runner, data verified"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_pause: a paged container is frozen (`runc pause`, the cgroup freezer) twice while its
# pager evicts from it: once while it fills its memory, once while it rewrites it. A frozen
# thread cannot stop for the pager; the pager must give up on it without holding anything,
# take it up again after `runc resume`, and the workload must verify.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
id=""
runc_new_id id

# freeze_for ID SECS: pause the container, check it is paused, wait, resume it.
freeze_for() {
	runc_cmd pause "$1" >>"$T/runc-$1.out" 2>&1 ||
		fail "runc pause $1 failed: $(tail -n 3 "$T/runc-$1.out")"
	[[ $(runc_status "$1") == paused ]] || fail "$1 is $(runc_status "$1"), not paused"
	sleep "$2"
	runc_cmd resume "$1" >>"$T/runc-$1.out" 2>&1 || fail "runc resume $1 failed"
}

uswap_bundle "$T/$id" io.uswap.enabled=true io.uswap.target=48Mi -- /bin/memload-static \
	--size 192 --wait --ops rewrite,verify --ready /out/ready --result /out/result
runc_run_detached "$id" "$T/$id" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
hook_shim_pid "$id"
sleep 0.3
note "freezing $id for 2 s while it fills"
freeze_for "$id" 2
runc_wait_ready "$id" "$T/$id/out/ready"
wait_status "$HOOK_RUN/$id.json" evicted_pages gt 0 "$TIMEOUT" || fail "$id: nothing evicted"
kill -USR1 "$READY_PID"
sleep 0.5
note "freezing $id for 2 s while it rewrites" \
	"(evicted_pages $(status_get "$HOOK_RUN/$id.json" evicted_pages))"
freeze_for "$id" 2
# still rewriting: its pager must be there (it goes away with the container's last process)
is_alive "$HOOK_SHIM" || fail "pager $HOOK_SHIM died"
runc_expect_results "$id" result
runc_expect_gone "$id" "$HOOK_SHIM"
echo "PASS: a paged container frozen twice mid-eviction resumed and verified"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_kill: two annotated containers paged at once; one is killed and deleted while its
# pager is still evicting. Its pager must go away with every file it made, the other
# container's pager must be unaffected and its workload verify.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
a="" b="" # container ids, set by runc_new_id

runc_new_id a
runc_new_id b
for id in "$a" "$b"; do
	uswap_bundle "$T/$id" io.uswap.enabled=true io.uswap.target=48Mi -- /bin/memload-static \
		--size 192 --wait --ops verify,rewrite,verify --ready /out/ready --result /out/result
	runc_run_detached "$id" "$T/$id" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
done
hook_shim_pid "$a"
shim_a=$HOOK_SHIM
hook_shim_pid "$b"
shim_b=$HOOK_SHIM
[[ $shim_a != "$shim_b" ]] || fail "both containers got the same pager $shim_a"
runc_wait_ready "$b" "$T/$b/out/ready"
wl_b=$READY_PID
runc_wait_ready "$a" "$T/$a/out/ready"
wait_status "$HOOK_RUN/$a.json" evicted_pages gt 0 "$TIMEOUT" || fail "$a: nothing evicted"
note "killing $a mid-eviction (evicted_pages $(status_get "$HOOK_RUN/$a.json" evicted_pages))"
runc_kill_delete "$a" || fail "container $a left something behind"
wait_gone "$shim_a" "$TIMEOUT" || fail "pager $shim_a of the deleted container still runs"
left=$(find "$HOOK_RUN" "$HOOK_STORES" -mindepth 1 -name "$a*" 2>/dev/null)
[[ -z $left ]] || fail "files of $a left after its deletion: $left"

TARGET_SLACK=$((48 * MI * 115 / 100))
cg=$(runc_cgroup_path "$b") || fail "no memory cgroup for $b"
poll_until "$TIMEOUT" cgroup_at_target "$cg" ||
	fail "$b: cgroup usage $(mib "$(cgroup_mem_usage "$cg")") not <= $(mib "$TARGET_SLACK")"
is_alive "$shim_b" || fail "pager $shim_b of $b died"
kill -USR1 "$wl_b"
wait_for "$T/$b/out/result" "$RUN_TIMEOUT" || fail "no result from $b"
[[ $(<"$T/$b/out/result") == 0 ]] || fail "memload in $b exited $(<"$T/$b/out/result")"
runc_kill_delete "$b" || fail "container $b left something behind"
wait_gone "$shim_b" "$TIMEOUT" || fail "pager $shim_b still running after runc delete"
echo "PASS: two paged containers; one killed mid-eviction left nothing, the other verified"

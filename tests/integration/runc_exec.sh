#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_exec: a second workload started with `runc exec` into a paged container is followed
# by the container's pager (it is in the container's cgroup, though not a child of its
# init): both are held at the container's 64 MiB target together and both verify.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
id="" # set by runc_new_id

runc_new_id id
b=$T/$id
# The container's init is a shell that outlives both workloads: when pid 1 of the container's
# pid namespace exits, the kernel kills every other process in it, and the exec'ed memload
# would die unfinished if the first one finished before it.
script='/bin/memload-static --size 128 --wait --ops verify,rewrite,verify --ready /out/ready \
	--result /out/result; until test -e /out/result2; do sleep 1; done'
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=64Mi -- /bin/sh -c "$script"
runc_run_detached "$id" "$b" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
STATUS=$HOOK_RUN/$id.json
hook_shim_pid "$id"
runc_wait_ready "$id" "$b/out/ready"
first=$READY_PID

runc_cmd exec -d "$id" /bin/memload-static --size 128 --wait --ops verify,rewrite,verify \
	--ready /out/ready2 --result /out/result2 </dev/null >>"$T/runc-$id.out" 2>&1 ||
	fail "runc exec -d into $id failed: $(tail -n 3 "$T/runc-$id.out")"
runc_wait_ready "$id" "$b/out/ready2"
second=$READY_PID
note "init memload host pid $first, exec'ed memload host pid $second"

poll_until "$TIMEOUT" status_has_pid "$STATUS" "$second" ||
	fail "the pager does not follow the exec'ed process: pids $(status_get "$STATUS" pids)"
cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
poll_until "$TIMEOUT" cgroup_at_target "$cg" ||
	fail "cgroup usage $(mib "$(cgroup_mem_usage "$cg")") not <= $(mib "$TARGET_SLACK")"
(($(rss_anon "$second") < 128 * MI * 9 / 10)) ||
	fail "the exec'ed memload was not evicted from: RssAnon $(mib "$(rss_anon "$second")")"
note "both held: cgroup usage $(mib "$(cgroup_mem_usage "$cg")")"

kill -USR1 "$first" "$second"
runc_expect_results "$id" result result2
runc_expect_gone "$id" "$HOOK_SHIM"
echo "PASS: runc exec into a paged container: both workloads held at the target and verified"

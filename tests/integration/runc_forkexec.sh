#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_forkexec: a paged runc container whose program forks and execs. Its init is busybox sh
# (armed at runc start); sh forks two children that exec memload-static (128 MiB each,
# different seeds), so the pager must take over each child's new image after the fork and
# the exec. One memload then fork+execs /bin/true and execs itself again (a third image in
# the same process, refilled and held again); the other forks a child that verifies the
# inherited memory. The container's memory cgroup must be held within 15% of its 64 MiB
# target at each step, and every page of every image verifies against its seeded pattern.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
id="" # set by runc_new_id

# held: the cgroup is at its target and the pager follows every pid given.
held() {
	local p
	cgroup_at_target "$cg" || return 1
	for p in "$@"; do
		status_has_pid "$STATUS" "$p" || return 1
	done
}

runc_new_id id
b=$T/$id
script='
/bin/memload-static --size 128 --seed 11 --wait --ops verify,fork-exec,rewrite,exec,verify \
	--ready /out/ready.a --result /out/result.a &
/bin/memload-static --size 128 --seed 12 --wait --ops verify,fork,rewrite,verify \
	--ready /out/ready.b --result /out/result.b &
wait
echo "sh: children done"'
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=64Mi -- /bin/sh -c "$script"
runc_run_detached "$id" "$b" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
STATUS=$HOOK_RUN/$id.json
hook_shim_pid "$id"
shim=$HOOK_SHIM
runc_wait_ready "$id" "$b/out/ready.a"
a=$READY_PID
runc_wait_ready "$id" "$b/out/ready.b"
b_pid=$READY_PID
init=$(runc_container_pid "$id") || fail "container $id has no init"
[[ $(tr '\0' ' ' <"/proc/$init/cmdline") == "/bin/sh -c"* ]] ||
	fail "the container's init is not sh: $(tr '\0' ' ' <"/proc/$init/cmdline")"
note "sh (init) host pid $init, exec'ed children $a (seed 11) and $b_pid (seed 12)"

cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "the container's pager evicted nothing"
poll_until "$TIMEOUT" held "$init" "$a" "$b_pid" ||
	fail "not held: cgroup usage $(mib "$(cgroup_mem_usage "$cg")") (limit $(mib "$TARGET_SLACK")),"\
		"pager pids $(status_get "$STATUS" pids), want $init $a $b_pid"
for p in "$a" "$b_pid"; do
	(($(rss_anon "$p") < 128 * MI * 9 / 10)) ||
		fail "memload $p was not evicted from: RssAnon $(mib "$(rss_anon "$p")")"
done
note "held after fork+exec: cgroup usage $(mib "$(cgroup_mem_usage "$cg")"), RssAnon" \
	"$(mib "$(rss_anon "$a")") + $(mib "$(rss_anon "$b_pid")"), evicted" \
	"$(status_get "$STATUS" evicted_pages) pages"

# memload a: verify, fork+exec /bin/true, rewrite, then exec itself and fill again
kill -USR1 "$a" "$b_pid"
runc_expect_results "$id" result.b
runc_wait_ready "$id" "$b/out/ready.a.exec"
[[ $READY_PID == "$a" ]] || fail "the re-exec'ed memload is pid $READY_PID, not $a"
poll_until "$TIMEOUT" held "$a" ||
	fail "not held after exec: cgroup usage $(mib "$(cgroup_mem_usage "$cg")")," \
		"pager pids $(status_get "$STATUS" pids)"
(($(rss_anon "$a") < 128 * MI * 9 / 10)) ||
	fail "the re-exec'ed image was not evicted from: RssAnon $(mib "$(rss_anon "$a")")"
note "held after exec: cgroup usage $(mib "$(cgroup_mem_usage "$cg")"), RssAnon" \
	"$(mib "$(rss_anon "$a")"), faults served $(status_get "$STATUS" faults_total)"
kill -USR1 "$a"
runc_expect_results "$id" result.a
runc_wait_stopped "$id" || fail "container $id did not stop after its children"
grep -q '^sh: children done' "$T/runc-$id.out" || fail "sh did not see its children finish"
runc_expect_gone "$id" "$shim"
echo "PASS: sh forks and execs memload twice in a paged container: held at 64 MiB, all verified"

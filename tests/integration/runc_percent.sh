#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_percent: io.uswap.target=12% end to end. A runc container with a 512 MiB memory limit
# in config.json (linux.resources.memory.limit) runs memload-static over 256 MiB; the hook
# must resolve the target to 12% of the limit (the status file's target_bytes is exactly
# that many bytes), the pager must hold the container's memory cgroup within 15% above it
# (checked again and again while the workload is idle), and every byte verifies after a
# rewrite. The same annotation on a container without a memory limit is refused with the
# hook's message, unless the container is a Kubernetes pod's sandbox (CRI-O's or
# containerd's annotation says so): those are never paged.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
id="" # set by runc_new_id

LIMIT=$((512 * MI))
PERCENT=12
# What the hook computes: LIMIT * PERCENT / 100, rounded down.
TARGET_BYTES=$((LIMIT * PERCENT / 100))
TARGET_SLACK=$((TARGET_BYTES * 115 / 100))

# ---- 12% of a 512 MiB limit ----

runc_new_id id
b=$T/$id
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=$PERCENT% -- /bin/memload-static \
	--size 256 --wait --ops verify,rewrite,verify --ready /out/ready --result /out/result
[[ $(jq -r .linux.resources.memory.limit "$b/config.json") == "$LIMIT" ]] ||
	fail "the bundle's memory limit is not $LIMIT bytes"
runc_run_detached "$id" "$b" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
STATUS=$HOOK_RUN/$id.json
hook_shim_pid "$id"
shim=$HOOK_SHIM
runc_wait_ready "$id" "$b/out/ready"
cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
[[ $(cgroup_mem_limit "$cg") == "$LIMIT" ]] ||
	fail "the container's cgroup limit is $(cgroup_mem_limit "$cg"), not $LIMIT"
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "the container's pager evicted nothing"
got=$(status_get "$STATUS" target_bytes) || fail "no target_bytes in $STATUS"
[[ $got == "$TARGET_BYTES" ]] ||
	fail "target_bytes is $got, want $TARGET_BYTES ($PERCENT% of $LIMIT)"
note "target_bytes $got = $PERCENT% of $(mib "$LIMIT") ($(mib "$got"))"
poll_until "$TIMEOUT" cgroup_at_target "$cg" ||
	fail "cgroup usage $(mib "$(cgroup_mem_usage "$cg")") not <= $(mib "$TARGET_SLACK")"

# Held, not just reached once: 3 s of samples while memload waits.
max=0
for _ in $(seq 30); do
	u=$(cgroup_mem_usage "$cg")
	((u > max)) && max=$u
	((u <= TARGET_SLACK)) || fail "cgroup usage rose to $(mib "$u"), above $(mib "$TARGET_SLACK")"
	sleep 0.1
done
note "held: cgroup usage at most $(mib "$max") over 3 s (target $(mib "$TARGET_BYTES"), slack" \
	"$(mib "$TARGET_SLACK")), RssAnon $(mib "$(rss_anon "$READY_PID")"), evicted" \
	"$(status_get "$STATUS" evicted_pages) pages"

kill -USR1 "$READY_PID"
runc_expect_results "$id" result
runc_wait_stopped "$id" || fail "container $id did not stop"
runc_expect_gone "$id" "$shim"

# ---- a percentage without a memory limit is refused ----

runc_new_id id
b=$T/$id
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=$PERCENT% -- /bin/true
bundle_jq "$b" 'del(.linux.resources.memory)'
runc_run_detached "$id" "$b" && fail "runc ran $id with a percentage target and no memory limit"
grep -q "io.uswap.target $PERCENT% of the memory limit: the container has no memory limit" \
	"$T/runc-$id.out" ||
	fail "runc's error does not carry the hook's message: $(tail -n 3 "$T/runc-$id.out")"
[[ ! -e $HOOK_RUN/$id.pid ]] || fail "a pager was started for $id"
runc_kill_delete "$id" >/dev/null 2>&1

# ---- a pod's sandbox container carries the pod's annotations but is never paged ----

for sandbox in io.kubernetes.cri-o.ContainerType=sandbox \
	io.kubernetes.cri.container-type=sandbox; do
	runc_new_id id
	b=$T/$id
	uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=$PERCENT% "$sandbox" -- /bin/true
	bundle_jq "$b" 'del(.linux.resources.memory)'
	runc_run_detached "$id" "$b" ||
		fail "runc refused the sandbox ($sandbox): $(tail -n 3 "$T/runc-$id.out")"
	runc_wait_stopped "$id" || fail "sandbox container $id did not stop"
	[[ ! -e $HOOK_RUN/$id.pid && ! -e $HOOK_RUN/$id.json ]] || fail "a pager was started for $id"
	runc_kill_delete "$id" || fail "container $id left something behind"
	note "$sandbox: no pager, not refused"
done
echo "PASS: io.uswap.target=$PERCENT% of a 512 MiB limit resolved to $TARGET_BYTES bytes and held"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# cgroup2_target: the pager holds a cgroup v2 memory.current at its target. The test makes a
# cgroup in the cgroup2 hierarchy (the mounted one, or a fresh mount in the test's directory)
# with the memory controller enabled, puts a process in it that waits on a fifo, starts
# `uswap-shim container --pid` on it (the hook's mode: the process is traced until it execs,
# and its memory cgroup is found from /proc/PID/cgroup), then lets it exec memload over
# 256 MiB. memory.current must come within 15% of the 64 MiB target, the status must name the
# v2 cgroup's pager, and every byte verifies after a rewrite.
#
# Whether the memory controller can be used on cgroup2 is decided by trying to enable it:
# on a hybrid host whose memory controller is bound to a v1 hierarchy, writing "+memory" to
# cgroup.subtree_control fails, and the test skips.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
command -v mkfifo >/dev/null || fail "mkfifo is not installed"

# cgroup2_root: the mount point of the cgroup2 hierarchy in this mount namespace, mounting
# one in $T if there is none.
cgroup2_root() {
	local mnt
	mnt=$(awk '{ split($0, h, " - "); split(h[2], b, " "); split(h[1], a, " ")
		    if (b[1] == "cgroup2") { print a[5]; exit } }' /proc/self/mountinfo)
	if [[ -n $mnt ]]; then
		echo "$mnt"
		return 0
	fi
	mkdir -p "$T/cgroup2" || return 1
	mount -t cgroup2 none "$T/cgroup2" 2>/dev/null || return 1
	CLEANUP_HOOKS+=("umount '$T/cgroup2'")
	echo "$T/cgroup2"
}

# memory_on_v1: the memory controller is attached to a cgroup v1 hierarchy (/proc/cgroups'
# hierarchy column is 0 for controllers on cgroup2 or on none).
memory_on_v1() { awk '$1 == "memory" && $2 != 0 { f = 1 } END { exit !f }' /proc/cgroups; }

cgroup_has() { grep -qx "$2" "$1/cgroup.procs"; }
traced_by() { [[ $(tracer_of "$1") == "$2" ]]; }
v2_at_target() { (($(<"$1/memory.current") <= TARGET_SLACK)); }

grep -qw memory /proc/cgroups || skip "the kernel has no memory controller"
root=$(cgroup2_root) || skip "cannot mount cgroup2"
note "cgroup2 hierarchy at $root, controllers: $(cat "$root/cgroup.controllers")"
enabled_here=0
if ! grep -qw memory "$root/cgroup.subtree_control"; then
	if ! echo +memory 2>"$T/enable.err" >"$root/cgroup.subtree_control"; then
		note "enabling memory in $root/cgroup.subtree_control: $(<"$T/enable.err")"
		memory_on_v1 && skip "memory controller not available on cgroup2 (bound to v1)"
		fail "cannot enable the memory controller on cgroup2: $(<"$T/enable.err")"
	fi
	enabled_here=1
	CLEANUP_HOOKS+=("echo -memory >'$root/cgroup.subtree_control' 2>/dev/null")
fi
cg=$root/uswap-test-$$-${T##*.}
mkdir "$cg" || fail "mkdir $cg failed"
# after every process is gone (cleanup kills them first), deepest cgroup first
CLEANUP_HOOKS=("rmdir '$cg' 2>/dev/null" "${CLEANUP_HOOKS[@]}")
[[ -f $cg/memory.current ]] || fail "$cg has no memory.current although memory is enabled"
note "cgroup $cg (memory enabled here: $enabled_here)"

# The victim: joins the cgroup, waits until the pager traces it, then execs memload.
mkfifo "$T/go" || fail "mkfifo failed"
bash -c 'echo $$ >"$1/cgroup.procs" || exit 101; read -r _ <"$2"; shift 2; exec "$@"' \
	victim "$cg" "$T/go" "$USWAP_WORKLOADS/memload" --size 256 --wait \
	--ops verify,rewrite,verify --ready "$T/ready" --result "$T/result" \
	>"$T/workload.out" 2>&1 &
victim=$!
track "$victim"
poll_until "$TIMEOUT" cgroup_has "$cg" "$victim" ||
	fail "pid $victim did not join $cg"

"$USWAP_SHIM" container --pid "$victim" --id "cg2-$$" $(shim_common_args) >"$T/shim.out" 2>&1 &
SHIM_PID=$!
track "$SHIM_PID"
traced_by_pager() { [[ -n $(shim_pager) ]] && traced_by "$victim" "$(shim_pager)"; }
poll_until "$TIMEOUT" traced_by_pager ||
	fail "the pager does not trace pid $victim (tracer $(tracer_of "$victim"))"
echo go >"$T/go"
wait_ready "$T/ready"
[[ $READY_PID == "$victim" ]] || fail "ready file names $READY_PID, expected $victim"
grep -q "memory cgroup .* (v2)" "$T/shim.log" ||
	fail "the pager did not take the v2 cgroup: $(grep -m1 'memory cgroup' "$T/shim.log")"

wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "no page evicted"
poll_until "$TIMEOUT" v2_at_target "$cg" ||
	fail "memory.current $(mib "$(<"$cg/memory.current")") not <= $(mib "$TARGET_SLACK")"
[[ $(status_get "$STATUS" mode) == container ]] || fail "status mode is not container"
note "held: memory.current $(mib "$(<"$cg/memory.current")") for target $TARGET," \
	"RssAnon $(mib "$(rss_anon "$victim")"), evicted $(status_get "$STATUS" evicted_pages)"

kill -USR1 "$victim"
expect_shim_exit 0
expect_result
echo "PASS: cgroup v2 memory.current held at $TARGET, every byte verified"

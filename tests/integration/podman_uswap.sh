#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# podman_uswap: podman with --hooks-dir on the hooks.d files the build configures (their
# path and args pointed at this build): a container run with --annotation
# io.uswap.enabled=true --annotation io.uswap.target=64Mi is held within 15% of 64 MiB while
# memload-static holds 256 MiB, verifies after a rewrite, and `podman rm` leaves no pager,
# file or cgroup behind. A container without the annotation gets no pager at all.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
command -v podman >/dev/null || fail "podman is not installed (a test dependency)"
busybox=$(command -v busybox) || fail "busybox is not installed (a test dependency)"
[[ -n ${USWAP_HOOK:-} && -x ${USWAP_HOOK:-} ]] || fail "USWAP_HOOK='${USWAP_HOOK:-}' is not an executable"
run=$T/run
stores=$T/stores
# This machine needs cgroupfs, runc and explicit ulimits (no CAP_SYS_RESOURCE); the storage
# lives in the test's directory.
P=(podman --root "$T/storage" --runroot "$T/runroot" --cgroup-manager=cgroupfs --runtime=runc)
CLEANUP_HOOKS+=("${P[*]} system reset --force >/dev/null 2>&1")
RUN=(run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
	--hooks-dir "$T/hooks" --memory 512m -v "$T/out:/out")

mkdir -p "$T/rootfs/bin" "$T/rootfs/out" "$T/hooks" "$T/out" "$run" "$stores"
cp "$busybox" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/sh"
cp "$USWAP_WORKLOADS/memload-static" "$T/rootfs/bin/" || fail "no memload-static"
tar -C "$T/rootfs" -c . | "${P[@]}" import - localhost/uswap-test:1 >"$T/podman.out" 2>&1 ||
	fail "podman import failed: $(tail -n 3 "$T/podman.out")"
DUMP_FILES+=("$T/podman.out:podman output")
for stage in createRuntime poststop; do
	jq --arg h "$USWAP_HOOK" --arg s "$USWAP_SHIM" --arg st "$stores" --arg r "$run" \
		--arg g "$stage" '.hook.path = $h | .hook.args = ["uswap-hook", "--shim", $s,
		"--store-root", $st, "--run-dir", $r, $g]' \
		"$USWAP_BUILD/hooks.d/uswap-$stage.json" >"$T/hooks/uswap-$stage.json" ||
		fail "cannot adapt $USWAP_BUILD/hooks.d/uswap-$stage.json"
done

# ---- annotated: paged ----
cid=$("${P[@]}" "${RUN[@]}" --annotation io.uswap.enabled=true --annotation io.uswap.target=64Mi \
	localhost/uswap-test:1 /bin/memload-static --size 256 --wait --ops verify,rewrite,verify \
	--ready /out/ready --result /out/result 2>>"$T/podman.out") ||
	fail "podman run failed: $(tail -n 3 "$T/podman.out")"
wl=$("${P[@]}" inspect -f '{{.State.Pid}}' "$cid") || fail "podman inspect $cid failed"
track "$wl"
[[ -s $run/$cid.pid ]] || fail "the hook started no pager for $cid (no $run/$cid.pid)"
shim=$(<"$run/$cid.pid")
track "$shim"
STATUS=$run/$cid.json
wait_for "$T/out/ready" "$TIMEOUT" || fail "memload in $cid did not get ready"
cg=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' "/proc/$wl/cgroup")
[[ -f $cg/memory.usage_in_bytes ]] || fail "no v1 memory cgroup for $wl ($cg)"
usage_ok() { (($(<"$cg/memory.usage_in_bytes") <= TARGET_SLACK)); }
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "the pager of $cid evicted nothing"
poll_until "$TIMEOUT" usage_ok ||
	fail "cgroup usage $(mib "$(<"$cg/memory.usage_in_bytes")") not <= $(mib "$TARGET_SLACK")"
note "podman container ${cid:0:12}: cgroup usage $(mib "$(<"$cg/memory.usage_in_bytes")")," \
	"pager $shim"
# podman's default seccomp profile lets the pager map its runner (one ptrace stop per round
# of MOVEs, not one per MOVE)
grep -q "pid $wl: armed (.*runner 0x[1-9a-f]" "$run/$cid.log" ||
	fail "no runner in $cid: $(grep -m1 "armed" "$run/$cid.log")"
kill -USR1 "$wl"
wait_for "$T/out/result" "$RUN_TIMEOUT" || fail "memload in $cid wrote no result"
[[ $(<"$T/out/result") == 0 ]] || fail "memload in $cid exited $(<"$T/out/result")"
"${P[@]}" rm -f "$cid" >>"$T/podman.out" 2>&1 || fail "podman rm $cid failed"
wait_gone "$shim" "$TIMEOUT" || fail "pager $shim still running after podman rm"
[[ ! -d $cg ]] || fail "cgroup $cg left after podman rm"
left=$(find "$run" "$stores" -mindepth 1 2>/dev/null)
[[ -z $left ]] || fail "files left after podman rm: $left"

# ---- not annotated: the hooks.d filter does not even run the hook ----
rm -f "$T/out/ready"
cid=$("${P[@]}" "${RUN[@]}" localhost/uswap-test:1 /bin/memload-static --size 16 --wait \
	--ops verify --ready /out/ready 2>>"$T/podman.out") || fail "podman run (plain) failed"
wait_for "$T/out/ready" "$TIMEOUT" || fail "plain memload did not get ready"
[[ -z $(find "$run" -mindepth 1) ]] || fail "a pager was started for an unannotated container"
"${P[@]}" rm -f "$cid" >>"$T/podman.out" 2>&1
echo "PASS: podman --hooks-dir pages an annotated container, leaves a plain one alone"

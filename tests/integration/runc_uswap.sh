#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_uswap: a runc container annotated io.uswap.enabled=true, io.uswap.target=64Mi, with
# uswap-hook as its createRuntime and poststop hook. memload-static fills 256 MiB; the
# container's memory cgroup must be held within 15% of 64 MiB, every byte verifies after a
# rewrite, and after `runc delete` no pager, status, pid, log or store file is left. An
# unannotated container runs untouched (no pager), and a bad annotation makes runc refuse
# the container with one line naming the key.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
require_hook
id="" # set by runc_new_id

# ---- an annotated container is held at its target ----

runc_new_id id
b=$T/$id
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=64Mi -- /bin/memload-static \
	--size 256 --wait --ops verify,rewrite,verify --ready /out/ready --result /out/result
runc_run_detached "$id" "$b" || fail "runc run -d $id failed: $(tail -n 5 "$T/runc-$id.out")"
STATUS=$HOOK_RUN/$id.json
hook_shim_pid "$id"
shim=$HOOK_SHIM
runc_wait_ready "$id" "$b/out/ready"
cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "the container's pager evicted nothing"
poll_until "$TIMEOUT" cgroup_at_target "$cg" ||
	fail "cgroup usage $(mib "$(cgroup_mem_usage "$cg")") not <= $(mib "$TARGET_SLACK")"
note "container $id: cgroup usage $(mib "$(cgroup_mem_usage "$cg")"), evicted" \
	"$(status_get "$STATUS" evicted_pages) pages, pager pid $shim"
[[ $(status_get "$STATUS" mode) == container && $(status_get "$STATUS" id) == "$id" ]] ||
	fail "status does not name container $id: $(cat "$STATUS")"
kill -USR1 "$READY_PID"
runc_expect_results "$id" result
runc_wait_stopped "$id" || fail "container $id did not stop"
runc_expect_gone "$id" "$shim"
left=$(find "$HOOK_RUN" "$HOOK_STORES" -mindepth 1 2>/dev/null)
[[ -z $left ]] || fail "files left after runc delete: $left"
note "annotated container verified, pager and files gone"

# ---- an unannotated container is left alone ----

runc_new_id id
b=$T/$id
uswap_bundle "$b" -- /bin/memload-static --size 32 --wait --ops verify --ready /out/ready \
	--result /out/result
runc_run_detached "$id" "$b" || fail "runc run -d $id failed"
runc_wait_ready "$id" "$b/out/ready"
[[ ! -e $HOOK_RUN/$id.pid && ! -e $HOOK_RUN/$id.json ]] || fail "a pager was started for $id"
kill -USR1 "$READY_PID"
wait_for "$b/out/result" "$TIMEOUT" || fail "unannotated memload wrote no result"
[[ $(<"$b/out/result") == 0 ]] || fail "unannotated memload exited $(<"$b/out/result")"
[[ ! -e $HOOK_RUN/$id.pid && ! -e $HOOK_RUN/$id.json ]] || fail "a pager was started for $id"
runc_kill_delete "$id" || fail "container $id left something behind"

# ---- a bad annotation refuses the container ----

runc_new_id id
b=$T/$id
uswap_bundle "$b" io.uswap.enabled=true io.uswap.target=12X -- /bin/true
runc_run_detached "$id" "$b" && fail "runc ran $id despite io.uswap.target=12X"
# runc logs the hook's stderr with its quotes escaped
grep -qE 'uswap-hook: container [^ ]+: invalid annotation io\.uswap\.target=\\?"12X\\?": expected' \
	"$T/runc-$id.out" ||
	fail "runc's error does not carry the hook's message: $(tail -n 3 "$T/runc-$id.out")"
note "refused with the hook's message"
runc_kill_delete "$id" >/dev/null 2>&1
echo "PASS: runc container paged by annotation, unannotated one untouched, bad one refused"

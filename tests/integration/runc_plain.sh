#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# runc_plain: the container harness itself, without the pager. memload-static runs as the
# init of a runc container with a 96 MiB memory limit, its 64 MiB are charged to the
# container's memory cgroup, it verifies its pattern on SIGUSR1; forktree-static runs five
# processes under a shell in a second container; a third container runs createRuntime and
# poststop hooks that record the OCI state. After each `runc delete` nothing may be left:
# no runc state, no cgroup directory, no process.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=runc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"

lib_init
require_runc
id="" # set by runc_new_id

# expect_container_result ID FILE: the workload's exit status in FILE is 0, no mismatch.
expect_container_result() {
	wait_for "$2" "$RUN_TIMEOUT" || fail "container $1 wrote no result within ${RUN_TIMEOUT}s"
	[[ $(<"$2") == 0 ]] || fail "workload in container $1 exited $(<"$2")"
	! grep -q MISMATCH "$T/runc-$1.out" || fail "mismatch in $1: $(grep -m1 MISMATCH "$T/runc-$1.out")"
}

# ---- memload as the container's init ----

runc_new_id id
b=$T/$id
make_bundle "$b" --memory 96M -- /bin/memload-static --size 64 --wait --ops verify \
	--ready /out/ready --result /out/result
runc_run_detached "$id" "$b" || fail "runc run -d $id failed"
runc_wait_ready "$id" "$b/out/ready"
[[ ${READY_NSPIDS[0]} == 1 ]] || fail "memload is pid ${READY_NSPIDS[0]} in its container, not 1"
init=$(runc_container_pid "$id") || fail "runc state has no live pid for $id"
[[ $READY_PID == "$init" ]] || fail "memload's host pid $READY_PID is not the init pid $init"
note "memload: host pid $READY_PID, pid 1 in container $id"

cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
[[ ${cg##*/} == "$id" ]] || fail "memory cgroup $cg is not named after the container"
cgroup_has_proc "$cg" "$READY_PID" || fail "pid $READY_PID not in $cg/cgroup.procs"
limit=$(cgroup_mem_limit "$cg")
[[ $limit == $((96 * MI)) ]] || fail "memory limit of $cg is $limit, not 96 MiB"
usage=$(cgroup_mem_usage "$cg")
((usage >= 64 * MI)) || fail "memory usage of $cg is $(mib "$usage"), expected >= 64 MiB"
(($(rss_anon "$READY_PID") >= 64 * MI)) ||
	fail "RssAnon of memload is $(mib "$(rss_anon "$READY_PID")"), expected >= 64 MiB"
note "cgroup $cg: usage $(mib "$usage"), limit $(mib "$limit")"

runc_exec "$id" /bin/test -s /out/ready || fail "runc exec in $id failed"

note "SIGUSR1 -> memload: verify"
kill -USR1 "$READY_PID"
expect_container_result "$id" "$b/out/result"
runc_wait_stopped "$id" || fail "container $id still $(runc_status "$id") after memload exited"
runc_kill_delete "$id" || fail "container $id left something behind"
[[ ! -d $cg ]] || fail "cgroup $cg still exists"
note "container $id deleted, nothing left"

# ---- forktree: five processes under a shell ----

runc_new_id id
b=$T/$id
make_bundle "$b" --memory 256M -- /bin/sh -c \
	'/bin/forktree-static --size 16 --ready /out/ready; echo $? >/out/result'
runc_run_detached "$id" "$b" || fail "runc run -d $id failed"
runc_wait_ready "$id" "$b/out/ready"
((${#READY_PIDS[@]} == 5)) || fail "forktree reported ${#READY_PIDS[@]} pids, expected 5"
note "forktree: container pids ${READY_NSPIDS[*]}, host pids ${READY_PIDS[*]}"
cg=$(runc_cgroup_path "$id") || fail "no memory cgroup for $id"
for p in "${READY_PIDS[@]}"; do
	cgroup_has_proc "$cg" "$p" || fail "forktree pid $p not in $cg/cgroup.procs"
done
n=$(wc -l <"$cg/cgroup.procs")
((n == 6)) || fail "$cg holds $n processes, expected 6 (sh and forktree's 5)"
usage=$(cgroup_mem_usage "$cg")
((usage >= 5 * 16 * MI)) || fail "memory usage of $cg is $(mib "$usage"), expected >= 80 MiB"
note "cgroup $cg: usage $(mib "$usage")"

note "SIGUSR1 -> forktree root"
kill -USR1 "$READY_PID"
expect_container_result "$id" "$b/out/result"
runc_wait_stopped "$id" || fail "container $id still $(runc_status "$id") after forktree exited"
runc_kill_delete "$id" || fail "container $id left something behind"
note "container $id deleted, nothing left"

# ---- hooks and annotations in the generated config.json, and killing a live container ----

cat >"$T/hook.sh" <<'EOF'
#!/bin/sh
# record the OCI state runc passes on stdin
cat >"$1.tmp" && mv "$1.tmp" "$1"
EOF
chmod +x "$T/hook.sh"
runc_new_id id
b=$T/$id
make_bundle "$b" --memory 32M --annotation io.uswap.enabled=true \
	--annotation io.uswap.target=16M \
	--hook createRuntime "$T/hook.sh" --hook-arg "$T/create.json" --hook-timeout 10 \
	--hook poststop "$T/hook.sh" --hook-arg "$T/poststop.json" \
	-- /bin/sleep 600
runc_run_detached "$id" "$b" || fail "runc run -d $id failed"
[[ -s $T/create.json ]] || fail "the createRuntime hook did not run"
[[ $(jq -r '.annotations["io.uswap.target"]' "$T/create.json") == 16M ]] ||
	fail "createRuntime state lacks the annotation: $(cat "$T/create.json")"
[[ $(jq -r .id "$T/create.json") == "$id" && $(jq -r .bundle "$T/create.json") == "$b" ]] ||
	fail "createRuntime state has the wrong id or bundle: $(cat "$T/create.json")"
hpid=$(jq -r .pid "$T/create.json")
[[ $hpid == $(runc_container_pid "$id") ]] ||
	fail "createRuntime state pid $hpid is not the container's init $(runc_container_pid "$id")"
[[ ! -e $T/poststop.json ]] || fail "the poststop hook ran before the container stopped"
runc_kill_delete "$id" || fail "container $id left something behind"
[[ -s $T/poststop.json ]] || fail "the poststop hook did not run on delete"
note "hooks saw id, bundle, annotations and pid $hpid; poststop ran on delete"

echo "PASS: memload and forktree in runc containers, hooks, no leftovers"

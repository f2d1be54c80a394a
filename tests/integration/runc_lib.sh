# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for the tests that run workloads in real runc containers. Source it after lib.sh,
# call lib_init, then require_runc:
#
#	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#	. "$(dirname "${BASH_SOURCE[0]}")/runc_lib.sh"
#	lib_init
#	require_runc
#	runc_new_id id
#	make_bundle "$T/$id" --memory 96M -- /bin/memload-static --ready /out/ready ...
#	runc_run_detached "$id" "$T/$id" || fail "runc run $id failed"
#	runc_wait_ready "$id" "$T/$id/out/ready"
#	...
#	runc_kill_delete "$id" || fail "container $id left something behind"
#
# Every container gets a unique id (uswap-test-PID-X-N), runc keeps its state under $T/runc
# (never the host's /run/runc), and the EXIT trap kills and deletes every container the test
# created and removes cgroup directories runc left behind. The bundle's rootfs is
# busybox-static plus the workloads' static builds (/bin/NAME-static); the host directory
# BUNDLE/out is bind-mounted on /out for ready/result files.
#
# Pids: a workload in a container writes the pids of its own pid namespace (memload as the
# container's init writes 1). Never pass such a file to wait_ready (it would track host
# pids 1, 2 ...): runc_wait_ready maps them to host pids through NSpid.
#
# Measured with runc 1.1.5 here: without a cgroupsPath runc puts the container in the
# cgroup named after its id, relative to runc's own cgroup in each hierarchy (so the v1 memory
# cgroup can be nested: /sys/fs/cgroup/memory/<runc's cgroup>/<id>); `runc delete` removes
# them all. Rlimits above the caller's hard limit fail in runc init ("error setting rlimit
# type 7: operation not permitted") without CAP_SYS_RESOURCE. The rootfs may not be a symlink.

RUNC_ROOT=""
RUNC_SEQ=0
RUNC_IDS=()             # every container id this test created, for cleanup
declare -A RUNC_CGDIRS  # id -> its cgroup directories (one per hierarchy), space separated
declare -A RUNC_PROCS   # id -> "hostpid:starttime ..." of processes seen in the container
READY_NSPIDS=()         # set by runc_wait_ready: the pids as written, in the container's ns
DUMP_PID_HOOKS+=(runc_init_pids) # a failing test shows the state of its containers' processes

# Applets linked into every rootfs's /bin (memload's fork-exec op runs /bin/true).
RUNC_APPLETS=(sh ash cat echo env false grep kill ls mkdir ps rm sleep test true)

runc_cmd() { runc --root "$RUNC_ROOT" "$@"; }

# runc_new_id VAR: a container id unique to this test run, stored in VAR.
runc_new_id() {
	local -n ret_id=$1
	RUNC_SEQ=$((RUNC_SEQ + 1))
	# shellcheck disable=SC2034 # a nameref
	ret_id="uswap-test-$$-${T##*.}-$RUNC_SEQ"
}

# size_bytes SIZE: N, or N with a K/M/G suffix (optionally Ki/Mi/Gi; all binary), in bytes.
size_bytes() {
	local n u
	[[ $1 =~ ^([0-9]+)(([KMG])i?)?$ ]] || return 1
	n=${BASH_REMATCH[1]} u=${BASH_REMATCH[3]}
	case $u in
	K) n=$((n << 10)) ;;
	M) n=$((n << 20)) ;;
	G) n=$((n << 30)) ;;
	esac
	echo "$n"
}

# ---- cgroups ----

# cgroup_dirs PID: one line "CONTROLLERS DIR" per hierarchy PID belongs to (CONTROLLERS is
# empty for the cgroup2 hierarchy, "name=systemd" for named ones), from /proc/PID/cgroup and
# this shell's mountinfo.
cgroup_dirs() {
	[[ -r /proc/$1/cgroup ]] || return 1
	awk '
	FNR == NR {
		split($0, half, " - ")
		n = split(half[1], a, " ")
		split(half[2], b, " ")
		if (b[1] == "cgroup2") {
			mnt[""] = a[5]; root[""] = a[4]
		} else if (b[1] == "cgroup") {
			k = split(b[3], o, ",")
			for (i = 1; i <= k; i++) {
				mnt[o[i]] = a[5]; root[o[i]] = a[4]
			}
		}
		next
	}
	{
		# ID:CONTROLLERS:PATH, CONTROLLERS empty for cgroup2
		rest = substr($0, index($0, ":") + 1)
		c = index(rest, ":"); ctrls = substr(rest, 1, c - 1); path = substr(rest, c + 1)
		split(ctrls, first, ",")
		key = ctrls == "" ? "" : first[1]
		if (!(key in mnt))
			next
		r = root[key]
		if (r != "/" && index(path, r) == 1)
			path = substr(path, length(r) + 1)
		print ctrls " " mnt[key] (path == "/" ? "" : path)
	}' /proc/self/mountinfo "/proc/$1/cgroup" 2>/dev/null
}

# cgroup_dir PID [CONTROLLER]: the directory of PID's cgroup in the v1 hierarchy of CONTROLLER
# (default memory), or in the cgroup2 hierarchy where CONTROLLER has no v1 hierarchy.
cgroup_dir() {
	local ctrl=${2:-memory} lines l c dir v2=""
	lines=$(cgroup_dirs "$1") || return 1
	while IFS= read -r l; do
		if [[ $l == " "* ]]; then
			v2=${l# }
			continue
		fi
		c=${l%% *} dir=${l#* }
		[[ ,$c, == *",$ctrl,"* ]] && { echo "$dir"; return 0; }
	done <<<"$lines"
	[[ -n $v2 ]] && echo "$v2"
}

# cgroup_mem_usage DIR: memory charged to the cgroup, in bytes (v1 or v2).
cgroup_mem_usage() {
	if [[ -f $1/memory.usage_in_bytes ]]; then
		cat "$1/memory.usage_in_bytes"
	else
		cat "$1/memory.current"
	fi
}

# cgroup_mem_limit DIR: the cgroup's memory limit in bytes ("max" on v2 when unlimited).
cgroup_mem_limit() {
	if [[ -f $1/memory.limit_in_bytes ]]; then
		cat "$1/memory.limit_in_bytes"
	else
		cat "$1/memory.max"
	fi
}

# cgroup_has_proc DIR PID: PID is a member of the cgroup (cgroup.procs lists host pids here).
cgroup_has_proc() { grep -qx "$2" "$1/cgroup.procs" 2>/dev/null; }

# ---- bundles ----

# Check busybox is static (the rootfs has no libc): readelf shows no program interpreter.
busybox_path() {
	local bb
	bb=$(command -v busybox) || return 1
	if command -v readelf >/dev/null && readelf -l "$bb" 2>/dev/null | grep -q interpreter; then
		return 2
	fi
	echo "$bb"
}

# The highest RLIMIT_NOFILE runc may set here: runc init cannot raise the hard limit without
# CAP_SYS_RESOURCE, and containers expect 1024.
rlimit_nofile() {
	local h
	h=$(ulimit -Hn)
	if [[ $h == unlimited ]] || ((h > 1024)); then
		h=1024
	fi
	echo "$h"
}

# make_rootfs DIR: busybox-static with applet links and the static workloads in DIR/bin.
make_rootfs() {
	local root=$1 bb a w
	bb=$(busybox_path) || fail "no static busybox (install busybox-static: tests/deps.sh)"
	mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,out} || fail "mkdir in $root failed"
	chmod 1777 "$root/tmp"
	cp "$bb" "$root/bin/busybox" || fail "copying $bb failed"
	for a in "${RUNC_APPLETS[@]}"; do
		ln -sf busybox "$root/bin/$a"
	done
	for w in "$USWAP_WORKLOADS"/*-static; do
		[[ -x $w ]] || fail "no static workloads in $USWAP_WORKLOADS (build the *-static targets)"
		cp "$w" "$root/bin/" || fail "copying $w failed"
	done
	printf 'root:x:0:0:root:/:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"
}

fail_usage() { fail "make_bundle: $*"; }

# json_strings ARG...: a JSON array of the arguments (jq 1.6's --args would take "-c" as its
# own option, and its -R stops at a NUL).
json_strings() {
	local -a named=()
	local i=0 a
	for a in "$@"; do
		named+=(--arg "a$i" "$a")
		i=$((i + 1))
	done
	# shellcheck disable=SC2016 # jq variables
	jq -nc --argjson n "$#" "${named[@]}" '[range(0; $n) as $i | $ARGS.named["a\($i)"]]'
}

# bundle_jq DIR FILTER [JQ_ARG...]: edit DIR/config.json in place with a jq filter.
bundle_jq() {
	local dir=$1 filter=$2
	shift 2
	jq "$@" "$filter" "$dir/config.json" >"$dir/config.json.new" ||
		fail "jq '$filter' on $dir/config.json failed"
	mv "$dir/config.json.new" "$dir/config.json"
}

# make_bundle DIR [OPTION...] [-- ARG...]: an OCI bundle in DIR (rootfs + config.json from
# `runc spec`) running ARG... (default: sleep 3600) as uid 0 without a terminal.
#   --memory SIZE       linux.resources.memory.limit (bytes, or N with K/M/G)
#   --annotation K=V    an annotation (repeatable)
#   --hook STAGE PATH   a hook (prestart, createRuntime, createContainer, startContainer,
#                       poststart, poststop); args[0] is PATH
#   --hook-arg ARG      append ARG to the args of the last --hook (repeatable)
#   --hook-env K=V      add K=V to the env of the last --hook (repeatable)
#   --hook-timeout S    timeout of the last --hook in seconds
#   --out HOSTDIR       host directory bind-mounted on /out (default DIR/out, made mode 1777)
#   --env K=V           process environment (repeatable)
#   --user UID[:GID]    process user (default 0:0)
make_bundle() {
	local dir=$1 out="" mem="" user="0:0" uid gid nofile
	local -a annos=() envs=() hooks=() args=()
	local h=-1 stage
	shift
	[[ -n $dir ]] || fail_usage "no directory"
	while (($#)); do
		case $1 in
		--memory) mem=$(size_bytes "${2:-}") || fail_usage "bad --memory '${2:-}'"; shift 2 ;;
		--annotation) [[ ${2:-} == *=* ]] || fail_usage "bad --annotation '${2:-}'"
			annos+=("$2"); shift 2 ;;
		--hook) stage=${2:-}
			case $stage in
			prestart | createRuntime | createContainer | startContainer | poststart | poststop) ;;
			*) fail_usage "bad hook stage '$stage'" ;;
			esac
			[[ ${3:-} == /* ]] || fail_usage "hook path '${3:-}' is not absolute"
			h=$((h + 1))
			hooks[h]=$(jq -nc --arg s "$stage" --arg p "$3" '{stage: $s, hook: {path: $p, args: [$p]}}')
			shift 3 ;;
		--hook-arg | --hook-env | --hook-timeout)
			((h >= 0)) || fail_usage "$1 before --hook"
			(($# >= 2)) || fail_usage "$1 needs a value"
			case $1 in
			--hook-arg) hooks[h]=$(jq -c --arg v "$2" '.hook.args += [$v]' <<<"${hooks[h]}") ;;
			--hook-env) hooks[h]=$(jq -c --arg v "$2" '.hook.env += [$v]' <<<"${hooks[h]}") ;;
			*) [[ $2 =~ ^[0-9]+$ ]] || fail_usage "bad --hook-timeout '$2'"
				hooks[h]=$(jq -c --argjson v "$2" '.hook.timeout = $v' <<<"${hooks[h]}") ;;
			esac
			shift 2 ;;
		--out) out=${2:-}; [[ $out == /* ]] || fail_usage "--out '$out' is not absolute"
			shift 2 ;;
		--env) [[ ${2:-} == *=* ]] || fail_usage "bad --env '${2:-}'"; envs+=("$2"); shift 2 ;;
		--user) user=${2:-}; [[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] || fail_usage "bad --user '$user'"
			shift 2 ;;
		--) shift; args=("$@"); break ;;
		*) fail_usage "unknown option '$1'" ;;
		esac
	done
	((${#args[@]})) || args=(/bin/sleep 3600)
	uid=${user%%:*} gid=${user#*:}
	[[ $user == *:* ]] || gid=$uid
	if [[ -z $out ]]; then
		out=$dir/out
		{ mkdir -p "$out" && chmod 1777 "$out"; } || fail "mkdir $out failed"
	fi
	nofile=$(rlimit_nofile)

	rm -rf "$dir/rootfs" "$dir/config.json"
	mkdir -p "$dir" || fail "mkdir $dir failed"
	make_rootfs "$dir/rootfs"
	runc spec --bundle "$dir" || fail "runc spec --bundle $dir failed"
	# shellcheck disable=SC2016 # jq variables
	bundle_jq "$dir" '
		.process.terminal = false
		| .process.args = $args
		| .process.user = {uid: $uid, gid: $gid}
		| .process.env += $envs
		| .process.rlimits = [{type: "RLIMIT_NOFILE", hard: $nofile, soft: $nofile}]
		| .root.readonly = false
		| .mounts += [{destination: "/out", type: "bind", source: $out,
			       options: ["rbind", "rw"]}]
		| .annotations = (.annotations // {})
			+ ($annos | map(capture("^(?<key>[^=]*)=(?<value>.*)$")) | from_entries)
		| if $mem == "" then . else .linux.resources.memory.limit = ($mem | tonumber) end
		| .hooks = (reduce $hooks[] as $h (.hooks // {}; .[$h.stage] += [$h.hook]))
		| if .hooks == {} then del(.hooks) else . end' \
		--argjson args "$(json_strings "${args[@]}")" \
		--argjson uid "$uid" --argjson gid "$gid" \
		--argjson envs "$(json_strings "${envs[@]}")" \
		--argjson nofile "$nofile" --arg out "$out" --arg mem "$mem" \
		--argjson annos "$(json_strings "${annos[@]}")" \
		--argjson hooks "$(jq -sc . <<<"${hooks[*]:-}")"
}

# ---- containers ----

# runc_state ID KEY: a field of `runc state` (fails for an unknown container: jq 1.6 -e
# succeeds on empty input, so runc's status is checked first).
runc_state() {
	local j
	j=$(runc_cmd state "$1" 2>/dev/null) || return 1
	jq -er --arg k "$2" '.[$k]' <<<"$j"
}

runc_status() { runc_state "$1" status; }

# runc_container_pid ID: host pid of the container's init (runc init before start).
runc_container_pid() {
	local pid
	pid=$(runc_state "$1" pid) || return 1
	[[ $pid =~ ^[1-9][0-9]*$ ]] && is_alive "$pid" || return 1
	echo "$pid"
}

# runc_init_pids: the init pid of every container this test created that still runs.
runc_init_pids() {
	local id
	for id in "${RUNC_IDS[@]}"; do
		runc_container_pid "$id"
	done
	return 0
}

# runc_cgroup_path ID [CONTROLLER]: the container's cgroup directory for CONTROLLER (default
# memory; its v1 hierarchy, or cgroup2): from its init's /proc/PID/cgroup while it runs,
# else what was recorded when it started.
runc_cgroup_path() {
	local id=$1 ctrl=${2:-memory} pid dir
	if pid=$(runc_container_pid "$id") && dir=$(cgroup_dir "$pid" "$ctrl") && [[ -n $dir ]]; then
		echo "$dir"
		return 0
	fi
	dir=$(runc_cmd state "$id" >/dev/null 2>&1 &&
		jq -er --arg c "$ctrl" '.cgroup_paths[$c] // .cgroup_paths[""]' \
			"$RUNC_ROOT/$id/state.json" 2>/dev/null) || return 1
	echo "$dir"
}

# runc_pids ID: host pids of every process in the container (its memory cgroup).
runc_pids() {
	local pid dir
	# Only through a live init, and only its own cgroup (runc names it after the container):
	# an exiting task is moved to the root cgroup, and the recorded paths (state.json) may
	# name a cgroup that holds other processes, so either would list the whole host.
	pid=$(runc_container_pid "$1") || return 1
	dir=$(cgroup_dir "$pid" memory) && [[ ${dir##*/} == "$1" ]] || return 1
	cat "$dir/cgroup.procs" 2>/dev/null
}

# Remember processes of container ID (pid:starttime), so runc_kill_delete can check they died.
runc_remember_pids() {
	local id=$1 p st
	shift
	for p in "$@"; do
		st=$(proc_starttime "$p") || continue
		[[ " ${RUNC_PROCS[$id]:-}" == *" $p:$st "* ]] || RUNC_PROCS[$id]+="$p:$st "
	done
}

# runc_host_pid ID NSPID: the host pid of the process that is NSPID in the container.
runc_host_pid() {
	local p ns
	for p in $(runc_pids "$1"); do
		ns=$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)
		[[ $ns == "$2" ]] && { echo "$p"; return 0; }
	done
	return 1
}

# Record the container's cgroup directories and init pid once it exists: those of its init
# in /proc, and those runc's state.json lists (they outlive a container that already exited).
runc_record() {
	local id=$1 pid l dirs=" "
	if pid=$(runc_container_pid "$id"); then
		runc_remember_pids "$id" "$pid"
		while IFS= read -r l; do
			[[ -n $l && $dirs != *" ${l##* } "* ]] && dirs+="${l##* } "
		done < <(cgroup_dirs "$pid")
	fi
	while IFS= read -r l; do
		[[ -n $l && $dirs != *" $l "* ]] && dirs+="$l "
	done < <(jq -r '.cgroup_paths // {} | .[]' "$RUNC_ROOT/$id/state.json" 2>/dev/null)
	RUNC_CGDIRS[$id]=$dirs
}

# Register ID for the EXIT trap's cleanup and its output for failure reports.
runc_register() {
	local id=$1
	[[ " ${RUNC_IDS[*]} " == *" $id "* ]] && return 0
	RUNC_IDS+=("$id")
	DUMP_FILES+=("$T/runc-$id.out:runc and container $id stdout/stderr")
}

# runc_create ID BUNDLE: `runc create` (hooks up to createContainer run; the process waits for
# runc_start). Returns runc's status; its output and the container's go to $T/runc-ID.out.
runc_create() {
	local id=$1 bundle=$2 rc
	runc_register "$id"
	runc_cmd create --bundle "$bundle" "$id" </dev/null >>"$T/runc-$id.out" 2>&1
	rc=$?
	((rc == 0)) && runc_record "$id"
	note "runc create $id: $rc"
	return "$rc"
}

runc_start() { runc_cmd start "$1" >>"$T/runc-$1.out" 2>&1; }

# runc_run_detached ID BUNDLE: create and start the container in the background (`runc run
# -d`); returns runc's status. The container's stdio is $T/runc-ID.out.
runc_run_detached() {
	local id=$1 bundle=$2 rc
	runc_register "$id"
	runc_cmd run -d --bundle "$bundle" "$id" </dev/null >>"$T/runc-$id.out" 2>&1
	rc=$?
	((rc == 0)) && runc_record "$id"
	note "runc run -d $id: $rc (init pid $(runc_container_pid "$id" || echo none))"
	return "$rc"
}

# runc_exec ID ARG...: run ARG... in the container, in the foreground; returns its status.
runc_exec() {
	local id=$1
	shift
	runc_cmd exec "$id" "$@" </dev/null
}

# runc_wait_ready ID FILE: wait for a ready file written in container ID (pids of the
# container's pid namespace, one per line). READY_NSPIDS gets them, READY_PIDS and READY_PID
# the host pids; all are tracked. Fails the test on timeout or an unknown pid.
runc_wait_ready() {
	local id=$1 file=$2 p hp
	wait_for "$file" "$TIMEOUT" || fail "no ready file $file from container $id within ${TIMEOUT}s"
	mapfile -t READY_NSPIDS <"$file"
	((${#READY_NSPIDS[@]})) || fail "empty ready file $file"
	READY_PIDS=()
	for p in "${READY_NSPIDS[@]}"; do
		[[ $p =~ ^[0-9]+$ ]] || fail "bad pid '$p' in ready file $file"
		hp=$(runc_host_pid "$id" "$p") || fail "no process $p in container $id"
		READY_PIDS+=("$hp")
	done
	# shellcheck disable=SC2034 # lib.sh's
	READY_PID=${READY_PIDS[0]}
	track "${READY_PIDS[@]}"
	runc_remember_pids "$id" "${READY_PIDS[@]}"
}

runc_stopped() { [[ $(runc_status "$1") == stopped ]]; }

# runc_wait_stopped ID [SECS]: until the container's init has exited (not poll_until: a
# container does not depend on the shim). Returns 1 on timeout.
runc_wait_stopped() {
	local end=$((SECONDS + ${2:-$TIMEOUT}))
	until runc_stopped "$1"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# runc_leftovers ID: print what container ID left behind (runc state, cgroup directories,
# processes), one line each; nothing if nothing.
runc_leftovers() {
	local id=$1 d e p
	[[ -e $RUNC_ROOT/$id ]] && echo "runc state $RUNC_ROOT/$id"
	runc_cmd state "$id" >/dev/null 2>&1 && echo "runc state still knows $id"
	for d in ${RUNC_CGDIRS[$id]:-}; do
		[[ -d $d ]] && echo "cgroup $d"
	done
	for e in ${RUNC_PROCS[$id]:-}; do
		p=${e%%:*}
		[[ $(proc_starttime "$p" 2>/dev/null) == "${e#*:}" ]] && is_alive "$p" &&
			echo "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))"
	done
	return 0
}

# runc_kill_delete ID: SIGKILL every process of the container, wait until it stopped, delete
# it (--force), then check nothing is left: runc state, cgroup directories, processes.
# Prints the leftovers and returns 1 if any.
runc_kill_delete() {
	local id=$1 st left d
	if st=$(runc_status "$id"); then
		# Only a live container has processes to remember: once its init exited, the cgroup
		# path runc_pids falls back to may list processes that are not the container's.
		if [[ $st != stopped ]]; then
			# shellcheck disable=SC2046
			runc_remember_pids "$id" $(runc_pids "$id")
		fi
		if [[ $st != stopped ]]; then
			runc_cmd kill --all "$id" KILL >>"$T/runc-$id.out" 2>&1
			runc_wait_stopped "$id" 10 || note "container $id still $(runc_status "$id") after SIGKILL"
		fi
		runc_cmd delete --force "$id" >>"$T/runc-$id.out" 2>&1 ||
			note "runc delete --force $id failed"
	fi
	# runc removes the cgroups before it returns, and init's exit waits for every process in
	# its pid namespace, so nothing may remain once delete returned
	left=$(runc_leftovers "$id")
	[[ -z $left ]] && return 0
	note "container $id left behind:"
	while IFS= read -r d; do
		echo "#   $d"
	done <<<"$left"
	return 1
}

# EXIT trap: delete every container, then remove cgroup directories runc left behind
# (deepest first) so a failed test does not leak them.
runc_cleanup_all() {
	local id d
	for id in "${RUNC_IDS[@]}"; do
		runc_kill_delete "$id" >/dev/null
		for d in $(tr ' ' '\n' <<<"${RUNC_CGDIRS[$id]:-}" | sort -r); do
			[[ -d $d ]] && rmdir "$d" 2>/dev/null
		done
	done
	return 0
}

# ---- setup ----

# Classify a failed trial container: a kernel without what runc needs (namespaces, cgroup
# controllers) skips; anything else is a failure to fix.
RUNC_KERNEL_ERRORS=(
	'function not implemented'
	'operation not supported'
	'not supported by (the )?kernel'
	'cgroup mountpoint does not exist'
	'mountpoint for [a-z_=]+ not found'
	'(clone|unshare|setns)[^:]*: invalid argument'
	'/proc/self/ns/[a-z_]+: no such file'
)
runc_missing_feature() {
	local IFS='|'
	grep -Eiq "${RUNC_KERNEL_ERRORS[*]}" <<<"$1"
}

# require_runc: skip without runc (or without kernel support for it), fail if runc is broken
# here. Sets RUNC_ROOT ($T/runc) and registers the cleanup of every container.
require_runc() {
	local out rc id
	[[ -n $T ]] || fail "require_runc before lib_init"
	require_root
	command -v runc >/dev/null || skip "runc is not installed"
	out=$(runc --version 2>&1) || fail "runc --version failed: $out"
	note "$(head -n1 <<<"$out")"
	[[ -x $USWAP_WORKLOADS/memload-static ]] ||
		fail "$USWAP_WORKLOADS/memload-static missing (the workloads' static builds)"
	RUNC_ROOT=$T/runc
	mkdir -p "$RUNC_ROOT" || fail "mkdir $RUNC_ROOT failed"
	CLEANUP_HOOKS+=(runc_cleanup_all)

	# a trial container with a memory limit, in the foreground (runc run deletes it)
	runc_new_id id
	make_bundle "$T/$id" --memory 16M -- /bin/sh -c 'echo probe-ok'
	runc_register "$id"
	out=$(timeout 30 runc --root "$RUNC_ROOT" run --bundle "$T/$id" "$id" </dev/null 2>&1)
	rc=$?
	runc_kill_delete "$id" >/dev/null
	rm -rf "${T:?}/$id"
	((rc == 0)) && [[ $out == *probe-ok* ]] && return 0
	if runc_missing_feature "$out"; then
		skip "runc cannot start a container on this kernel: $(tail -n1 <<<"$out")"
	fi
	fail "trial runc container failed (exit $rc): $out"
}

# ---- uswap-hook ----

# require_hook: uswap-hook must be built; HOOK_RUN and HOOK_STORES are its --run-dir and
# --store-root for this test.
require_hook() {
	[[ -n ${USWAP_HOOK:-} && -x ${USWAP_HOOK:-} ]] ||
		fail "USWAP_HOOK='${USWAP_HOOK:-}' is not an executable"
	HOOK_RUN=$T/run
	HOOK_STORES=$T/stores
}

# uswap_bundle DIR [ANNOTATION...] [-- ARG...]: a bundle with a 512 MiB limit whose
# createRuntime and poststop hooks are uswap-hook (started with this build's uswap-shim).
uswap_bundle() {
	local dir=$1 stage
	local -a opts=()
	shift
	while (($#)) && [[ $1 != -- ]]; do
		opts+=(--annotation "$1")
		shift
	done
	for stage in createRuntime poststop; do
		opts+=(--hook "$stage" "$USWAP_HOOK" --hook-arg --shim --hook-arg "$USWAP_SHIM"
			--hook-arg --store-root --hook-arg "$HOOK_STORES" --hook-arg --run-dir
			--hook-arg "$HOOK_RUN" --hook-arg "$stage" --hook-timeout 30)
	done
	make_bundle "$dir" --memory 512M "${opts[@]}" "$@"
}

# hook_shim_pid ID: HOOK_SHIM gets the pid of container ID's pager (from the hook's pid
# file); it is tracked for cleanup.
hook_shim_pid() {
	[[ -s $HOOK_RUN/$1.pid ]] || fail "uswap-hook left no pid file $HOOK_RUN/$1.pid"
	HOOK_SHIM=$(<"$HOOK_RUN/$1.pid")
	[[ $HOOK_SHIM =~ ^[0-9]+$ ]] || fail "bad pid '$HOOK_SHIM' in $HOOK_RUN/$1.pid"
	track "$HOOK_SHIM"
}

# runc_expect_results ID NAME...: the result files BUNDLE/out/NAME that workloads in container
# ID write (their exit status) appear within RUN_TIMEOUT and say 0, and the container's
# output has no MISMATCH line. BUNDLE is $T/ID, as the tests make it.
runc_expect_results() {
	local id=$1 r f
	shift
	for r in "$@"; do
		f=$T/$id/out/$r
		wait_for "$f" "$RUN_TIMEOUT" || fail "no $r from container $id"
		[[ $(<"$f") == 0 ]] || fail "$r of container $id is $(<"$f")"
	done
	! grep -q MISMATCH "$T/runc-$id.out" || fail "$(grep -m1 MISMATCH "$T/runc-$id.out")"
}

# runc_expect_gone ID PAGER: delete container ID, nothing may be left behind, and its pager
# (pid PAGER) must exit.
runc_expect_gone() {
	runc_kill_delete "$1" || fail "container $1 left something behind"
	wait_gone "$2" "$TIMEOUT" || fail "pager $2 still running after runc delete"
}

# cgroup_at_target DIR: the memory cgroup's usage is within TARGET_SLACK.
cgroup_at_target() { (($(cgroup_mem_usage "$1") <= TARGET_SLACK)); }

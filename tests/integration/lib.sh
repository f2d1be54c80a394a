# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for the integration tests; each test sources this file and calls lib_init first.
#
# Environment (set by CTest): USWAP_SHIM (uswap-shim), USWAP_WORKLOADS (workload binaries),
# USWAP_BUILD (build dir). Optional: USWAP_TEST_TIMEOUT (bound of every wait for a state,
# default 60 s), USWAP_TEST_RUN_TIMEOUT (bound of a workload's op phase, default 200 s),
# USWAP_TEST_KEEP=1 (keep the temp dir).
#
# Exit status of a test: 0 pass, 1 fail (a "FAIL: ..." line, then the logs), 77 skip (a
# "SKIP: ..." line; only for a missing kernel feature or missing privileges). Every wait is
# bounded; the EXIT trap kills and reaps every process a test started, including workloads
# that outlived their shim.

set -u

MI=$((1024 * 1024))
TIMEOUT=${USWAP_TEST_TIMEOUT:-60}
# bound of a workload's whole op phase: a full scan of 256 MiB held at 64 MiB refaults
# 3/4 of it, several times (CTest's TIMEOUT for these tests is 300 s)
RUN_TIMEOUT=${USWAP_TEST_RUN_TIMEOUT:-200}
TARGET=64M
TARGET_BYTES=$((64 * MI))
# the pager works in batches: allow 15% above the target
TARGET_SLACK=$((TARGET_BYTES * 115 / 100))

T=""
STATUS=""
SHIM_PID=""
EXIT_RC=""
READY_PID=""
READY_PIDS=()
TRACKED=() # "pid:starttime", so cleanup never kills a recycled pid
CLEANUP_HOOKS=() # commands cleanup runs after every process is gone (e.g. umount)
DUMP_FILES=() # "PATH:LABEL" entries fail also shows (e.g. a container's output)
DUMP_PID_HOOKS=() # commands that print more pids whose threads fail shows (a container's init)

note() { echo "# $*"; }

skip() {
	echo "SKIP: $*"
	exit 77
}

dump_file() {
	[[ -s $1 ]] || return 0
	echo "----- $2 ($1, last 200 lines) -----"
	tail -n 200 "$1"
	echo "----- end of $2 -----"
}

dump_logs() {
	[[ -n $T ]] || return 0
	dump_file "$T/shim.out" "shim and workload stdout/stderr"
	dump_file "$T/workload.out" "workload stdout/stderr"
	dump_file "$T/status.json" "last status"
	dump_file "$T/shim.log" "shim log"
	local entry
	for entry in "${DUMP_FILES[@]}"; do
		dump_file "${entry%%:*}" "${entry#*:}"
	done
	# the hook's pagers (runc tests): their logs go when the container is deleted
	for entry in "${HOOK_RUN:-/nonexistent}"/*.log; do
		[[ -f $entry ]] && dump_file "$entry" "pager log"
	done
	dump_procs
	return 0
}

# dump_procs: every thread of the processes the test tracks, those DUMP_PID_HOOKS print, and
# their descendants: state, wait channel and kernel stack (where a stuck one waits).
dump_procs() {
	local pids=() entry p t
	for entry in "${TRACKED[@]}"; do
		pids+=("${entry%%:*}")
	done
	for entry in "${DUMP_PID_HOOKS[@]}"; do
		# shellcheck disable=SC2207 # pids: words
		pids+=($($entry 2>/dev/null))
	done
	((${#pids[@]})) || return 0
	echo "----- processes -----"
	for p in $(tree_pids "${pids[@]}" | tr ' ' '\n' | sort -nu); do
		echo "pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
		for t in /proc/"$p"/task/*; do
			echo "  tid ${t##*/} $(awk '/^State:/ { print $2 }' "$t/status" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/    /' "$t/stack" 2>/dev/null
		done
		# the pager's own threads: where each one is in its code
		if [[ $(cat "/proc/$p/comm" 2>/dev/null) == uswap-shim ]] && command -v gdb >/dev/null; then
			timeout 30 gdb -p "$p" -batch -nx -ex 'thread apply all bt' 2>/dev/null |
				grep -E '^(Thread|#)' | sed 's/^/    /'
		fi
	done
	echo "----- end of processes -----"
}

fail() {
	echo "FAIL: $*"
	dump_logs
	exit 1
}

# ---- processes ----

# Fields of /proc/PID/stat after the command name (which may hold spaces and parens):
# $1 state, $2 ppid, ..., $20 starttime. Fails if PID is gone.
proc_stat() {
	local line
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	echo "${line##*) }"
}

proc_starttime() {
	local st f
	st=$(proc_stat "$1") || return 1
	read -ra f <<<"$st"
	echo "${f[19]}"
}

# Alive and not a zombie.
is_alive() {
	local st
	st=$(proc_stat "$1") || return 1
	[[ ${st:0:1} != Z && ${st:0:1} != X ]]
}

track() {
	local pid st
	for pid in "$@"; do
		st=$(proc_starttime "$pid") || continue
		TRACKED+=("$pid:$st")
	done
}

# PIDs given and all their descendants, space separated.
tree_pids() {
	local -A kids=()
	local f line pid rest queue=("$@") out=() p c
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${line%% *}
		rest=${line##*) }
		rest=${rest#* }
		kids[${rest%% *}]+="$pid "
	done
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -d /proc/$p ]] || continue
		out+=("$p")
		for c in ${kids[$p]:-}; do
			queue+=("$c")
		done
	done
	echo "${out[*]}"
}

cleanup() {
	local rc=$? entry pid more victims=()
	trap - EXIT INT TERM
	for entry in "${TRACKED[@]}"; do
		pid=${entry%%:*}
		[[ $(proc_starttime "$pid" 2>/dev/null) == "${entry#*:}" ]] || continue
		read -ra more <<<"$(tree_pids "$pid")"
		victims+=("${more[@]}")
	done
	read -ra more <<<"$(jobs -p | tr '\n' ' ')"
	victims+=("${more[@]}")
	if ((${#victims[@]})); then
		kill -KILL "${victims[@]}" 2>/dev/null
	fi
	wait 2>/dev/null
	for entry in "${CLEANUP_HOOKS[@]}"; do
		eval "$entry" || true
	done
	if [[ -n $T && ${USWAP_TEST_KEEP:-0} != 1 ]]; then
		rm -rf "$T"
	elif [[ -n $T ]]; then
		echo "# kept $T"
	fi
	exit "$rc"
}

# Wait until PID (a child of this shell) exits, at most SECS; EXIT_RC gets its status.
# Returns 1 on timeout.
wait_exit() {
	local pid=$1 secs=$2 end=$((SECONDS + $2))
	while is_alive "$pid"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
	wait "$pid"
	EXIT_RC=$?
	[[ $pid == "$SHIM_PID" ]] && SHIM_PID=""
	return 0
}

# Wait until PID (any process) is gone, at most SECS.
wait_gone() {
	local end=$((SECONDS + $2))
	while is_alive "$1"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# Run CMD... every 0.1 s until it succeeds, at most SECS. Returns 1 on timeout and 2 at once
# if the shim started by this test exited meanwhile (nothing will change any more).
poll_until() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		if [[ -n $SHIM_PID ]] && ! is_alive "$SHIM_PID"; then
			"$@" && return 0
			note "the shim (pid $SHIM_PID) exited while waiting for: $*"
			return 2
		fi
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# ---- files and status ----

file_ready() { [[ -s $1 ]]; }

# wait_for FILE TIMEOUT: until FILE exists and is not empty.
wait_for() { poll_until "$2" file_ready "$1"; }

# Wait for a ready file written by a workload: READY_PID gets its first line, READY_PIDS all
# of them; all are tracked for cleanup. Fails the test on timeout.
wait_ready() {
	local file=$1 p
	wait_for "$file" "$TIMEOUT" || fail "no ready file $file within ${TIMEOUT}s"
	mapfile -t READY_PIDS <"$file"
	for p in "${READY_PIDS[@]}"; do
		[[ $p =~ ^[0-9]+$ ]] || fail "bad pid '$p' in ready file $file"
	done
	((${#READY_PIDS[@]})) || fail "empty ready file $file"
	READY_PID=${READY_PIDS[0]}
	track "${READY_PIDS[@]}"
}

# status_get FILE KEY: the value (arrays space separated); fails if missing or unreadable.
status_get() {
	jq -er --arg k "$2" '.[$k] | if type == "array" then map(tostring) | join(" ") else . end' \
		"$1" 2>/dev/null
}

# status_cmp FILE KEY OP VALUE, OP one of lt le eq ge gt (numbers, may be fractional).
status_cmp() {
	local v
	v=$(status_get "$1" "$2") || return 1
	awk -v a="$v" -v op="$3" -v b="$4" 'BEGIN {
		if (a !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) exit 1
		a += 0; b += 0
		if (op == "lt") exit !(a < b); if (op == "le") exit !(a <= b)
		if (op == "eq") exit !(a == b); if (op == "ge") exit !(a >= b)
		if (op == "gt") exit !(a > b); exit 1 }'
}

status_is() { [[ $(status_get "$1" "$2") == "$3" ]]; }

# wait_status FILE KEY OP VALUE TIMEOUT: poll the status file until KEY OP VALUE holds.
wait_status() {
	poll_until "$5" status_cmp "$1" "$2" "$3" "$4" && return 0
	note "last $2 in $1: $(status_get "$1" "$2" || echo '<none>') (wanted $3 $4)"
	return 1
}

wait_status_le() { wait_status "$1" "$2" le "$3" "$4"; }

status_has_pid() {
	local p
	for p in $(status_get "$1" pids); do
		[[ $p == "$2" ]] && return 0
	done
	return 1
}

# ---- memory ----

# RssAnon of one process in bytes (0 once it is gone).
rss_anon() {
	local kb
	kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	echo $((${kb:-0} * 1024))
}

# Sum of RssAnon over the given processes and all their descendants, in bytes.
rss_anon_tree() {
	local p sum=0
	for p in $(tree_pids "$@"); do
		sum=$((sum + $(rss_anon "$p")))
	done
	echo "$sum"
}

rss_tree_le() { (($(rss_anon_tree "${@:2}") <= $1)); }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# Does PID still hold a userfaultfd (or was it traced)? Used after a detach.
has_uffd_fd() {
	local l
	for l in /proc/"$1"/fd/*; do
		[[ $(readlink "$l" 2>/dev/null) == *userfaultfd* ]] && return 0
	done
	return 1
}

tracer_of() { awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---- setup ----

require_root() { [[ $(id -u) == 0 ]] || skip "needs root"; }

# require_uffd [wp]: skip unless the kernel has what the pager needs (and, with wp,
# anonymous write-protect faults).
require_uffd() {
	local out rc
	out=$("$USWAP_WORKLOADS/uffdprobe" "$@" 2>&1)
	rc=$?
	case $rc in
	0) ;;
	77) echo "$out" | grep -q '^SKIP:' && { echo "$out"; exit 77; }
	    skip "userfaultfd unavailable" ;;
	*) fail "uffdprobe exited $rc: $out" ;;
	esac
}

# lib_init [--no-root]: check the environment, make $T, install the cleanup trap.
# shellcheck disable=SC2120
lib_init() {
	local need_root=1
	[[ ${1:-} == --no-root ]] && need_root=0
	[[ -n ${USWAP_SHIM:-} && -x ${USWAP_SHIM:-} ]] ||
		fail "USWAP_SHIM='${USWAP_SHIM:-}' is not an executable"
	[[ -n ${USWAP_WORKLOADS:-} && -d ${USWAP_WORKLOADS:-} ]] ||
		fail "USWAP_WORKLOADS='${USWAP_WORKLOADS:-}' is not a directory"
	if ((need_root)); then
		require_root
		require_uffd
		command -v jq >/dev/null || fail "jq is not installed (a build dependency)"
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/uswap-test.XXXXXX") || fail "mktemp failed"
	STATUS=$T/status.json
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ---- the shim ----

shim_common_args() {
	echo --target "$TARGET" --status "$STATUS" --store "$T/store" --log "$T/shim.log" -v
}

# shim_run CMD [ARG...]: start CMD under `uswap-shim run` in the background (SHIM_PID).
shim_run() {
	# shellcheck disable=SC2046
	"$USWAP_SHIM" run $(shim_common_args) -- "$@" >"$T/shim.out" 2>&1 &
	SHIM_PID=$!
	track "$SHIM_PID"
	note "shim run pid $SHIM_PID: $*"
}

# shim_attach PID: start `uswap-shim attach --pid PID` in the background (SHIM_PID).
shim_attach() {
	# shellcheck disable=SC2046
	"$USWAP_SHIM" attach --pid "$1" $(shim_common_args) >"$T/shim.out" 2>&1 &
	SHIM_PID=$!
	track "$SHIM_PID"
	note "shim attach pid $SHIM_PID -> $1"
}

# under_shim NAME: the pid of the program NAME that `uswap-shim run` started: a child of the
# pager, which is a child of the shim (the keeper), or the keeper's own child once a pager
# that took over is not its parent. Status 1 if there is none.
under_shim() {
	local p
	for p in "$SHIM_PID" $(pgrep -P "$SHIM_PID" -x uswap-shim); do
		pgrep -P "$p" -x "$1" && return 0
	done
	return 1
}

# shim_pager: the pid of the pager itself, the shim's (the keeper's) child.
shim_pager() { pgrep -P "$SHIM_PID" -x uswap-shim | head -n 1; }

# Start memload under the shim with --ready/--result and wait until it is filled.
memload_under_shim() {
	shim_run "$USWAP_WORKLOADS/memload" --ready "$T/ready" --result "$T/result" "$@"
	wait_ready "$T/ready"
	note "memload pid $READY_PID filled"
}

# The access workload $1, started with --mark "$T/mark" --handshake and waiting after "ready",
# runs its timed phase; PHASE_FAULTS gets the faults the pager served meanwhile. Then the
# program verifies every page and exits, and the shim must exit 0.
access_phase() {
	local f0 f1
	f0=$(status_get "$STATUS" faults_total) || fail "no faults_total in $STATUS"
	kill -USR1 "$1"
	poll_until "$RUN_TIMEOUT" grep -qx done "$T/mark" ||
		fail "the timed phase did not end within ${RUN_TIMEOUT}s"
	sleep 0.3 # the status file is written every 100 ms
	f1=$(status_get "$STATUS" faults_total) || fail "no faults_total in $STATUS"
	kill -USR1 "$1"
	expect_shim_exit 0
	grep -q "^access: .*verified=ok" "$T/shim.out" ||
		fail "access did not verify its pages: $(grep -m1 -E '^access|MISMATCH|ERROR' "$T/shim.out")"
	PHASE_FAULTS=$((f1 - f0))
}

# Wait until the pager has evicted something and holds the tree ROOT... at the target:
# in its own status and in /proc. Fails the test otherwise.
wait_at_target() {
	local got
	wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" ||
		fail "no page evicted within ${TIMEOUT}s"
	wait_status_le "$STATUS" rss_anon_bytes "$TARGET_SLACK" "$TIMEOUT" ||
		fail "status rss_anon_bytes not <= $(mib "$TARGET_SLACK") within ${TIMEOUT}s"
	poll_until "$TIMEOUT" rss_tree_le "$TARGET_SLACK" "$@" ||
		fail "RssAnon of the tree ($*) in /proc is $(mib "$(rss_anon_tree "$@")"), not <=" \
			"$(mib "$TARGET_SLACK") within ${TIMEOUT}s"
	for got in "$@"; do
		is_alive "$got" || fail "workload pid $got is gone (at target because it died?)"
	done
	got=$(rss_anon_tree "$@")
	note "at target: /proc RssAnon $(mib "$got"), status rss_anon_bytes" \
		"$(mib "$(status_get "$STATUS" rss_anon_bytes)"), evicted_pages" \
		"$(status_get "$STATUS" evicted_pages)"
}

# The shim's figure and /proc agree: within 10% or 4 MiB.
rss_matches() {
	local proc st diff
	proc=$(rss_anon_tree "$@")
	st=$(status_get "$STATUS" rss_anon_bytes) || return 1
	diff=$((proc > st ? proc - st : st - proc))
	((diff <= 4 * MI || diff * 10 <= proc))
}

# The same once the tree is idle. The status is rewritten every 100 ms, so one written
# during the eviction round that just took the tree below the target still shows the
# round's middle (seen: 72.7 MiB against 62.7): give it a few rewrites to catch up.
check_rss_matches() {
	poll_until 2 rss_matches "$@" ||
		fail "status rss_anon_bytes $(mib "$(status_get "$STATUS" rss_anon_bytes)") but" \
			"/proc says $(mib "$(rss_anon_tree "$@")") for $*"
}

MAX_EVICTIONS=0 MAX_FAULTS=0 MAX_CLEAN=0 MAX_WRITES=0

# max_of VAR FIELD: raise VAR to FIELD of the status file if that is higher.
max_of() {
	local v
	v=$(status_get "$STATUS" "$2") && [[ $v =~ ^[0-9]+$ ]] && ((v > ${!1})) &&
		printf -v "$1" %s "$v"
	return 0
}

# Remember the highest counters seen in the status file (it goes when the shim exits).
sample_status() {
	max_of MAX_EVICTIONS evictions_total
	max_of MAX_FAULTS faults_total
	max_of MAX_CLEAN evictions_clean_total
	max_of MAX_WRITES store_writes_total
}

# expect_shim_exit [WANT [SECS]]: wait for the shim to exit (sampling its status) and check
# its exit status is WANT (default 0) and that no workload reported a mismatch.
expect_shim_exit() {
	local want=${1:-0} secs=${2:-$RUN_TIMEOUT} pid=$SHIM_PID end
	end=$((SECONDS + secs))
	while is_alive "$pid"; do
		((SECONDS < end)) || fail "shim (pid $pid) still running after ${secs}s"
		# a damaged store copy is poisoned, never returned: the workload then dies of
		# SIGBUS; say why at once rather than wait for a timeout
		((${EXPECT_CORRUPT:-0})) || ! grep -q 'checksum mismatch' "$T/shim.log" 2>/dev/null ||
			fail "the pager found a damaged store copy: $(grep -m1 'checksum mismatch' "$T/shim.log")"
		sample_status
		sleep 0.2
	done
	sample_status
	wait_exit "$pid" 1 || fail "shim (pid $pid) did not go away"
	note "shim exited $EXIT_RC (max evictions_total $MAX_EVICTIONS, faults_total $MAX_FAULTS)"
	((EXIT_RC == want)) || fail "shim exited $EXIT_RC, expected $want"
	no_mismatch
}

# ---- a program that maps over or discards the pager's own memory (stash_clobber,
# runner_clobber, scratch_dontneed) ----

# clobber_start: start tests/workloads/remap --hole --clobber $T/clobber (64 MiB), attach the
# pager to it (WL) and wait until it is held at the target.
clobber_start() {
	"$USWAP_WORKLOADS/remap" --hole --size 64 --ready "$T/ready" --clobber "$T/clobber" \
		>"$T/workload.out" 2>&1 &
	WL=$!
	track "$WL"
	wait_ready "$T/ready"
	shim_attach "$WL"
	wait_at_target "$WL"
}

# armed_addr NAME: the address of the pager's NAME (stash, scratch, runner) in WL, from its
# log, into ARMED; fails when the log does not give it.
armed_addr() {
	ARMED=$(sed -n "s/.*pid $WL: armed (.*$1 \([0-9a-fx]*\)[,)].*/\1/p" "$T/shim.log" | head -n 1)
	[[ -n $ARMED ]] || fail "no $1 address in the pager's log"
}

# clobber_run ADDR [LEN [copy|dontneed]]: WL maps LEN bytes (default 16 MiB) over ADDR (copy:
# a non-executable copy of what was there; dontneed: MADV_DONTNEED there instead), then maps
# its hole back and fills it; it must exit 0 with every page verified.
clobber_run() {
	echo "$*" >"$T/clobber"
	note "remap pid $WL held at $(mib "$(rss_anon "$WL")"); SIGUSR1: clobber $*"
	kill -USR1 "$WL"
	wait_exit "$WL" "$TIMEOUT" ||
		fail "remap did not finish within ${TIMEOUT}s: $(tail -n 3 "$T/shim.log")"
	no_mismatch
	((EXIT_RC == 0)) || fail "remap exited $EXIT_RC: $(cat "$T/workload.out")"
}

no_mismatch() {
	local f
	for f in "$T/shim.out" "$T/workload.out"; do
		[[ -f $f ]] || continue
		if grep -q 'MISMATCH' "$f"; then
			fail "workload reported a mismatch: $(grep -m1 MISMATCH "$f")"
		fi
	done
}

# memload's --result file: its exit status, also when it outlived its shim.
expect_result() {
	wait_for "$T/result" "$TIMEOUT" || fail "memload wrote no result within ${TIMEOUT}s"
	[[ $(<"$T/result") == 0 ]] || fail "memload exited $(<"$T/result")"
}

# A standard scenario: fill SIZE MiB under the shim, wait until evicted, then SIGUSR1 the
# workload to run OPS; the shim must exit 0 (memload's own status). A test may define
# scenario_check (run after that, before the PASS line) for checks of its own.
scenario_ops() {
	local size=$1 ops=$2
	lib_init
	memload_under_shim --size "$size" --wait --ops "$ops"
	wait_at_target "$READY_PID"
	status_has_pid "$STATUS" "$READY_PID" ||
		fail "pid $READY_PID not in the status pids: $(status_get "$STATUS" pids)"
	check_rss_matches "$READY_PID"
	note "SIGUSR1 -> memload: ops $ops"
	kill -USR1 "$READY_PID"
	expect_shim_exit 0
	expect_result
	# what the ops measured on the way (counts, RssAnon while blocked)
	grep -E '^memload: [a-z_/ -]+:' "$T/shim.out" | sed 's/^/# /' || true
	# a test's own checks of the shim's log, if it defines them
	if declare -F scenario_check >/dev/null; then
		scenario_check
	fi
	echo "PASS: ops $ops on $size MiB evicted to $TARGET"
}

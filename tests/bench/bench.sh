#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# uswap against kernel swap: the same workloads (tests/workloads/access: seq, random, hotcold,
# write, stride; redis: redis-server answering redis-benchmark GETs) run with no limit, under
# uswap-shim with a target of twice the working set (uswap-idle: the pager's cost when it
# evicts nothing), under a memory cgroup limit with a swapfile on the disk of the uswap store,
# under the same limit with zram swap (when a zram device can be made here), and under
# uswap-shim with the same target; one table with the ratios uswap/kernel of that run. Then
# eviction throughput (evict): a filled working set pushed down to the target by
# uswap-shim attach and by lowering the cgroup limit, in MiB/s. Also draws results.svg.
# Usage: sudo tests/bench/bench.sh [--quick] [--size MIB] [--target MIB] [--out DIR]
#                                  [--workloads LIST]
#   --quick       256 MiB held at 64 MiB, fewer touches (about 15 minutes here)
#   --size MIB    working set (default 512; --quick 256)
#   --target MIB  cgroup limit and uswap target (default 128; --quick 64)
#   --out DIR     where results.{tsv,md,txt,svg}, redis.tsv, evict.tsv and logs/ go
#                 (default: a new temp dir)
#   --workloads L comma list of seq,random,hotcold,write,stride,redis,evict (default: all)
# redis needs redis-server, redis-cli and redis-benchmark (apt-get install redis-server
# redis-tools); without them it is left out with a note, the rest still runs.
# Environment: USWAP_BUILD_DIR (default build/), USWAP_BENCH_TMP (where the swapfile and the
# uswap store go, default /var/tmp; keep it on the disk you want to measure),
# USWAP_BENCH_RUN_TIMEOUT (seconds before one run counts as hung and is killed, default 900).
# Needs root, no active swap (it refuses to touch existing swap), a cgroup v1 memory
# controller for the kernel columns. It turns everything it sets up off again on any exit.
# Timings depend on the machine: this is not a test and CTest does not run it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$root/tests/bench/bench_lib.sh"
MI=1048576
RUN_TIMEOUT=${USWAP_BENCH_RUN_TIMEOUT:-900}
CG_ROOT=/sys/fs/cgroup/memory
ALL_WORKLOADS=(seq random hotcold write stride redis evict)
WORKLOADS=("${ALL_WORKLOADS[@]}")

# the header comment, from its third line to the first line that is not a comment
usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; }

quick=0 size="" target="" out=""
while (($#)); do
	case $1 in
	--quick) quick=1; shift ;;
	--size | --target | --out | --workloads)
		(($# >= 2)) || { echo "bench.sh: $1 needs a value" >&2; exit 2; }
		case $1 in
		--size) size=$2 ;;
		--target) target=$2 ;;
		--out) out=$2 ;;
		--workloads)
			IFS=, read -ra WORKLOADS <<<"$2"
			for wl in "${WORKLOADS[@]}"; do
				[[ " ${ALL_WORKLOADS[*]} " == *" $wl "* ]] ||
					{ echo "bench.sh: unknown workload '$wl' (${ALL_WORKLOADS[*]})" >&2; exit 2; }
			done
			;;
		esac
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if ((quick)); then
	size=${size:-256} target=${target:-64}
else
	size=${size:-512} target=${target:-128}
fi
[[ $size =~ ^[1-9][0-9]*$ && $target =~ ^[1-9][0-9]*$ ]] ||
	{ echo "bench.sh: --size and --target take a whole number of MiB" >&2; exit 2; }
((target < size)) || { echo "bench.sh: --target must be below --size" >&2; exit 2; }
# relative to where it was called from, not to the repository the script changes into
[[ -z $out || $out == /* ]] || out=$PWD/$out
[[ $(id -u) == 0 ]] || die "run as root (swapon, memory cgroups, ptrace of the workload)"
for tool in jq mkswap swapon swapoff fallocate pgrep; do
	command -v "$tool" >/dev/null || die "$tool is missing (tests/deps.sh installs jq)"
done

# Page touches of each workload's timed phase, as a multiple of the working set's pages: seq
# makes several passes; random covers the set once; hotcold needs more to weigh its cold 10%;
# stride reads every 8th page, then every 8th from the next page on, and so on (access's
# default --stride).
# redis: GET requests, as a multiple of its keys (one 4000-byte value per 4 KiB page).
declare -A PASSES
if ((quick)); then
	PASSES=([seq]=2 [random]=1 [hotcold]=2 [write]=1 [stride]=1 [redis]=2)
else
	PASSES=([seq]=3 [random]=2 [hotcold]=4 [write]=2 [stride]=2 [redis]=3)
fi
# none and uswap-idle page nothing: their phases touch this many times more, or a phase of a
# few milliseconds would measure noise instead of the idle pager's cost
declare -A UNPAGED=([access]=20 [redis]=4)
IDLE_ROUNDS=7 # pairs of runs of none and uswap-idle; the medians are reported
# random and hot/cold sit closest to their goals, and one swapfile run of them varies by a
# fifth: they run this many times under swapfile and uswap, and their uswap/swapfile ratio is
# the median of the pairs'
PAIRED=(random hotcold)
PAIRED_ROUNDS=3
EVICT_REPS=3  # eviction measurements per config; the median is reported

# ---- state torn down by cleanup, whatever happens ----

work="" swapfile="" swapfile_on=0 cg="" zram_id="" zram_on=0 zram_loaded=0
run_pid="" run_wpid="" client_pid="" attach_pid="" checked_swap=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop_run
	cg_remove
	swapfile_off
	zram_remove
	[[ -n $work ]] && rm -rf "$work"
	if ((checked_swap)) && (($(wc -l </proc/swaps) > 1)); then
		say "WARNING: swap still active:"
		cat /proc/swaps >&2
		rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- preflight ----

if (($(wc -l </proc/swaps) > 1)); then
	say "swap is already active on this machine; the benchmark switches swap on and off and"
	say "will not disturb it. Turn it off first (swapoff -a) or run elsewhere:"
	cat /proc/swaps >&2
	exit 1
fi
checked_swap=1

cd "$root"
build=${USWAP_BUILD_DIR:-build}
if [[ ! -f $build/CMakeCache.txt ]]; then
	cmake -S . -B "$build" >/dev/null
fi
cmake --build "$build" -j2 >/dev/null || die "build failed (cmake --build $build)"
shim=$build/shim/uswap-shim
access=$build/tests/workloads/access
[[ -x $shim && -x $access ]] || die "$shim or $access missing after the build"

tmp_base=${USWAP_BENCH_TMP:-/var/tmp}
work=$(mktemp -d "$tmp_base/uswap-bench.XXXXXX")
if [[ -z $out ]]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/uswap-bench-results.XXXXXX")
fi
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
rows=$out/runs.tsv redis_rows=$out/redis.runs.tsv evict_rows=$out/evict.runs.tsv
: >"$rows"
: >"$redis_rows"
: >"$evict_rows"

fs_of() { stat -f -c %T "$1"; }
dev_of() { stat -c %d "$1"; }
if [[ $(dev_of "$work") != $(dev_of "$root") ]]; then
	say "note: $work is not on the repository's filesystem; swapfile and store share $tmp_base"
fi

read -r load_start _ </proc/loadavg
if awk -v l="$load_start" 'BEGIN { exit !(l > 0.5) }'; then
	say "note: load average $load_start: other work on this machine skews every timing"
fi
others=$(pgrep -c -x uswap-shim || true)
if ((others > 0)); then
	say "note: $others other uswap-shim process(es) running: they share the CPUs and the disk"
fi

declare -A SKIP # config or workload -> why it is left out
if [[ ! -f $CG_ROOT/memory.limit_in_bytes ]]; then
	SKIP[swapfile]="no cgroup v1 memory controller at $CG_ROOT"
	SKIP[zram]=${SKIP[swapfile]}
fi
wants() { [[ " ${WORKLOADS[*]} " == *" $1 "* ]]; }
if wants redis && ! command -v redis-benchmark >/dev/null && command -v apt-get >/dev/null; then
	# one command sets up a fresh machine: the redis workload's tools come from the archive
	say "installing redis-server and redis-tools for the redis workload"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends redis-server redis-tools; } >/dev/null 2>&1 ||
		say "apt-get install redis-server redis-tools failed"
fi
if wants redis; then
	for tool in redis-server redis-cli redis-benchmark; do
		if ! command -v "$tool" >/dev/null; then
			SKIP[redis]="$tool is missing (apt-get install redis-server redis-tools)"
			say "redis left out: ${SKIP[redis]}"
			break
		fi
	done
fi

# ---- one run ----

# Per-run results, reset by new_run.
declare -A R

# Starts the record of one run; $1 its config.
new_run() {
	R=([phase_max_kib]=0 [run_max_kib]=0 [in]="" [out]="" [p50]="" [p99]="" [state]=""
		[settle_s]=0 [run_peak]=0 [stopped]="" [oom0]=0 [oom_killed]=0 [steal_pct]="")
	rm -f "$work/mark" "$work"/status*.json
	if kernel_cfg "$1"; then
		R[oom0]=$(oom_kills)
		echo 0 >"$cg/memory.max_usage_in_bytes" # a peak of the run before is not this one's
	fi
}

# One sample of the program's RssAnon (none, uswap: every 100 ms; the kernel's peaks come
# from the cgroup), into the run's peak and, while $2 is 1, the phase's.
sample_res() {
	kernel_cfg "$1" && return 0
	if rss_anon "$run_wpid"; then
		((RSS_KIB > R[run_max_kib])) && R[run_max_kib]=$RSS_KIB
		(($2 && RSS_KIB > R[phase_max_kib])) && R[phase_max_kib]=$RSS_KIB
	fi
	if uswap_cfg "$1" && [[ -s $work/status.json ]]; then
		cp "$work/status.json" "$work/status.last.json" 2>/dev/null || true
	fi
	return 0
}

# Before the timed phase: a pager gets time to reach its target (the kernel limit already
# holds), then the counters of the phase start.
before_phase() {
	local cfg=$1 deadline t0
	local slack=$((target * 1024 + (target * 1024 / 20 > 2048 ? target * 1024 / 20 : 2048)))
	if [[ $cfg == uswap ]]; then
		deadline=$((SECONDS + 10)) t0=$EPOCHREALTIME
		while rss_anon "$run_wpid" && ((RSS_KIB > slack && SECONDS < deadline)); do
			sleep 0.05
		done
		R[settle_s]=$(elapsed "$t0")
	fi
	if uswap_cfg "$cfg"; then
		cp "$work/status.json" "$work/status.start.json" 2>/dev/null || true
	fi
	if kernel_cfg "$cfg"; then
		R[run_peak]=$(<"$cg/memory.max_usage_in_bytes")
		echo 0 >"$cg/memory.max_usage_in_bytes"
	fi
	vmstat_swap
	majflt "$run_wpid"
	R[in0]=${R[pswpin]} R[out0]=${R[pswpout]} R[mj0]=${R[majflt]}
	cpu_ticks c0
}

# After the timed phase: counters that cover the phase alone (the program waits meanwhile).
after_phase() {
	local cfg=$1 peak
	cpu_ticks c1
	R[steal_pct]=$(awk -v s=$((R[c1_steal] - R[c0_steal])) -v t=$((R[c1_total] - R[c0_total])) \
		'BEGIN { if (t > 0) printf "%.1f", 100 * s / t }')
	vmstat_swap
	if kernel_cfg "$cfg"; then
		peak=$(<"$cg/memory.max_usage_in_bytes")
		R[phase_max_kib]=$((peak / 1024))
		# the workload's major faults: pswpin leaves out the zero pages the kernel keeps
		# without I/O (1 in 16 of the pattern) and counts what swap readahead read
		majflt "$run_wpid"
		R[in]=$((R[majflt] - R[mj0])) R[out]=$((R[pswpout] - R[out0]))
		say "  $cfg: $((R[pswpin] - R[in0])) pages read from swap (pswpin), ${R[in]} major faults"
	fi
	if [[ $cfg == zram ]]; then
		local orig compr
		read -r orig compr _ <"/sys/block/zram$zram_id/mm_stat"
		if ((orig > ZRAM_ORIG)); then
			ZRAM_ORIG=$orig ZRAM_COMPR=$compr
		fi
	fi
	if uswap_cfg "$cfg"; then
		# the status is rewritten every 100 ms: wait for one written after the last fault
		sleep 0.3
		cp "$work/status.json" "$work/status.end.json" 2>/dev/null || true
		if status_fields s "$work/status.start.json" && status_fields e "$work/status.end.json"; then
			R[in]=$((R[e_faults] - R[s_faults])) R[out]=$((R[e_evictions] - R[s_evictions]))
			R[p50]=${R[e_p50]} R[p99]=${R[e_p99]} R[state]=${R[e_state]}
		else
			R[state]=no-status
		fi
	fi
}

# After the program exited: the kernel's peak and OOM kills, the pager's longest stop.
end_run() {
	local cfg=$1 end_peak
	if kernel_cfg "$cfg"; then
		end_peak=$(<"$cg/memory.max_usage_in_bytes")
		((end_peak > R[run_peak])) && R[run_peak]=$end_peak
		R[run_max_kib]=$((R[run_peak] / 1024))
		R[oom_killed]=$(($(oom_kills) > R[oom0]))
	fi
	if uswap_cfg "$cfg" && status_fields l "$work/status.last.json"; then
		R[stopped]=${R[l_stopped_max]}
	fi
	return 0
}

# Appends the row of workload $1 under config $2 to $rows; the program's own numbers in A.
add_row() {
	local wl=$1 cfg=$2
	local t=$target
	[[ $cfg == uswap-idle ]] && t=$((size * 2))
	printf '%s\t' "$wl" "$cfg" "$size" "$t" "${A[touches]:-}" "${A[seconds]:-}" \
		"${A[ns_per_touch]:-}" "${A[mib_per_s]:-}" "${A[fill_seconds]:-}" "${R[settle_s]}" \
		"$((R[phase_max_kib] / 1024))" "$((R[run_max_kib] / 1024))" "${A[vm_hwm_mib]:-}" \
		"${R[in]}" "${R[out]}" "${R[p50]}" "${R[p99]}" "${R[stopped]}" "${R[state]}" >>"$rows"
	printf '%s\t%s\n' "${A[verified]:-}" "${R[steal_pct]}" >>"$rows"
}

# The verdict of a run into A[verified]: the kernel's OOM kill is its result, not a failure
# of the benchmark (its row says so); $3 = exit status, $4 = what the run itself found.
verdict() {
	if ((R[oom_killed])); then
		say "$1 under $2: the kernel OOM-killed the workload in its cgroup"
		A[verified]=oom-killed
	elif (($3 != 0)) || [[ $4 != ok ]]; then
		say "FAILED: $1 under $2 exited $3 ($4); see its logs in $out/logs"
		A[verified]="FAILED(rc=$3${4:+,$4})"
		FAILED=1
	else
		A[verified]=ok
	fi
}

# Runs one access workload under one config.
run_one() {
	local wl=$1 cfg=$2 log=$out/logs/$1-$2 mark=$work/mark
	local touches=$((size * MI * PASSES[$1] / 4096)) m="" seen_ready=0 seen_done=0 in_phase=0
	local rc=0 line kv deadline=$((SECONDS + RUN_TIMEOUT))
	[[ $cfg == none || $cfg == uswap-idle ]] && touches=$((touches * UNPAGED[access]))
	new_run "$cfg"
	say "$wl under $cfg ..."
	start_cfg "$cfg" "$log" "$access" --size "$size" --pattern "$wl" --touches "$touches" \
		--mark "$mark" --handshake
	while kill -0 "$run_pid" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			say "$wl under $cfg: no exit after ${RUN_TIMEOUT}s, killed"
			stop_run
			rc=124
			break
		fi
		sample_res "$cfg" "$in_phase"
		m=""
		[[ -s $mark ]] && read -r m <"$mark"
		if [[ $m == ready ]] && ((!seen_ready)); then
			seen_ready=1
			before_phase "$cfg"
			in_phase=1
			kill -USR1 "$run_wpid" 2>/dev/null || true
		elif [[ $m == "done" ]] && ((!seen_done)); then
			seen_done=1
			# the last sample of the phase: taken while the workload waits
			sample_res "$cfg" 1
			in_phase=0
			after_phase "$cfg"
			kill -USR1 "$run_wpid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	if [[ -n $run_pid ]]; then
		wait "$run_pid" || rc=$?
	fi
	run_pid="" run_wpid=""
	end_run "$cfg"

	line=$(grep -m1 '^access: ' "$log.out" || true)
	declare -A A=()
	for kv in ${line#access: }; do
		A[${kv%%=*}]=${kv#*=}
	done
	verdict "$wl" "$cfg" "$rc" "${A[verified]:-no-result}"
	add_row "$wl" "$cfg"
}

# ---- redis ----

# One 4000-byte value per 4 KiB page: jemalloc puts it in a 4 KiB slot with its header.
REDIS_VALUE=4000 REDIS_KEYS=$((size * MI / 4096)) REDIS_CLIENTS=16
REDIS_DIGEST="" # DEBUG DIGEST of the data as filled, the same under every config
REDIS_OPTS=()
if [[ -z ${SKIP[redis]:-} ]] && wants redis; then
	redis_major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
	# DEBUG is off by default from Redis 7 on (and the option unknown before)
	if ((${redis_major:-0} >= 7)); then
		REDIS_OPTS=(--enable-debug-command local)
	fi
fi

# The fill, made once so that every config holds the same data: SET of key:000000000000 ..
# (redis-benchmark -r's names) to base64 of /dev/urandom, which neither zram nor the pager's
# same-filled pages make cheaper, as Redis protocol for redis-cli --pipe.
redis_fill_make() {
	head -c $((REDIS_KEYS * REDIS_VALUE * 3 / 4)) /dev/urandom | base64 -w $REDIS_VALUE |
		awk -v n=$REDIS_VALUE '{
			printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", NR - 1, n, $0
		}' >"$work/redis-fill.resp"
}

# Runs redis-server under one config: fill, DEBUG DIGEST, the timed GET phase of
# redis-benchmark, DEBUG DIGEST again (data that came back from eviction must be unchanged,
# and the same as under every other config).
redis_one() {
	local cfg=$1 log=$out/logs/redis-$1 dir=$work/redis port pid="" rc=0 t0 d0="" d1="" why="" i
	local requests=$((REDIS_KEYS * PASSES[redis])) deadline=$((SECONDS + RUN_TIMEOUT))
	local -a cli f=()
	[[ $cfg == none || $cfg == uswap-idle ]] && requests=$((requests * UNPAGED[redis]))
	declare -A A=([touches]=$requests)
	new_run "$cfg"
	say "redis under $cfg ..."
	rm -rf "$dir"
	mkdir -p "$dir"
	port=$(free_port) || die "no free TCP port found on 127.0.0.1"
	cli=(redis-cli -h 127.0.0.1 -p "$port")
	start_cfg "$cfg" "$log" redis-server --bind 127.0.0.1 --port "$port" --save "" \
		--appendonly no --dir "$dir" --logfile "$log.server.log" "${REDIS_OPTS[@]}"
	for _ in {1..100}; do
		pid=$("${cli[@]}" info server 2>/dev/null |
			sed -n 's/^process_id:\([0-9]*\).*/\1/p') || true
		[[ -n $pid ]] && break
		kill -0 "$run_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ $pid != "$run_wpid" ]]; then
		why=no-server
	else
		t0=$EPOCHREALTIME
		"${cli[@]}" --pipe <"$work/redis-fill.resp" >"$log.fill" 2>&1 || true
		A[fill_seconds]=$(elapsed "$t0")
		grep -q "errors: 0, replies: $REDIS_KEYS\$" "$log.fill" || why=fill
		d0=$("${cli[@]}" debug digest) || true
		REDIS_DIGEST=${REDIS_DIGEST:-$d0}
		sample_res "$cfg" 0
		before_phase "$cfg"
		redis-benchmark -h 127.0.0.1 -p "$port" -t get -r "$REDIS_KEYS" -n "$requests" \
			-c $REDIS_CLIENTS --csv >"$log.bench" 2>&1 &
		client_pid=$!
		while kill -0 "$client_pid" 2>/dev/null && ((SECONDS < deadline)); do
			sample_res "$cfg" 1
			sleep 0.1
		done
		kill -KILL "$client_pid" 2>/dev/null && why=timeout
		wait "$client_pid" || why=${why:-benchmark}
		client_pid=""
		sample_res "$cfg" 1
		after_phase "$cfg"
		d1=$("${cli[@]}" debug digest) || true
		if [[ -z $why && (! $d0 =~ ^[0-9a-f]{40}$ || $d1 != "$d0" || $d0 != "$REDIS_DIGEST") ]]; then
			why=digest
		fi
		rss_anon "$run_wpid" VmHWM && A[vm_hwm_mib]=$((RSS_KIB / 1024))
		"${cli[@]}" shutdown nosave >/dev/null 2>&1 || true
	fi
	for ((i = 0; i < 100; i++)); do
		kill -0 "$run_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$run_pid" 2>/dev/null; then
		stop_run
		rc=124
	else
		wait "$run_pid" || rc=$?
	fi
	run_pid="" run_wpid=""
	end_run "$cfg"

	# "GET","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95..","p99..","max.."
	IFS=, read -ra f < <(sed -n 's/"//g; s/^GET,//p' "$log.bench" 2>/dev/null) || true
	if [[ -n ${f[0]:-} ]]; then
		A[seconds]=$(awk -v n="$requests" -v r="${f[0]}" 'BEGIN { printf "%.3f", n / r }')
		A[ns_per_touch]=$(awk -v r="${f[0]}" 'BEGIN { printf "%.1f", 1e9 / r }')
		A[mib_per_s]=$(awk -v r="${f[0]}" -v n=$REDIS_VALUE 'BEGIN { printf "%.1f", r * n / 1048576 }')
	else
		why=${why:-no-result}
	fi
	verdict redis "$cfg" "$rc" "${why:-ok}"
	add_row redis "$cfg"
	printf '%s\t' "$cfg" "$REDIS_KEYS" "$requests" "$REDIS_CLIENTS" "${f[0]:-}" "${f[1]:-}" \
		"${f[3]:-}" "${f[5]:-}" "${f[6]:-}" "$d0" "$d1" >>"$redis_rows"
	printf '%s\n' "${A[verified]}" >>"$redis_rows"
}

# ---- eviction throughput ----

# An access workload fills the working set (7 pages in 8 hold data, 1 in 8 is zero or
# same-filled) and waits; then uswap-shim attach --target, or the cgroup limit lowered from
# none to the target (the write returns once memcg reclaim got there), pushes it down.
# Seconds: from the attach or the write until its RssAnon is at most the target. CPU: the
# pager's threads (or the writing shell: memcg reclaim runs in its context) plus the
# workload's (uswap's MOVEs and madvise are run by its threads). Then the workload verifies
# every page. One row per repetition into evict.tsv.
evict_one() {
	local cfg=$1 rep log mark=$work/mark r0 r1 t0 t1 cpu wcpu0 written rc why lim=$((target * MI))
	local line deadline
	for ((rep = 1; rep <= EVICT_REPS; rep++)); do
		log=$out/logs/evict-$cfg-$rep rc=0 why="" cpu="" written=""
		say "eviction under $cfg ($rep of $EVICT_REPS) ..."
		new_run "$cfg"
		if kernel_cfg "$cfg"; then
			echo -1 >"$cg/memory.limit_in_bytes"
			start_cfg "$cfg" "$log" "$access" --size "$size" --touches 1 --mark "$mark" --handshake
		else
			rm -rf "$work/store"
			start_cfg none "$log" "$access" --size "$size" --touches 1 --mark "$mark" --handshake
		fi
		wait_mark "$mark" ready 120 || die "eviction under $cfg: the fill never ended (see $log.out)"
		rss_anon "$run_wpid"
		r0=$RSS_KIB
		wcpu0=$(cpu_ns "$run_wpid")
		vmstat_swap
		R[out0]=${R[pswpout]}
		t0=$EPOCHREALTIME
		if kernel_cfg "$cfg"; then
			# shellcheck disable=SC2030 # ns is the subshell's own
			cpu=$(echo "$lim" >"$cg/memory.limit_in_bytes" && read -r ns _ </proc/self/schedstat &&
				echo "$ns") || why=limit-write
		else
			"$shim" attach --pid "$run_wpid" --target "${target}M" --store "$work/store" \
				--status "$work/status.json" --log "$log.shim.log" >"$log.shim.out" 2>&1 &
			attach_pid=$!
		fi
		deadline=$((SECONDS + 120))
		while ((SECONDS < deadline)); do
			if rss_anon "$run_wpid"; then
				((RSS_KIB > target * 1024)) || break
			elif ! kill -0 "$run_wpid" 2>/dev/null; then
				break
			fi
			sleep 0.01
		done
		t1=$EPOCHREALTIME r1=$RSS_KIB
		((r1 <= target * 1024)) || why=${why:-target-not-reached}
		if [[ -n $attach_pid ]]; then
			# the shim (the keeper) and its pager
			cpu=$(($(cpu_ns "$attach_pid") +
				$(cpu_ns "$(pgrep -P "$attach_pid" -x uswap-shim | head -n 1)")))
		fi
		cpu=$((${cpu:-0} + $(cpu_ns "$run_wpid") - wcpu0))
		if kernel_cfg "$cfg"; then
			vmstat_swap
			written=$((R[pswpout] - R[out0]))
		else
			sleep 0.3 # a status written after the last eviction
			status_fields x "$work/status.json" && written=${R[x_writes]}
		fi
		kill -USR1 "$run_wpid" 2>/dev/null || true
		wait_mark "$mark" "done" 60 && kill -USR1 "$run_wpid" 2>/dev/null
		wait "$run_pid" || rc=$?
		run_pid="" run_wpid=""
		if [[ -n $attach_pid ]]; then
			stop_run
		fi
		line=$(grep -m1 '^access: ' "$log.out" || true)
		[[ $line == *" verified=ok "* ]] || why=${why:-verify}
		declare -A A=()
		verdict evict "$cfg" "$rc" "${why:-ok}"
		awk -v OFS='\t' -v c="$cfg" -v rep="$rep" -v s="$size" -v t="$target" -v r0="$r0" \
			-v r1="$r1" -v t0="$t0" -v t1="$t1" -v cpu="$cpu" -v w="$written" -v v="${A[verified]}" '
			BEGIN {
				mib = (r0 - r1) / 1024
				sec = t1 - t0
				printf "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t%s\t%s\n", c, rep,
					s, t, r0 / 1024, r1 / 1024, sec, cpu / 1e9, mib / sec,
					(cpu > 0 ? mib / (cpu / 1e9) : 0), w, v
			}' >>"$evict_rows"
	done
	if kernel_cfg "$cfg"; then
		echo "$lim" >"$cg/memory.limit_in_bytes"
	fi
}

# One workload under one config (evict: not here).
run_wl() {
	if [[ $1 == redis ]]; then
		[[ -z ${SKIP[redis]:-} ]] && redis_one "$2"
		return 0
	fi
	run_one "$1" "$2"
}

# Every workload under one paging config (swapfile, zram, uswap), eviction included; none
# and uswap-idle run in pairs below and evict nothing.
run_config() {
	local cfg=$1 wl
	for wl in "${WORKLOADS[@]}"; do
		if [[ $wl == evict ]]; then
			evict_one "$cfg"
		else
			run_wl "$wl" "$cfg"
		fi
	done
}

# ---- the runs ----

FAILED=0
ZRAM_ALGO="" ZRAM_ORIG=0 ZRAM_COMPR=0
say "working set ${size} MiB, target ${target} MiB; swapfile and store in $work ($(fs_of "$work"))"
say "results in $out"
if wants redis && [[ -z ${SKIP[redis]:-} ]]; then
	redis_fill_make
fi

# the idle pager's cost is a few percent at most, less than one run varies on a shared
# machine (a scan's time moves by a third from one run to the next): each workload runs
# under none and uswap-idle back to back, IDLE_ROUNDS pairs, which of the two goes first
# alternating; the report keeps the median run of each and, for the idle overhead, the median
# of the pairs' ratios, which the machine's drift between pairs does not move
for ((round = 0; round < IDLE_ROUNDS; round++)); do
	for wl in "${WORKLOADS[@]}"; do
		[[ $wl == evict ]] && continue
		if ((round % 2)); then
			run_wl "$wl" uswap-idle
			run_wl "$wl" none
		else
			run_wl "$wl" none
			run_wl "$wl" uswap-idle
		fi
	done
done

if [[ -z ${SKIP[swapfile]:-} ]]; then
	cg_setup
	if swapfile_setup; then
		run_config swapfile
		swapfile_off
		rm -f "$swapfile"
	else
		SKIP[swapfile]="swapon of a swapfile in $work failed"
	fi
fi

if [[ -z ${SKIP[zram]:-} ]] && zram_setup; then
	run_config zram
	zram_remove
fi
cg_remove
[[ -n ${SKIP[zram]:-} ]] && say "${SKIP[zram]}"

run_config uswap

# the other rounds of PAIRED: swapfile and uswap back to back, which first alternating
if [[ -z ${SKIP[swapfile]:-} ]] && ((PAIRED_ROUNDS > 1)); then
	cg_setup
	if swapfile_setup; then
		for ((round = 1; round < PAIRED_ROUNDS; round++)); do
			for wl in "${PAIRED[@]}"; do
				wants "$wl" || continue
				if ((round % 2)); then
					run_wl "$wl" uswap
					run_wl "$wl" swapfile
				else
					run_wl "$wl" swapfile
					run_wl "$wl" uswap
				fi
			done
		done
		swapfile_off
		rm -f "$swapfile"
	fi
	cg_remove
fi

# ---- the report ----

header=(workload config size_mib target_mib touches seconds ns_per_touch mib_per_s fill_s
	settle_s max_res_phase_mib max_res_run_mib vm_hwm_mib pages_in pages_out fault_p50_us
	fault_p99_us stopped_ms_max state verified steal_pct ratio_vs_swapfile ratio_vs_zram
	ratio_vs_none)

# ratio = time per touch over the other config's, same workload, same run (>1: slower):
# uswap over each kernel swap, and every config over no limit; uswap-idle over none, and
# uswap over swapfile where they ran several times: the median of the ratios of the k-th runs
# of each (every run: $rows, read first)
awk -F'\t' -v OFS='\t' -v hdr="${header[*]}" '
	function ratio(a, b) { return a > 0 && b > 0 ? sprintf("%.2f", a / b) : "" }
	function paired(w, cfg_a, cfg_b,    k, m, a, b, t, r) {
		for (k = 1; k <= cnt[w, cfg_a] && k <= cnt[w, cfg_b]; k++)
			if (run[w, cfg_a, k] > 0 && run[w, cfg_b, k] > 0)
				r[++m] = run[w, cfg_a, k] / run[w, cfg_b, k]
		for (a = 2; a <= m; a++)
			for (b = a; b > 1 && r[b] < r[b - 1]; b--) {
				t = r[b]; r[b] = r[b - 1]; r[b - 1] = t
			}
		return m ? sprintf("%.2f", m % 2 ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2) : ""
	}
	FNR == NR {
		run[$1, $2, ++cnt[$1, $2]] = $7
		next
	}
	{ row[FNR] = $0; key[FNR] = $1; cfg[FNR] = $2; ns[$1, $2] = $7; nr = FNR }
	END {
		gsub(/ /, "\t", hdr)
		print hdr
		for (i = 1; i <= nr; i++) {
			rs = rz = rn = ""
			if (cfg[i] == "uswap") {
				rs = paired(key[i], "uswap", "swapfile")
				rz = ratio(ns[key[i], "uswap"], ns[key[i], "zram"])
			}
			if (cfg[i] == "uswap-idle")
				rn = paired(key[i], "uswap-idle", "none")
			else if (cfg[i] != "none")
				rn = ratio(ns[key[i], cfg[i]], ns[key[i], "none"])
			print row[i], rs, rz, rn
		}
	}' "$rows" <(median_runs 2 7 1 20 <"$rows") >"$out/results.tsv"
{
	printf '%s\n' "config	keys	requests	clients	rps	avg_ms	p50_ms	p99_ms	max_ms" \
		"	digest_fill	digest_end	verified" | tr -d '\n'
	echo
	median_runs 1 5 -1 12 <"$redis_rows"
} >"$out/redis.tsv"
{
	echo "config	rep	size_mib	target_mib	before_mib	after_mib	seconds	cpu_s	mib_per_s	mib_per_cpu_s	pages_written	verified"
	cat "$evict_rows"
} >"$out/evict.tsv"

has_zram=0
grep -q $'\tzram\t' "$out/results.tsv" && has_zram=1


summary=()
summary+=("uswap benchmark: $(uname -r), $(nproc) CPUs; working set ${size} MiB, target/limit ${target} MiB")
summary+=("swapfile and uswap store on $(fs_of "$tmp_base") ($(df --output=source "$tmp_base" | tail -n 1)); swappiness $(cat "$CG_ROOT/memory.swappiness" 2>/dev/null || echo '?'), vm.page-cluster $(</proc/sys/vm/page-cluster)")
summary+=("load average (1 min) at the start $load_start, at the end $(cut -d ' ' -f 1 /proc/loadavg) (the runs themselves keep about 1-2 CPUs busy); other uswap-shim processes at the start: $others")
if [[ -f $CG_ROOT/memory.memsw.limit_in_bytes ]]; then
	summary+=("cgroup v1 memory limit (memory.memsw.* present: swap accounted, left unlimited)")
fi
for cfg in swapfile zram redis; do
	if [[ -n ${SKIP[$cfg]:-} ]]; then
		summary+=("$cfg left out: ${SKIP[$cfg]}")
	fi
done
if [[ -n $ZRAM_ALGO ]]; then
	summary+=("zram: $ZRAM_ALGO, at most $((ZRAM_ORIG / MI)) MiB swapped held in $((ZRAM_COMPR / MI)) MiB (the pattern is mostly incompressible)")
fi
if grep -q $'\toom-killed\t' "$out/results.tsv"; then
	summary+=("oom-killed: the kernel OOM-killed the workload in its cgroup (memcg reclaim gave up while swapping)")
fi
if [[ -z ${SKIP[swapfile]:-} ]] && ((PAIRED_ROUNDS > 1)); then
	summary+=("${PAIRED[*]}: $PAIRED_ROUNDS runs each under swapfile and uswap (after the first, back to back, which first alternates); the rows show the median run, uswap/swapfile is the median of the ratios of the k-th runs")
fi
summary+=("none and uswap-idle: $IDLE_ROUNDS pairs of runs, each workload under both back to back (which first alternates); the rows show the median run, vs none of uswap-idle is the median of the pairs' ratios (every run: runs.tsv, redis.runs.tsv)")
summary+=("ns/touch: wall time of the timed phase per page touched (a touch reads and checks, or writes, 4 KiB); redis: per GET of a random 4000-byte value ($REDIS_CLIENTS clients); none and uswap-idle make ${UNPAGED[access]}x the touches (redis: ${UNPAGED[redis]}x the requests) so that their phases last long enough to compare")
summary+=("max res: kernel = the cgroup's max_usage_in_bytes; none/uswap = RssAnon sampled every 100 ms (results.tsv: VmHWM too); phase = timed phase, run = with the fill")
summary+=("ratios: ns/touch over that of no limit (vs none) and uswap's over the kernel's (>1: slower); pages in/out during the phase: kernel = the workload's major faults (its pswpin leaves out the zero pages it keeps without I/O and counts readahead; the log has both) / pswpout, uswap = faults/evictions")
steal=$(awk -F'\t' 'NR > 1 && $21 != "" {
		if (!($2 in lo)) { order[++n] = $2; lo[$2] = hi[$2] = $21 }
		if ($21 + 0 < lo[$2] + 0) lo[$2] = $21
		if ($21 + 0 > hi[$2] + 0) hi[$2] = $21
	}
	END {
		for (i = 1; i <= n; i++) {
			c = order[i]
			printf "%s%s %s%%", (i > 1 ? ", " : ""), c, (lo[c] == hi[c] ? lo[c] : lo[c] "-" hi[c])
		}
	}' "$out/results.tsv")
if [[ -n $steal ]]; then
	summary+=("CPU steal during the timed phases (vCPU time the hypervisor gave to others, from /proc/stat; above a few % the timings of that row are the host's more than ours): $steal")
fi
idle=$(awk -F'\t' '$2 == "uswap-idle" && $24 != "" { printf "%s%s %s", n++ ? ", " : "", $1, $24 }' "$out/results.tsv")
if [[ -n $idle ]]; then
	summary+=("idle overhead, uswap-idle (target $((size * 2)) MiB, nothing evicted) over none: $idle (goal <= 1.05)")
fi
if [[ -s $evict_rows ]]; then
	summary+=("eviction: ${size} MiB filled, pushed down to ${target} MiB; MiB/s = RssAnon dropped / seconds from the attach or limit write (median of $EVICT_REPS): $(evict_medians | awk '{ printf "%s%s %s MiB/s (%s per CPU-s)", (NR > 1 ? ", " : ""), $1, $2, $3 }') (goal: uswap >= 1024 MiB/s per core)")
fi
if [[ -s $redis_rows ]]; then
	summary+=("redis: $REDIS_KEYS keys of $REDIS_VALUE random bytes (base64), redis-benchmark -t get -r $REDIS_KEYS -n $((REDIS_KEYS * PASSES[redis])) -c $REDIS_CLIENTS; DEBUG DIGEST after the fill and after the GETs, the same under every config")
fi

# the tables: $1 = text or md
report() {
	local blank=""
	if [[ -s $rows ]]; then
		[[ $1 == md ]] && printf '%s\n\n' "## time per touch"
		main_cells | print_table "$1"
		blank=1
	fi
	if [[ -s $redis_rows ]]; then
		[[ -n $blank ]] && echo
		[[ $1 == md ]] && printf '%s\n\n' "## redis"
		redis_cells | print_table "$1"
		blank=1
	fi
	if [[ -s $evict_rows ]]; then
		[[ -n $blank ]] && echo
		[[ $1 == md ]] && printf '%s\n\n' "## eviction throughput"
		evict_cells | print_table "$1"
	fi
	if [[ $1 == md && -s $rows ]]; then
		printf '\n%s\n' "![time per touch of each workload and config](results.svg)"
	fi
	return 0
}

{
	printf '%s\n' "${summary[@]}"
	echo
	report text
} | tee "$out/results.txt"
{
	echo "# uswap benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	printf -- '- %s\n' "${summary[@]}"
	echo
	report md
} >"$out/results.md"
if [[ -s $rows ]]; then
	awk -F'\t' -f "$root/tests/bench/svg.awk" "$out/results.tsv" >"$out/results.svg"
fi
echo
echo "results: $out/results.{tsv,md,txt,svg}, redis.tsv, evict.tsv, logs in $out/logs"
if ((FAILED)); then
	say "some workload failed its verification or exited non-zero (see above)"
	exit 1
fi

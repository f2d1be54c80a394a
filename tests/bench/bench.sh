#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# uswap against kernel swap: the same workloads (tests/workloads/access: seq, random, hotcold,
# write) run with no limit, under a memory cgroup limit with a swapfile on the disk of the
# uswap store, under the same limit with zram swap (when a zram device can be made here), and
# under uswap-shim with the same target; one table with the ratios uswap/kernel of that run.
# Usage: sudo tests/bench/bench.sh [--quick] [--size MIB] [--target MIB] [--out DIR]
#                                  [--workloads LIST]
#   --quick       256 MiB held at 64 MiB, fewer touches (a few minutes at most)
#   --size MIB    working set (default 512; --quick 256)
#   --target MIB  cgroup limit and uswap target (default 128; --quick 64)
#   --out DIR     where results.tsv, results.md and logs/ go (default: a new temp dir)
#   --workloads L comma list of seq,random,hotcold,write (default: all four)
# Environment: USWAP_BUILD_DIR (default build/), USWAP_BENCH_TMP (where the swapfile and the
# uswap store go, default /var/tmp; keep it on the disk you want to measure),
# USWAP_BENCH_RUN_TIMEOUT (seconds before one run counts as hung and is killed, default 900).
# Needs root, no active swap (it refuses to touch existing swap), a cgroup v1 memory
# controller for the kernel columns. It turns everything it sets up off again on any exit.
# Timings depend on the machine: this is not a test and CTest does not run it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MI=1048576
RUN_TIMEOUT=${USWAP_BENCH_RUN_TIMEOUT:-900}
CG_ROOT=/sys/fs/cgroup/memory
WORKLOADS=(seq random hotcold write)

say() { echo "bench.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

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
				[[ " seq random hotcold write " == *" $wl "* ]] ||
					{ echo "bench.sh: unknown workload '$wl' (seq, random, hotcold, write)" >&2; exit 2; }
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
# makes several passes; random covers the set once; hotcold needs more to weigh its cold 10%.
declare -A PASSES
if ((quick)); then
	PASSES=([seq]=2 [random]=1 [hotcold]=2 [write]=1)
else
	PASSES=([seq]=3 [random]=2 [hotcold]=4 [write]=2)
fi

# ---- state torn down by cleanup, whatever happens ----

work="" swapfile="" swapfile_on=0 cg="" zram_id="" zram_on=0 zram_loaded=0
run_pid="" run_wpid="" checked_swap=0

stop_run() {
	local i
	# the workload first: a pager killed first would leave it waiting on its faults; a
	# pager left alive reaps it and exits by itself
	if [[ -n $run_wpid ]]; then
		kill -KILL "$run_wpid" 2>/dev/null || true
	fi
	if [[ -n $run_pid ]]; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$run_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$run_pid" 2>/dev/null || true
		wait "$run_pid" 2>/dev/null || true
	fi
	run_pid="" run_wpid=""
}

cg_remove() {
	local i
	[[ -n $cg && -d $cg ]] || return 0
	# rmdir fails while a killed task is still exiting
	for ((i = 0; i < 100; i++)); do
		rmdir "$cg" 2>/dev/null && break
		sleep 0.1
	done
	[[ -d $cg ]] && say "WARNING: could not remove cgroup $cg"
	cg=""
}

swapfile_off() {
	if ((swapfile_on)); then
		swapoff "$swapfile" || say "WARNING: swapoff $swapfile failed"
		swapfile_on=0
	fi
}

zram_off() {
	if ((zram_on)); then
		swapoff "/dev/zram$zram_id" || say "WARNING: swapoff /dev/zram$zram_id failed"
		zram_on=0
	fi
}

zram_remove() {
	zram_off
	if [[ -n $zram_id ]]; then
		echo 1 >"/sys/block/zram$zram_id/reset" 2>/dev/null || true
		echo "$zram_id" >/sys/class/zram-control/hot_remove ||
			say "WARNING: could not remove /dev/zram$zram_id"
		zram_id=""
	fi
	if ((zram_loaded)); then
		modprobe -r zram 2>/dev/null || say "WARNING: could not unload the zram module"
		zram_loaded=0
	fi
}

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
rows=$out/runs.tsv
: >"$rows"

fs_of() { stat -f -c %T "$1"; }
dev_of() { stat -c %d "$1"; }
if [[ $(dev_of "$work") != $(dev_of "$root") ]]; then
	say "note: $work is not on the repository's filesystem; swapfile and store share $tmp_base"
fi

declare -A SKIP # config -> why it is left out
if [[ ! -f $CG_ROOT/memory.limit_in_bytes ]]; then
	SKIP[swapfile]="no cgroup v1 memory controller at $CG_ROOT"
	SKIP[zram]=${SKIP[swapfile]}
fi

# ---- kernel swap: swapfile, zram, the limited cgroup ----

swapfile_setup() {
	local mib=$((size * 2 > 1024 ? size * 2 : 1024))
	swapfile=$work/swapfile
	# a preallocated file has no holes; where swapon refuses one (some filesystems), dd it
	if fallocate -l "${mib}M" "$swapfile" && chmod 600 "$swapfile" &&
		mkswap "$swapfile" >/dev/null && swapon -p 100 "$swapfile" 2>/dev/null; then
		swapfile_on=1
	else
		rm -f "$swapfile"
		dd if=/dev/zero of="$swapfile" bs=1M count="$mib" status=none &&
			chmod 600 "$swapfile" && mkswap "$swapfile" >/dev/null &&
			swapon -p 100 "$swapfile" || return 1
		swapfile_on=1
	fi
}

# Sets zram_id, or SKIP[zram] with the reason. A device of our own (hot_add), so a zram0 in
# another use is never touched; reset and removed by cleanup.
zram_setup() {
	local id dev algo
	if [[ ! -d /sys/class/zram-control ]]; then
		if modprobe zram num_devices=0 2>/dev/null && [[ -d /sys/class/zram-control ]]; then
			zram_loaded=1
		else
			SKIP[zram]="no zram here: /sys/class/zram-control is missing and 'modprobe zram' failed"
			return 1
		fi
	fi
	if ! id=$(cat /sys/class/zram-control/hot_add 2>/dev/null); then
		SKIP[zram]="no zram here: hot_add of a zram device failed"
		return 1
	fi
	zram_id=$id
	dev=/dev/zram$id
	for _ in {1..50}; do
		[[ -b $dev ]] && break
		sleep 0.1
	done
	algo=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/block/zram$id/comp_algorithm")
	if grep -qw lzo-rle "/sys/block/zram$id/comp_algorithm"; then
		echo lzo-rle >"/sys/block/zram$id/comp_algorithm" && algo=lzo-rle
	fi
	if ! { echo "$((size * 2))M" >"/sys/block/zram$id/disksize" &&
		mkswap "$dev" >/dev/null && swapon -p 100 "$dev"; }; then
		SKIP[zram]="no zram here: could not size, mkswap or swapon $dev"
		zram_remove
		return 1
	fi
	zram_on=1
	ZRAM_ALGO=$algo
}

cg_setup() {
	cg=$CG_ROOT/uswap-bench.$$
	mkdir "$cg"
	echo $((target * MI)) >"$cg/memory.limit_in_bytes"
}

# ---- one run ----

# OOM kills in our cgroup so far (the oom_kill line of memory.oom_control).
oom_kills() {
	local k v
	while read -r k v; do
		if [[ $k == oom_kill ]]; then
			echo "$v"
			return 0
		fi
	done <"$cg/memory.oom_control"
	echo 0
}

# Per-run results, reset by run_one.
declare -A R

vmstat_swap() {
	local k v
	R[pswpin]=0 R[pswpout]=0
	while read -r k v; do
		case $k in
		pswpin) R[pswpin]=$v ;;
		pswpout) R[pswpout]=$v ;;
		esac
	done </proc/vmstat
}

# RssAnon of $1 in KiB into RSS_KIB; 1 if gone.
RSS_KIB=0
rss_anon() {
	local k v rest
	while read -r k v rest; do
		if [[ $k == RssAnon: ]]; then
			RSS_KIB=$v
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# Fields of a saved status file into R[<prefix>_<field>].
status_fields() {
	local prefix=$1 file=$2 f=() names=(faults evictions p50 p99 stopped_max state) i
	[[ -s $file ]] || return 1
	IFS=$'\t' read -ra f < <(jq -r '[.faults_total, .evictions_total, .fault_p50_us,
		.fault_p99_us, .stopped_ms_max, .state] | @tsv' "$file") || return 1
	for i in "${!names[@]}"; do
		R[${prefix}_${names[$i]}]=${f[$i]:-}
	done
}

# After "ready": a pager gets time to reach its target (the kernel limit already holds), then
# the counters of the phase start.
before_phase() {
	local cfg=$1 status=$2 deadline
	local slack=$((target * 1024 + (target * 1024 / 20 > 2048 ? target * 1024 / 20 : 2048)))
	R[settle_s]=0
	if [[ $cfg == uswap ]]; then
		deadline=$((SECONDS + 10))
		local t0=$EPOCHREALTIME
		while rss_anon "$run_wpid" && ((RSS_KIB > slack && SECONDS < deadline)); do
			sleep 0.05
		done
		R[settle_s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
		cp "$status" "$work/status.start.json" 2>/dev/null || true
	fi
	if [[ $cfg == swapfile || $cfg == zram ]]; then
		R[run_peak]=$(<"$cg/memory.max_usage_in_bytes")
		echo 0 >"$cg/memory.max_usage_in_bytes"
	fi
	vmstat_swap
	R[in0]=${R[pswpin]} R[out0]=${R[pswpout]}
}

# After "done": counters that cover the phase alone (the workload waits meanwhile).
after_phase() {
	local cfg=$1 status=$2 peak
	vmstat_swap
	if [[ $cfg == swapfile || $cfg == zram ]]; then
		peak=$(<"$cg/memory.max_usage_in_bytes")
		R[phase_max_kib]=$((peak / 1024))
		R[in]=$((R[pswpin] - R[in0])) R[out]=$((R[pswpout] - R[out0]))
	fi
	if [[ $cfg == zram ]]; then
		local orig compr
		read -r orig compr _ <"/sys/block/zram$zram_id/mm_stat"
		if ((orig > ZRAM_ORIG)); then
			ZRAM_ORIG=$orig ZRAM_COMPR=$compr
		fi
	fi
	if [[ $cfg == uswap ]]; then
		# the status is rewritten every 100 ms: wait for one written after the last fault
		sleep 0.3
		cp "$status" "$work/status.end.json" 2>/dev/null || true
		if status_fields s "$work/status.start.json" && status_fields e "$work/status.end.json"; then
			R[in]=$((R[e_faults] - R[s_faults])) R[out]=$((R[e_evictions] - R[s_evictions]))
			R[p50]=${R[e_p50]} R[p99]=${R[e_p99]} R[state]=${R[e_state]}
		else
			R[state]=no-status
		fi
	fi
}

# Runs one workload under one config; appends a row to $rows.
run_one() {
	local wl=$1 cfg=$2 log=$out/logs/$1-$2 mark=$work/mark status=$work/status.json
	local touches=$((size * MI * PASSES[$1] / 4096)) m="" seen_ready=0 seen_done=0 in_phase=0
	local -a cmd=("$access" --size "$size" --pattern "$wl" --touches "$touches"
		--mark "$mark" --handshake)
	local rc=0 line kv oom0=0
	R=([phase_max_kib]=0 [run_max_kib]=0 [in]="" [out]="" [p50]="" [p99]="" [state]=""
		[settle_s]=0 [run_peak]=0 [stopped]="")
	rm -f "$mark" "$status" "$work"/status.*.json
	[[ -n $cg ]] && oom0=$(oom_kills)
	say "$wl under $cfg ..."
	case $cfg in
	none)
		"${cmd[@]}" >"$log.out" 2>&1 &
		run_pid=$! run_wpid=$!
		;;
	swapfile | zram)
		# the wrapper shell joins the cgroup, then becomes the workload: all of its memory
		# is charged there from its first page
		# shellcheck disable=SC2016 # $$ and $@ are for the wrapper shell
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "${cmd[@]}" \
			>"$log.out" 2>&1 &
		run_pid=$! run_wpid=$!
		;;
	uswap)
		rm -rf "$work/store"
		"$shim" run --target "${target}M" --store "$work/store" --status "$status" \
			--log "$log.shim.log" -- "${cmd[@]}" >"$log.out" 2>&1 &
		run_pid=$!
		for _ in {1..100}; do
			run_wpid=$(pgrep -P "$run_pid" | head -n 1) && [[ -n $run_wpid ]] && break
			sleep 0.05
		done
		[[ -n $run_wpid ]] || die "no workload process under uswap-shim (see $log.out)"
		;;
	esac

	local deadline=$((SECONDS + RUN_TIMEOUT))
	while kill -0 "$run_pid" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			say "$wl under $cfg: no exit after ${RUN_TIMEOUT}s, killed"
			stop_run
			rc=124
			break
		fi
		if [[ $cfg == none || $cfg == uswap ]] && rss_anon "$run_wpid"; then
			((RSS_KIB > R[run_max_kib])) && R[run_max_kib]=$RSS_KIB
			((in_phase && RSS_KIB > R[phase_max_kib])) && R[phase_max_kib]=$RSS_KIB
		fi
		if [[ $cfg == uswap && -s $status ]]; then
			cp "$status" "$work/status.last.json" 2>/dev/null || true
		fi
		m=""
		[[ -s $mark ]] && read -r m <"$mark"
		if [[ $m == ready ]] && ((!seen_ready)); then
			seen_ready=1
			before_phase "$cfg" "$status"
			in_phase=1
			kill -USR1 "$run_wpid" 2>/dev/null || true
		elif [[ $m == "done" ]] && ((!seen_done)); then
			seen_done=1 in_phase=0
			# the last sample of the phase: taken while the workload waits
			if [[ $cfg == none || $cfg == uswap ]] && rss_anon "$run_wpid" &&
				((RSS_KIB > R[phase_max_kib])); then
				R[phase_max_kib]=$RSS_KIB
			fi
			after_phase "$cfg" "$status"
			kill -USR1 "$run_wpid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	if [[ -n $run_pid ]]; then
		wait "$run_pid" || rc=$?
	fi
	run_pid="" run_wpid=""

	local oom_killed=0
	if [[ $cfg == swapfile || $cfg == zram ]]; then
		local end_peak
		end_peak=$(<"$cg/memory.max_usage_in_bytes")
		((end_peak > R[run_peak])) && R[run_peak]=$end_peak
		R[run_max_kib]=$((R[run_peak] / 1024))
		oom_killed=$(($(oom_kills) > oom0))
	fi
	if [[ $cfg == uswap ]] && status_fields l "$work/status.last.json"; then
		R[stopped]=${R[l_stopped_max]}
	fi

	line=$(grep -m1 '^access: ' "$log.out" || true)
	declare -A A=()
	for kv in ${line#access: }; do
		A[${kv%%=*}]=${kv#*=}
	done
	if ((oom_killed)); then
		# the kernel's result, not a failure of the benchmark: its row says so
		say "$wl under $cfg: the kernel OOM-killed the workload in its cgroup"
		A[verified]=oom-killed
	elif ((rc != 0)) || [[ ${A[verified]:-} != ok ]]; then
		say "FAILED: $wl under $cfg exited $rc; see $log.out"
		A[verified]="FAILED(rc=$rc)"
		FAILED=1
	fi
	printf '%s\t' "$wl" "$cfg" "$size" "$target" "$touches" "${A[seconds]:-}" \
		"${A[ns_per_touch]:-}" "${A[mib_per_s]:-}" "${A[fill_seconds]:-}" "${R[settle_s]}" \
		"$((R[phase_max_kib] / 1024))" "$((R[run_max_kib] / 1024))" "${A[vm_hwm_mib]:-}" \
		"${R[in]}" "${R[out]}" "${R[p50]}" "${R[p99]}" "${R[stopped]}" "${R[state]}" >>"$rows"
	printf '%s\n' "${A[verified]:-}" >>"$rows"
}

run_config() {
	local cfg=$1 wl
	for wl in "${WORKLOADS[@]}"; do
		run_one "$wl" "$cfg"
	done
}

# ---- the runs ----

FAILED=0
ZRAM_ALGO="" ZRAM_ORIG=0 ZRAM_COMPR=0
say "working set ${size} MiB, target ${target} MiB; swapfile and store in $work ($(fs_of "$work"))"
say "results in $out"

run_config none

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

# ---- the report ----

header=(workload config size_mib target_mib touches seconds ns_per_touch mib_per_s fill_s
	settle_s max_res_phase_mib max_res_run_mib vm_hwm_mib pages_in pages_out fault_p50_us
	fault_p99_us stopped_ms_max state verified ratio_vs_swapfile ratio_vs_zram)

# ratio = uswap time per touch / kernel time per touch, same workload, same run (>1: slower)
awk -F'\t' -v OFS='\t' -v hdr="${header[*]}" '
	{ row[NR] = $0; key[NR] = $1; cfg[NR] = $2; ns[$1, $2] = $7 }
	END {
		gsub(/ /, "\t", hdr)
		print hdr
		for (i = 1; i <= NR; i++) {
			rs = rz = ""
			if (cfg[i] == "uswap") {
				if (ns[key[i], "swapfile"] > 0 && ns[key[i], "uswap"] > 0)
					rs = sprintf("%.2f", ns[key[i], "uswap"] / ns[key[i], "swapfile"])
				if (ns[key[i], "zram"] > 0 && ns[key[i], "uswap"] > 0)
					rz = sprintf("%.2f", ns[key[i], "uswap"] / ns[key[i], "zram"])
			}
			print row[i], rs, rz
		}
	}' "$rows" >"$out/results.tsv"

has_zram=0
grep -q $'\tzram\t' "$out/results.tsv" && has_zram=1

# One formatter for both tables: "text" pads columns, "md" draws a Markdown table.
format_table() {
	awk -F'\t' -v style="$1" -v zram="$has_zram" '
	function cell(s, w) { return style == "md" ? "| " s " " : sprintf("%-" w "s", s) }
	function num(s, f) { return s == "" ? "-" : sprintf(f, s) }
	NR == 1 { next }
	{
		n++
		c[n, 1] = $1
		c[n, 2] = $2
		c[n, 3] = num($7, "%.0f")
		c[n, 4] = num($8, "%.1f")
		c[n, 5] = $11 "/" $12 " of " $4
		c[n, 6] = $16 == "" ? "-" : $16 "/" $17
		c[n, 7] = $14 == "" ? "-" : $14 "/" $15
		c[n, 8] = $2 == "uswap" ? num($21, "%.2f") : ""
		c[n, 9] = $2 == "uswap" ? num($22, "%.2f") : ""
		c[n, 10] = $20
	}
	END {
		split("workload|config|ns/touch|MiB/s|max res MiB phase/run|fault p50/p99 us|" \
		      "pages in/out|uswap/swapfile|uswap/zram|verified", h, "|")
		split("9 9 10 9 22 17 16 15 11 8", w, " ")
		for (j = 1; j <= 10; j++) {
			if (j == 9 && !zram)
				continue
			line = line cell(h[j], w[j])
			sep = sep (style == "md" ? "| --- " : "")
		}
		print line (style == "md" ? "|" : "")
		if (style == "md")
			print sep "|"
		for (i = 1; i <= n; i++) {
			line = ""
			for (j = 1; j <= 10; j++) {
				if (j == 9 && !zram)
					continue
				line = line cell(c[i, j], w[j])
			}
			print line (style == "md" ? "|" : "")
		}
	}' "$out/results.tsv"
}

summary=()
summary+=("uswap benchmark: $(uname -r), $(nproc) CPUs; working set ${size} MiB, target/limit ${target} MiB")
summary+=("swapfile and uswap store on $(fs_of "$tmp_base") ($(df --output=source "$tmp_base" | tail -n 1)); swappiness $(cat "$CG_ROOT/memory.swappiness" 2>/dev/null || echo '?'), vm.page-cluster $(</proc/sys/vm/page-cluster)")
if [[ -f $CG_ROOT/memory.memsw.limit_in_bytes ]]; then
	summary+=("cgroup v1 memory limit (memory.memsw.* present: swap accounted, left unlimited)")
fi
for cfg in swapfile zram; do
	if [[ -n ${SKIP[$cfg]:-} ]]; then
		summary+=("$cfg column left out: ${SKIP[$cfg]}")
	fi
done
if [[ -n $ZRAM_ALGO ]]; then
	summary+=("zram: $ZRAM_ALGO, at most $((ZRAM_ORIG / MI)) MiB swapped held in $((ZRAM_COMPR / MI)) MiB (the pattern is mostly incompressible)")
fi
if grep -q $'\toom-killed\t' "$out/results.tsv"; then
	summary+=("oom-killed: the kernel OOM-killed the workload in its cgroup (memcg reclaim gave up while swapping)")
fi
summary+=("ns/touch: wall time of the timed phase per page touched (a touch reads and checks, or writes, 4 KiB)")
summary+=("max res: kernel = the cgroup's max_usage_in_bytes; none/uswap = RssAnon sampled every 100 ms (results.tsv: VmHWM too); phase = timed phase, run = with the fill")
summary+=("ratio: uswap ns/touch over the kernel's (>1: uswap slower); pages in/out during the phase: kernel pswpin/pswpout, uswap faults/evictions")

{
	printf '%s\n' "${summary[@]}"
	echo
	format_table text
} | tee "$out/results.txt"
{
	echo "# uswap benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	printf -- '- %s\n' "${summary[@]}"
	echo
	format_table md
} >"$out/results.md"
echo
echo "results: $out/results.tsv, $out/results.md, logs in $out/logs"
if ((FAILED)); then
	say "some workload failed its verification or exited non-zero (see above)"
	exit 1
fi

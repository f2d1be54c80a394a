# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034,SC2154 # the globals are bench.sh's
#
# Helpers of tests/bench/bench.sh, sourced by it (not run alone): kernel swap set up and torn
# down, one program started under one configuration and stopped, the counters a run reads,
# the tables of the report. They use bench.sh's globals (size, target, work, cg, run_pid, R,
# ...) when called.

say() { echo "bench.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

kernel_cfg() { [[ $1 == swapfile || $1 == zram ]]; }
uswap_cfg() { [[ $1 == uswap || $1 == uswap-idle ]]; }

# ---- teardown: each undoes one thing and may run twice ----

# Stops what start_cfg started (and a client or an attached pager around it).
stop_run() {
	local i pid
	# the client, then the workload: a pager killed first would leave it waiting on its
	# faults; a pager left alive reaps it and exits by itself
	for pid in $client_pid $run_wpid; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# an attached pager is asked to put everything back and detach
	if [[ -n $attach_pid ]]; then
		kill -TERM "$attach_pid" 2>/dev/null || true
	fi
	for pid in $run_pid $attach_pid; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	run_pid="" run_wpid="" client_pid="" attach_pid=""
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

# ---- one program under one configuration ----

# Starts "${@:3}" under config $1, its output in $2.out (a pager's log in $2.shim.log); sets
# run_pid (what to wait for) and run_wpid (the program itself). none: as is; swapfile, zram:
# in the limited cgroup from its first page; uswap: under uswap-shim run with the target;
# uswap-idle: the same with a target of twice the working set, so nothing is evicted.
start_cfg() {
	local cfg=$1 log=$2 t=$target
	shift 2
	case $cfg in
	none)
		"$@" >"$log.out" 2>&1 &
		run_pid=$! run_wpid=$!
		;;
	swapfile | zram)
		# the wrapper shell joins the cgroup, then becomes the program: all of its memory
		# is charged there from its first page
		# shellcheck disable=SC2016 # $$ and $@ are for the wrapper shell
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@" \
			>"$log.out" 2>&1 &
		run_pid=$! run_wpid=$!
		;;
	uswap | uswap-idle)
		[[ $cfg == uswap-idle ]] && t=$((size * 2))
		rm -rf "$work/store"
		"$shim" run --target "${t}M" --store "$work/store" --status "$work/status.json" \
			--log "$log.shim.log" -- "$@" >"$log.out" 2>&1 &
		run_pid=$!
		# the program is the child of the pager, the shim's (the keeper's) child
		for _ in {1..100}; do
			run_wpid=$(pgrep -P "$(pgrep -P "$run_pid" -x uswap-shim | head -n 1)" 2>/dev/null |
				head -n 1) && [[ -n $run_wpid ]] && break
			sleep 0.05
		done
		[[ -n $run_wpid ]] || die "no program under uswap-shim (see $log.out)"
		;;
	esac
}

# Waits until the file $1 reads $2, at most $3 seconds, while run_pid lives; 1 otherwise.
wait_mark() {
	local m="" deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)) && kill -0 "$run_pid" 2>/dev/null; do
		[[ -s $1 ]] && read -r m <"$1"
		[[ $m == "$2" ]] && return 0
		sleep 0.02
	done
	return 1
}

# ---- counters ----

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

# The major faults of process $1 so far (field 12 of /proc/PID/stat, after the comm that
# may hold spaces), into R[majflt]; 0 if it is gone.
majflt() {
	local st
	R[majflt]=0
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	read -r -a st <<<"$st"
	R[majflt]=${st[9]}
}

# All CPUs' time so far and the part of it the hypervisor gave to others (steal), in ticks
# of /proc/stat, into R[$1_total] and R[$1_steal].
cpu_ticks() {
	local _cpu user nice sys idle iow irq sirq steal
	read -r _cpu user nice sys idle iow irq sirq steal _ </proc/stat
	R[$1_total]=$((user + nice + sys + idle + iow + irq + sirq + steal)) R[$1_steal]=$steal
}

# Field $2 (kB) of /proc/$1/status into RSS_KIB (default RssAnon); 1 if gone.
RSS_KIB=0
rss_anon() {
	local k v rest
	while read -r k v rest; do
		if [[ $k == "${2:-RssAnon}:" ]]; then
			RSS_KIB=$v
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# Nanoseconds on a CPU of all threads of $1 so far (schedstat); 0 where there is none.
cpu_ns() {
	local f ns sum=0
	for f in /proc/"$1"/task/*/schedstat; do
		read -r ns _ 2>/dev/null <"$f" && sum=$((sum + ns))
	done
	echo "$sum"
}

# Fields of a saved status file into R[<prefix>_<field>].
status_fields() {
	local prefix=$1 file=$2 f=() i
	local names=(faults evictions writes p50 p99 stopped_max state)
	[[ -s $file ]] || return 1
	IFS=$'\t' read -ra f < <(jq -r '[.faults_total, .evictions_total, .store_writes_total,
		.fault_p50_us, .fault_p99_us, .stopped_ms_max, .state] | @tsv' "$file") || return 1
	for i in "${!names[@]}"; do
		R[${prefix}_${names[$i]}]=${f[$i]:-}
	done
}

# A TCP port on 127.0.0.1 nobody listens on.
free_port() {
	local p
	for _ in {1..50}; do
		p=$((20000 + RANDOM % 40000))
		# shellcheck disable=SC2261 # a refused connection is the answer wanted
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Seconds from EPOCHREALTIME $1 to $2 (default: now), 3 decimals.
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.3f", b - a }'; }

# ---- report ----

# A TSV on stdin (no header) with one row per key, the first $1 columns: of runs repeated,
# the median by column $2 (of an even number, the better of the middle two: the lower value
# times $3, 1 for times, -1 for rates), unless one failed (column $4 not ok): then that one,
# so that no failure hides behind good runs. One lucky or unlucky run on a shared machine
# moves the median less than the fastest run.
median_runs() {
	awk -F'\t' -v k="$1" -v c="$2" -v sign="$3" -v v="$4" '
	{
		key = $1
		for (i = 2; i <= k; i++)
			key = key SUBSEP $i
		if (!(key in cnt))
			order[++n] = key
		j = ++cnt[key]
		row[key, j] = $0
		x[key, j] = sign * $c
		if ($v != "ok" && !(key in failed))
			failed[key] = $0
	}
	END {
		for (i = 1; i <= n; i++) {
			key = order[i]
			if (key in failed) {
				print failed[key]
				continue
			}
			m = cnt[key]
			for (a = 1; a <= m; a++)
				idx[a] = a
			for (a = 2; a <= m; a++)
				for (b = a; b > 1 && x[key, idx[b]] < x[key, idx[b - 1]]; b--) {
					t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t
				}
			print row[key, idx[int((m + 1) / 2)]]
		}
	}'
}

# A TSV of cells on stdin, the header first, as a padded text table ($1 = text) or a Markdown
# table ($1 = md); columns as wide as their widest cell.
print_table() {
	awk -F'\t' -v style="$1" '
	{
		for (j = 1; j <= NF; j++) {
			c[NR, j] = $j
			if (length($j) > w[j])
				w[j] = length($j)
		}
		if (NF > nf)
			nf = NF
	}
	END {
		for (i = 1; i <= NR; i++) {
			line = sep = ""
			for (j = 1; j <= nf; j++) {
				if (style == "md") {
					line = line "| " c[i, j] " "
					sep = sep "| --- "
				} else {
					line = line sprintf("%-" (w[j] + 2) "s", c[i, j])
				}
			}
			if (style == "md") {
				print line "|"
				if (i == 1)
					print sep "|"
			} else {
				sub(/ +$/, "", line)
				print line
			}
		}
	}'
}

# The cells of the main table, as TSV for print_table.
main_cells() {
	awk -F'\t' -v OFS='\t' -v zram="$has_zram" '
	function num(s, f) { return s == "" ? "-" : sprintf(f, s) }
	function out(a, n,    j, line) {
		for (j = 1; j <= n; j++)
			if (j != 10 || zram)
				line = line (line == "" ? "" : OFS) a[j]
		print line
	}
	NR == 1 {
		n = split("workload|config|ns/touch|MiB/s|vs none|max res MiB phase/run|" \
			"fault p50/p99 us|pages in/out|uswap/swapfile|uswap/zram|verified|steal %", h, "|")
		out(h, n)
		next
	}
	{
		c[1] = $1
		c[2] = $2
		c[3] = num($7, "%.0f")
		c[4] = num($8, "%.1f")
		c[5] = $2 == "none" ? "" : num($24, "%.2f")
		c[6] = $11 "/" $12 " of " $4
		c[7] = $16 == "" ? "-" : $16 "/" $17
		c[8] = $14 == "" ? "-" : $14 "/" $15
		c[9] = $2 == "uswap" ? num($22, "%.2f") : ""
		c[10] = $2 == "uswap" ? num($23, "%.2f") : ""
		c[11] = $20
		c[12] = num($21, "%.1f")
		out(c, 12)
	}' "$out/results.tsv"
}

redis_cells() {
	awk -F'\t' -v OFS='\t' '
	NR == 1 { print "config", "requests/s", "latency avg/p50/p99/max ms", "digest", "verified"; next }
	{
		d = $11 == "" ? "-" : substr($11, 1, 12)
		print $1, $5 == "" ? "-" : sprintf("%.0f", $5), $6 "/" $7 "/" $8 "/" $9, d, $12
	}' "$out/redis.tsv"
}

# The eviction table: per config, the repetition with the median MiB/s; its verdict is the
# first that is not ok, if any.
evict_cells() {
	awk -F'\t' -v OFS='\t' -v zram="$has_zram" '
	function num(s, f) { return s == "" ? "-" : sprintf(f, s) }
	function ratio(a, b) { return a > 0 && b > 0 ? sprintf("%.2f", a / b) : "-" }
	NR == 1 { next }
	{
		if (!($1 in n))
			order[++nc] = $1
		k = ++n[$1]
		row[$1, k] = $0
		v[$1, k] = $9
		if ($12 != "ok" && !($1 in bad))
			bad[$1] = $12
	}
	END {
		for (i = 1; i <= nc; i++) {
			c = order[i]
			# the median: the rank (n+1)/2 of the values
			for (a = 1; a <= n[c]; a++) {
				below = 0
				for (b = 1; b <= n[c]; b++)
					if (v[c, b] < v[c, a] || (v[c, b] == v[c, a] && b < a))
						below++
				if (below == int((n[c] - 1) / 2))
					med[c] = row[c, a]
			}
			split(med[c], f, "\t")
			mibps[c] = f[9]
		}
		print "config", "evicted MiB", "seconds", "MiB/s", "CPU s", "MiB per CPU s",
			"pages written", "uswap/swapfile", (zram ? "uswap/zram" OFS : "") "verified"
		for (i = 1; i <= nc; i++) {
			c = order[i]
			split(med[c], f, "\t")
			rs = rz = ""
			if (c == "uswap") {
				# time per MiB, uswap over the kernel
				rs = ratio(mibps["swapfile"], mibps["uswap"])
				rz = ratio(mibps["zram"], mibps["uswap"])
			}
			print c, sprintf("%.0f", f[5] - f[6]), f[7], num(f[9], "%.0f"), f[8],
				num(f[10], "%.0f"), f[11] == "" ? "-" : f[11], rs,
				(zram ? rz OFS : "") (c in bad ? bad[c] : "ok")
		}
	}' "$out/evict.tsv"
}

# "cfg MiB/s MiB-per-CPU-s" of the median repetition of each config, one a line.
evict_medians() { evict_cells | awk -F'\t' 'NR > 1 { print $1, $4, $6 }'; }

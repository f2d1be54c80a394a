#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: install what is needed, build, then run a workload that fills 256 MiB and reads
# it back at random for 30 s under `uswap-shim run --target 64M`, with a live view of its
# resident anonymous memory against the target, evicted pages and faults per second.
# Usage: tests/demo.sh [--size MIB] [--target SIZE] [--seconds N]   (as root)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=256 target=64M seconds=30
while (($#)); do
	case $1 in
	--size) size=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	-h | --help) sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "demo.sh: run as root (ptrace and userfaultfd of another process)" >&2; exit 1; }

cd "$root"
[[ ${USWAP_SKIP_DEPS:-0} == 1 ]] || bash tests/deps.sh
build=${USWAP_BUILD_DIR:-build}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/uswap-demo.XXXXXX")
shim_pid=""
cleanup() {
	[[ -n $shim_pid ]] && kill "$shim_pid" 2>/dev/null && wait "$shim_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

"$build/shim/uswap-shim" run --target "$target" --status "$work/status.json" \
	--store "$work/store" --log "$work/shim.log" -- \
	"$build/tests/workloads/memload" --size "$size" --ops verify \
	--touch-loop "$seconds" --ready "$work/ready" >"$work/workload.out" 2>&1 &
shim_pid=$!

echo "uswap demo: memload fills $size MiB, verifies it, then reads random pages for ${seconds}s"
echo "under: uswap-shim run --target $target (store in $work/store)"
printf '%5s  %12s  %10s  %10s  %8s  %9s  %9s\n' time resident target evicted faults/s p50-us p99-us
start=$SECONDS
while kill -0 "$shim_pid" 2>/dev/null; do
	sleep 1
	[[ -s $work/status.json ]] || continue
	jq -r --argjson t $((SECONDS - start)) '[$t, .rss_anon_bytes / 1048576, .target_bytes / 1048576,
		.evicted_pages, .faults_per_sec, .fault_p50_us, .fault_p99_us] |
		"\(.[0])s  \(.[1] | floor) MiB  \(.[2] | floor) MiB  \(.[3])  \(.[4] | floor)  \(.[5])  \(.[6])"' \
		"$work/status.json" 2>/dev/null |
		awk '{ printf "%5s  %8s %3s  %6s %3s  %10s  %8s  %9s  %9s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' ||
		true
done
rc=0
wait "$shim_pid" || rc=$?
shim_pid=""
cat "$work/workload.out"
if ((rc == 0)); then
	echo "uswap demo: the workload verified every page it read (exit 0)"
else
	echo "uswap demo: the workload exited $rc; shim log:" >&2
	tail -n 20 "$work/shim.log" >&2
fi
exit "$rc"

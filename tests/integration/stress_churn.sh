#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stress_churn: stress-ng stressors that keep changing their mappings (mmap/munmap, mremap,
# madvise) next to a verifying vm worker, under a 48 MiB target: evictions race munmap,
# mremap and DONTNEED all the time. stress-ng must verify everything, and the pager must log
# no error (e.g. a fault it had to drop).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=48M
lib_init
command -v stress-ng >/dev/null || fail "stress-ng is not installed (a test dependency)"
shim_run stress-ng --mremap 1 --mremap-bytes 32M --mmap 1 --mmap-bytes 32M --madvise 1 \
	--vm 1 --vm-bytes 64M --vm-keep --verify --timeout 20s --metrics-brief
expect_shim_exit 0 $((TIMEOUT + 40))
bad=$(grep -iE 'error|fail' "$T/shim.out" | grep -viE 'failed: 0([^0-9]|$)')
[[ -z $bad ]] || fail "stress-ng reported: $(head -n 5 <<<"$bad")"
grep -q 'successful run completed' "$T/shim.out" || fail "stress-ng did not report success"
! grep -q ': error: ' "$T/shim.log" || fail "the pager logged errors: $(grep -m3 ': error: ' "$T/shim.log")"
((MAX_EVICTIONS > 0)) || fail "the status never showed an eviction"
echo "PASS: mapping churn under $TARGET (evictions_total $MAX_EVICTIONS, faults_total $MAX_FAULTS)"

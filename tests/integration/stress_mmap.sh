#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stress_mmap: two stress-ng mmap stressors (fork children of stress-ng) map 16 MiB, fill
# and verify it, unmap it page by page and map the pages back one by one, with random mmap
# flags and madvise advice, under a 16 MiB target. New VMAs keep appearing where paged ones
# were: the pager must never page a VMA that is not registered with its uffd, whatever its
# earlier view of the VMAs said (regressions: UFFDIO_REGISTER passes over holes, and a batch
# picked before an unmap was moved out of the new VMA mapped there; both read back zeros).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
command -v stress-ng >/dev/null || fail "stress-ng is not installed (a test dependency)"
for round in 1 2; do
	shim_run stress-ng --mmap 2 --mmap-bytes 32M --verify --timeout 8s --metrics-brief
	expect_shim_exit 0 $((TIMEOUT + 40))
	bad=$(grep -iE 'error|fail' "$T/shim.out" | grep -viE 'failed: 0([^0-9]|$)')
	[[ -z $bad ]] || fail "round $round: stress-ng reported: $(head -n 5 <<<"$bad")"
	grep -q 'successful run completed' "$T/shim.out" ||
		fail "round $round: stress-ng did not report success"
	! grep -q ': error: ' "$T/shim.log" ||
		fail "the pager logged errors: $(grep -m3 ': error: ' "$T/shim.log")"
done
((MAX_EVICTIONS > 0)) || fail "the status never showed an eviction"
echo "PASS: stress-ng mmap churn under $TARGET verified (evictions_total $MAX_EVICTIONS)"

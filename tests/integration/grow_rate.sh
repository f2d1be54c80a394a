#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# grow_rate: a process writes 640 MiB of new memory at 200 MiB/s under a 64 MiB target. Once
# eviction had a second to start, the tree's RssAnon must stay bounded near the target while
# it grows (the pager keeps up), settle within 15% of it afterwards, and every page verifies.
# The zero-page read-ahead for first touches is what lets the writer reach 200 MiB/s at all.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# While memory is written this fast the pager trails by what is written during one eviction
# batch (it writes the store synchronously): allow 50% above the target during the growth,
# 15% at rest (lib.sh). Unbounded growth, a pager that does not keep up, fails either way.
GROW_SLACK=$((TARGET_BYTES * 150 / 100))

lib_init
shim_run "$USWAP_WORKLOADS/grower" --size 640 --rate 200 --ready "$T/ready"
poll_until "$TIMEOUT" under_shim grower >/dev/null ||
	fail "grower did not start under the shim"
wl=$(under_shim grower)
track "$wl"
start=$SECONDS
max=0 samples=0
while ! file_ready "$T/ready" && is_alive "$wl"; do
	sleep 0.2
	((SECONDS - start >= 1)) || continue
	rss=$(rss_anon_tree "$wl")
	((rss > max)) && max=$rss
	samples=$((samples + 1))
done
note "during growth: $samples samples, max RssAnon $(mib "$max") (target $TARGET)"
((samples >= 5)) || fail "grower finished too fast to sample ($samples samples)"
((max <= GROW_SLACK)) ||
	fail "RssAnon reached $(mib "$max") while growing, above $(mib "$GROW_SLACK")"
wait_ready "$T/ready"
wait_at_target "$wl"
expect_shim_exit 0
grep -q 'grower: verified' "$T/shim.out" || fail "grower did not report its verification"
echo "PASS: 200 MiB/s growth held at $TARGET (max $(mib "$max") while growing)"

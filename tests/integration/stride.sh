#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stride: a scan that touches every 8th page, and one that goes down the pages from the end,
# are detected as stride streams and read ahead: 64 MiB held at 16 MiB is read once in each
# order, every page checked against its pattern. The thread must fault on fewer than half of
# the evicted pages it touches (without read-ahead it faults on every one), and lose nothing.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -z ${STRIDE:-} ]]; then
	for stride in 8 -1; do
		STRIDE=$stride bash "$0" || exit
	done
	exit 0
fi

TARGET=16M
TARGET_SLACK=$((16 * MI * 115 / 100))
PAGES=16384 # 64 MiB
lib_init
shim_run "$USWAP_WORKLOADS/access" --size 64 --pattern stride --stride "$STRIDE" \
	--mark "$T/mark" --handshake
wait_for "$T/mark" "$TIMEOUT" || fail "access wrote no mark within ${TIMEOUT}s"
pid=$(under_shim access) || fail "no access process under the shim"
track "$pid"
wait_at_target "$pid"
# every page the scan will read that is not resident now is one the pager must refill
resident=$(($(rss_anon "$pid") / 4096))
access_phase "$pid"
faults=$PHASE_FAULTS evicted=$((PAGES - resident))
note "stride $STRIDE: $faults faults for $evicted evicted pages read"
((evicted > PAGES / 2)) || fail "only $evicted of $PAGES pages were evicted before the scan"
((faults * 2 < evicted)) ||
	fail "stride $STRIDE: $faults faults for $evicted evicted pages: no read-ahead"
echo "PASS: stride $STRIDE: $faults faults for $evicted evicted pages, data verified"

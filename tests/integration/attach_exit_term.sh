#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# attach_exit_term: an attached program is killed and the pager gets SIGTERM at the same
# moment, before its tick has seen the exit. The evicted pages went with the program: the
# pager must exit 0 without claiming that pages "could not be restored" (regression: it
# logged that error, then "every evicted page restored" one tick later).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
for round in 1 2 3; do
	rm -f "$T/ready" "$T/result"
	"$USWAP_WORKLOADS/memload" --size 96 --wait --ready "$T/ready" --result "$T/result" \
		--ops verify >"$T/workload.out" 2>&1 &
	wl=$!
	track "$wl"
	wait_ready "$T/ready"
	shim_attach "$wl"
	wait_at_target "$wl"
	note "round $round: SIGKILL -> memload $wl and SIGTERM -> shim $SHIM_PID together"
	kill -KILL "$wl"
	kill -TERM "$SHIM_PID"
	expect_shim_exit 0
	if grep -q 'could not be restored' "$T/shim.log"; then
		fail "round $round: the pager claims lost pages of an exited program:" \
			"$(grep -m1 'could not be restored' "$T/shim.log")"
	fi
	wait "$wl" 2>/dev/null || true
	mv "$T/shim.log" "$T/shim.$round.log"
done
echo "PASS: a program killed as its pager stops: no page claimed lost, the pager exits 0"

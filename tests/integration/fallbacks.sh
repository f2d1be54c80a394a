#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fallbacks: the paths a kernel without io_uring or without anonymous write-protect takes,
# and a target where the runner cannot be mapped (USWAP_DISABLE=uring, =wp, =runner), must
# lose nothing either: 128 MiB under a 32 MiB target is read back, half rewritten (last page
# first) and read back again in each configuration.

if [[ -z ${FALLBACK:-} ]]; then
	for without in uring wp runner; do
		FALLBACK=$without bash "$0" || exit
	done
	exit 0
fi

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=32M
TARGET_SLACK=$((40 * MI))
export USWAP_DISABLE=$FALLBACK
lib_init
memload_under_shim --size 128 --wait --ops verify,rewrite-odd,verify
wait_at_target "$READY_PID"
grep -q "without.*(USWAP_DISABLE" "$T/shim.log" ||
	fail "the pager did not say it runs without $FALLBACK"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
if [[ $FALLBACK == wp ]]; then
	((MAX_CLEAN == 0)) || fail "clean evictions ($MAX_CLEAN) without write-protect"
fi
if [[ $FALLBACK == runner ]] && grep -q "armed .*runner 0x[1-9a-f]" "$T/shim.log"; then
	fail "the pager mapped a runner though USWAP_DISABLE=runner"
fi
echo "PASS: without $FALLBACK: data verified (evictions $MAX_EVICTIONS, clean $MAX_CLEAN," \
	"faults $MAX_FAULTS)"

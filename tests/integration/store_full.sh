#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# store_full: the store lives on a 24 MiB filesystem, far too small for the 192 MiB that a
# 256 MiB workload must shed to reach a 64 MiB target. The pager must say "store-full",
# keep the workload's memory (the batch whose write failed goes back into the workload),
# and lose nothing: the workload verifies, rewrites and verifies again.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
truncate -s 24M "$T/store.img" || fail "cannot create $T/store.img"
mkfs.ext4 -q -F "$T/store.img" >/dev/null 2>&1 || fail "mkfs.ext4 failed"
mkdir -p "$T/store"
mount -o loop "$T/store.img" "$T/store" 2>"$T/mount.err" ||
	skip "cannot loop-mount a filesystem here: $(<"$T/mount.err")"
CLEANUP_HOOKS+=("umount '$T/store'")

memload_under_shim --size 256 --wait --ops verify,rewrite,verify
wl=$READY_PID
poll_until "$TIMEOUT" status_is "$STATUS" state store-full ||
	fail "status never said store-full (state: $(status_get "$STATUS" state))"
note "store-full: RssAnon $(mib "$(rss_anon "$wl")"), evicted_pages" \
	"$(status_get "$STATUS" evicted_pages), store_bytes $(status_get "$STATUS" store_bytes)"
shim_rss=$(status_get "$STATUS" shim_rss_bytes) || fail "no shim_rss_bytes in the status"
((shim_rss < 64 * MI)) ||
	fail "the pager holds $(mib "$shim_rss") itself: evicted pages kept in its heap"

note "SIGUSR1 -> memload: verify,rewrite,verify with the store full"
kill -USR1 "$wl"
expect_shim_exit 0
expect_result
echo "PASS: a full store pauses eviction and loses nothing"

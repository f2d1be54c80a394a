#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# store_corrupt: a store page damaged behind the pager's back (here: the whole file
# overwritten with random bytes while 48 MiB are evicted) must never reach the workload as
# data. Each stored page carries a checksum; a mismatch poisons the page, so the workload
# dies of SIGBUS on it, and the pager says so in its log and exits with the workload's
# status (128 + SIGBUS) instead of serving wrong data or hanging.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
TARGET_SLACK=$((20 * MI))
EXPECT_CORRUPT=1
lib_init
memload_under_shim --size 64 --wait --ops verify
wait_at_target "$READY_PID"
store=$(ls "$T"/store/store-*.pages 2>/dev/null | head -1)
[[ -n $store && -s $store ]] || fail "no store file with pages in $T/store"
size=$(stat -c %s "$store")
note "overwriting the store file ($((size / MI)) MiB) with random bytes"
head -c "$size" /dev/urandom | dd of="$store" bs=1M conv=notrunc,fsync status=none ||
	fail "could not overwrite $store"
kill -USR1 "$READY_PID"
expect_shim_exit 135
grep -q 'checksum mismatch' "$T/shim.log" || fail "the pager logged no checksum mismatch"
[[ ! -s $T/result ]] || fail "memload finished ($(<"$T/result")) on damaged pages"
echo "PASS: a damaged store page gives SIGBUS, never wrong data; the pager exits 135"

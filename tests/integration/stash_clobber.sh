#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stash_clobber: an attached program whose pages are evicted maps over the pager's stash with
# MAP_FIXED (memory that is not its own, as a buggy or address-reusing program may). The
# pager must keep serving the evicted pages and only stop evicting from that process
# (regression: it dropped the process with its evicted pages, which then blocked forever).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
clobber_start
armed_addr stash
clobber_run "$ARMED"
grep -q "unmapped the pager's stash" "$T/shim.log" || fail "the pager did not notice its stash go"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program mapping over the pager's stash keeps every evicted page"

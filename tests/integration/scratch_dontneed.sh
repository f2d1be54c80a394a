#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# scratch_dontneed: an attached program discards the pager's scratch area (where injected
# calls and the runner's table take their arguments) with MADV_DONTNEED, then needs more
# memory. The pager writes there while a MOVE has its fault thread leave the uffd unread: if
# the area were registered with the uffd, that write would fault to the pager itself and
# hang the pager and the program (regression). Eviction must go on and nothing be lost.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
clobber_start
armed_addr scratch
clobber_run "$ARMED" 16384 dontneed
kill -TERM "$SHIM_PID"
expect_shim_exit 0
echo "PASS: a program discarding the pager's scratch area keeps every page"

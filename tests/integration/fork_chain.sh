#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fork_chain: 40 generations of fork children, each the child of the one before. The pager
# tells a fork child from its parent by a token it writes into one of the child's 64 id
# pages, and a child inherits every id page its ancestors used: without reuse, the
# generations past ~31 found no free id page, were never adopted and never evicted
# (regression). Each generation rewrites its memory and waits until half of it is evicted
# before it forks the next; every generation verifies its memory at the end.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=4M
lib_init
shim_run "$USWAP_WORKLOADS/memload" --size 8 --result "$T/result" --ops fork-chain:40
expect_shim_exit 0
no_mismatch
expect_result
echo "PASS: 40 generations of fork children each adopted, evicted and verified"

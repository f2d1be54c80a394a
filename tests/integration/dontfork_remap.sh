#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# dontfork_remap: a parent's paged MADV_DONTFORK region is not copied by fork, and the child
# maps new memory at the same address. The new VMA is not registered with the child's uffd,
# whatever the parent's registrations were: the pager must register it before it pages it,
# or the child reads zeros where its data was (regression: the child's record of registered
# ranges was copied from the parent's).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=8M
lib_init
shim_run "$USWAP_WORKLOADS/remap" --size 16 --secs 3
expect_shim_exit 0
! grep -q MISMATCH "$T/shim.out" || fail "$(grep -m1 MISMATCH "$T/shim.out")"
((MAX_EVICTIONS > 0)) || fail "the status never showed an eviction"
echo "PASS: a fork child's new mapping over its parent's DONTFORK region paged and verified"

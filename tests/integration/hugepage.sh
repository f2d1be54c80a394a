#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# hugepage: memory backed by transparent huge pages (MADV_HUGEPAGE; with THP "always" every
# large mapping is) is evicted (the pager moves 4 KiB pages out of 2 MiB ones), read back
# right, and MADV_COLLAPSE over a range with evicted pages must not turn them into zeros.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

thp=/sys/kernel/mm/transparent_hugepage/enabled
[[ -r $thp && $(<"$thp") != *"[never]"* ]] || skip "transparent huge pages are off here ($thp)"
scenario_ops 256 hugepage,rewrite-odd

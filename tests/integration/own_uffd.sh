#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# own_uffd: a program registers half of its memory with a userfaultfd of its own (as QEMU's
# post-copy or CRIU's lazy pages do) before the pager's first eviction. The kernel allows
# one userfaultfd per mapping: the pager must leave that half alone (its registration gets
# EBUSY; it says so once and does not try again until the mappings change), evict the other
# half, say why the target is out of reach, and lose nothing.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
lib_init
memload_under_shim --size 64 --own-uffd --wait --ops fork,verify
grep -q 'own userfaultfd registered' "$T/shim.out" || fail "memload registered nothing"
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "the unregistered half was not evicted"
poll_until "$TIMEOUT" status_is "$STATUS" state target-unreachable ||
	fail "state is '$(status_get "$STATUS" state)', not target-unreachable"
rss=$(rss_anon "$READY_PID")
((rss >= 32 * MI && rss <= 40 * MI)) ||
	fail "RssAnon $(mib "$rss"): the program's own half (32 MiB) should stay, the rest go"
note "RssAnon $(mib "$rss"), reason $(status_get "$STATUS" reason)"
(($(grep -c 'registered with a userfaultfd of its own' "$T/shim.log") == 1)) ||
	fail "the pager did not say once that the program's own registration is left to it"
! grep -q 'cannot register.*busy' "$T/shim.log" ||
	fail "the pager kept trying to register the program's own range: $(grep -m1 'cannot register' "$T/shim.log")"
kill -USR1 "$READY_PID"
expect_shim_exit 0
expect_result
no_mismatch
echo "PASS: memory registered with the program's own userfaultfd left to it, the rest paged"

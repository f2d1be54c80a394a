#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# attach: take over a running memload, evict it, then SIGTERM the shim: every page comes
# back, the uffd is gone from the target, nothing traces it, and the workload verifies.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
"$USWAP_WORKLOADS/memload" --size 256 --wait --ready "$T/ready" --result "$T/result" \
	--ops verify,rewrite,verify >"$T/workload.out" 2>&1 &
wl=$!
track "$wl"
wait_ready "$T/ready"
[[ $READY_PID == "$wl" ]] || fail "ready file names $READY_PID, expected $wl"
note "memload pid $wl: RssAnon $(mib "$(rss_anon "$wl")") before attach"

shim_attach "$wl"
wait_at_target "$wl"
check_rss_matches "$wl"
status_has_pid "$STATUS" "$wl" || fail "pid $wl not in the status pids"

# The node-wide listing: one row for this pager, and the same as a JSON array.
"$USWAP_SHIM" status "$T" >"$T/list" 2>&1 || fail "uswap-shim status $T failed: $(<"$T/list")"
grep -qE "^$SHIM_PID +attach +- +ok " "$T/list" ||
	fail "uswap-shim status $T has no 'ok' row for pager $SHIM_PID: $(<"$T/list")"
"$USWAP_SHIM" status --json "$T" >"$T/list.json" 2>&1 || fail "uswap-shim status --json failed"
[[ $(jq -r "map(select(.shim_pid == $SHIM_PID)) | length" "$T/list.json") == 1 ]] ||
	fail "uswap-shim status --json $T does not list pager $SHIM_PID: $(<"$T/list.json")"

note "SIGTERM -> shim: bring everything back and detach"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
is_alive "$wl" || fail "memload died when the shim detached"
after=$(rss_anon "$wl")
# pages restored as the zero page are not counted in RssAnon: allow for the 1/16 zero pages
((after >= 256 * MI * 85 / 100)) ||
	fail "memload RssAnon is $(mib "$after") after detach: pages were not brought back"
[[ $(tracer_of "$wl") == 0 ]] || fail "memload is still traced by pid $(tracer_of "$wl")"
has_uffd_fd "$wl" && fail "memload still holds a userfaultfd after detach"
note "after detach: RssAnon $(mib "$after")"

note "SIGUSR1 -> memload: verify,rewrite,verify without the pager"
kill -USR1 "$wl"
wait_exit "$wl" "$TIMEOUT" || fail "memload did not finish within ${TIMEOUT}s"
no_mismatch
((EXIT_RC == 0)) || fail "memload exited $EXIT_RC after the shim detached"
echo "PASS: attach, evict, detach on SIGTERM, memory intact"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sigterm_run: SIGTERM to a run-mode shim while it is still evicting: it brings every page
# back and exits 0, forwarding nothing; the workload keeps running and later verifies.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --wait --ops verify,rewrite,verify
wl=$READY_PID
wait_status "$STATUS" evicted_pages gt 0 "$TIMEOUT" || fail "no page evicted within ${TIMEOUT}s"
note "mid-eviction: RssAnon $(mib "$(rss_anon "$wl")"), evicted_pages" \
	"$(status_get "$STATUS" evicted_pages)"

note "SIGTERM -> shim"
kill -TERM "$SHIM_PID"
expect_shim_exit 0
is_alive "$wl" || fail "memload did not survive the shim's SIGTERM"
after=$(rss_anon "$wl")
((after >= 256 * MI * 85 / 100)) ||
	fail "memload RssAnon is $(mib "$after") after the shim left: pages were not brought back"
[[ $(tracer_of "$wl") == 0 ]] || fail "memload is still traced by pid $(tracer_of "$wl")"
has_uffd_fd "$wl" && fail "memload still holds a userfaultfd after the shim left"

note "SIGUSR1 -> memload (now an orphan): verify,rewrite,verify"
kill -USR1 "$wl"
wait_gone "$wl" "$TIMEOUT" || fail "memload did not finish within ${TIMEOUT}s"
expect_result
no_mismatch
echo "PASS: SIGTERM in run mode restores and leaves the workload intact"

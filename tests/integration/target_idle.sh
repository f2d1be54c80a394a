#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# target_idle: an idle 256 MiB process stays at the 64 MiB target: every sample of the
# tree's RssAnon taken after it settles is at most 15% above.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 256 --hold 20 --ops verify
wait_at_target "$READY_PID"
for i in 1 2 3 4 5; do
	sleep 1
	is_alive "$READY_PID" ||
		fail "memload finished its 20 s hold before sample $i: settling took too long"
	rss=$(rss_anon_tree "$READY_PID")
	st=$(status_get "$STATUS" rss_anon_bytes) || fail "no rss_anon_bytes in the status"
	note "sample $i: /proc $(mib "$rss"), status $(mib "$st")"
	((rss <= TARGET_SLACK)) || fail "sample $i: RssAnon $(mib "$rss") > $(mib "$TARGET_SLACK")"
	((st <= TARGET_SLACK)) ||
		fail "sample $i: status rss_anon_bytes $(mib "$st") > $(mib "$TARGET_SLACK")"
done
expect_shim_exit 0 $((TIMEOUT + 20))
expect_result
echo "PASS: idle tree stays at $TARGET"

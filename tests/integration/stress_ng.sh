#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stress_ng: stress-ng's vm stressor (two 96 MiB workers, --verify) under a 64 MiB target:
# it must finish successfully and report no error or failure.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
command -v stress-ng >/dev/null || skip "stress-ng not installed"
shim_run stress-ng --vm 2 --vm-bytes 96M --vm-keep --verify --timeout 20s --metrics-brief
expect_shim_exit 0 $((TIMEOUT + 30))
bad=$(grep -iE 'error|fail' "$T/shim.out" | grep -viE 'failed: 0([^0-9]|$)')
[[ -z $bad ]] || fail "stress-ng reported: $(head -n 5 <<<"$bad")"
grep -q 'successful run completed' "$T/shim.out" || fail "stress-ng did not report success"
((MAX_EVICTIONS > 0)) || fail "the status never showed an eviction during stress-ng"
echo "PASS: stress-ng vm under $TARGET (evictions_total $MAX_EVICTIONS, faults_total $MAX_FAULTS)"

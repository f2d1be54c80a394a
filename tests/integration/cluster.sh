#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# cluster: random faults that crowd into one region read the aligned cluster around each
# fault (the pages evicted with it), not their page alone. 64 MiB held at 16 MiB,
# then 4096 touches of which 90% go at random to the first 6.4 MiB (evicted while the
# program filled the rest) and 10% to the rest. Reading single pages, the hot region alone
# would take a fault for each of its ~1500 pages touched; clusters of 16 take a fraction of
# that. Every page touched is checked against its pattern, and all of them at the end.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=16M
TARGET_SLACK=$((16 * MI * 115 / 100))
PAGES=16384 # 64 MiB
HOT=$((PAGES / 10))
lib_init
shim_run "$USWAP_WORKLOADS/access" --size 64 --pattern hotcold --touches 4096 \
	--mark "$T/mark" --handshake
wait_for "$T/mark" "$TIMEOUT" || fail "access wrote no mark within ${TIMEOUT}s"
pid=$(under_shim access) || fail "no access process under the shim"
track "$pid"
wait_at_target "$pid"
# the hot region is the start of the 64 MiB mapping: how much of it is resident now
hot_resident=$(python3 - "$pid" "$HOT" <<'PY'
import struct, sys
pid, n = int(sys.argv[1]), int(sys.argv[2])
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    s, e = (int(x, 16) for x in f[0].split("-"))
    if len(f) == 5 and f[1] == "rw-p" and e - s >= 64 << 20:
        break
else:
    sys.exit("no 64 MiB anonymous mapping")
with open(f"/proc/{pid}/pagemap", "rb") as pm:
    pm.seek(s // 4096 * 8)
    print(sum(1 for v in struct.unpack(f"{n}Q", pm.read(n * 8)) if v >> 63))
PY
) || fail "cannot find the hot region's pages in /proc/$pid/pagemap"
access_phase "$pid"
faults=$PHASE_FAULTS hot_evicted=$((HOT - hot_resident))
note "$faults faults; $hot_evicted of the $HOT hot pages were evicted before the phase"
((hot_evicted > HOT * 3 / 4)) || fail "only $hot_evicted of $HOT hot pages were evicted"
# ~90% of the evicted hot pages are touched (3686 touches on 1638 pages), ~330 cold faults
((faults * 2 < hot_evicted)) ||
	fail "$faults faults with $hot_evicted hot pages evicted: no clustered refill"
echo "PASS: $faults faults for the hot region's $hot_evicted evicted pages and the cold touches, data verified"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mseal: the program seals half of its evicted memory (mseal, Linux 6.10: no munmap,
# mremap, mprotect nor discarding madvise there any more), then rewrites it and blocks while
# fresh memory waits to be evicted. Pages of the sealed half come back right, and eviction
# goes on.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 mseal,rewrite-odd,waits

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# wipefork: after eviction, memload marks half of a region MADV_WIPEONFORK and forks. The
# child must read zeros there (never the parent's evicted copy) and the rest intact; the
# parent keeps its data.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 wipefork,verify

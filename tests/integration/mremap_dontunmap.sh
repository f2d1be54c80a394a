#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mremap_dontunmap: mremap(MREMAP_MAYMOVE | MREMAP_DONTUNMAP) of evicted memory moves the
# content (and the pager's copies with it) to a new address and leaves the old range mapped
# and empty: the old range must read zero, never the copies that moved away.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 mremap-dontunmap,verify,rewrite-odd

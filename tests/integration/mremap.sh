#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mremap: move a chunk of partly evicted memory elsewhere (MREMAP_MAYMOVE|MREMAP_FIXED),
# grow it in place (the new pages must read zero), and verify everything.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 mremap,verify,rewrite

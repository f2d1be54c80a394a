#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# evict_refill: 256 MiB under a 64 MiB target must be evicted down to the target (the
# shim's status and /proc agree), then read back exactly, rewritten and read back again.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 verify,rewrite,verify

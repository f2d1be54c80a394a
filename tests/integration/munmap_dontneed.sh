#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# munmap_dontneed: unmapped + remapped and MADV_DONTNEED'ed ranges of evicted memory must
# read zero (never a stale copy from the store), then take new data.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 munmap,dontneed,verify,munmap,dontneed

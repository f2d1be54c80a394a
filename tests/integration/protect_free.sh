#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# protect_free: the program changes its evicted memory's mappings and advice: mprotect makes
# chunks read-only or inaccessible beside read-write ones (then all read-write again),
# MADV_FREE lets the kernel drop pages (each must read its data or zero, never anything
# else), MADV_POPULATE_READ and _WRITE fault pages in from inside the kernel.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 mprotect,free,populate

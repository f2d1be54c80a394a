#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# write_syscall: write(2) evicted memory to a file and a pipe (the kernel faults the pages
# inside the syscall), read(2) it back over the mapping, and compare.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 write

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kernel_io: the kernel reads and writes evicted memory on the program's behalf in ways that
# do not go through the program's own page faults: O_DIRECT (the pages are pinned for the
# disk's DMA), io_uring (half of it on the kernel's io-wq worker threads), and another process
# reading all of it with process_vm_readv and /proc/PID/mem and writing pages back.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 direct,uring,remote

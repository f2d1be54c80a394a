#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# clone_vm: a second process shares the program's mm (clone(CLONE_VM) without CLONE_VFORK:
# no fork event, one userfaultfd for both) and reads half of the evicted memory for 3 s
# while the program rewrites the other half. The pager must treat both as one address
# space and serve the faults of each.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 clone-vm,verify

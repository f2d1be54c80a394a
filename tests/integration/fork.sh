#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fork: fork a child that verifies what it inherited from evicted memory and rewrites
# its copy, then fork+execve and posix_spawn (CLONE_VM|CLONE_VFORK); the parent's memory must
# stay intact throughout.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 fork,fork-exec,fork

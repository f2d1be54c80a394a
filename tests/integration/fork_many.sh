#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fork_many: 1100 fork children of a paged program are alive at once, each with its own
# userfaultfd, then each reads pages it inherited (evicted ones fault through its own uffd).
# Every child's faults must be served, however many spaces the pager serves at once.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=4M
scenario_ops 16 fork-many:1100

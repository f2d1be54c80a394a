#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# close_fds: the program closes every fd above stderr (close_range, as daemons do) after its
# memory was evicted, the pager's uffd copy inside it included. The pager keeps its own copy
# (so evicted pages never read as zeros), notices, hands the fd back, and goes on evicting
# (the waits op checks that memory is evicted while the program blocks).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_check() {
	grep -q "closed the pager's uffd; handing it back" "$T/shim.log" ||
		fail "the pager did not notice that its uffd was closed"
	! grep -q 'could not hand the uffd back' "$T/shim.log" ||
		fail "the uffd was not handed back: $(grep -m1 'could not hand' "$T/shim.log")"
}
scenario_ops 256 close-fds,waits,rewrite-odd

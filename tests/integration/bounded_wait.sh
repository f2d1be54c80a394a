#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bounded_wait: an event loop (epoll_wait with a 50 ms timeout, 3 s long) in the main thread,
# a second thread blocked in read(2), and fresh memory evicted meanwhile. Stopped, the loop's
# epoll_wait would return EINTR to the program (a wait with a timeout is not restarted); the
# reader's read(2) is restarted unseen. The pager must stop the reader, not the loop.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 bounded-wait

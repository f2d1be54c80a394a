#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# signals: stopping the program to evict must not show through to it. A wait with no timeout
# (epoll_wait, io_uring_enter, sigtimedwait) the pager interrupts must go on, not return
# EINTR; real-time signals queued while the pager holds the program are all delivered; a
# SIGSTOP sent meanwhile still stops it.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario_ops 256 waits,signals,stopcont

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Refills from the store, for the fault thread. A fault on a stored page reads that page and
 * the neighbours evicted with it (adjacent in memory and in the store file) in one request:
 * a sequential stream of faults doubles its window and reads the next cluster ahead, a stride
 * stream reads its next strides, and a random fault in a region that faults densely reads the
 * cluster around it (a random fault elsewhere reads its page alone). Reads
 * go through io_uring, so the fault thread goes on serving other faults and events while
 * they are in flight; without io_uring each read is a pread with the lock dropped.
 */
#pragma once

#include "pager.h"

#define FILL_MAX_PAGES 64 /* one request reads at most this many pages (256 KiB) */

/* On the fault thread, before its loop and after it. 0 or -errno (io_uring missing is not
 * an error: reads are then synchronous). */
int fill_init(struct pager *p);
void fill_exit(struct pager *p);
/* The fd to poll for completions, -1 without io_uring. */
int fill_poll_fd(void);
/* Serve a missing fault at page of sp, whose entry is a stored slot. Lock held (dropped
 * only without io_uring). 0 the read is under way (or done), 1 deferred, -ENODEV sp was
 * destroyed while the lock was dropped, or -errno. */
int fill_fault(struct pager *p, struct space *sp, uint64_t page, uint64_t flags, uint64_t t0);
/* Finish the reads that completed; signalled: poll found the ring's eventfd readable. Lock
 * held. */
void fill_reap(struct pager *p, bool signalled);
/* Requests queued since the last call go to the kernel. */
void fill_submit(void);

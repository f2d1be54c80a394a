/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* The fault thread: polls every space's uffd, serves faults (store, zero page) and applies
 * events (fork, remap, remove, unmap) to the page maps. */
int fault_thread_start(struct pager *p);
void fault_thread_stop(struct pager *p);
/* A pager taking over: apply the events the dead one had read and not applied (its evbuf),
 * where that is safe; say which were lost. Spaces adopted, no fault thread yet. */
void fault_replay_events(struct pager *p);
void pager_wake_faults(struct pager *p);

#define FILL_WRITE 1u /* the page is being written: map it writable, drop its store copy */
#define FILL_KEEP 2u /* map a stored page write-protected and keep it as clean */

/* Put one evicted page back into sp with UFFDIO_COPY (lock held). 0, -EAGAIN (retry after
 * events), -ESRCH (space gone) or -errno. Drops the entry on success (or makes it the
 * page's clean record, with FILL_KEEP). */
int fault_fill_page(struct pager *p, struct space *sp, uint64_t page, unsigned flags);

/* Make a write-protected page writable and drop its clean record (lock held). 0 or
 * -errno from UFFDIO_WRITEPROTECT. */
int fault_unprotect(struct pager *p, struct space *sp, uint64_t page);

/* Shared by the fault thread's modules (fault.c, fill.c); lock held for all of them. */
bool space_listed(struct pager *p, struct space *sp);
void fault_record_latency(struct pager *p, uint64_t t0);
/* UFFDIO_COPY of npages from src to dst, write-protected if wp (falls back to writable where
 * the VMA has no WP registration). 1 mapped writable, 2 write-protected, or -errno; pages
 * copied before an error in *ret_copied. */
int fault_copy(int uffd, uint64_t dst, const void *src, uint64_t npages, bool wp,
	       uint64_t *ret_copied);
int fault_wake(int uffd, uint64_t dst);
/* SIGBUS for the threads touching page rather than wrong data (UFFDIO_POISON). */
void fault_poison(struct pager *p, struct space *sp, uint64_t page);
/* page holds slot s's content again: s becomes its clean record if protected, else goes. */
void fault_filled(struct pager *p, struct space *sp, uint64_t page, struct slot *s, bool protected);
/* Serve this fault again later (after an eviction batch, an event, a read in flight). */
void fault_defer(struct space *sp, uint64_t addr, uint64_t flags, uint64_t t0);

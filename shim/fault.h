/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* The fault thread: polls every space's uffd, serves faults (store, zero page) and applies
 * events (fork, remap, remove, unmap) to the page maps. */
int fault_thread_start(struct pager *p);
void fault_thread_stop(struct pager *p);
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

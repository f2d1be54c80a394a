/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* The fault thread: polls every space's uffd, serves faults (store, zero page) and applies
 * events (fork, remap, remove, unmap) to the page maps. */
int fault_thread_start(struct pager *p);
void fault_thread_stop(struct pager *p);
void pager_wake_faults(struct pager *p);

/* Put one evicted page back into sp with UFFDIO_COPY (lock held). 0, -EAGAIN (retry after
 * events), -ESRCH (space gone) or -errno. Drops the entry on success. */
int fault_fill_page(struct pager *p, struct space *sp, uint64_t page, bool write);

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* Evict up to want_pages cold pages of sp (one batch, at most STASH_SIZE). Returns the number
 * of pages evicted (0: nothing eligible now) or -errno (-ESRCH: target gone; -EBADF: the
 * target closed our uffd; -ENOSPC: store full). */
long evict_batch(struct pager *p, struct space *sp, uint64_t want_pages);

/* Finish the store writes that completed (with wait, wait for one first). Manager thread. */
void evict_finish_writes(struct pager *p, bool wait);
/* Wait for every store write in flight and finish it (before restoring or exiting). */
void evict_drain_writes(struct pager *p);

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* Evict up to want_pages cold pages of sp (one batch, at most STASH_SIZE). Returns the number
 * of pages evicted (0: nothing eligible now) or -errno (-ESRCH: target gone; -EBADF: the
 * target closed our uffd; -ENOSPC: store full). */
long evict_batch(struct pager *p, struct space *sp, uint64_t want_pages);

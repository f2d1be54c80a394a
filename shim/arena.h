/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pager's persistent heap: what a restarted pager needs to take over (spaces, page maps,
 * slots, the store's bitmap, evicted pages held in memory) is allocated here. The arena is a
 * memfd mapped shared by the keeper process before it forks the pager, so it outlives a pager
 * that is killed, at the same address in the next one: its pointers stay valid.
 *
 * Without an arena (arena_create not called, or USWAP_DISABLE=keeper) every call falls back
 * to the C library, so code and unit tests work the same either way.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Map a new arena of size bytes (address space only: pages are used as they are touched).
 * 0 or -errno. */
int arena_create(size_t size);
bool arena_active(void);

/* Zeroed memory, NULL if full. A block of 4 KiB is 4 KiB-aligned (so is one of a multiple of
 * 8 KiB), one over 1 MiB 2 MiB-aligned. */
void *arena_calloc(size_t n);
void *arena_realloc(void *p, size_t n);
void arena_free(void *p);

/* In a pager that takes over: the lock is the dead one's, and its free lists may be torn
 * mid-update. Start them afresh; what they held is lost to the arena, never handed out
 * twice. */
void arena_takeover(void);

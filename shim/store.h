/* SPDX-License-Identifier: Apache-2.0 */
/* Backing store: one root-only file per shim, page-granular slots, no page cache left behind. */
#pragma once

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct store {
	int fd;
	char path[4096];
	bool direct; /* O_DIRECT (else write-behind with the page cache dropped) */
	uint64_t top; /* pages ever allocated (file length / 4 KiB) */
	uint64_t used; /* pages in use */
	/* One bit per page of the file, set while in use. Allocation is next-fit from hint,
	 * so pages evicted together get ascending, mostly adjacent indices: a fault can read
	 * its neighbours in the same request. */
	uint64_t *bits;
	uint64_t nwords;
	uint64_t hint; /* page index where the next search starts */
	/* Asynchronous writes (O_DIRECT stores with io_uring): one ring, used by the thread
	 * that evicts. */
	struct io_uring ring;
	bool async;
	unsigned inflight; /* write requests submitted and not reaped */
};

/* The writes of one call of store_write_async: done when pending is 0, err the first
 * error (-ENOSPC for a short write). iov and req are the caller's (store_wbatch_alloc),
 * valid until then. */
struct store_wreq;
struct store_wbatch {
	unsigned pending;
	int err;
	struct iovec *iov;
	struct store_wreq *req;
};

struct store_page {
	uint64_t idx;
	const void *data; /* 4 KiB, 4 KiB-aligned */
	void *cookie; /* the caller's */
};

/* Create the store file in dir (created 0700 if missing). 0 or -errno. */
int store_open(struct store *s, const char *dir);
void store_close(struct store *s);
/* Allocate n page indices, ascending and as contiguous as possible (next-fit over the
 * freed pages, then the end of the file). 0 or -ENOMEM. */
int store_alloc(struct store *s, uint64_t *ret_idx, size_t n);
void store_release(struct store *s, uint64_t idx);
/* In a pager that takes over the store of one that died: its ring is gone with it, and no
 * page counts as used until the caller marks the ones still referenced. */
void store_takeover(struct store *s);
void store_mark_used(struct store *s, uint64_t idx);
/* Write pages (sorted by idx for coalescing is done inside). 0 or -errno (-ENOSPC...). */
int store_write(struct store *s, struct store_page *pages, size_t n);
/* Set up asynchronous writes; false (and plain store_write) where they are not possible. */
bool store_async_init(struct store *s);
/* Queue the writes of n pages (sorted by idx and coalesced into runs as store_write does)
 * and return: wb says when they are done. wb's arrays are allocated here, freed by
 * store_wbatch_free. 0 or -errno (nothing queued). */
int store_write_async(struct store *s, struct store_page *pages, size_t n, struct store_wbatch *wb);
/* Account completed writes to their batches; with wait, block until one completes (if any
 * is in flight). */
void store_reap(struct store *s, bool wait);
void store_wbatch_free(struct store_wbatch *wb);

/* Read one page into buf (4 KiB aligned). 0 or -errno. */
int store_read(struct store *s, uint64_t idx, void *buf);

/* Bytes of the store file in the page cache (0 where the kernel cannot tell). */
uint64_t store_cache_bytes(const struct store *s);

uint32_t page_checksum(const void *page);
/* If every 8-byte word of page is equal, store it in *ret_val and return true. */
bool page_is_filled(const void *page, uint64_t *ret_val);

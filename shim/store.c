/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena.h"
#include "store.h"
#include "uswap/compat.h"
#include "uswap/util.h"

#define PG 4096ull

int store_open(struct store *s, const char *dir)
{
	struct stat st;
	int fd;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (snprintf(s->path, sizeof(s->path), "%s/store-%d.pages", dir, (int)getpid()) >=
	    (int)sizeof(s->path))
		return -ENAMETOOLONG;
	unlink(s->path);
	fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_DIRECT, 0600);
	if (fd >= 0) {
		s->direct = true;
	} else if (errno == EINVAL) {
		/* tmpfs and some others refuse O_DIRECT: write through the page cache and drop
		 * it after each batch (store_write). */
		fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		return -errno;
	s->fd = fd;
	return 0;
}

void store_close(struct store *s)
{
	if (s->async) {
		while (s->inflight)
			store_reap(s, true);
		io_uring_queue_exit(&s->ring);
		s->async = false;
	}
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	arena_free(s->bits);
	s->bits = NULL;
	s->nwords = 0;
	s->fd = -1;
}

static bool page_used(const struct store *s, uint64_t idx)
{
	return s->bits[idx / 64] >> (idx % 64) & 1;
}

/* Room in the bitmap for pages up to (excluding) end. 0 or -ENOMEM. */
static int bits_reserve(struct store *s, uint64_t end)
{
	uint64_t words = (end + 63) / 64, n;
	uint64_t *b;

	if (words <= s->nwords)
		return 0;
	n = USWAP_MAX(words, s->nwords * 2);
	n = USWAP_MAX(n, (uint64_t)64);
	b = arena_realloc(s->bits, n * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b + s->nwords, 0, (n - s->nwords) * sizeof(*b));
	s->bits = b;
	s->nwords = n;
	return 0;
}

/* The first free page in [from, top), or top. */
static uint64_t next_free(const struct store *s, uint64_t from)
{
	uint64_t i = from;

	while (i < s->top) {
		uint64_t w = ~s->bits[i / 64] >> (i % 64);

		if (w)
			return USWAP_MIN(i + (uint64_t)__builtin_ctzll(w), s->top);
		i = (i / 64 + 1) * 64;
	}
	return s->top;
}

int store_alloc(struct store *s, uint64_t *ret_idx, size_t n)
{
	uint64_t at = s->hint < s->top ? s->hint : 0;
	size_t k = 0;

	/* Freed pages from the hint on, in order; then new pages at the end of the file. The
	 * hint wraps to the start once the end is reached, so holes get reused. */
	while (k < n) {
		at = next_free(s, at);
		if (at == s->top) {
			if (bits_reserve(s, s->top + (n - k)) < 0) {
				s->used += k;
				while (k)
					store_release(s, ret_idx[--k]);
				return -ENOMEM;
			}
			s->top++;
		}
		ret_idx[k++] = at;
		s->bits[at / 64] |= 1ull << (at % 64);
		at++;
	}
	s->hint = at < s->top ? at : 0;
	s->used += n;
	return 0;
}

void store_takeover(struct store *s)
{
	memset(&s->ring, 0, sizeof(s->ring));
	s->async = false;
	s->inflight = 0;
	if (s->bits)
		memset(s->bits, 0, s->nwords * sizeof(*s->bits));
	s->used = 0;
	s->hint = 0;
}

void store_mark_used(struct store *s, uint64_t idx)
{
	if (idx >= s->top || page_used(s, idx))
		return;
	s->bits[idx / 64] |= 1ull << (idx % 64);
	s->used++;
}

void store_release(struct store *s, uint64_t idx)
{
	if (idx >= s->top || !page_used(s, idx))
		return;
	s->bits[idx / 64] &= ~(1ull << (idx % 64));
	s->used--;
}

static int cmp_page(const void *a, const void *b)
{
	const struct store_page *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int write_run(struct store *s, struct store_page *pages, size_t n)
{
	struct iovec iov[IOV_MAX];
	size_t done = 0;

	while (done < n) {
		size_t k = USWAP_MIN(n - done, (size_t)IOV_MAX);
		size_t want = k * PG;
		ssize_t w;

		for (size_t i = 0; i < k; i++) {
			iov[i].iov_base = (void *)pages[done + i].data;
			iov[i].iov_len = PG;
		}
		w = pwritev(s->fd, iov, (int)k, (off_t)(pages[done].idx * PG));
		if (w < 0)
			return -errno;
		if ((size_t)w != want)
			return -ENOSPC;
		done += k;
	}
	return 0;
}

int store_write(struct store *s, struct store_page *pages, size_t n)
{
	size_t start = 0;
	int r;

	qsort(pages, n, sizeof(*pages), cmp_page);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && pages[i].idx == pages[i - 1].idx + 1)
			continue;
		r = write_run(s, pages + start, i - start);
		if (r < 0)
			return r;
		start = i;
	}
	if (!s->direct && n) {
		/* Evicted memory must leave RAM: flush and drop the cached copy. */
		if (fdatasync(s->fd) < 0)
			return -errno;
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	return 0;
}

#define WRING_ENTRIES 64

/* One write request: a run of adjacent store pages. */
struct store_wreq {
	struct store_wbatch *wb;
	size_t len;
};

bool store_async_init(struct store *s)
{
	/* Without O_DIRECT each batch must be synced and dropped from the page cache: the
	 * synchronous path does that. */
	if (!s->direct || io_uring_queue_init(WRING_ENTRIES, &s->ring, 0) < 0)
		return false;
	s->async = true;
	return true;
}

static void reap_one(struct store *s, struct io_uring_cqe *cqe)
{
	struct store_wreq *q = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	io_uring_cqe_seen(&s->ring, cqe);
	s->inflight--;
	if (!q->wb->err && (res < 0 || (size_t)res != q->len))
		q->wb->err = res < 0 ? res : -ENOSPC;
	q->wb->pending--;
}

void store_reap(struct store *s, bool wait)
{
	struct io_uring_cqe *cqe;

	if (wait && s->inflight && io_uring_wait_cqe(&s->ring, &cqe) == 0)
		reap_one(s, cqe);
	while (s->inflight && io_uring_peek_cqe(&s->ring, &cqe) == 0)
		reap_one(s, cqe);
}

/* An SQE, making room first if the ring is full of writes in flight. Never one taken and
 * left unprepared: it would go out with an old request's contents. */
static struct io_uring_sqe *get_sqe(struct store *s)
{
	for (;;) {
		struct io_uring_sqe *sqe;

		if (s->inflight >= WRING_ENTRIES) {
			io_uring_submit(&s->ring);
			store_reap(s, true);
			continue;
		}
		sqe = io_uring_get_sqe(&s->ring);
		if (sqe)
			return sqe;
		io_uring_submit(&s->ring);
	}
}

/* One request for pages[0..n) (adjacent store pages), their data as iovecs from iov. */
static void queue_run(struct store *s, struct store_wbatch *wb, const struct store_page *pages,
		      size_t n, struct iovec *iov, size_t niov, struct store_wreq *req)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	*req = (struct store_wreq){ wb, n * PG };
	io_uring_prep_writev(sqe, s->fd, iov, (unsigned)niov, pages[0].idx * PG);
	io_uring_sqe_set_data(sqe, req);
	wb->pending++;
	s->inflight++;
}

int store_write_async(struct store *s, struct store_page *pages, size_t n, struct store_wbatch *wb)
{
	size_t nreq = 0, niov = 0, run = 0, run_iov = 0;

	*wb = (struct store_wbatch){ 0 };
	if (!n)
		return 0;
	wb->iov = calloc(n, sizeof(*wb->iov));
	wb->req = calloc(n, sizeof(*wb->req));
	if (!wb->iov || !wb->req) {
		store_wbatch_free(wb);
		return -ENOMEM;
	}
	qsort(pages, n, sizeof(*pages), cmp_page);
	for (size_t i = 0; i < n; i++) {
		struct iovec *last = niov > run_iov ? &wb->iov[niov - 1] : NULL;

		if (last && (const uint8_t *)last->iov_base + last->iov_len == pages[i].data)
			last->iov_len += PG;
		else
			wb->iov[niov++] = (struct iovec){ (void *)pages[i].data, PG };
		if (i + 1 < n && pages[i + 1].idx == pages[i].idx + 1 && niov - run_iov < IOV_MAX)
			continue;
		queue_run(s, wb, pages + run, i + 1 - run, wb->iov + run_iov, niov - run_iov,
			  &wb->req[nreq++]);
		run = i + 1;
		run_iov = niov;
	}
	io_uring_submit(&s->ring);
	return 0;
}

void store_wbatch_free(struct store_wbatch *wb)
{
	free(wb->iov);
	free(wb->req);
	wb->iov = NULL;
	wb->req = NULL;
}

int store_read(struct store *s, uint64_t idx, void *buf)
{
	ssize_t n = pread(s->fd, buf, PG, (off_t)(idx * PG));

	if (n < 0)
		return -errno;
	return n == (ssize_t)PG ? 0 : -EIO;
}

uint64_t store_cache_bytes(const struct store *s)
{
	struct uswap_cachestat_range range = { 0, 0 }; /* len 0: to the end of the file */
	struct uswap_cachestat cs = { 0 };

	/* Kernels without cachestat (ENOSYS) report 0: nothing to show, not an error. */
	if (s->fd < 0 || syscall(SYS_cachestat, s->fd, &range, &cs, 0) < 0)
		return 0;
	return cs.nr_cache * PG;
}

uint32_t page_checksum(const void *page)
{
	const uint64_t *w = page;
	uint64_t a = 0x243F6A8885A308D3ull, b = 0x13198A2E03707344ull, c = 0xA4093822299F31D0ull,
		 d = 0x082EFA98EC4E6C89ull;

	/* Four independent lanes so the multiplies pipeline. */
	for (size_t i = 0; i < PG / 8; i += 4) {
		a = (a ^ w[i]) * 0x9E3779B97F4A7C15ull;
		b = (b ^ w[i + 1]) * 0xC2B2AE3D27D4EB4Full;
		c = (c ^ w[i + 2]) * 0x165667B19E3779F9ull;
		d = (d ^ w[i + 3]) * 0x94D049BB133111EBull;
	}
	a ^= (b >> 17) ^ (c << 13) ^ (d >> 29);
	a *= 0xFF51AFD7ED558CCDull;
	return (uint32_t)(a ^ (a >> 32));
}

bool page_is_filled(const void *page, uint64_t *ret_val)
{
	const uint64_t *w = page;
	uint64_t v = w[0];

	for (size_t i = 1; i < PG / 8; i++)
		if (w[i] != v)
			return false;
	*ret_val = v;
	return true;
}

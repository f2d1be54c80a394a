/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store.h"
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
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	free(s->free);
	s->free = NULL;
	s->fd = -1;
}

int store_alloc(struct store *s, uint64_t *ret_idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->nfree)
			ret_idx[i] = s->free[--s->nfree];
		else
			ret_idx[i] = s->top++;
		s->used++;
	}
	return 0;
}

void store_release(struct store *s, uint64_t idx)
{
	if (s->nfree == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *f = realloc(s->free, cap * sizeof(*f));

		if (!f) {
			/* Leaks one page of file space; never data. */
			s->used--;
			return;
		}
		s->free = f;
		s->cap = cap;
	}
	s->free[s->nfree++] = idx;
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

int store_read(struct store *s, uint64_t idx, void *buf)
{
	ssize_t n = pread(s->fd, buf, PG, (off_t)(idx * PG));

	if (n < 0)
		return -errno;
	return n == (ssize_t)PG ? 0 : -EIO;
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

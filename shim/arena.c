/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small allocator over one shared memfd mapping. The arena is cut into 2 MiB spans; a span
 * holds blocks of one size class (16 bytes to 1 MiB, in steps of 1 and 1.5 times a power of
 * two), larger blocks take runs of whole spans. Per-span bookkeeping lives in the header
 * (span 0), so a block carries no header and a 4 KiB block is 4 KiB-aligned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"

#define SPAN (2ul << 20)
#define MAX_SPANS 65536 /* 128 GiB */
#define NCLASS 34
#define SPAN_FREE 0
#define SPAN_LARGE 0xfe
#define SPAN_CONT 0xff
#define ARENA_MAGIC 0x7573776170617265ull

struct free_run {
	struct free_run *next;
	size_t nspans;
};

struct arena_hdr {
	uint64_t magic;
	size_t nspans; /* spans in the mapping */
	size_t next_span; /* spans handed out from the start (bump) */
	pthread_mutex_t lock;
	void *free_small[NCLASS];
	char *carve[NCLASS], *carve_end[NCLASS]; /* the span a class is cutting blocks from */
	struct free_run *free_large;
	uint8_t cls[MAX_SPANS]; /* 1 + class, SPAN_LARGE (head of a run), SPAN_CONT, SPAN_FREE */
	uint32_t run[MAX_SPANS]; /* SPAN_LARGE: spans in the run */
};

static struct arena_hdr *A;
static size_t class_size[NCLASS];
static uint8_t small_class[257]; /* by (n + 15) / 16 for n <= 4096 */

static void init_classes(void)
{
	size_t s = 16;

	for (int c = 0; c < NCLASS; c += 2, s *= 2) {
		class_size[c] = s;
		class_size[c + 1] = s + s / 2;
	}
	for (unsigned i = 0, c = 0; i <= 256; i++) {
		while (class_size[c] < (size_t)i * 16)
			c++;
		small_class[i] = (uint8_t)c;
	}
}

int arena_create(size_t size)
{
	size_t nspans = size / SPAN;
	int fd;
	void *m;

	if (nspans > MAX_SPANS)
		nspans = MAX_SPANS;
	if (nspans < 2 || sizeof(struct arena_hdr) > SPAN)
		return -EINVAL;
	fd = memfd_create("uswap-arena", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(nspans * SPAN)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* One spare span of address space so the arena can start on a span boundary: a 2 MiB
	 * block is then 2 MiB-aligned, a 4 KiB one 4 KiB-aligned. */
	m = mmap(NULL, (nspans + 1) * SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	uintptr_t base = ((uintptr_t)m + SPAN - 1) & ~(SPAN - 1);

	if (mmap((void *)base, nspans * SPAN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) == MAP_FAILED) {
		int r = -errno;

		munmap(m, (nspans + 1) * SPAN);
		close(fd);
		return r;
	}
	close(fd); /* the mappings keep the memory */
	init_classes();
	A = (struct arena_hdr *)base;
	A->magic = ARENA_MAGIC;
	A->nspans = nspans;
	A->next_span = 1;
	pthread_mutex_init(&A->lock, NULL);
	return 0;
}

bool arena_active(void)
{
	return A != NULL;
}

static bool in_arena(const void *p)
{
	return A && (uintptr_t)p >= (uintptr_t)A && (uintptr_t)p < (uintptr_t)A + A->nspans * SPAN;
}

static size_t span_of(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)A) / SPAN;
}

static char *take_spans(size_t k)
{
	char *p;

	if (A->next_span + k > A->nspans)
		return NULL;
	p = (char *)A + A->next_span * SPAN;
	A->next_span += k;
	return p;
}

static int class_of(size_t n)
{
	int c;

	if (n <= 4096)
		return small_class[(n + 15) / 16];
	for (c = small_class[256]; c < NCLASS && class_size[c] < n; c++)
		;
	return c;
}

/* Lock held. *ret_used: the block was handed out before (not zero any more). */
static void *alloc_small(int c, bool *ret_used)
{
	void *p = A->free_small[c];

	*ret_used = p != NULL;
	if (p) {
		A->free_small[c] = *(void **)p;
		return p;
	}
	if (A->carve[c] + class_size[c] > A->carve_end[c]) {
		char *s = take_spans(1);

		if (!s)
			return NULL;
		A->cls[span_of(s)] = (uint8_t)(1 + c);
		A->carve[c] = s;
		A->carve_end[c] = s + SPAN;
	}
	p = A->carve[c];
	A->carve[c] += class_size[c];
	return p;
}

/* Lock held. A run of k spans: the first free run that is long enough (its tail stays
 * free), else new spans. *ret_used as for alloc_small. */
static void *alloc_large(size_t k, bool *ret_used)
{
	struct free_run **pp = &A->free_large, *r;
	char *p = NULL;

	for (; (r = *pp); pp = &r->next)
		if (r->nspans >= k)
			break;
	*ret_used = r != NULL;
	if (r) {
		*pp = r->next;
		if (r->nspans > k) {
			struct free_run *t = (struct free_run *)((char *)r + k * SPAN);

			t->nspans = r->nspans - k;
			t->next = A->free_large;
			A->free_large = t;
			A->cls[span_of(t)] = SPAN_LARGE;
			A->run[span_of(t)] = (uint32_t)t->nspans;
		}
		p = (char *)r;
	} else {
		p = take_spans(k);
		if (!p)
			return NULL;
	}
	size_t i = span_of(p);

	A->cls[i] = SPAN_LARGE;
	A->run[i] = (uint32_t)k;
	for (size_t j = 1; j < k; j++)
		A->cls[i + j] = SPAN_CONT;
	return p;
}

static size_t block_size(const void *p)
{
	size_t i = span_of(p);
	uint8_t c = A->cls[i];

	if (c == SPAN_LARGE)
		return A->run[i] * SPAN;
	return c && c <= NCLASS ? class_size[c - 1] : 0;
}

void *arena_calloc(size_t n)
{
	bool used;
	void *p;

	if (!A) {
		if (n < 4096)
			return calloc(1, n ? n : 1);
		n = (n + 4095) & ~4095ul;
		p = aligned_alloc(4096, n);
		if (p)
			memset(p, 0, n);
		return p;
	}
	if (!n)
		n = 1;
	pthread_mutex_lock(&A->lock);
	if (n <= class_size[NCLASS - 1]) {
		p = alloc_small(class_of(n), &used);
	} else {
		p = alloc_large((n + SPAN - 1) / SPAN, &used);
	}
	pthread_mutex_unlock(&A->lock);
	/* Memory never handed out is the memfd's, still zero: left untouched until used. */
	if (p && used)
		memset(p, 0, n);
	return p;
}

void arena_free(void *p)
{
	size_t i;
	uint8_t c;

	if (!p)
		return;
	if (!in_arena(p)) {
		free(p);
		return;
	}
	i = span_of(p);
	pthread_mutex_lock(&A->lock);
	c = A->cls[i];
	if (c == SPAN_LARGE) {
		struct free_run *r = p;

		r->nspans = A->run[i];
		r->next = A->free_large;
		A->free_large = r;
	} else if (c && c <= NCLASS) {
		*(void **)p = A->free_small[c - 1];
		A->free_small[c - 1] = p;
	}
	pthread_mutex_unlock(&A->lock);
}

void *arena_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return arena_calloc(n);
	if (!in_arena(p))
		return realloc(p, n);
	old = block_size(p);
	if (n <= old)
		return p;
	q = arena_calloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	arena_free(p);
	return q;
}

void arena_takeover(void)
{
	if (!A)
		return;
	pthread_mutex_init(&A->lock, NULL);
	memset(A->free_small, 0, sizeof(A->free_small));
	memset(A->carve, 0, sizeof(A->carve));
	memset(A->carve_end, 0, sizeof(A->carve_end));
	A->free_large = NULL;
}

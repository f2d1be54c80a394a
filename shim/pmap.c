/* SPDX-License-Identifier: Apache-2.0 */
/* Page map of a space: page address -> slot, in 2 MiB chunks hashed by address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "pager.h"

static size_t chunk_hash(uint64_t base, size_t nbuckets)
{
	return (size_t)(((base >> 21) * 0x9E3779B97F4A7C15ull) >> 20) & (nbuckets - 1);
}

void pmap_init(struct pmap *m)
{
	memset(m, 0, sizeof(*m));
}

static struct chunk *chunk_find(const struct pmap *m, uint64_t base)
{
	if (!m->nbuckets)
		return NULL;
	for (struct chunk *c = m->buckets[chunk_hash(base, m->nbuckets)]; c; c = c->next)
		if (c->base == base)
			return c;
	return NULL;
}

static int pmap_grow(struct pmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
	struct chunk **b = arena_calloc(n * sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct chunk *c = m->buckets[i];

		while (c) {
			struct chunk *next = c->next;
			size_t h = chunk_hash(c->base, n);

			c->next = b[h];
			b[h] = c;
			c = next;
		}
	}
	arena_free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

struct slot *pmap_get(const struct pmap *m, uint64_t addr)
{
	struct chunk *c = chunk_find(m, addr & ~(CHUNK_SIZE - 1));

	return c ? c->pages[(addr % CHUNK_SIZE) / PAGE_SIZE_4K] : NULL;
}

static void chunk_remove(struct pmap *m, struct chunk *c)
{
	struct chunk **pp = &m->buckets[chunk_hash(c->base, m->nbuckets)];

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	m->nchunks--;
	arena_free(c);
}

int pmap_set(struct pmap *m, uint64_t addr, struct slot *s)
{
	uint64_t base = addr & ~(CHUNK_SIZE - 1);
	struct chunk *c = chunk_find(m, base);
	size_t i = (addr % CHUNK_SIZE) / PAGE_SIZE_4K;

	if (!c) {
		if (!s)
			return 0;
		if (m->nchunks >= m->nbuckets && pmap_grow(m) < 0)
			return -ENOMEM;
		c = arena_calloc(sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->base = base;
		size_t h = chunk_hash(base, m->nbuckets);

		c->next = m->buckets[h];
		m->buckets[h] = c;
		m->nchunks++;
	}
	if (c->pages[i] && !s) {
		c->count--;
		m->npages--;
	} else if (!c->pages[i] && s) {
		c->count++;
		m->npages++;
	}
	c->pages[i] = s;
	if (!c->count)
		chunk_remove(m, c);
	return 0;
}

/* Visit every entry in [start, end). fn may clear the entry through pp (not pmap_set), and set
 * entries outside [start, end) with pmap_set (a chunk of the range it adds to is not freed). */
void pmap_for_range(struct pmap *m, uint64_t start, uint64_t end, pmap_fn fn, void *arg)
{
	uint64_t first = start & ~(CHUNK_SIZE - 1);
	/* Chunk-sized regions the range touches, rounded down: no overflow near UINT64_MAX. */
	uint64_t nregions = (end - first) / CHUNK_SIZE + 1;
	struct chunk **list;
	size_t n = 0;

	if (!m->nchunks || end <= start)
		return;
	/* Collect the chunks first: fn may empty (and so free) the one it is in. */
	list = malloc(m->nchunks * sizeof(*list));
	if (!list)
		return;
	if (nregions < m->nchunks) {
		/* b > first catches the wrap past the top of the address space. */
		for (uint64_t b = first; b < end && b >= first; b += CHUNK_SIZE) {
			struct chunk *c = chunk_find(m, b);

			if (c)
				list[n++] = c;
		}
	} else {
		for (size_t i = 0; i < m->nbuckets; i++)
			for (struct chunk *c = m->buckets[i]; c; c = c->next)
				if (c->base + CHUNK_SIZE > start && c->base < end)
					list[n++] = c;
	}
	for (size_t k = 0; k < n; k++) {
		struct chunk *c = list[k];

		for (size_t i = 0; i < CHUNK_PAGES; i++) {
			uint64_t a = c->base + i * PAGE_SIZE_4K;

			if (a < start || a >= end || !c->pages[i])
				continue;
			fn(m, a, &c->pages[i], arg);
			if (!c->pages[i]) {
				c->count--;
				m->npages--;
			}
		}
		if (!c->count)
			chunk_remove(m, c);
	}
	free(list);
}

void pmap_free(struct pmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct chunk *c = m->buckets[i];

		while (c) {
			struct chunk *next = c->next;

			arena_free(c);
			c = next;
		}
	}
	arena_free(m->buckets);
	pmap_init(m);
}

struct slot *slot_new(enum slot_state state)
{
	struct slot *s = arena_calloc(sizeof(*s));

	if (s) {
		s->refs = 1;
		s->state = (uint8_t)state;
	}
	return s;
}

void slot_ref(struct slot *s)
{
	s->refs++;
}

void slot_unref(struct pager *p, struct slot *s)
{
	if (--s->refs)
		return;
	if (s->state == SLOT_STORED)
		store_release(&p->store, s->val);
	if (!s->borrowed)
		arena_free(s->data);
	arena_free(s);
}

static void drop_one(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	slot_unref(arg, *pp);
	*pp = NULL;
}

void pmap_drop(struct pager *p, struct pmap *m, uint64_t start, uint64_t end)
{
	pmap_for_range(m, start, end, drop_one, p);
}

void space_drop_range(struct pager *p, struct space *sp, uint64_t start, uint64_t end)
{
	pmap_drop(p, &sp->map, start, end);
	pmap_drop(p, &sp->clean, start, end);
}

void pmap_share(struct pager *p, struct pmap *dst, const struct pmap *src)
{
	for (size_t b = 0; b < src->nbuckets; b++)
		for (struct chunk *c = src->buckets[b]; c; c = c->next)
			for (size_t i = 0; i < CHUNK_PAGES; i++) {
				if (!c->pages[i])
					continue;
				slot_ref(c->pages[i]);
				if (pmap_set(dst, c->base + i * PAGE_SIZE_4K, c->pages[i]) < 0)
					slot_unref(p, c->pages[i]);
			}
}

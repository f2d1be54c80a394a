/* SPDX-License-Identifier: Apache-2.0 */
/* The page map: entries set, found, walked and dropped over ranges, including the whole
 * address space (a walk of [0, UINT64_MAX) must visit every entry and end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pager.h"

struct count {
	size_t n;
	uint64_t sum;
};

static void count_fn(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	struct count *c = arg;

	c->n++;
	c->sum += addr;
}

static void clear_fn(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	free(*pp);
	*pp = NULL;
}

/* Addresses spread over low, middle and the top of the user address space. */
static const uint64_t addrs[] = {
	0x1000,		0x200000,	0x201000,	0x7f0000000000,
	0x7f0000001000, 0x7ffffffff000, 0x555555554000, 0x7f00001ff000,
};

static void fill(struct pmap *m)
{
	pmap_init(m);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		assert_int_equal(pmap_set(m, addrs[i], slot_new(SLOT_FILL)), 0);
}

static void test_whole_range_walk_ends(void **state)
{
	struct pmap m;
	struct count c = { 0 };
	uint64_t sum = 0;

	fill(&m);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		sum += addrs[i];
	pmap_for_range(&m, 0, UINT64_MAX, count_fn, &c);
	assert_int_equal(c.n, sizeof(addrs) / sizeof(addrs[0]));
	assert_true(c.sum == sum);
	pmap_for_range(&m, 0, UINT64_MAX, clear_fn, NULL);
	assert_int_equal(m.npages, 0);
	assert_int_equal(m.nchunks, 0);
	pmap_free(&m);
}

static void test_partial_ranges(void **state)
{
	struct pmap m;
	struct count c = { 0 };

	fill(&m);
	/* [0x200000, 0x202000) holds two entries; the end is exclusive. */
	pmap_for_range(&m, 0x200000, 0x201000, count_fn, &c);
	assert_int_equal(c.n, 1);
	c.n = 0;
	pmap_for_range(&m, 0x200000, 0x202000, count_fn, &c);
	assert_int_equal(c.n, 2);
	c.n = 0;
	pmap_for_range(&m, 0x7f0000000000, 0x7f0000200000, count_fn, &c);
	assert_int_equal(c.n, 3);
	c.n = 0;
	pmap_for_range(&m, 0x7ffffffff000, UINT64_MAX, count_fn, &c);
	assert_int_equal(c.n, 1);
	pmap_for_range(&m, 0, UINT64_MAX, clear_fn, NULL);
	pmap_free(&m);
}

static void test_set_get_clear(void **state)
{
	struct pmap m;
	struct slot *s = slot_new(SLOT_FILL);

	pmap_init(&m);
	assert_null(pmap_get(&m, 0x5000));
	assert_int_equal(pmap_set(&m, 0x5000, s), 0);
	assert_ptr_equal(pmap_get(&m, 0x5000), s);
	assert_ptr_equal(pmap_get(&m, 0x5fff), s);
	assert_null(pmap_get(&m, 0x6000));
	assert_int_equal(m.npages, 1);
	assert_int_equal(pmap_set(&m, 0x5000, NULL), 0);
	assert_null(pmap_get(&m, 0x5000));
	assert_int_equal(m.npages, 0);
	assert_int_equal(m.nchunks, 0);
	free(s);
	/* Many chunks force the table to grow; every entry stays reachable. */
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(pmap_set(&m, i * CHUNK_SIZE * 3, slot_new(SLOT_FILL)), 0);
	for (uint64_t i = 0; i < 1000; i++)
		assert_non_null(pmap_get(&m, i * CHUNK_SIZE * 3));
	pmap_for_range(&m, 0, UINT64_MAX, clear_fn, NULL);
	assert_int_equal(m.npages, 0);
	pmap_free(&m);
}

struct move {
	uint64_t shift;
	size_t n;
};

/* What an mremap does to the map: each entry set at its new address during the walk. */
static void move_fn(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	struct move *mv = arg;

	assert_int_equal(pmap_set(m, addr + mv->shift, *pp), 0);
	*pp = NULL;
	mv->n++;
}

static void check_moved(struct pmap *m, uint64_t base, uint64_t step, size_t n, uint64_t shift,
			struct slot **s)
{
	struct move mv = { shift, 0 };

	for (size_t i = 0; i < n; i++)
		assert_int_equal(pmap_set(m, base + i * step, s[i]), 0);
	pmap_for_range(m, base, base + n * step, move_fn, &mv);
	assert_int_equal(mv.n, n);
	assert_int_equal(m->npages, n);
	for (size_t i = 0; i < n; i++) {
		assert_null(pmap_get(m, base + i * step));
		assert_ptr_equal(pmap_get(m, base + i * step + shift), s[i]);
	}
}

static void test_set_during_walk(void **state)
{
	struct pmap m;
	struct slot *s[200];
	struct count c = { 0 };

	for (size_t i = 0; i < 200; i++)
		s[i] = slot_new(SLOT_FILL);
	pmap_init(&m);
	/* 300 pages moved 320 pages up: source and destination share 2 MiB chunks. */
	check_moved(&m, 0x400000, PAGE_SIZE_4K, 200, 320 * PAGE_SIZE_4K, s);
	pmap_for_range(&m, 0, UINT64_MAX, count_fn, &c);
	assert_int_equal(c.n, 200);
	pmap_free(&m);
	/* 200 chunks moved 1 GiB up: the table grows while the walk goes on. */
	pmap_init(&m);
	check_moved(&m, 0x40000000, 3 * CHUNK_SIZE, 200, 1ull << 30, s);
	assert_int_equal(m.nchunks, 200);
	pmap_for_range(&m, 0, UINT64_MAX, clear_fn, NULL);
	assert_int_equal(m.nchunks, 0);
	pmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_clear),
		cmocka_unit_test(test_partial_ranges),
		cmocka_unit_test(test_whole_range_walk_ends),
		cmocka_unit_test(test_set_during_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

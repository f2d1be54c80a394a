// SPDX-License-Identifier: Apache-2.0
/* The store: page allocation (next-fit, ascending, holes reused), writes and reads back,
 * checksums and fill detection. Runs unprivileged in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

struct fixture {
	char dir[64];
	struct store st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/uswap-test-store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	strcat(f->dir, "/s");
	assert_int_equal(store_open(&f->st, f->dir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *slash;

	store_close(&f->st);
	rmdir(f->dir);
	slash = strrchr(f->dir, '/');
	*slash = '\0';
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_modes(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(f->st.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_alloc_order(void **state)
{
	struct fixture *f = *state;
	uint64_t idx[200];

	assert_int_equal(store_alloc(&f->st, idx, 10), 0);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(idx[i], i);
	store_release(&f->st, 3);
	store_release(&f->st, 4);
	store_release(&f->st, 5);
	store_release(&f->st, 5); /* twice: ignored */
	store_release(&f->st, 999); /* never allocated: ignored */
	assert_int_equal(f->st.used, 7);
	/* The holes first, in order, then the end of the file. */
	assert_int_equal(store_alloc(&f->st, idx, 4), 0);
	assert_int_equal(idx[0], 3);
	assert_int_equal(idx[1], 4);
	assert_int_equal(idx[2], 5);
	assert_int_equal(idx[3], 10);
	assert_int_equal(f->st.used, 11);
	/* Across several bitmap words: one ascending run. */
	assert_int_equal(store_alloc(&f->st, idx, 200), 0);
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(idx[i], 11 + i);
	assert_int_equal(f->st.top, 211);
	for (uint64_t i = 0; i < 211; i++)
		store_release(&f->st, i);
	assert_int_equal(f->st.used, 0);
}

static void test_write_read(void **state)
{
	struct fixture *f = *state;
	struct store_page pages[8];
	uint64_t idx[8];
	uint8_t *buf = aligned_alloc(4096, 9 * 4096);

	assert_non_null(buf);
	assert_int_equal(store_alloc(&f->st, idx, 8), 0);
	for (int i = 0; i < 8; i++) {
		memset(buf + i * 4096, 'a' + i, 4096);
		/* Out of order: store_write sorts and coalesces. */
		pages[i] = (struct store_page){ .idx = idx[7 - i], .data = buf + i * 4096 };
	}
	assert_int_equal(store_write(&f->st, pages, 8), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(store_read(&f->st, idx[7 - i], buf + 8 * 4096), 0);
		assert_int_equal(buf[8 * 4096], 'a' + i);
		assert_int_equal(buf[9 * 4096 - 1], 'a' + i);
		assert_int_equal(page_checksum(buf + 8 * 4096), page_checksum(buf + i * 4096));
	}
	/* A read past the end of the file is an error, not a page of zeros. */
	assert_true(store_read(&f->st, 1000, buf) < 0);
	free(buf);
}

static void test_fill_and_checksum(void **state)
{
	uint64_t *page = aligned_alloc(4096, 4096), v = 0;
	uint32_t c;

	assert_non_null(page);
	for (int i = 0; i < 512; i++)
		page[i] = 0x0101010101010101ull;
	assert_true(page_is_filled(page, &v));
	assert_true(v == 0x0101010101010101ull);
	c = page_checksum(page);
	page[511] ^= 1;
	assert_false(page_is_filled(page, &v));
	assert_true(page_checksum(page) != c);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test(test_fill_and_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

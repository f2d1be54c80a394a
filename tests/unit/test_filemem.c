/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "filemem.h"
#include "uswap/cgroup.h"
#include "uswap/util.h"

#define MIB (1ull << 20)

struct reason_case {
	uint64_t usage;
	struct uswap_cgroup_stat st;
	const char *reason;
	uint64_t bytes;
};

static const struct reason_case reason_cases[] = {
	/* a container that read a large file: page cache dominates */
	{ 300 * MIB, { .anon = 2 * MIB, .file = 250 * MIB }, "file-cache", 250 * MIB },
	/* the same amount in tmpfs: no page cache the kernel could drop without swap */
	{ 300 * MIB,
	  { .anon = 2 * MIB, .file = 250 * MIB, .shmem = 200 * MIB },
	  "shmem",
	  200 * MIB },
	/* anonymous memory the pager cannot page (shared, mlocked, unarmed) */
	{ 130 * MIB, { .anon = 100 * MIB, .file = 20 * MIB }, "anon-unevictable", 100 * MIB },
	/* neither: page tables, slab, kernel stacks */
	{ 100 * MIB, { .anon = 5 * MIB, .file = 5 * MIB }, "kernel-memory", 90 * MIB },
	/* v1 usage lags memory.stat (per-cpu charge batches): no negative kernel part */
	{ 10 * MIB, { .anon = 8 * MIB, .file = 4 * MIB }, "anon-unevictable", 8 * MIB },
	/* a tie goes to page cache; shmem beyond file is not believed */
	{ 20 * MIB, { .anon = 10 * MIB, .file = 10 * MIB, .shmem = 30 * MIB }, "shmem", 10 * MIB },
	{ 20 * MIB, { .anon = 10 * MIB, .file = 10 * MIB }, "file-cache", 10 * MIB },
	{ 0, { 0 }, "file-cache", 0 },
};

static void test_reason(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(reason_cases); i++) {
		const struct reason_case *c = &reason_cases[i];
		uint64_t bytes = 1;

		print_message("case %zu\n", i);
		assert_string_equal(filemem_reason(c->usage, &c->st, &bytes), c->reason);
		assert_true(bytes == c->bytes);
	}
}

/* Standalone modes have no cgroup: the target is RssAnon, so what is left is anonymous. */
static void test_tick_no_cgroup(void **state)
{
	struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	struct filemem fm = { 0 };

	filemem_tick(&fm, NULL, true, 80 * MIB, 64 * MIB, NULL);
	assert_string_equal(fm.reason, "anon-unevictable");
	assert_true(fm.reason_bytes == 80 * MIB);
	filemem_tick(&fm, &cg, false, 80 * MIB, 64 * MIB, NULL);
	assert_string_equal(fm.reason, "");
	assert_true(fm.reason_bytes == 0);
	filemem_tick(&fm, &cg, true, 60 * MIB, 64 * MIB, NULL);
	assert_string_equal(fm.reason, "");
}

/* Locked memory (VmLck, set by the manager) is named when it is at least half of what is
 * left. */
static void test_tick_locked(void **state)
{
	struct filemem fm = { .locked_bytes = 40 * MIB };

	filemem_tick(&fm, NULL, true, 80 * MIB, 64 * MIB, NULL);
	assert_string_equal(fm.reason, "anon-locked");
	assert_true(fm.reason_bytes == 40 * MIB);
	fm.locked_bytes = 10 * MIB;
	filemem_tick(&fm, NULL, true, 80 * MIB, 64 * MIB, NULL);
	assert_string_equal(fm.reason, "anon-unevictable");
	assert_true(fm.reason_bytes == 80 * MIB);
	assert_true(fm.locked_bytes == 10 * MIB);
}

struct scratch {
	char dir[64];
	struct uswap_cgroup cg;
};

static void put(const struct scratch *s, const char *name, const char *content)
{
	char path[128];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
}

static void get(const struct scratch *s, const char *name, char *buf, size_t size)
{
	char path[128];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* A v2 cgroup directory made of plain files: memory.reclaim keeps what the module wrote. */
static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/uswap-test-filemem.XXXXXX");
	s->cg = USWAP_CGROUP_INIT;
	*state = s;
	if (!mkdtemp(s->dir))
		return -1;
	put(s, "memory.current", "300000000\n");
	put(s, "memory.stat", "anon 1048576\nfile 268435456\nshmem 0\n");
	put(s, "memory.reclaim", "");
	return uswap_cgroup_open_dir(s->dir, 2, &s->cg);
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;
	static const char *const files[] = { "memory.current", "memory.stat", "memory.reclaim" };
	char path[128];

	uswap_cgroup_close(&s->cg);
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, files[i]);
		unlink(path);
	}
	rmdir(s->dir);
	free(s);
	return 0;
}

static void test_tick_reclaim_v2(void **state)
{
	struct scratch *s = *state;
	struct filemem fm = { 0 };
	uint64_t usage = 300000000, target = 64 * MIB;
	char buf[128], want[128];

	filemem_tick(&fm, &s->cg, true, usage, target, "c1");
	assert_string_equal(fm.reason, "file-cache");
	assert_true(fm.reason_bytes == 268435456);
	/* the excess and 2% of the target, file pages only */
	snprintf(want, sizeof(want), "%llu swappiness=0",
		 (unsigned long long)(usage - target + target / 50));
	get(s, "memory.reclaim", buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_true(fm.told);

	/* rate-limited: the next tick explains but does not ask again */
	put(s, "memory.reclaim", "");
	filemem_tick(&fm, &s->cg, true, usage, target, "c1");
	assert_string_equal(fm.reason, "file-cache");
	get(s, "memory.reclaim", buf, sizeof(buf));
	assert_string_equal(buf, "");

	/* never more than the page cache there is */
	fm.next_reclaim_ns = 0;
	filemem_tick(&fm, &s->cg, true, usage, 1 * MIB, "c1");
	get(s, "memory.reclaim", buf, sizeof(buf));
	assert_string_equal(buf, "268435456 swappiness=0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_tick_no_cgroup),
		cmocka_unit_test(test_tick_locked),
		cmocka_unit_test_setup_teardown(test_tick_reclaim_v2, scratch_setup,
						scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

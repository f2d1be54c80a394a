/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "uswap/maps.h"
#include "uswap/util.h"

static int open_fixture(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", USWAP_FIXTURE_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	return fd;
}

static int parse_fixture(const char *name, struct uswap_vma **ret_vmas, size_t *ret_n)
{
	_cleanup_close_ int fd = open_fixture(name);

	return uswap_maps_parse_fd(fd, ret_vmas, ret_n);
}

struct vma_case {
	uint64_t start, end, offset, inode;
	unsigned major, minor;
	const char *perms;
	const char *name;
	bool evictable;
};

/* One row per line of fixtures/maps/full.maps. */
static const struct vma_case full_cases[] = {
	{ 0x55d0c7e00000, 0x55d0c7e02000, 0, 1048593, 0xfd, 1, "r--p", "/usr/bin/cat", false },
	{ 0x55d0c7e02000, 0x55d0c7e07000, 0x2000, 1048593, 0xfd, 1, "r-xp", "/usr/bin/cat", false },
	{ 0x55d0c7e07000, 0x55d0c7e0a000, 0x7000, 1048593, 0xfd, 1, "r--p", "/usr/bin/cat", false },
	{ 0x55d0c7e0a000, 0x55d0c7e0b000, 0x9000, 1048593, 0xfd, 1, "r--p", "/usr/bin/cat", false },
	{ 0x55d0c7e0b000, 0x55d0c7e0c000, 0xa000, 1048593, 0xfd, 1, "rw-p", "/usr/bin/cat", false },
	{ 0x55d0c8a00000, 0x55d0c8a21000, 0, 0, 0, 0, "rw-p", "[heap]", true },
	{ 0x7f1c29c00000, 0x7f1c2a000000, 0, 0, 0, 0, "rw-p", "", true },
	{ 0x7f1c2a000000, 0x7f1c2a021000, 0, 0, 0, 0, "rw-p", "[anon:victim arena]", true },
	{ 0x7f1c2a021000, 0x7f1c2a022000, 0, 0, 0, 0, "rw-p", "[anon:uswap-stack]", false },
	{ 0x7f1c2a100000, 0x7f1c2a200000, 0, 4102, 0, 1, "rw-s", "/memfd:store (deleted)", false },
	{ 0x7f1c2a200000, 0x7f1c2a201000, 0, 2359301, 0xfd, 1, "rw-p",
	  "/tmp/dir with spaces/data file.bin", false },
	{ 0x7f1c2a201000, 0x7f1c2a202000, 0x1000, 131090, 8, 0x11, "rw-p",
	  "/var/tmp/old.log (deleted)", false },
	{ 0x7f1c2a300000, 0x7f1c2a301000, 0, 0, 0, 0, "r--p", "", false },
	{ 0x7f1c2a400000, 0x7f1c2a401000, 0, 0, 0, 0, "rwxp", "", true },
	{ 0x7f1c2a500000, 0x7f1c2a501000, 0, 0, 0, 0, "rw-s", "", false },
	{ 0x7f1c2a5f0000, 0x7f1c2a5f1000, 0, 0, 0, 0, "---p", "", false },
	{ 0x7f1c2a600000, 0x7f1c2a628000, 0, 1050261, 0xfd, 1, "r--p",
	  "/usr/lib/x86_64-linux-gnu/libc.so.6", false },
	{ 0x7f1c2a628000, 0x7f1c2a79d000, 0x28000, 1050261, 0xfd, 1, "r-xp",
	  "/usr/lib/x86_64-linux-gnu/libc.so.6", false },
	{ 0x7ffd4b2e0000, 0x7ffd4b301000, 0, 0, 0, 0, "rw-p", "[stack]", false },
	{ 0x7ffd4b3c4000, 0x7ffd4b3c8000, 0, 0, 0, 0, "r--p", "[vvar]", false },
	{ 0x7ffd4b3c8000, 0x7ffd4b3ca000, 0, 0, 0, 0, "r-xp", "[vdso]", false },
	{ 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "--xp", "[vsyscall]", false },
};

static void check_vma(const struct uswap_vma *v, const struct vma_case *c)
{
	print_message("%#llx-%#llx %s\n", (unsigned long long)c->start, (unsigned long long)c->end,
		      c->name);
	assert_true(v->start == c->start);
	assert_true(v->end == c->end);
	assert_true(v->offset == c->offset);
	assert_true(v->inode == c->inode);
	assert_int_equal(v->dev_major, c->major);
	assert_int_equal(v->dev_minor, c->minor);
	assert_int_equal(v->read, c->perms[0] == 'r');
	assert_int_equal(v->write, c->perms[1] == 'w');
	assert_int_equal(v->exec, c->perms[2] == 'x');
	assert_int_equal(v->shared, c->perms[3] == 's');
	assert_string_equal(v->name, c->name);
	assert_int_equal(uswap_vma_evictable(v), c->evictable);
}

static void test_full(void **state)
{
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t n = 0;

	assert_int_equal(parse_fixture("full.maps", &vmas, &n), 0);
	assert_int_equal(n, USWAP_ARRAY_SIZE(full_cases));
	for (size_t i = 0; i < n; i++)
		check_vma(&vmas[i], &full_cases[i]);
}

static void test_no_final_newline(void **state)
{
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t n = 0;

	assert_int_equal(parse_fixture("no-final-newline.maps", &vmas, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(vmas[0].name, "[heap]");
	assert_string_equal(vmas[1].name, "");
	assert_true(vmas[1].end == 0x7f1c2a021000);
}

static void test_empty(void **state)
{
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t n = 1;

	assert_int_equal(parse_fixture("empty.maps", &vmas, &n), 0);
	assert_int_equal(n, 0);
}

static void test_long_name_truncated(void **state)
{
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t n = 0;

	assert_int_equal(parse_fixture("long-name.maps", &vmas, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(vmas[0].name), sizeof(vmas[0].name) - 1);
	assert_int_equal(vmas[0].name[0], '/');
}

static const char *const malformed[] = {
	"malformed-perms.maps",	     "malformed-missing-inode.maps", "malformed-range.maps",
	"malformed-reversed.maps",   "malformed-prefix.maps",	     "malformed-overflow.maps",
	"malformed-empty-line.maps", "malformed-inode.maps",	     "malformed-text.maps",
};

static void test_malformed(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(malformed); i++) {
		struct uswap_vma *vmas = (struct uswap_vma *)0x1;
		size_t n = 12345;

		print_message("%s\n", malformed[i]);
		assert_int_equal(parse_fixture(malformed[i], &vmas, &n), -EBADMSG);
		assert_ptr_equal(vmas, (struct uswap_vma *)0x1);
		assert_int_equal(n, 12345);
	}
}

/* The parser starts at the current offset and copes with files far bigger than one read. */
static void test_offset_and_large(void **state)
{
	static const char line[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n";
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	_cleanup_close_ int fd = -1;
	const size_t lines = 20000;
	size_t n = 0;

	fd = memfd_create("maps", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	for (size_t i = 0; i < lines; i++)
		assert_int_equal(write(fd, line, sizeof(line) - 1), sizeof(line) - 1);
	assert_int_equal(lseek(fd, 8, SEEK_SET), 8);
	assert_int_equal(uswap_maps_parse_fd(fd, &vmas, &n), 0);
	assert_int_equal(n, lines);
	assert_true(uswap_vma_evictable(&vmas[lines - 1]));
}

static void test_read_self(void **state)
{
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t n = 0, i;
	void *p;

	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(uswap_maps_read(getpid(), &vmas, &n), 0);
	for (i = 0; i < n; i++)
		if (vmas[i].start <= (uintptr_t)p && (uintptr_t)p < vmas[i].end)
			break;
	assert_true(i < n);
	assert_true(uswap_vma_evictable(&vmas[i]));
	for (i = 0; i < n; i++)
		if (strcmp(vmas[i].name, "[stack]") == 0)
			break;
	assert_true(i < n);
	assert_false(uswap_vma_evictable(&vmas[i]));
	munmap(p, 3 * 4096);
}

static void test_read_gone(void **state)
{
	struct uswap_vma *vmas = NULL;
	size_t n = 0;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* The pid is reaped; it can only be reused after the whole pid space wraps. */
	assert_int_equal(uswap_maps_read(pid, &vmas, &n), -ESRCH);
	assert_int_equal(uswap_maps_read(0, &vmas, &n), -EINVAL);
	assert_null(vmas);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	  cmocka_unit_test(test_no_final_newline),
		cmocka_unit_test(test_empty),	  cmocka_unit_test(test_long_name_truncated),
		cmocka_unit_test(test_malformed), cmocka_unit_test(test_offset_and_large),
		cmocka_unit_test(test_read_self), cmocka_unit_test(test_read_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

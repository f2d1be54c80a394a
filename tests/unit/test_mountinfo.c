/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uswap/mountinfo.h"
#include "uswap/util.h"

struct line_case {
	const char *line;
	int r;
	uint32_t id, parent, major, minor;
	const char *root, *mountpoint, *options, *fstype, *source, *superopts;
};

static const struct line_case cases[] = {
	{ "36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory", 0,
	  36, 25, 0, 32, "/", "/sys/fs/cgroup/memory", "rw,relatime", "cgroup", "cgroup",
	  "rw,memory" },
	{ "22 27 0:21 / /proc rw,relatime - proc proc rw", 0, 22, 27, 0, 21, "/", "/proc",
	  "rw,relatime", "proc", "proc", "rw" },
	{ "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw shared:13 master:2 propagate_from:1 "
	  "unbindable - cgroup cgroup rw,memory",
	  0, 35, 31, 0, 32, "/docker/abc", "/sys/fs/cgroup/memory", "rw", "cgroup", "cgroup",
	  "rw,memory" },
	/* mount -t tmpfs "" /mnt/x: the source prints as nothing. */
	{ "28 27 0:25 / /mnt/x ro,relatime - tmpfs  ro,size=4k", 0, 28, 27, 0, 25, "/", "/mnt/x",
	  "ro,relatime", "tmpfs", "", "ro,size=4k" },
	{ "50 27 0:40 /a\\040b /mnt/x\\011y\\012z\\134w rw - fuse.sshfs me@host:/my\\040dir rw", 0,
	  50, 27, 0, 40, "/a b", "/mnt/x\ty\nz\\w", "rw", "fuse.sshfs", "me@host:/my dir", "rw" },
	{ "4294967295 0 4095:1048575 / / rw - ext4 /dev/vda rw", 0, UINT32_MAX, 0, 4095, 1048575,
	  "/", "/", "rw", "ext4", "/dev/vda", "rw" },
	{ .line = "4294967296 0 0:1 / / rw - ext4 /dev/vda rw", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc rw,relatime proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc rw,relatime -", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc rw,relatime - proc", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc rw,relatime - proc proc", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc rw,relatime - proc proc rw ", .r = -EBADMSG },
	{ .line = "22 27 0:21 /  /proc rw,relatime - proc proc rw", .r = -EBADMSG },
	{ .line = " 22 27 0:21 / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0:21 / /proc", .r = -EBADMSG },
	{ .line = "22 27 0:21 / proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0:21 x /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "a 27 0:21 / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 -1 0:21 / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0-21 / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0: / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "22 27 0:21x / /proc rw - proc proc rw", .r = -EBADMSG },
	{ .line = "50 27 0:40 / /mnt/a\\04x rw - tmpfs tmpfs rw", .r = -EBADMSG },
	{ .line = "50 27 0:40 / /mnt/a\\000 rw - tmpfs tmpfs rw", .r = -EBADMSG },
	{ .line = "50 27 0:40 / /mnt/a\\400 rw - tmpfs tmpfs rw", .r = -EBADMSG },
	{ .line = "50 27 0:40 / /mnt/a\\ rw - tmpfs tmpfs rw", .r = -EBADMSG },
	{ .line = "50 27 0:40 / /mnt rw - tmpfs bad\\source rw", .r = -EBADMSG },
	{ .line = "", .r = -EBADMSG },
};

static void check_line(const struct line_case *c)
{
	struct uswap_mount m = { .mount_id = 12345 };
	char buf[512];

	print_message("%s\n", c->line);
	assert_true(strlen(c->line) < sizeof(buf));
	strcpy(buf, c->line);
	assert_int_equal(uswap_mountinfo_parse_line(buf, &m), c->r);
	if (c->r) {
		assert_int_equal(m.mount_id, 12345);
		assert_null(m.root);
		return;
	}
	assert_int_equal(m.mount_id, c->id);
	assert_int_equal(m.parent_id, c->parent);
	assert_int_equal(m.major, c->major);
	assert_int_equal(m.minor, c->minor);
	assert_string_equal(m.root, c->root);
	assert_string_equal(m.mountpoint, c->mountpoint);
	assert_string_equal(m.options, c->options);
	assert_string_equal(m.fstype, c->fstype);
	assert_string_equal(m.source, c->source);
	assert_string_equal(m.superopts, c->superopts);
}

static void test_lines(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(cases); i++)
		check_line(&cases[i]);
}

/* The machine's own table parses line by line (it always has at least "/"). */
static void test_self(void **state)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	bool root = false;

	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		struct uswap_mount m;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		assert_int_equal(uswap_mountinfo_parse_line(line, &m), 0);
		root |= strcmp(m.mountpoint, "/") == 0;
		n++;
	}
	free(line);
	fclose(f);
	assert_true(n > 0);
	assert_true(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

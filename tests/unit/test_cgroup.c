/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "uswap/cgroup.h"
#include "uswap/fileio.h"
#include "uswap/util.h"

#define CG_FIXTURES USWAP_FIXTURE_DIR "/cgroup"
#define NOPE 0xdeadbeefdeadbeefull

static void fixture_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", CG_FIXTURES, name);

	assert_true(n > 0 && (size_t)n < size);
}

static int open_fixture(const char *name, int version, struct uswap_cgroup *ret)
{
	char path[4096];

	fixture_path(path, sizeof(path), name);
	return uswap_cgroup_open_dir(path, version, ret);
}

struct open_case {
	const char *dir;
	int version;
	int r;
	int got_version;
};

static const struct open_case open_cases[] = {
	{ "v1-basic", 0, 0, 1 },
	{ "v1-basic", 1, 0, 1 },
	{ "v1-basic", 2, -ENOENT, 0 },
	{ "v2-basic", 0, 0, 2 },
	{ "v2-basic", 2, 0, 2 },
	{ "v2-basic", 1, -ENOENT, 0 },
	{ "v1-basic/worker/batch", 0, 0, 1 },
	{ "neither", 0, -ENOENT, 0 },
	{ "no-such-dir", 0, -ENOENT, 0 },
	{ "v1-basic/memory.stat", 0, -ENOTDIR, 0 },
	{ "v1-basic", 3, -EINVAL, 0 },
	{ "v1-basic", -1, -EINVAL, 0 },
};

static void test_open_dir(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(open_cases); i++) {
		const struct open_case *c = &open_cases[i];
		struct uswap_cgroup cg = { .version = 42, .dirfd = -42, .path = "untouched" };

		print_message("%s version %d\n", c->dir, c->version);
		assert_int_equal(open_fixture(c->dir, c->version, &cg), c->r);
		if (c->r < 0) {
			assert_int_equal(cg.version, 42);
			assert_int_equal(cg.dirfd, -42);
			assert_string_equal(cg.path, "untouched");
			continue;
		}
		assert_int_equal(cg.version, c->got_version);
		assert_true(cg.dirfd >= 0);
		assert_non_null(strstr(cg.path, c->dir));
		uswap_cgroup_close(&cg);
		assert_int_equal(cg.dirfd, -1);
		uswap_cgroup_close(&cg);
	}
}

static void test_open_dir_too_long(void **state)
{
	char path[5000];
	struct uswap_cgroup cg = USWAP_CGROUP_INIT;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(uswap_cgroup_open_dir(path, 0, &cg), -ENAMETOOLONG);
	assert_int_equal(uswap_cgroup_open_dir(NULL, 0, &cg), -EINVAL);
	assert_int_equal(cg.dirfd, -1);
}

/* Expected results of every reader on one fixture directory. */
struct read_case {
	const char *dir;
	int r_usage;
	uint64_t usage;
	int r_limit;
	uint64_t limit;
	int r_stat;
	uint64_t anon, file, shmem;
	int r_pressure;
	struct uswap_cgroup_pressure pressure;
	int r_procs;
	size_t npids;
	pid_t pids[8];
};

static const struct read_case read_cases[] = {
	{ .dir = "v1-basic",
	  .usage = 73728000,
	  .limit = UINT64_MAX,
	  .anon = 62914560, /* total_rss, not rss: includes worker/ and idle/ */
	  .file = 8814592,
	  .r_pressure = -EOPNOTSUPP,
	  .npids = 5,
	  .pids = { 4099, 4107, 5001, 5120, 7777 } },
	{ .dir = "v1-limited",
	  .usage = 268431360,
	  .limit = 268435456,
	  .anon = 266338304, /* no total_*: rss and cache */
	  .file = 1048576,
	  .r_pressure = -EOPNOTSUPP },
	{ .dir = "v2-basic",
	  .usage = 104857600,
	  .limit = UINT64_MAX,
	  .anon = 94371840,
	  .file = 8388608,
	  .shmem = 4096,
	  .pressure = { 1.53, 0.50, 4829131, 1290012 },
	  .npids = 3,
	  .pids = { 300, 301, 302 } },
	{ .dir = "v2-limited", .usage = 536866816, .limit = 536870912, .anon = 530579456 },
	{ .dir = "v2-nopsi",
	  .usage = 4096,
	  .limit = 4096,
	  .r_stat = -EBADMSG, /* no "file" */
	  .r_pressure = -EOPNOTSUPP,
	  .npids = 1,
	  .pids = { 1 } },
	{ .dir = "v1-bad",
	  .r_usage = -EBADMSG,
	  .r_limit = -EBADMSG,
	  .r_stat = -EBADMSG,
	  .r_pressure = -EOPNOTSUPP,
	  .r_procs = -EBADMSG },
	{ .dir = "v2-bad",
	  .r_usage = -EBADMSG,
	  .r_limit = -EBADMSG,
	  .r_stat = -EBADMSG,
	  .r_pressure = -EBADMSG,
	  .r_procs = -EBADMSG },
};

static void check_numbers(const struct uswap_cgroup *cg, const struct read_case *c)
{
	struct uswap_cgroup_stat st = { NOPE, NOPE, NOPE };
	uint64_t v = NOPE;

	assert_int_equal(uswap_cgroup_usage(cg, &v), c->r_usage);
	assert_true(v == (c->r_usage ? NOPE : c->usage));
	v = NOPE;
	assert_int_equal(uswap_cgroup_limit(cg, &v), c->r_limit);
	assert_true(v == (c->r_limit ? NOPE : c->limit));
	assert_int_equal(uswap_cgroup_stat(cg, &st), c->r_stat);
	assert_true(st.anon == (c->r_stat ? NOPE : c->anon));
	assert_true(st.file == (c->r_stat ? NOPE : c->file));
	assert_true(st.shmem == (c->r_stat ? NOPE : c->shmem));
}

static void check_pressure(const struct uswap_cgroup *cg, const struct read_case *c)
{
	struct uswap_cgroup_pressure p = { -1, -1, NOPE, NOPE };

	assert_int_equal(uswap_cgroup_pressure(cg, &p), c->r_pressure);
	if (c->r_pressure) {
		assert_true(p.some_avg10 == -1 && p.some_total_us == NOPE);
		return;
	}
	/* Exact: the parser divides an integer mantissa, like the compiler does for literals. */
	assert_true(p.some_avg10 == c->pressure.some_avg10);
	assert_true(p.full_avg10 == c->pressure.full_avg10);
	assert_true(p.some_total_us == c->pressure.some_total_us);
	assert_true(p.full_total_us == c->pressure.full_total_us);
}

static void check_procs(const struct uswap_cgroup *cg, const struct read_case *c)
{
	pid_t *pids = (pid_t *)0x1;
	size_t n = 12345;

	assert_int_equal(uswap_cgroup_procs(cg, &pids, &n), c->r_procs);
	if (c->r_procs) {
		assert_ptr_equal(pids, (pid_t *)0x1);
		assert_int_equal(n, 12345);
		return;
	}
	assert_int_equal(n, c->npids);
	if (n == 0)
		assert_null(pids);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pids[i], c->pids[i]);
	free(pids);
}

static void test_read_fixtures(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(read_cases); i++) {
		_cleanup_cgroup_ struct uswap_cgroup cg = USWAP_CGROUP_INIT;

		print_message("%s\n", read_cases[i].dir);
		assert_int_equal(open_fixture(read_cases[i].dir, 0, &cg), 0);
		check_numbers(&cg, &read_cases[i]);
		check_pressure(&cg, &read_cases[i]);
		check_procs(&cg, &read_cases[i]);
	}
}

static void test_closed_handle(void **state)
{
	struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	struct uswap_cgroup_stat st;
	pid_t *pids;
	size_t n;
	uint64_t v;

	assert_int_equal(uswap_cgroup_usage(&cg, &v), -EINVAL);
	assert_int_equal(uswap_cgroup_limit(NULL, &v), -EINVAL);
	assert_int_equal(uswap_cgroup_stat(&cg, &st), -EINVAL);
	assert_int_equal(uswap_cgroup_procs(&cg, &pids, &n), -EINVAL);
	uswap_cgroup_close(&cg);
	uswap_cgroup_close(NULL);
}

/* A scratch cgroup directory whose files each case rewrites; removed even when a test fails. */
static int scratch_setup(void **state)
{
	char *dir = strdup("/tmp/uswap-test-cgroup.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static void put_file(const char *dir, const char *name, const char *content, size_t len)
{
	char path[4200];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
}

static int scratch_teardown(void **state)
{
	char *dir = *state;
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r |= unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	r |= rmdir(dir);
	free(dir);
	return r;
}

/* A string literal as a table entry's content and length, or as (buf, len) arguments. */
#define TXT(s) .content = s, .len = sizeof(s) - 1
#define LIT(s) s, sizeof(s) - 1

struct number_case {
	int version; /* 1: memory.limit_in_bytes; 2: memory.current or memory.max */
	const char *file;
	const char *content;
	size_t len;
	int r;
	uint64_t value;
};

#define CURRENT(s) .version = 2, .file = "memory.current", TXT(s)
#define V2MAX(s) .version = 2, .file = "memory.max", TXT(s)
#define V1LIMIT(s) .version = 1, .file = "memory.limit_in_bytes", TXT(s)

static const struct number_case number_cases[] = {
	{ CURRENT("0\n"), .value = 0 },
	{ CURRENT("42"), .value = 42 },
	{ CURRENT("18446744073709551615\n"), .value = UINT64_MAX },
	{ CURRENT("18446744073709551616\n"), .r = -EBADMSG },
	{ CURRENT("99999999999999999999999\n"), .r = -EBADMSG },
	{ CURRENT(""), .r = -EBADMSG },
	{ CURRENT("\n"), .r = -EBADMSG },
	{ CURRENT(" 1\n"), .r = -EBADMSG },
	{ CURRENT("1 \n"), .r = -EBADMSG },
	{ CURRENT("1\n\n"), .r = -EBADMSG },
	{ CURRENT("1\n2\n"), .r = -EBADMSG },
	{ CURRENT("+1\n"), .r = -EBADMSG },
	{ CURRENT("-1\n"), .r = -EBADMSG },
	{ CURRENT("0x10\n"), .r = -EBADMSG },
	{ CURRENT("1.5\n"), .r = -EBADMSG },
	{ CURRENT("1\0002\n"), .r = -EBADMSG },
	{ CURRENT("1\r\n"), .r = -EBADMSG },
	{ V2MAX("max\n"), .value = UINT64_MAX },
	{ V2MAX("max"), .value = UINT64_MAX },
	{ V2MAX("4096\n"), .value = 4096 },
	{ V2MAX("max\n\n"), .r = -EBADMSG },
	{ V2MAX("Max\n"), .r = -EBADMSG },
	{ V2MAX(" max\n"), .r = -EBADMSG },
	{ V2MAX("max 1\n"), .r = -EBADMSG },
	/* 4 KiB pages on the machines this runs on: LONG_MAX rounded down to a page. */
	{ V1LIMIT("9223372036854771712\n"), .value = UINT64_MAX },
	{ V1LIMIT("9223372036854775807\n"), .value = UINT64_MAX },
	{ V1LIMIT("9223372036854767616\n"), .value = 9223372036854767616ull },
	{ V1LIMIT("max\n"), .r = -EBADMSG },
};

static int read_number(const struct uswap_cgroup *cg, const struct number_case *c, uint64_t *v)
{
	if (strcmp(c->file, "memory.current") == 0)
		return uswap_cgroup_usage(cg, v);
	return uswap_cgroup_limit(cg, v);
}

static void test_number_grammar(void **state)
{
	const char *dir = *state;

	assert_int_equal(sysconf(_SC_PAGESIZE), 4096);
	put_file(dir, "memory.usage_in_bytes", LIT("0\n"));
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(number_cases); i++) {
		const struct number_case *c = &number_cases[i];
		_cleanup_cgroup_ struct uswap_cgroup cg = USWAP_CGROUP_INIT;
		uint64_t v = NOPE;

		print_message("v%d %s \"%.*s\"\n", c->version, c->file, (int)c->len, c->content);
		put_file(dir, "memory.current", LIT("0\n"));
		put_file(dir, c->file, c->content, c->len);
		assert_int_equal(uswap_cgroup_open_dir(dir, c->version, &cg), 0);
		assert_int_equal(read_number(&cg, c, &v), c->r);
		assert_true(v == (c->r ? NOPE : c->value));
	}
}

struct text_case {
	const char *content;
	size_t len;
	int r;
	double some_avg10;
	uint64_t full_total;
};

static const struct text_case pressure_cases[] = {
	{ TXT("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n") },
	{ TXT("full avg10=2.00 avg60=0.00 avg300=0.00 total=7\n"
	      "some avg10=100.00 avg60=0.00 avg300=0.00 total=9"),
	  .some_avg10 = 100.0, .full_total = 7 },
	{ TXT("some avg10=12.5 avg60=0.00 avg300=0.00 total=1\n"
	      "full avg10=0.123456 avg60=0.00 avg300=0.00 total=18446744073709551615\n"),
	  .some_avg10 = 12.5, .full_total = UINT64_MAX },
	{ TXT("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"), .r = -EBADMSG },
	{ TXT("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg10=1 avg60=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg10=1.1234567 avg60=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg10=.5 avg60=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra=1\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT("somewhat avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
	  .r = -EBADMSG },
	{ TXT(""), .r = -EBADMSG },
};

static void test_pressure_grammar(void **state)
{
	_cleanup_cgroup_ struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	struct uswap_cgroup_pressure pr;
	const char *dir = *state;
	char path[128];

	put_file(dir, "memory.current", LIT("0\n"));
	assert_int_equal(uswap_cgroup_open_dir(dir, 2, &cg), 0);
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(pressure_cases); i++) {
		const struct text_case *c = &pressure_cases[i];
		struct uswap_cgroup_pressure p = { -1, -1, NOPE, NOPE };

		print_message("\"%.*s\"\n", (int)c->len, c->content);
		put_file(dir, "memory.pressure", c->content, c->len);
		assert_int_equal(uswap_cgroup_pressure(&cg, &p), c->r);
		if (c->r) {
			assert_true(p.some_total_us == NOPE);
			continue;
		}
		assert_true(p.some_avg10 == c->some_avg10);
		assert_true(p.full_total_us == c->full_total);
	}
	/* No memory.pressure in a live v2 cgroup: PSI is off, not an I/O error. */
	snprintf(path, sizeof(path), "%s/memory.pressure", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(uswap_cgroup_pressure(&cg, &pr), -EOPNOTSUPP);
}

static const struct text_case stat_cases[] = {
	{ TXT("anon 1\nfile 2\n") },
	{ TXT("file 2\nanon 1") },
	{ TXT("anon 1\nfile 2\nanon_thp 0\nfile_mapped 9\n") },
	{ TXT("anon 1\nshmem 1\nfile 2\nshmem_thp 0\n") },
	{ TXT("anon 1\n"), .r = -EBADMSG },
	{ TXT("anon 1\nfile 2\nanon 3\n"), .r = -EBADMSG },
	{ TXT("anon 1\nfile 2\nshmem\n"), .r = -EBADMSG },
	{ TXT("anon 1\nfile 2\nshmem -1\n"), .r = -EBADMSG },
	{ TXT("anon 1\nfile  2\n"), .r = -EBADMSG },
	{ TXT("anon 1\nfile 2 \n"), .r = -EBADMSG },
	{ TXT("anon 1\n\nfile 2\n"), .r = -EBADMSG },
	{ TXT(" anon 1\nfile 2\n"), .r = -EBADMSG },
	{ TXT(""), .r = -EBADMSG },
};

static void test_stat_grammar(void **state)
{
	_cleanup_cgroup_ struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	const char *dir = *state;

	put_file(dir, "memory.current", LIT("0\n"));
	assert_int_equal(uswap_cgroup_open_dir(dir, 2, &cg), 0);
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(stat_cases); i++) {
		const struct text_case *c = &stat_cases[i];
		struct uswap_cgroup_stat st = { NOPE, NOPE, NOPE };

		print_message("\"%.*s\"\n", (int)c->len, c->content);
		put_file(dir, "memory.stat", c->content, c->len);
		assert_int_equal(uswap_cgroup_stat(&cg, &st), c->r);
		assert_true(st.anon == (c->r ? NOPE : 1));
		assert_true(st.file == (c->r ? NOPE : 2));
		/* shmem is optional: 0 when the kernel does not print it */
		assert_true(st.shmem == (c->r					  ? NOPE :
					 memmem(c->content, c->len, "shmem 1", 7) ? 1 :
										    0));
	}
}

struct host_case {
	const char *host;
	int r;
	int version;
	const char *dir; /* below the host's fixture directory */
};

static const struct host_case host_cases[] = {
	{ .host = "hybrid",
	  .version = 1,
	  .dir = "sys/fs/cgroup/memory/libpod_parent/libpod-3f2a9c" },
	{ .host = "hybrid-comount",
	  .version = 1,
	  .dir = "sys/fs/cgroup/cpu,cpuacct,memory/docker/abc:def" },
	{ .host = "v2",
	  .version = 2,
	  .dir = "sys/fs/cgroup/system.slice/podman-1234.scope/container" },
	{ .host = "escaped", .version = 1, .dir = "run/cgroup v1/memory/ctr" },
	{ .host = "bind-root", .version = 1, .dir = "sys/fs/cgroup/memory/sub" },
	{ .host = "bind-root-self", .version = 1, .dir = "sys/fs/cgroup/memory" },
	{ .host = "v2-root", .r = -ENOENT },
	{ .host = "v2-no-memory", .r = -ENOENT },
	{ .host = "v1-no-memory", .r = -ENOENT },
	{ .host = "v1-memory-unmounted", .r = -ENOENT },
	{ .host = "bind-prefix-trap", .version = 1, .dir = "sys/fs/cgroup/docker-memory/abcdef" },
	/* Its "/../../user.slice" exists below the fixture's mount point: refused anyway. */
	{ .host = "outside-ns", .r = -ENOENT },
	{ .host = "empty", .r = -ENOENT },
	{ .host = "malformed-cgroup-nocolon", .r = -EBADMSG },
	{ .host = "malformed-cgroup-id", .r = -EBADMSG },
	{ .host = "malformed-cgroup-relpath", .r = -EBADMSG },
	{ .host = "malformed-cgroup-v2-controllers", .r = -EBADMSG },
	{ .host = "malformed-cgroup-v1-no-controllers", .r = -EBADMSG },
	{ .host = "malformed-cgroup-empty-line", .r = -EBADMSG },
	{ .host = "malformed-cgroup-dup", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-nosep", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-escape", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-short", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-id", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-devno", .r = -EBADMSG },
	{ .host = "malformed-mountinfo-double-space", .r = -EBADMSG },
	{ .host = "no-such-host", .r = -ENOENT },
};

static void test_find_hosts(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(host_cases); i++) {
		const struct host_case *c = &host_cases[i];
		struct uswap_cgroup cg = { .version = 42, .dirfd = -42 };
		char root[4096], pc[4200], mi[4200], want[8400];

		print_message("%s\n", c->host);
		snprintf(root, sizeof(root), "%s/hosts/%s", CG_FIXTURES, c->host);
		snprintf(pc, sizeof(pc), "%s/cgroup", root);
		snprintf(mi, sizeof(mi), "%s/mountinfo", root);
		assert_int_equal(uswap_cgroup_find_for_pid_at(root, pc, mi, &cg), c->r);
		if (c->r) {
			assert_int_equal(cg.version, 42);
			assert_int_equal(cg.dirfd, -42);
			continue;
		}
		snprintf(want, sizeof(want), "%s/%s", root, c->dir);
		assert_int_equal(cg.version, c->version);
		assert_string_equal(cg.path, want);
		uswap_cgroup_close(&cg);
	}
}

/* The real system: this process's own memory cgroup, without privileges. */
static void test_find_self(void **state)
{
	_cleanup_cgroup_ struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	_cleanup_free_ char *proc = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_close_ int fd = -1;
	struct uswap_cgroup_pressure pr;
	struct uswap_cgroup_stat st;
	uint64_t usage = 0, limit = 0;
	size_t n = 0, len, i;
	int r;

	fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(uswap_read_all(fd, 1 << 20, &proc, &len), 0);
	r = uswap_cgroup_find_for_pid(getpid(), &cg);
	if (r == -ENOENT && !strstr(proc, "memory")) {
		print_message("SKIP: no memory controller in /proc/self/cgroup:\n%s", proc);
		skip();
	}
	assert_int_equal(r, 0);
	print_message("v%d %s\n", cg.version, cg.path);
	assert_true(cg.version == 1 || cg.version == 2);
	assert_int_equal(uswap_cgroup_usage(&cg, &usage), 0);
	assert_true(usage > 0);
	assert_int_equal(uswap_cgroup_limit(&cg, &limit), 0);
	assert_true(limit > 0);
	assert_int_equal(uswap_cgroup_stat(&cg, &st), 0);
	r = uswap_cgroup_pressure(&cg, &pr);
	assert_true(r == 0 || (r == -EOPNOTSUPP && cg.version == 1));
	assert_int_equal(uswap_cgroup_procs(&cg, &pids, &n), 0);
	for (i = 0; i < n; i++)
		if (pids[i] == getpid())
			break;
	assert_true(i < n);
}

static void test_find_gone(void **state)
{
	struct uswap_cgroup cg = USWAP_CGROUP_INIT;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* The pid is reaped; it can only be reused after the whole pid space wraps. */
	assert_int_equal(uswap_cgroup_find_for_pid(pid, &cg), -ESRCH);
	assert_int_equal(uswap_cgroup_find_for_pid(0, &cg), -EINVAL);
	assert_int_equal(uswap_cgroup_find_for_pid_at(NULL, NULL, "x", &cg), -EINVAL);
	assert_int_equal(cg.dirfd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_dir),
		cmocka_unit_test(test_open_dir_too_long),
		cmocka_unit_test(test_read_fixtures),
		cmocka_unit_test(test_closed_handle),
		cmocka_unit_test_setup_teardown(test_number_grammar, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_pressure_grammar, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_stat_grammar, scratch_setup, scratch_teardown),
		cmocka_unit_test(test_find_hosts),
		cmocka_unit_test(test_find_self),
		cmocka_unit_test(test_find_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

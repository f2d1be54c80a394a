/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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

#include "uswap/status.h"
#include "uswap/util.h"

static int parse_fixture(const char *name, struct uswap_status *ret)
{
	_cleanup_close_ int fd = -1;
	char path[4096];

	snprintf(path, sizeof(path), "%s/status/%s", USWAP_FIXTURE_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	return uswap_status_parse_fd(fd, ret);
}

/* Field by field: padding bytes of the struct carry no meaning. */
static void assert_status_equal(const struct uswap_status *a, const struct uswap_status *b)
{
	assert_int_equal(a->shim_pid, b->shim_pid);
	assert_memory_equal(a->mode, b->mode, strnlen(a->mode, sizeof(a->mode)) + 1);
	assert_memory_equal(a->id, b->id, strnlen(a->id, sizeof(a->id)) + 1);
	assert_memory_equal(a->state, b->state, strnlen(a->state, sizeof(a->state)) + 1);
	assert_memory_equal(a->reason, b->reason, strnlen(a->reason, sizeof(a->reason)) + 1);
	assert_true(a->reason_bytes == b->reason_bytes);
	assert_true(a->target_bytes == b->target_bytes);
	assert_true(a->rss_anon_bytes == b->rss_anon_bytes);
	assert_true(a->evicted_pages == b->evicted_pages);
	assert_true(a->store_bytes == b->store_bytes);
	assert_true(a->faults_total == b->faults_total);
	assert_true(a->faults_per_sec == b->faults_per_sec);
	assert_true(a->evictions_total == b->evictions_total);
	assert_true(a->evictions_clean_total == b->evictions_clean_total);
	assert_true(a->store_writes_total == b->store_writes_total);
	assert_true(a->store_cache_bytes == b->store_cache_bytes);
	assert_true(a->fault_p50_us == b->fault_p50_us);
	assert_true(a->fault_p99_us == b->fault_p99_us);
	assert_true(a->stops_total == b->stops_total);
	assert_true(a->stopped_ms_total == b->stopped_ms_total);
	assert_true(a->stopped_ms_max == b->stopped_ms_max);
	assert_true(a->shim_rss_bytes == b->shim_rss_bytes);
	assert_true(a->takeovers_total == b->takeovers_total);
	assert_int_equal(a->npids, b->npids);
	assert_memory_equal(a->pids, b->pids, a->npids * sizeof(a->pids[0]));
}

static void test_good(void **state)
{
	struct uswap_status st;

	memset(&st, 0xaa, sizeof(st));
	assert_int_equal(parse_fixture("good.json", &st), 0);
	assert_int_equal(st.shim_pid, 4242);
	assert_string_equal(st.mode, "container");
	assert_string_equal(st.id, "c0ffee-\"quoted\"\\back");
	assert_string_equal(st.state, "ok");
	assert_true(st.target_bytes == 67108864);
	assert_true(st.rss_anon_bytes == 134217728);
	assert_true(st.evicted_pages == 16384);
	assert_true(st.store_bytes == 41943040);
	assert_true(st.faults_total == 123456);
	assert_true(st.faults_per_sec == 250.5);
	assert_true(st.evictions_total == 200000);
	assert_true(st.fault_p50_us == 12.25);
	assert_true(st.fault_p99_us == 480.0);
	assert_true(st.stops_total == 4242);
	assert_true(st.stopped_ms_total == 1500.125);
	assert_true(st.stopped_ms_max == 3.5);
	assert_true(st.shim_rss_bytes == 8388608);
	assert_int_equal(st.npids, 3);
	assert_int_equal(st.pids[0], 100);
	assert_int_equal(st.pids[1], 101);
	assert_int_equal(st.pids[2], 2147483647);
}

static void test_extra_keys(void **state)
{
	struct uswap_status st;

	assert_int_equal(parse_fixture("extra-keys.json", &st), 0);
	assert_string_equal(st.mode, "run");
	assert_string_equal(st.state, "store-full");
	assert_string_equal(st.id, "caf\xc3\xa9\t/x");
	/* A repeated key: the last one wins. */
	assert_int_equal(st.shim_pid, 7);
	assert_true(st.faults_per_sec == 100.0);
	/* Keys that are absent read as zero. */
	assert_true(st.rss_anon_bytes == 0);
	assert_int_equal(st.npids, 0);
}

static void test_empty_object(void **state)
{
	struct uswap_status st, zero;

	memset(&st, 0xaa, sizeof(st));
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(parse_fixture("empty-object.json", &st), 0);
	assert_status_equal(&st, &zero);
}

static const char *const bad[] = {
	"bad-truncated.json",	   "bad-not-object.json",    "bad-trailing.json",
	"bad-type-string.json",	   "bad-negative.json",	     "bad-fraction.json",
	"bad-overflow.json",	   "bad-pid-range.json",     "bad-too-many-pids.json",
	"bad-id-too-long.json",	   "bad-unterminated.json",  "bad-escape.json",
	"bad-trailing-comma.json", "bad-missing-colon.json", "bad-nan.json",
	"bad-control-char.json",   "bad-nul-escape.json",    "bad-pids-type.json",
	"bad-leading-zero.json",   "bad-too-deep.json",	     "bad-empty.json",
};

static void test_bad(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(bad); i++) {
		struct uswap_status st, before;

		memset(&st, 0x55, sizeof(st));
		memcpy(&before, &st, sizeof(st));
		print_message("%s\n", bad[i]);
		assert_int_equal(parse_fixture(bad[i], &st), -EBADMSG);
		/* Nothing is written on failure. */
		assert_memory_equal(&st, &before, sizeof(st));
	}
}

struct tmpdir {
	char path[64];
	char file[128];
};

static int setup_tmpdir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->path, sizeof(t->path), "/tmp/uswap-test-status.XXXXXX");
	if (!mkdtemp(t->path)) {
		free(t);
		return -1;
	}
	snprintf(t->file, sizeof(t->file), "%s/status.json", t->path);
	*state = t;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	struct tmpdir *t = *state;
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.tmp", t->file);
	unlink(tmp);
	unlink(t->file);
	rmdir(t->path);
	free(t);
	return 0;
}

static void fill_status(struct uswap_status *st)
{
	memset(st, 0, sizeof(*st));
	st->shim_pid = 31337;
	snprintf(st->mode, sizeof(st->mode), "attach");
	/* Quotes, backslashes and control characters must survive the round trip. */
	snprintf(st->id, sizeof(st->id), "a\"b\\c\nd\te\x01f\x7fg/h\xc3\xa9");
	snprintf(st->state, sizeof(st->state), "target-unreachable");
	snprintf(st->reason, sizeof(st->reason), "file-cache");
	st->reason_bytes = 200ull << 20;
	st->target_bytes = UINT64_MAX;
	st->rss_anon_bytes = 64ull << 20;
	st->evicted_pages = 1;
	st->store_bytes = 4096;
	st->faults_total = 99;
	st->faults_per_sec = 0.125;
	st->evictions_total = 1ull << 40;
	st->evictions_clean_total = 123456;
	st->store_writes_total = 1ull << 33;
	st->store_cache_bytes = 8192;
	st->fault_p50_us = 7.5;
	st->fault_p99_us = 1234.875;
	st->stops_total = 7;
	st->stopped_ms_total = 0;
	st->stopped_ms_max = 2.25;
	st->shim_rss_bytes = 3ull << 20;
	st->takeovers_total = 2;
	st->npids = USWAP_STATUS_MAX_PIDS;
	for (unsigned i = 0; i < st->npids; i++)
		st->pids[i] = (pid_t)(1000 + i);
}

static void read_back(const char *path, struct uswap_status *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(uswap_status_parse_fd(fd, ret), 0);
}

static void test_round_trip(void **state)
{
	struct tmpdir *t = *state;
	struct uswap_status in, out;
	char tmp[160];
	struct stat sb;
	mode_t old;
	int fd;

	fill_status(&in);
	/* A stale temp file with a loose mode must not leak its mode into the result. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->file);
	old = umask(0);
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	umask(old);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(uswap_status_write(t->file, &in), 0);
	assert_int_equal(stat(t->file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);

	read_back(t->file, &out);
	assert_status_equal(&in, &out);

	/* Rewriting replaces the object; a shorter one leaves no tail behind. */
	in.npids = 1;
	memset(in.pids + 1, 0, sizeof(in.pids) - sizeof(in.pids[0]));
	in.id[0] = '\0';
	assert_int_equal(uswap_status_write(t->file, &in), 0);
	read_back(t->file, &out);
	assert_status_equal(&in, &out);
}

static void test_write_edge_values(void **state)
{
	struct tmpdir *t = *state;
	struct uswap_status in, out;

	fill_status(&in);
	/* Fixed-size strings without their NUL, more pids than fit, non-finite doubles. */
	memset(in.mode, 'm', sizeof(in.mode));
	in.npids = USWAP_STATUS_MAX_PIDS + 10;
	in.fault_p50_us = NAN;
	in.fault_p99_us = INFINITY;
	assert_int_equal(uswap_status_write(t->file, &in), 0);
	read_back(t->file, &out);
	assert_int_equal(strlen(out.mode), sizeof(out.mode) - 1);
	assert_int_equal(out.npids, USWAP_STATUS_MAX_PIDS);
	assert_true(out.fault_p50_us == 0.0);
	assert_true(out.fault_p99_us == 0.0);
}

static void test_write_errors(void **state)
{
	struct uswap_status st;

	fill_status(&st);
	assert_int_equal(uswap_status_write("/nonexistent-dir/status.json", &st), -ENOENT);
	assert_int_equal(uswap_status_write(NULL, &st), -EINVAL);
}

static char *print_to_string(const struct uswap_status *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	uswap_status_print(f, st);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_print(void **state)
{
	_cleanup_free_ char *out = NULL;
	struct uswap_status st = {};

	assert_int_equal(parse_fixture("good.json", &st), 0);
	st.rss_anon_bytes = 67108864;
	out = print_to_string(&st);
	print_message("%s", out);
	assert_non_null(strstr(out, "shim_pid: 4242\n"));
	assert_non_null(strstr(out, "mode: container\n"));
	assert_non_null(strstr(out, "state: ok\n"));
	/* A file without the reason keys (an older shim) reads as no reason. */
	assert_non_null(strstr(out, "reason: -\n"));
	assert_null(strstr(out, "reason_bytes"));
	assert_non_null(strstr(out, "target: 67108864 (64.0 MiB)\n"));
	assert_non_null(strstr(out, "rss_anon: 67108864 (64.0 MiB)\n"));
	assert_non_null(strstr(out, "store: 41943040 (40.0 MiB)\n"));
	assert_non_null(strstr(out, "shim_rss: 8388608 (8.0 MiB)\n"));
	assert_non_null(strstr(out, "faults_total: 123456\n"));
	assert_non_null(strstr(out, "pids: 100 101 2147483647\n"));
}

static void test_print_reason(void **state)
{
	_cleanup_free_ char *out = NULL;
	struct uswap_status st = {};

	snprintf(st.state, sizeof(st.state), "target-unreachable");
	snprintf(st.reason, sizeof(st.reason), "file-cache");
	st.reason_bytes = 150ull << 20;
	out = print_to_string(&st);
	assert_non_null(strstr(out, "state: target-unreachable\nreason: file-cache\n"
				    "reason_bytes: 157286400 (150.0 MiB)\n"));
}

static void test_print_empty(void **state)
{
	_cleanup_free_ char *out = NULL;
	struct uswap_status st = {};

	snprintf(st.state, sizeof(st.state), "bad\x1b[31m");
	out = print_to_string(&st);
	assert_non_null(strstr(out, "target: none\n"));
	assert_non_null(strstr(out, "id: -\n"));
	assert_non_null(strstr(out, "state: bad?[31m\n"));
	assert_non_null(strstr(out, "pids:\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_extra_keys),
		cmocka_unit_test(test_empty_object),
		cmocka_unit_test(test_bad),
		cmocka_unit_test_setup_teardown(test_round_trip, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_write_edge_values, setup_tmpdir,
						teardown_tmpdir),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_print_reason),
		cmocka_unit_test(test_print_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "uswap/oci.h"
#include "uswap/util.h"

#define OCI_DIR USWAP_FIXTURE_DIR "/oci"
#define ROOT "/var/lib/uswap"

static int open_fixture(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", OCI_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	return fd;
}

static int parse_state_file(const char *name, struct uswap_oci_state *ret)
{
	_cleanup_close_ int fd = open_fixture(name);

	return uswap_oci_state_parse_fd(fd, ret);
}

static int parse_config_file(const char *name, struct uswap_oci_config *ret)
{
	_cleanup_close_ int fd = open_fixture(name);

	return uswap_oci_config_parse_fd(fd, ret);
}

/* An fd reading back len bytes of data, through the same read() path as a file. */
static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("oci-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static bool all_bytes(const void *p, int c, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		if (b[i] != (unsigned char)c)
			return false;
	}
	return true;
}

static void assert_sorted_unique(const struct uswap_kv *kv, size_t n)
{
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(kv[i - 1].key, kv[i].key) < 0);
}

/* ---- OCI state ---- */

struct state_case {
	const char *file;
	const char *oci_version, *id, *status, *bundle;
	pid_t pid;
	size_t nannotations;
	const char *key, *value; /* one annotation to look up */
};

static const struct state_case state_cases[] = {
	{ "state-runc-create.json", "1.2.0", "3f1c9e0d2b7a4c5e8f6a1b2c3d4e5f60", "creating",
	  "/run/containerd/io.containerd.runtime.v2.task/k8s.io/3f1c9e0d2b7a4c5e8f6a1b2c3d4e5f60",
	  48213, 7, "io.uswap.target", "256Mi" },
	{ "state-poststop.json", "1.0.2-dev", "web-1", "stopped", "/var/lib/runc/bundles/web-1", 0,
	  1, "io.uswap.enabled", "true" },
	{ "state-podman.json", "1.0.0",
	  "b4e1c0a9d8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5", "created",
	  "/var/lib/containers/storage/overlay-containers/"
	  "b4e1c0a9d8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5/userdata",
	  91733, 8, "org.systemd.property.KillMode", "'none'" },
	{ "state-no-annotations.json", "1.1.0", "plain", "running", "/", 1, 0, NULL, NULL },
	{ "state-null-annotations.json", "1.1.0", "nulls", "stopped", "/b", 0, 0, NULL, NULL },
	{ "state-unknown-keys.json", "1.3.0", "c.1_x-y+z", "running", "/bundle", 4194303, 0, NULL,
	  NULL },
	{ "state-escapes.json", "1.0.0", "caf\xc3\xa9-\xe2\x98\x83", "created",
	  "/srv/b\xc3\xbcndle dir", 7, 6, "a.quote", "say \"hi\" \\ /" },
	{ "state-deep-ok.json", "1.2.0", "ctr", "created", "/b", 100, 1, "io.uswap.enabled",
	  "true" },
};

static void check_state(const struct state_case *c, const struct uswap_oci_state *st)
{
	assert_string_equal(st->oci_version, c->oci_version);
	assert_string_equal(st->id, c->id);
	assert_string_equal(st->status, c->status);
	assert_string_equal(st->bundle, c->bundle);
	assert_int_equal(st->pid, c->pid);
	assert_int_equal(st->nannotations, c->nannotations);
	assert_true((st->annotations == NULL) == (c->nannotations == 0));
	assert_sorted_unique(st->annotations, st->nannotations);
	if (c->key)
		assert_string_equal(uswap_kv_get(st->annotations, st->nannotations, c->key),
				    c->value);
}

static void test_state_good(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(state_cases); i++) {
		_cleanup_oci_state_ struct uswap_oci_state st = {};

		print_message("state %s\n", state_cases[i].file);
		assert_int_equal(parse_state_file(state_cases[i].file, &st), 0);
		check_state(&state_cases[i], &st);
	}
}

static void test_state_escaped_values(void **state)
{
	_cleanup_oci_state_ struct uswap_oci_state st = {};
	const struct uswap_kv *kv;

	assert_int_equal(parse_state_file("state-escapes.json", &st), 0);
	kv = st.annotations;
	/* Sorted: "" < "a.quote" < "m.emoji" < "m.emoji2" < "r.raw" < "z.multiline". */
	assert_string_equal(kv[0].key, "");
	assert_string_equal(kv[0].value, "empty key");
	/* Escaped surrogate pairs (either case) and raw UTF-8 arrive as the same bytes. */
	assert_string_equal(kv[2].value, "\xf0\x9f\x98\x80");
	assert_string_equal(kv[3].value, "\xf0\x9f\x98\x80");
	assert_string_equal(kv[4].value, "\xc3\xbc\xe2\x98\x83\xf0\x9f\x98\x80");
	assert_string_equal(kv[5].value, "line1\nline2\ttab");
}

/*
 * Every bad-<kind>-*.json fixture must be refused with -EBADMSG and leave *ret alone; every
 * <kind>-*.json must be in the good table, so no fixture goes untested.
 */
static size_t for_each_fixture(const char *prefix, void (*fn)(const char *name))
{
	_cleanup_free_ struct dirent **list = NULL;
	size_t count = 0;
	int n = scandir(OCI_DIR, &list, NULL, alphasort);

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		if (strncmp(list[i]->d_name, prefix, strlen(prefix)) == 0) {
			fn(list[i]->d_name);
			count++;
		}
		free(list[i]);
	}
	return count;
}

static void check_bad_state(const char *name)
{
	struct uswap_oci_state st;

	memset(&st, 0xaa, sizeof(st));
	print_message("state %s\n", name);
	assert_int_equal(parse_state_file(name, &st), -EBADMSG);
	assert_true(all_bytes(&st, 0xaa, sizeof(st)));
}

static void check_state_listed(const char *name)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(state_cases); i++) {
		if (strcmp(state_cases[i].file, name) == 0)
			return;
	}
	fail_msg("fixture %s is not in state_cases", name);
}

static void test_state_bad(void **state)
{
	assert_true(for_each_fixture("bad-state-", check_bad_state) >= 50);
	assert_int_equal(for_each_fixture("state-", check_state_listed),
			 USWAP_ARRAY_SIZE(state_cases));
}

static void test_state_pipe(void **state)
{
	static const char doc[] = "{\"ociVersion\":\"1.0.0\",\"id\":\"p\",\"status\":\"running\","
				  "\"pid\":42,\"bundle\":\"/b\"}";
	_cleanup_oci_state_ struct uswap_oci_state st = {};
	_cleanup_close_ int rd = -1, wr = -1;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	rd = p[0];
	wr = p[1];
	assert_int_equal(write(wr, doc, sizeof(doc) - 1), (ssize_t)sizeof(doc) - 1);
	close(TAKE_FD(wr));
	assert_int_equal(uswap_oci_state_parse_fd(rd, &st), 0);
	assert_int_equal(st.pid, 42);
	assert_null(st.annotations);
}

/* A valid state padded with spaces to exactly len bytes. */
static char *padded_state(size_t len)
{
	static const char head[] =
		"{\"ociVersion\":\"1.0.0\",\"id\":\"big\",\"status\":\"stopped\",\"bundle\":\"/\"}";
	char *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, head, sizeof(head) - 1);
	return buf;
}

static void test_state_size_limit(void **state)
{
	_cleanup_free_ char *buf = padded_state(USWAP_OCI_STATE_MAX_BYTES + 1);
	_cleanup_oci_state_ struct uswap_oci_state st = {};
	_cleanup_close_ int at = memfd_with(buf, USWAP_OCI_STATE_MAX_BYTES);
	_cleanup_close_ int over = memfd_with(buf, USWAP_OCI_STATE_MAX_BYTES + 1);

	assert_int_equal(uswap_oci_state_parse_fd(at, &st), 0);
	assert_string_equal(st.id, "big");
	assert_int_equal(uswap_oci_state_parse_fd(over, &st), -EFBIG);
}

/* yajl frees its tree recursively: nesting this deep must be refused before it is built. */
static void test_state_deep_nesting(void **state)
{
	size_t depth = 400000;
	_cleanup_free_ char *buf = malloc(2 * depth + 64);
	struct uswap_oci_state st;
	size_t len;

	assert_non_null(buf);
	len = (size_t)sprintf(buf, "{\"id\":\"x\",\"x\":");
	memset(buf + len, '[', depth);
	memset(buf + len + depth, ']', depth);
	len += 2 * depth;
	buf[len++] = '}';
	_cleanup_close_ int fd = memfd_with(buf, len);
	assert_int_equal(uswap_oci_state_parse_fd(fd, &st), -EBADMSG);
}

static void test_state_bad_fd(void **state)
{
	_cleanup_close_ int dir = open(OCI_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct uswap_oci_state st;
	struct uswap_oci_config cfg;

	assert_true(dir >= 0);
	assert_int_equal(uswap_oci_state_parse_fd(dir, &st), -EISDIR);
	assert_int_equal(uswap_oci_config_parse_fd(dir, &cfg), -EISDIR);
	assert_int_equal(uswap_oci_state_parse_fd(-1, &st), -EINVAL);
	assert_int_equal(uswap_oci_state_parse_fd(dir, NULL), -EINVAL);
}

/* ---- config.json ---- */

struct config_case {
	const char *file;
	uint64_t memory_limit;
	const char *cgroups_path;
	size_t nannotations;
	const char *key, *value;
};

static const struct config_case config_cases[] = {
	{ "config-limit.json", 512ull << 20,
	  "kubepods-burstable-pod7c1b.slice:cri-containerd:3f1c9e0d2b7a", 3, "io.uswap.target",
	  "25%" },
	{ "config-no-limit.json", 0, "/machine.slice/libpod-b4e1c0a9.scope", 0, NULL, NULL },
	{ "config-unlimited.json", 0, "", 1, "io.uswap.enabled", "false" },
	{ "config-zero-limit.json", 0, "", 0, NULL, NULL },
	{ "config-null-limit.json", 0, "", 0, NULL, NULL },
	{ "config-minimal.json", 0, "", 0, NULL, NULL },
	{ "config-huge-limit.json", INT64_MAX, "", 0, NULL, NULL },
};

static void test_config_good(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(config_cases); i++) {
		const struct config_case *c = &config_cases[i];
		_cleanup_oci_config_ struct uswap_oci_config cfg = {};

		print_message("config %s\n", c->file);
		assert_int_equal(parse_config_file(c->file, &cfg), 0);
		assert_true(cfg.memory_limit == c->memory_limit);
		assert_string_equal(cfg.cgroups_path, c->cgroups_path);
		assert_int_equal(cfg.nannotations, c->nannotations);
		assert_sorted_unique(cfg.annotations, cfg.nannotations);
		if (c->key)
			assert_string_equal(uswap_kv_get(cfg.annotations, cfg.nannotations, c->key),
					    c->value);
	}
}

static void check_bad_config(const char *name)
{
	struct uswap_oci_config cfg;

	memset(&cfg, 0xaa, sizeof(cfg));
	print_message("config %s\n", name);
	assert_int_equal(parse_config_file(name, &cfg), -EBADMSG);
	assert_true(all_bytes(&cfg, 0xaa, sizeof(cfg)));
}

static void check_config_listed(const char *name)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(config_cases); i++) {
		if (strcmp(config_cases[i].file, name) == 0)
			return;
	}
	fail_msg("fixture %s is not in config_cases", name);
}

static void test_config_bad(void **state)
{
	assert_true(for_each_fixture("bad-config-", check_bad_config) >= 20);
	assert_int_equal(for_each_fixture("config-", check_config_listed),
			 USWAP_ARRAY_SIZE(config_cases));
}

/* ---- annotations ---- */

struct ann_case {
	struct uswap_kv kv[4]; /* up to the first NULL key */
	const char *root;
	int ret;
	bool enabled, required;
	uint64_t bytes;
	unsigned percent;
	const char *store;
	const char *msg[3]; /* substrings the error must contain */
};

#define TARGET_FORMS "bytes or a number with K/M/G/T or Ki/Mi/Gi/Ti (not 0), or a percentage"
#define BOOL_FORMS "expected \"true\" or \"false\""
#define STORE_FORMS "expected an absolute path without \"..\" or control characters, inside"
/* One bad annotation: the call fails and the error contains every one of the substrings. */
#define BAD(key, value, root_, ...)                                                                \
	{                                                                                          \
		.kv = { { key, value } }, .root = root_, .ret = -EINVAL, .msg = { __VA_ARGS__ }    \
	}

static const struct ann_case ann_cases[] = {
	/* Accepted. */
	{ .root = ROOT },
	{ .kv = { { "io.kubernetes.cri.container-type", "container" },
		  { "io.uswapper", "x" },
		  { "uswap.target", "junk" },
		  { "io.uswap", "junk" } },
	  .root = ROOT },
	{ .kv = { { "io.uswap.enabled", "true" } }, .root = ROOT, .enabled = true },
	{ .kv = { { "io.uswap.enabled", "false" }, { "io.uswap.required", "true" } },
	  .root = ROOT,
	  .required = true },
	{ .kv = { { "io.uswap.target", "64M" } }, .root = ROOT, .bytes = 64ull << 20 },
	{ .kv = { { "io.uswap.target", "64Mi" } }, .root = ROOT, .bytes = 64ull << 20 },
	{ .kv = { { "io.uswap.target", "1G" } }, .root = ROOT, .bytes = 1ull << 30 },
	{ .kv = { { "io.uswap.target", "4096" } }, .root = ROOT, .bytes = 4096 },
	{ .kv = { { "io.uswap.target", "50%" } }, .root = ROOT, .percent = 50 },
	{ .kv = { { "io.uswap.target", "100%" } }, .root = NULL, .percent = 100 },
	{ .kv = { { "io.uswap.store", ROOT "/a" } }, .root = ROOT, .store = ROOT "/a" },
	{ .kv = { { "io.uswap.store", "//var/lib/uswap//a/./b/" } },
	  .root = ROOT,
	  .store = ROOT "/a/b" },
	{ .kv = { { "io.uswap.store", ROOT } }, .root = ROOT "/", .store = ROOT },
	{ .kv = { { "io.uswap.store", "/srv/x" } }, .root = "/", .store = "/srv/x" },
	{ .kv = { { "io.uswap.store", ROOT "/dir with spaces/\xc3\xa9" } },
	  .root = ROOT,
	  .store = ROOT "/dir with spaces/\xc3\xa9" },
	{ .kv = { { "io.uswap.required", "true" },
		  { "io.uswap.store", ROOT "/s" },
		  { "io.uswap.target", "1Gi" },
		  { "io.uswap.enabled", "true" } },
	  .root = ROOT,
	  .enabled = true,
	  .required = true,
	  .bytes = 1ull << 30,
	  .store = ROOT "/s" },

	/* Booleans. */
	BAD("io.uswap.enabled", "True", ROOT,
	    "invalid annotation io.uswap.enabled=\"True\": " BOOL_FORMS),
	BAD("io.uswap.enabled", "1", ROOT, "io.uswap.enabled=\"1\"", BOOL_FORMS),
	BAD("io.uswap.enabled", "", ROOT, "io.uswap.enabled=\"\"", BOOL_FORMS),
	BAD("io.uswap.enabled", "true ", ROOT, "io.uswap.enabled=\"true \"", BOOL_FORMS),
	BAD("io.uswap.required", "no", ROOT, "io.uswap.required=\"no\"", BOOL_FORMS),
	/* Targets. */
	BAD("io.uswap.target", "12X", ROOT, "io.uswap.target=\"12X\"", TARGET_FORMS, "1%..100%"),
	BAD("io.uswap.target", "0", ROOT, "io.uswap.target=\"0\"", TARGET_FORMS),
	BAD("io.uswap.target", "0%", ROOT, "io.uswap.target=\"0%\"", TARGET_FORMS),
	BAD("io.uswap.target", "101%", ROOT, "io.uswap.target=\"101%\"", TARGET_FORMS),
	BAD("io.uswap.target", "-1", ROOT, "io.uswap.target=\"-1\"", TARGET_FORMS),
	BAD("io.uswap.target", "1.5G", ROOT, "io.uswap.target=\"1.5G\"", TARGET_FORMS),
	BAD("io.uswap.target", "", ROOT, "io.uswap.target=\"\"", TARGET_FORMS),
	BAD("io.uswap.target", "18446744073709551616", ROOT,
	    "io.uswap.target=\"18446744073709551616\"", TARGET_FORMS),
	/* Stores. */
	BAD("io.uswap.store", "stores/a", ROOT, "io.uswap.store=\"stores/a\"",
	    STORE_FORMS " the store root \"" ROOT "\""),
	BAD("io.uswap.store", "", ROOT, "io.uswap.store=\"\"", STORE_FORMS),
	BAD("io.uswap.store", "~/x", ROOT, "io.uswap.store=\"~/x\"", STORE_FORMS),
	BAD("io.uswap.store", ROOT "/../etc", ROOT, "io.uswap.store=\"" ROOT "/../etc\"",
	    STORE_FORMS),
	BAD("io.uswap.store", ROOT "/a/..", ROOT, "io.uswap.store=\"" ROOT "/a/..\"", STORE_FORMS),
	BAD("io.uswap.store", ROOT "/a/../b", ROOT, "io.uswap.store=\"" ROOT "/a/../b\"",
	    STORE_FORMS),
	BAD("io.uswap.store", ROOT "evil", ROOT, "io.uswap.store=\"" ROOT "evil\"", STORE_FORMS),
	BAD("io.uswap.store", "/var/lib", ROOT, "io.uswap.store=\"/var/lib\"", STORE_FORMS),
	BAD("io.uswap.store", "/", ROOT, "io.uswap.store=\"/\"", STORE_FORMS),
	BAD("io.uswap.store", "/etc//", ROOT, "io.uswap.store=\"/etc//\"", STORE_FORMS),
	BAD("io.uswap.store", ROOT "/a\nb", ROOT, "io.uswap.store=\"" ROOT "/a\\x0ab\"",
	    STORE_FORMS),
	BAD("io.uswap.store", ROOT "/\x1b[31m", ROOT, "io.uswap.store=\"" ROOT "/\\x1b[31m\"",
	    STORE_FORMS),
	BAD("io.uswap.store", ROOT "/a", NULL, "io.uswap.store=\"" ROOT "/a\"",
	    "not allowed on this host (no store root is configured)"),
	BAD("io.uswap.store", ROOT "/a", "", "io.uswap.store=\"" ROOT "/a\"", "no store root"),
	BAD("io.uswap.store", "/a", "relative/root", "io.uswap.store=\"/a\"",
	    "store root \"relative/root\" is not an absolute path"),
	/* Unknown and repeated keys, escaping. */
	BAD("io.uswap.tagret", "64M", ROOT, "unknown annotation io.uswap.tagret=\"64M\"",
	    "expected one of io.uswap.enabled, io.uswap.target, io.uswap.store, io.uswap.required"),
	BAD("io.uswap.Target", "64M", ROOT, "io.uswap.Target=\"64M\"", "expected one of"),
	BAD("IO.USWAP.enabled", "true", ROOT, "IO.USWAP.enabled=\"true\"", "expected one of"),
	BAD("io.uswap.", "", ROOT, "unknown annotation io.uswap.=\"\""),
	BAD("io.uswap.enabled.x", "true", ROOT, "io.uswap.enabled.x=\"true\""),
	BAD("io.uswap.\x1b]0;pwned\a", "\x01", ROOT, "io.uswap.\\x1b]0;pwned\\x07=\"\\x01\""),
	{ .kv = { { "io.uswap.target", "1G" }, { "io.uswap.target", "2G" } },
	  .root = ROOT,
	  .ret = -EINVAL,
	  .msg = { "duplicate annotation io.uswap.target=\"2G\"", "at most one" } },
	BAD("io.uswap.target", "\"q\\", ROOT, "io.uswap.target=\"\\\"q\\\\\""),
	BAD("io.uswap.target", "64\xc3\xa9", ROOT, "io.uswap.target=\"64\\xc3\\xa9\""),
	/* The first error wins; earlier valid keys don't leak into *ret. */
	{ .kv = { { "io.uswap.enabled", "true" },
		  { "io.uswap.target", "1G" },
		  { "io.uswap.required", "maybe" } },
	  .root = ROOT,
	  .ret = -EINVAL,
	  .msg = { "io.uswap.required=\"maybe\"" } },
};

static size_t kv_count(const struct uswap_kv *kv, size_t max)
{
	size_t n = 0;

	while (n < max && kv[n].key)
		n++;
	return n;
}

/* One line of printable ASCII: the runtime shows it to a user as is. */
static void assert_one_clean_line(const char *msg)
{
	assert_true(msg[0] != '\0');
	for (const char *p = msg; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void check_ann_error(const struct ann_case *c, const char *err)
{
	assert_one_clean_line(err);
	for (size_t j = 0; j < USWAP_ARRAY_SIZE(c->msg) && c->msg[j]; j++) {
		if (!strstr(err, c->msg[j]))
			fail_msg("error \"%s\" lacks \"%s\"", err, c->msg[j]);
	}
}

static void test_annotations_table(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(ann_cases); i++) {
		const struct ann_case *c = &ann_cases[i];
		size_t n = kv_count(c->kv, USWAP_ARRAY_SIZE(c->kv));
		struct uswap_annotations a;
		char err[512] = "stale";
		int r;

		memset(&a, 0xaa, sizeof(a));
		r = uswap_annotations_parse(c->kv, n, c->root, &a, err, sizeof(err));
		print_message("annotations case %zu -> %d %s\n", i, r, err);
		assert_int_equal(r, c->ret);
		if (r < 0) {
			check_ann_error(c, err);
			assert_true(all_bytes(&a, 0xaa, sizeof(a)));
			continue;
		}
		assert_string_equal(err, "");
		assert_int_equal(a.enabled, c->enabled);
		assert_int_equal(a.required, c->required);
		assert_true(a.target_bytes == c->bytes);
		assert_int_equal(a.target_percent, c->percent);
		assert_string_equal(a.store, c->store ? c->store : "");
	}
}

static void test_annotations_exact_message(void **state)
{
	struct uswap_kv kv[] = { { "io.uswap.target", "12X" } };
	struct uswap_annotations a;
	char err[256];

	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid annotation io.uswap.target=\"12X\": expected bytes or a "
				 "number with K/M/G/T or Ki/Mi/Gi/Ti (not 0), or a percentage "
				 "1%..100%");
}

/* A store of exactly 4095 bytes fits struct uswap_annotations.store; one more doesn't. */
static void test_annotations_long_store(void **state)
{
	char value[5000], err[1024];
	struct uswap_kv kv[] = { { "io.uswap.store", value } };
	struct uswap_annotations a;

	memset(value, 'a', sizeof(value));
	memcpy(value, ROOT "/", strlen(ROOT "/"));
	value[4095] = '\0';
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.store), 4095);

	value[4095] = 'a';
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, err, sizeof(err)), -EINVAL);
	assert_one_clean_line(err);
	/* The value is quoted cut short, and the message stays short. */
	assert_non_null(strstr(err, "io.uswap.store=\"" ROOT "/aaaa"));
	assert_non_null(strstr(err, "aaa...\""));
	assert_true(strlen(err) < 400);
}

static void test_annotations_small_buffers(void **state)
{
	struct uswap_kv kv[] = { { "io.uswap.enabled", "yes" } };
	struct uswap_annotations a;
	char err[16];

	memset(err, 'x', sizeof(err));
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, NULL, 0), -EINVAL);
	assert_int_equal(uswap_annotations_parse(NULL, 0, ROOT, &a, NULL, 0), 0);
	assert_int_equal(uswap_annotations_parse(NULL, 1, ROOT, &a, NULL, 0), -EINVAL);
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, NULL, NULL, 0), -EINVAL);
	assert_int_equal(uswap_annotations_parse(kv, 1, ROOT, &a, NULL, 8), -EINVAL);
}

struct target_case {
	uint64_t bytes;
	unsigned percent;
	uint64_t limit;
	int ret;
	uint64_t want;
};

static const struct target_case target_cases[] = {
	{ 0, 0, 0, 0, 0 },
	{ 64ull << 20, 0, 0, 0, 64ull << 20 },
	{ 64ull << 20, 0, 1ull << 20, 0, 64ull << 20 },
	{ 0, 50, 1ull << 30, 0, 512ull << 20 },
	{ 0, 25, 512ull << 20, 0, 128ull << 20 },
	{ 0, 33, 1000, 0, 330 },
	{ 0, 33, 1001, 0, 330 },
	{ 0, 1, 100, 0, 1 },
	{ 0, 1, 99, -ERANGE, 0 },
	{ 0, 100, USWAP_MEMORY_UNLIMITED - 1, 0, USWAP_MEMORY_UNLIMITED - 1 },
	{ 0, 50, 0, -EINVAL, 0 },
	{ 0, 50, USWAP_MEMORY_UNLIMITED, -EINVAL, 0 },
	{ 0, 50, UINT64_MAX, -EINVAL, 0 },
	{ 1, 50, 1ull << 30, -EINVAL, 0 },
	{ 0, 101, 1ull << 30, -EINVAL, 0 },
};

static void test_target_bytes_table(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(target_cases); i++) {
		const struct target_case *c = &target_cases[i];
		struct uswap_annotations a = { .target_bytes = c->bytes,
					       .target_percent = c->percent };
		uint64_t got = 0xdeadbeef;

		print_message("target case %zu\n", i);
		assert_int_equal(uswap_annotations_target_bytes(&a, c->limit, &got), c->ret);
		assert_true(got == (c->ret == 0 ? c->want : 0xdeadbeef));
	}
}

/* What the hook does: state, then config for the limit, then the annotations. */
static void test_end_to_end(void **state)
{
	_cleanup_oci_state_ struct uswap_oci_state st = {};
	_cleanup_oci_config_ struct uswap_oci_config cfg = {};
	struct uswap_annotations a;
	uint64_t target;
	char err[512];

	assert_int_equal(parse_state_file("state-runc-create.json", &st), 0);
	assert_int_equal(uswap_annotations_parse(st.annotations, st.nannotations, ROOT "/stores",
						 &a, err, sizeof(err)),
			 0);
	assert_true(a.enabled);
	assert_false(a.required);
	assert_string_equal(a.store, ROOT "/stores/worker");
	assert_int_equal(uswap_annotations_target_bytes(&a, 0, &target), 0);
	assert_true(target == 256ull << 20);

	assert_int_equal(parse_config_file("config-limit.json", &cfg), 0);
	assert_int_equal(uswap_annotations_parse(cfg.annotations, cfg.nannotations, NULL, &a, err,
						 sizeof(err)),
			 0);
	assert_int_equal(uswap_annotations_target_bytes(&a, cfg.memory_limit, &target), 0);
	assert_true(target == 128ull << 20);
	/* The runc state's store is outside a stricter root. */
	assert_int_equal(uswap_annotations_parse(st.annotations, st.nannotations, ROOT "/other", &a,
						 err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "io.uswap.store=\"" ROOT "/stores/worker\""));
}

static void test_kv_get(void **state)
{
	struct uswap_kv kv[] = { { "a", "1" }, { "b", "2" } };

	assert_string_equal(uswap_kv_get(kv, 2, "b"), "2");
	assert_null(uswap_kv_get(kv, 2, "c"));
	assert_null(uswap_kv_get(kv, 1, "b"));
	assert_null(uswap_kv_get(NULL, 0, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_good),
		cmocka_unit_test(test_state_escaped_values),
		cmocka_unit_test(test_state_bad),
		cmocka_unit_test(test_state_pipe),
		cmocka_unit_test(test_state_size_limit),
		cmocka_unit_test(test_state_deep_nesting),
		cmocka_unit_test(test_state_bad_fd),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_annotations_table),
		cmocka_unit_test(test_annotations_exact_message),
		cmocka_unit_test(test_annotations_long_store),
		cmocka_unit_test(test_annotations_small_buffers),
		cmocka_unit_test(test_target_bytes_table),
		cmocka_unit_test(test_end_to_end),
		cmocka_unit_test(test_kv_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

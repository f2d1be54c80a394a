/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The io.uswap.* annotations. Whoever may create pods writes them, so each value must match
 * one accepted form, and an unknown io.uswap.* key is an error rather than ignored: a typo
 * must not leave a container silently unswapped. Errors are one line the runtime can show
 * as is, naming the key, the value and what would have been accepted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "uswap/oci.h"
#include "uswap/size.h"
#include "uswap/util.h"

/* Bytes of a user-supplied string quoted in an error; each may grow to 4 when escaped. */
#define SHOW_MAX 64
#define ESCAPED_MAX (SHOW_MAX * 4 + sizeof("..."))

/* Besides -EINVAL (bad value), parsers may return these to pick the error message. */
#define ENOROOT ENOENT /* io.uswap.store given, but the host allows no custom store */
#define EBADROOT EFAULT /* the caller's allowed_store_root is not an absolute path */

struct annotation {
	const char *key;
	int (*parse)(const char *value, const char *root, struct uswap_annotations *a);
	const char *expected;
};

static int parse_bool(const char *value, bool *ret)
{
	if (strcmp(value, "true") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_enabled(const char *value, const char *root, struct uswap_annotations *a)
{
	return parse_bool(value, &a->enabled);
}

static int parse_required(const char *value, const char *root, struct uswap_annotations *a)
{
	return parse_bool(value, &a->required);
}

static int parse_target(const char *value, const char *root, struct uswap_annotations *a)
{
	uint64_t bytes;
	unsigned percent;

	/* -ERANGE ("0", "101%", 2^64) gets the same message: the accepted forms say it all. */
	if (uswap_parse_target(value, &bytes, &percent) < 0)
		return -EINVAL;
	a->target_bytes = bytes;
	a->target_percent = percent;
	return 0;
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/*
 * Lexical only: collapse "//" and "/./" and drop a trailing '/'. ".." is refused rather than
 * folded, because after a symlink ".." climbs from the link's target, so folding it would
 * claim a place the kernel may not reach. Symlinks are never resolved here; whoever opens
 * the store must do so beneath the root (openat2 RESOLVE_BENEATH or equivalent).
 */
static int normalize_path(const char *in, char *out, size_t size)
{
	size_t len = 0;

	if (in[0] != '/' || has_control(in) || size < 2)
		return -EINVAL;
	while (*in) {
		size_t clen;

		while (*in == '/')
			in++;
		clen = strcspn(in, "/");
		if (clen == 2 && in[0] == '.' && in[1] == '.')
			return -EINVAL;
		if (clen > 0 && !(clen == 1 && in[0] == '.')) {
			if (len + 1 + clen >= size)
				return -EINVAL;
			out[len++] = '/';
			memcpy(out + len, in, clen);
			len += clen;
		}
		in += clen;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* Both normalized. A component-wise prefix: "/srv/uswap-evil" is not inside "/srv/uswap". */
static bool path_inside(const char *path, const char *root)
{
	size_t rlen = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, rlen) == 0 && (path[rlen] == '\0' || path[rlen] == '/');
}

static int parse_store(const char *value, const char *root, struct uswap_annotations *a)
{
	char nroot[sizeof(a->store)], npath[sizeof(a->store)];

	if (!root || !root[0])
		return -ENOROOT;
	if (normalize_path(root, nroot, sizeof(nroot)) < 0)
		return -EBADROOT;
	if (normalize_path(value, npath, sizeof(npath)) < 0 || !path_inside(npath, nroot))
		return -EINVAL;
	memcpy(a->store, npath, strlen(npath) + 1);
	return 0;
}

static const struct annotation annotations[] = {
	{ USWAP_ANNOTATION_ENABLED, parse_enabled, "\"true\" or \"false\"" },
	{ USWAP_ANNOTATION_TARGET, parse_target,
	  "bytes or a number with K/M/G/T or Ki/Mi/Gi/Ti (not 0), or a percentage 1%..100%" },
	{ USWAP_ANNOTATION_STORE, parse_store,
	  "an absolute path without \"..\" or control characters, inside the store root" },
	{ USWAP_ANNOTATION_REQUIRED, parse_required, "\"true\" or \"false\"" },
};

#define KNOWN_KEYS                                                                                 \
	USWAP_ANNOTATION_ENABLED ", " USWAP_ANNOTATION_TARGET ", " USWAP_ANNOTATION_STORE          \
				 ", " USWAP_ANNOTATION_REQUIRED

/*
 * Escape s into out (ESCAPED_MAX bytes) for use between double quotes: printable ASCII as
 * is, '"' and '\' backslashed, everything else as \xHH, so the message stays one line that
 * can't move a terminal's cursor. Longer than SHOW_MAX bytes: cut, "..." appended.
 */
static const char *escape(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; s[i] && i < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (s[i]) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int report_invalid(const struct annotation *an, const char *value, const char *root,
			  int error, char *err, size_t errlen)
{
	char v[ESCAPED_MAX], r[ESCAPED_MAX];

	escape(value, v);
	if (error == -ENOROOT)
		return fail(err, errlen,
			    "invalid annotation %s=\"%s\": not allowed on this host "
			    "(no store root is configured)",
			    an->key, v);
	escape(root ? root : "", r);
	if (error == -EBADROOT)
		return fail(err, errlen,
			    "cannot check annotation %s=\"%s\": the store root \"%s\" "
			    "is not an absolute path",
			    an->key, v, r);
	if (an->parse == parse_store)
		return fail(err, errlen, "invalid annotation %s=\"%s\": expected %s \"%s\"",
			    an->key, v, an->expected, r);
	return fail(err, errlen, "invalid annotation %s=\"%s\": expected %s", an->key, v,
		    an->expected);
}

static int parse_one(const struct uswap_kv *kv, const char *root, struct uswap_annotations *a,
		     bool *seen, char *err, size_t errlen)
{
	char k[ESCAPED_MAX], v[ESCAPED_MAX];
	size_t i;
	int r;

	/* Any case: "IO.uswap.target" is a typo too, not someone else's annotation. */
	if (strncasecmp(kv->key, USWAP_ANNOTATION_PREFIX, strlen(USWAP_ANNOTATION_PREFIX)) != 0)
		return 0;
	for (i = 0; i < USWAP_ARRAY_SIZE(annotations); i++) {
		if (strcmp(kv->key, annotations[i].key) == 0)
			break;
	}
	if (i == USWAP_ARRAY_SIZE(annotations))
		return fail(err, errlen,
			    "unknown annotation %s=\"%s\": expected one of " KNOWN_KEYS,
			    escape(kv->key, k), escape(kv->value, v));
	/* Our own parser never yields duplicates, but a caller may merge two lists. */
	if (seen[i])
		return fail(err, errlen, "duplicate annotation %s=\"%s\": expected at most one",
			    annotations[i].key, escape(kv->value, v));
	seen[i] = true;
	r = annotations[i].parse(kv->value, root, a);
	if (r < 0)
		return report_invalid(&annotations[i], kv->value, root, r, err, errlen);
	return 0;
}

int uswap_annotations_parse(const struct uswap_kv *kv, size_t n, const char *allowed_store_root,
			    struct uswap_annotations *ret, char *err, size_t errlen)
{
	struct uswap_annotations a = {};
	bool seen[USWAP_ARRAY_SIZE(annotations)] = {};
	int r;

	if ((!kv && n > 0) || !ret || (!err && errlen > 0))
		return -EINVAL;
	if (errlen > 0)
		err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !kv[i].value)
			return fail(err, errlen, "invalid annotation list: entry %zu is NULL", i);
		r = parse_one(&kv[i], allowed_store_root, &a, seen, err, errlen);
		if (r < 0)
			return r;
	}
	*ret = a;
	return 0;
}

/* limit * percent / 100 without overflowing for limits near 2^64. */
static uint64_t percent_of(uint64_t limit, unsigned percent)
{
	return limit / 100 * percent + limit % 100 * percent / 100;
}

int uswap_annotations_target_bytes(const struct uswap_annotations *a, uint64_t limit_bytes,
				   uint64_t *ret)
{
	if (!a || !ret || a->target_percent > 100 || (a->target_bytes && a->target_percent))
		return -EINVAL;
	if (a->target_percent == 0) {
		*ret = a->target_bytes;
		return 0;
	}
	uint64_t bytes;

	if (limit_bytes == 0 || limit_bytes >= USWAP_MEMORY_UNLIMITED)
		return -EINVAL;
	bytes = percent_of(limit_bytes, a->target_percent);
	/* 0 would read as "no target" (a limit under 100 bytes). */
	if (bytes == 0)
		return -ERANGE;
	*ret = bytes;
	return 0;
}

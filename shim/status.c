/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status file is a flat JSON object whose keys are the field names of struct
 * uswap_status ("pids" is an array, its length is npids). Writer and parser share one field
 * table, so the two cannot drift apart. The parser is a strict JSON reader for this shape:
 * values of unknown keys (any JSON value) are skipped, so newer shims stay readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uswap/fileio.h"
#include "uswap/size.h"
#include "uswap/status.h"
#include "uswap/util.h"

#define STATUS_MAX_BYTES (64u << 10)
#define JSON_MAX_DEPTH 32

enum field_type {
	FIELD_PID,
	FIELD_STR,
	FIELD_U64,
	FIELD_DOUBLE,
	FIELD_PIDS,
};

struct status_field {
	const char *name;
	enum field_type type;
	size_t offset;
	size_t size;
};

/* clang-format off */
#define FIELD(f, t) \
	{ #f, t, offsetof(struct uswap_status, f), sizeof(((struct uswap_status *)0)->f) }
/* clang-format on */

static const struct status_field status_fields[] = {
	FIELD(shim_pid, FIELD_PID),
	FIELD(mode, FIELD_STR),
	FIELD(id, FIELD_STR),
	FIELD(state, FIELD_STR),
	FIELD(reason, FIELD_STR),
	FIELD(reason_bytes, FIELD_U64),
	FIELD(target_bytes, FIELD_U64),
	FIELD(rss_anon_bytes, FIELD_U64),
	FIELD(evicted_pages, FIELD_U64),
	FIELD(store_bytes, FIELD_U64),
	FIELD(faults_total, FIELD_U64),
	FIELD(faults_per_sec, FIELD_DOUBLE),
	FIELD(evictions_total, FIELD_U64),
	FIELD(evictions_clean_total, FIELD_U64),
	FIELD(store_writes_total, FIELD_U64),
	FIELD(store_cache_bytes, FIELD_U64),
	FIELD(fault_p50_us, FIELD_DOUBLE),
	FIELD(fault_p99_us, FIELD_DOUBLE),
	FIELD(stops_total, FIELD_U64),
	FIELD(stopped_ms_total, FIELD_DOUBLE),
	FIELD(stopped_ms_max, FIELD_DOUBLE),
	FIELD(shim_rss_bytes, FIELD_U64),
	FIELD(takeovers_total, FIELD_U64),
	FIELD(pids, FIELD_PIDS),
};

/* ---- writer ---- */

struct jbuf {
	char data[8192];
	size_t len;
	int error;
};

static void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	size_t room = sizeof(b->data) - b->len;
	va_list ap;
	int n;

	if (b->error)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		b->error = -ENOBUFS;
		return;
	}
	b->len += (size_t)n;
}

/*
 * s is a fixed-size field that may lack its NUL: write at most size - 1 bytes so the parser
 * can read the value back into the same field. Non-ASCII bytes are passed through.
 */
static void jb_string(struct jbuf *b, const char *s, size_t size)
{
	size_t len = strnlen(s, size - 1);

	jb_printf(b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			jb_printf(b, "\\%c", c);
		else if (c == '\n')
			jb_printf(b, "\\n");
		else if (c == '\t')
			jb_printf(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			jb_printf(b, "\\u%04x", c);
		else
			jb_printf(b, "%c", c);
	}
	jb_printf(b, "\"");
}

static void jb_field(struct jbuf *b, const struct status_field *f, const struct uswap_status *st)
{
	const char *p = (const char *)st + f->offset;
	double d;

	jb_printf(b, "  \"%s\": ", f->name);
	switch (f->type) {
	case FIELD_PID:
		jb_printf(b, "%d", (int)*(const pid_t *)p);
		break;
	case FIELD_STR:
		jb_string(b, p, f->size);
		break;
	case FIELD_U64:
		jb_printf(b, "%llu", (unsigned long long)*(const uint64_t *)p);
		break;
	case FIELD_DOUBLE:
		/* JSON has no NaN or infinity. */
		d = *(const double *)p;
		jb_printf(b, "%.3f", isfinite(d) ? d : 0.0);
		break;
	case FIELD_PIDS:
		jb_printf(b, "[");
		for (unsigned i = 0; i < USWAP_MIN(st->npids, USWAP_STATUS_MAX_PIDS); i++)
			jb_printf(b, "%s%d", i ? ", " : "", (int)st->pids[i]);
		jb_printf(b, "]");
		break;
	}
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const char *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* A stale temp file from another umask or owner keeps its mode; force 0600. */
	if (fchmod(fd, 0600) < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r < 0)
		return r;
	/*
	 * No fsync: the file lives in a runtime directory and is rewritten every interval;
	 * rename() alone guarantees readers see either the old or the new object.
	 */
	if (close(TAKE_FD(fd)) < 0)
		return -errno;
	return 0;
}

int uswap_status_write(const char *path, const struct uswap_status *st)
{
	struct jbuf b = {};
	char tmp[PATH_MAX];
	int r;

	if (!path || !st)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	jb_printf(&b, "{\n");
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(status_fields); i++) {
		jb_field(&b, &status_fields[i], st);
		jb_printf(&b, i + 1 < USWAP_ARRAY_SIZE(status_fields) ? ",\n" : "\n");
	}
	jb_printf(&b, "}\n");
	if (b.error)
		return b.error;
	r = write_file(tmp, b.data, b.len);
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* ---- parser ---- */

struct jparser {
	const char *p;
	const char *end;
};

static void jp_skip_ws(struct jparser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int jp_expect(struct jparser *jp, char c)
{
	jp_skip_ws(jp);
	if (jp->p >= jp->end || *jp->p != c)
		return -EBADMSG;
	jp->p++;
	return 0;
}

static bool jp_peek(struct jparser *jp, char c)
{
	jp_skip_ws(jp);
	return jp->p < jp->end && *jp->p == c;
}

static int jp_hex4(struct jparser *jp, unsigned *ret)
{
	unsigned v = 0;

	if (jp->end - jp->p < 4)
		return -EBADMSG;
	for (int i = 0; i < 4; i++) {
		char c = *jp->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/* \uXXXX (and a following low surrogate) after the "\u"; returns the code point. */
static int jp_unicode(struct jparser *jp, unsigned *ret)
{
	unsigned cp, lo;
	int r;

	r = jp_hex4(jp, &cp);
	if (r < 0)
		return r;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -EBADMSG;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u')
			return -EBADMSG;
		jp->p += 2;
		r = jp_hex4(jp, &lo);
		if (r < 0)
			return r;
		if (lo < 0xdc00 || lo > 0xdfff)
			return -EBADMSG;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	/* Our strings are C strings. */
	if (cp == 0)
		return -EBADMSG;
	*ret = cp;
	return 0;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int jp_escape(struct jparser *jp, char out[4], size_t *ret_n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned cp;
	int r;

	if (jp->p >= jp->end)
		return -EBADMSG;
	if (*jp->p == 'u') {
		jp->p++;
		r = jp_unicode(jp, &cp);
		if (r < 0)
			return r;
		*ret_n = utf8_encode(cp, out);
		return 0;
	}
	e = memchr(from, *jp->p, sizeof(from) - 1);
	if (!e)
		return -EBADMSG;
	jp->p++;
	out[0] = to[e - from];
	*ret_n = 1;
	return 0;
}

/*
 * A string into out (size bytes with the NUL; out may be NULL to skip it). *ret_truncated
 * tells whether it did not fit; the whole string is consumed either way.
 */
static int jp_string(struct jparser *jp, char *out, size_t size, bool *ret_truncated)
{
	size_t len = 0;
	bool truncated = false;
	int r;

	r = jp_expect(jp, '"');
	if (r < 0)
		return r;
	for (;;) {
		char chunk[4];
		size_t n = 1;

		if (jp->p >= jp->end)
			return -EBADMSG;
		if (*jp->p == '"') {
			jp->p++;
			break;
		}
		if ((unsigned char)*jp->p < 0x20)
			return -EBADMSG;
		if (*jp->p == '\\') {
			jp->p++;
			r = jp_escape(jp, chunk, &n);
			if (r < 0)
				return r;
		} else {
			chunk[0] = *jp->p++;
		}
		if (out && len + n < size) {
			memcpy(out + len, chunk, n);
			len += n;
		} else {
			truncated = true;
		}
	}
	if (out && size > 0)
		out[len] = '\0';
	if (ret_truncated)
		*ret_truncated = truncated;
	return 0;
}

/*
 * A JSON number token, copied to out (may be NULL to skip it); *ret_integer tells whether it
 * is a plain non-negative integer.
 */
static int jp_number(struct jparser *jp, char *out, size_t size, bool *ret_integer)
{
	const char *s, *q;
	bool integer = true;

	jp_skip_ws(jp);
	s = q = jp->p;
	if (q < jp->end && *q == '-') {
		q++;
		integer = false;
	}
	if (q >= jp->end || *q < '0' || *q > '9')
		return -EBADMSG;
	if (*q == '0' && q + 1 < jp->end && q[1] >= '0' && q[1] <= '9')
		return -EBADMSG;
	while (q < jp->end && *q >= '0' && *q <= '9')
		q++;
	if (q < jp->end && *q == '.') {
		integer = false;
		if (++q >= jp->end || *q < '0' || *q > '9')
			return -EBADMSG;
		while (q < jp->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < jp->end && (*q == 'e' || *q == 'E')) {
		integer = false;
		if (++q < jp->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= jp->end || *q < '0' || *q > '9')
			return -EBADMSG;
		while (q < jp->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (out) {
		if ((size_t)(q - s) >= size)
			return -EBADMSG;
		memcpy(out, s, (size_t)(q - s));
		out[q - s] = '\0';
	}
	jp->p = q;
	if (ret_integer)
		*ret_integer = integer;
	return 0;
}

static int jp_u64(struct jparser *jp, uint64_t max, uint64_t *ret)
{
	char tok[64];
	bool integer;
	uint64_t v = 0;
	int r;

	r = jp_number(jp, tok, sizeof(tok), &integer);
	if (r < 0)
		return r;
	if (!integer)
		return -EBADMSG;
	for (const char *c = tok; *c; c++) {
		uint64_t d = (uint64_t)(*c - '0');

		if (v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int jp_double(struct jparser *jp, double *ret)
{
	char tok[64], *end;
	bool integer;
	double d;
	int r;

	r = jp_number(jp, tok, sizeof(tok), &integer);
	if (r < 0)
		return r;
	d = strtod(tok, &end);
	if (*end || !isfinite(d))
		return -EBADMSG;
	*ret = d;
	return 0;
}

static int jp_literal(struct jparser *jp, const char *word)
{
	size_t len = strlen(word);

	jp_skip_ws(jp);
	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0)
		return -EBADMSG;
	jp->p += len;
	return 0;
}

static int jp_skip_value(struct jparser *jp, int depth);

/* The elements of an array or the members of an object, after the opening bracket. */
static int jp_skip_container(struct jparser *jp, char close, int depth)
{
	int r;

	if (jp_peek(jp, close))
		return jp_expect(jp, close);
	for (;;) {
		if (close == '}') {
			r = jp_string(jp, NULL, 0, NULL);
			if (r >= 0)
				r = jp_expect(jp, ':');
			if (r < 0)
				return r;
		}
		r = jp_skip_value(jp, depth + 1);
		if (r < 0)
			return r;
		if (jp_peek(jp, close))
			return jp_expect(jp, close);
		r = jp_expect(jp, ',');
		if (r < 0)
			return r;
	}
}

static int jp_skip_value(struct jparser *jp, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return -EBADMSG;
	jp_skip_ws(jp);
	if (jp->p >= jp->end)
		return -EBADMSG;
	switch (*jp->p) {
	case '"':
		return jp_string(jp, NULL, 0, NULL);
	case '{':
		jp->p++;
		return jp_skip_container(jp, '}', depth);
	case '[':
		jp->p++;
		return jp_skip_container(jp, ']', depth);
	case 't':
		return jp_literal(jp, "true");
	case 'f':
		return jp_literal(jp, "false");
	case 'n':
		return jp_literal(jp, "null");
	default:
		/* Numbers of any length are fine when skipped; only the syntax matters. */
		return jp_number(jp, NULL, 0, NULL);
	}
}

static int jp_pids(struct jparser *jp, struct uswap_status *st)
{
	uint64_t v;
	int r;

	st->npids = 0;
	r = jp_expect(jp, '[');
	if (r < 0 || jp_peek(jp, ']'))
		return r < 0 ? r : jp_expect(jp, ']');
	for (;;) {
		if (st->npids >= USWAP_STATUS_MAX_PIDS)
			return -EBADMSG;
		r = jp_u64(jp, INT_MAX, &v);
		if (r < 0)
			return r;
		st->pids[st->npids++] = (pid_t)v;
		if (jp_peek(jp, ']'))
			return jp_expect(jp, ']');
		r = jp_expect(jp, ',');
		if (r < 0)
			return r;
	}
}

static int jp_field(struct jparser *jp, const struct status_field *f, struct uswap_status *st)
{
	char *p = (char *)st + f->offset;
	bool truncated;
	uint64_t v;
	int r;

	switch (f->type) {
	case FIELD_PID:
		r = jp_u64(jp, INT_MAX, &v);
		if (r >= 0)
			*(pid_t *)p = (pid_t)v;
		return r;
	case FIELD_STR:
		r = jp_string(jp, p, f->size, &truncated);
		return r < 0 ? r : truncated ? -EBADMSG : 0;
	case FIELD_U64:
		return jp_u64(jp, UINT64_MAX, (uint64_t *)p);
	case FIELD_DOUBLE:
		return jp_double(jp, (double *)p);
	case FIELD_PIDS:
		return jp_pids(jp, st);
	}
	return -EBADMSG;
}

static const struct status_field *find_field(const char *name)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(status_fields); i++)
		if (strcmp(status_fields[i].name, name) == 0)
			return &status_fields[i];
	return NULL;
}

static int jp_member(struct jparser *jp, struct uswap_status *st)
{
	const struct status_field *f;
	char key[64];
	bool truncated;
	int r;

	r = jp_string(jp, key, sizeof(key), &truncated);
	if (r < 0)
		return r;
	r = jp_expect(jp, ':');
	if (r < 0)
		return r;
	f = truncated ? NULL : find_field(key);
	if (!f)
		return jp_skip_value(jp, 1);
	return jp_field(jp, f, st);
}

static int parse_status(const char *buf, size_t len, struct uswap_status *st)
{
	struct jparser jp = { .p = buf, .end = buf + len };
	int r;

	r = jp_expect(&jp, '{');
	if (r < 0)
		return r;
	if (!jp_peek(&jp, '}')) {
		for (;;) {
			r = jp_member(&jp, st);
			if (r < 0)
				return r;
			if (jp_peek(&jp, '}'))
				break;
			r = jp_expect(&jp, ',');
			if (r < 0)
				return r;
		}
	}
	r = jp_expect(&jp, '}');
	if (r < 0)
		return r;
	jp_skip_ws(&jp);
	return jp.p == jp.end ? 0 : -EBADMSG;
}

int uswap_status_parse_fd(int fd, struct uswap_status *ret)
{
	_cleanup_free_ char *buf = NULL;
	struct uswap_status st = {};
	size_t len = 0;
	int r;

	if (fd < 0 || !ret)
		return -EINVAL;
	r = uswap_read_all(fd, STATUS_MAX_BYTES - 1, &buf, &len);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	r = parse_status(buf, len, &st);
	if (r < 0)
		return r;
	*ret = st;
	return 0;
}

/* ---- human output ---- */

/* The strings come from a file; keep control characters away from the terminal. */
static void print_str(FILE *f, const char *key, const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	fprintf(f, "%s: ", key);
	if (len == 0)
		fputc('-', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
	fputc('\n', f);
}

static void print_size(FILE *f, const char *key, uint64_t bytes)
{
	char human[32];

	fprintf(f, "%s: %llu (%s)\n", key, (unsigned long long)bytes,
		uswap_format_size(bytes, human, sizeof(human)));
}

void uswap_status_print(FILE *f, const struct uswap_status *st)
{
	long page = sysconf(_SC_PAGESIZE);
	char human[32];

	if (page <= 0)
		page = 4096;
	fprintf(f, "shim_pid: %d\n", (int)st->shim_pid);
	print_str(f, "mode", st->mode, sizeof(st->mode));
	print_str(f, "id", st->id, sizeof(st->id));
	print_str(f, "state", st->state, sizeof(st->state));
	print_str(f, "reason", st->reason, sizeof(st->reason));
	if (st->reason[0])
		print_size(f, "reason_bytes", st->reason_bytes);
	if (st->target_bytes)
		print_size(f, "target", st->target_bytes);
	else
		fprintf(f, "target: none\n");
	print_size(f, "rss_anon", st->rss_anon_bytes);
	fprintf(f, "evicted_pages: %llu (%s)\n", (unsigned long long)st->evicted_pages,
		uswap_format_size(st->evicted_pages * (uint64_t)page, human, sizeof(human)));
	print_size(f, "store", st->store_bytes);
	fprintf(f, "faults_total: %llu\n", (unsigned long long)st->faults_total);
	fprintf(f, "faults_per_sec: %.1f\n", st->faults_per_sec);
	fprintf(f, "evictions_total: %llu (%llu clean)\n", (unsigned long long)st->evictions_total,
		(unsigned long long)st->evictions_clean_total);
	fprintf(f, "store_writes_total: %llu\n", (unsigned long long)st->store_writes_total);
	print_size(f, "store_cache", st->store_cache_bytes);
	fprintf(f, "fault_p50_us: %.1f\n", st->fault_p50_us);
	fprintf(f, "fault_p99_us: %.1f\n", st->fault_p99_us);
	fprintf(f, "stops_total: %llu\n", (unsigned long long)st->stops_total);
	fprintf(f, "stopped_ms_total: %.3f\n", st->stopped_ms_total);
	fprintf(f, "stopped_ms_max: %.3f\n", st->stopped_ms_max);
	print_size(f, "shim_rss", st->shim_rss_bytes);
	fprintf(f, "takeovers_total: %llu\n", (unsigned long long)st->takeovers_total);
	fprintf(f, "pids:");
	for (unsigned i = 0; i < USWAP_MIN(st->npids, USWAP_STATUS_MAX_PIDS); i++)
		fprintf(f, " %d", (int)st->pids[i]);
	fprintf(f, "\n");
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON through yajl's tree API, hardened against what yajl_tree_parse() does on its own:
 * it stops at the first NUL byte (it calls strlen), it turns comments on, it stores strings
 * NUL-terminated without their length (so "\u0000" silently cuts a string short), it frees
 * the tree recursively (so deep nesting can overflow the stack), and whether it flags a
 * number as a valid integer differs between revisions (upstream master never does).
 * json_prescan() refuses the first four, and malformed UTF-8 or surrogate escapes yajl
 * would let through, before yajl sees the text; json_int64() reads the number's text itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "json.h"
#include "uswap/fileio.h"
#include "uswap/util.h"

/* struct json_value is never defined: a pointer to it is a yajl_val in disguise. */
static yajl_val Y(const struct json_value *v)
{
	return (yajl_val)v;
}

static const struct json_value *J(yajl_val v)
{
	return (const struct json_value *)v;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v << 4 | (unsigned)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/*
 * Check the escape at esc (its backslash) and return its length. yajl turns "\u0000" into a
 * NUL that cuts the string short, a lone low surrogate into CESU-8 bytes and a high one
 * followed by anything but a low one into a wrong code point, where Go's decoder (runc,
 * podman) reads U+FFFD: refuse them all, so both sides read the same string.
 */
static int check_escape(const char *esc, size_t left)
{
	unsigned hi, lo;

	if (left < 2)
		return -EBADMSG;
	if (esc[1] != 'u')
		return 2;
	if (left < 6 || hex4(esc + 2, &hi) < 0 || hi == 0 || (hi >= 0xdc00 && hi <= 0xdfff))
		return -EBADMSG;
	if (hi < 0xd800 || hi > 0xdbff)
		return 6;
	if (left < 12 || esc[6] != '\\' || esc[7] != 'u' || hex4(esc + 8, &lo) < 0 || lo < 0xdc00 ||
	    lo > 0xdfff)
		return -EBADMSG;
	return 12;
}

/*
 * The length of the well-formed UTF-8 sequence at s, or 0. yajl checks only the shape of a
 * sequence, so it lets overlong forms ("\xc0\xaf" for '/'), surrogates and code points
 * above U+10FFFF through; RFC 3629 table 3.7 ranges refuse them.
 */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/*
 * The scan follows JSON's string grammar (a backslash always takes its escape with it),
 * so for every document yajl accepts it sees the same strings and brackets as yajl. Outside
 * strings a '/' can only start a comment.
 */
static int json_prescan(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	unsigned depth = 0;
	bool in_string = false;

	if (memchr(buf, '\0', len))
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		size_t n = utf8_len(s + i, len - i);

		if (n == 0)
			return -EBADMSG;
		if (n > 1 || (in_string && s[i] != '\\' && s[i] != '"')) {
			i += n - 1;
		} else if (s[i] == '\\') {
			int r = check_escape(buf + i, len - i);

			if (r < 0)
				return r;
			i += (size_t)r - 1;
		} else if (s[i] == '"') {
			in_string = !in_string;
		} else if (s[i] == '/') {
			return -EBADMSG;
		} else if (s[i] == '[' || s[i] == '{') {
			if (++depth > JSON_MAX_DEPTH)
				return -EBADMSG;
		} else if ((s[i] == ']' || s[i] == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* text is NUL-terminated at text[len]. */
static int parse_text(const char *text, size_t len, struct json_value **ret)
{
	yajl_val root;
	int r;

	r = json_prescan(text, len);
	if (r < 0)
		return r;
	/* yajl reports out-of-memory and syntax errors alike; a 1 MiB document rarely OOMs. */
	root = yajl_tree_parse(text, NULL, 0);
	if (!root)
		return -EBADMSG;
	*ret = (struct json_value *)root;
	return 0;
}

int json_parse(const char *buf, size_t len, struct json_value **ret)
{
	_cleanup_free_ char *text = NULL;

	if (!buf || !ret || len == SIZE_MAX)
		return -EINVAL;
	text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	memcpy(text, buf, len);
	text[len] = '\0';
	return parse_text(text, len, ret);
}

int json_parse_fd(int fd, size_t max_bytes, struct json_value **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = uswap_read_all(fd, max_bytes, &buf, &len);
	if (r < 0)
		return r;
	return parse_text(buf, len, ret);
}

void json_free(struct json_value *v)
{
	yajl_tree_free(Y(v));
}

void json_freep(struct json_value **v)
{
	json_free(*v);
}

enum json_type json_type(const struct json_value *v)
{
	switch (Y(v)->type) {
	case yajl_t_string:
		return JSON_STRING;
	case yajl_t_number:
		return JSON_NUMBER;
	case yajl_t_object:
		return JSON_OBJECT;
	case yajl_t_array:
		return JSON_ARRAY;
	case yajl_t_true:
		return JSON_TRUE;
	case yajl_t_false:
		return JSON_FALSE;
	default:
		return JSON_NULL;
	}
}

int json_object_get(const struct json_value *obj, const char *key, const struct json_value **ret)
{
	yajl_val o = Y(obj), found = NULL;

	if (!key || !ret)
		return -EINVAL;
	if (!YAJL_IS_OBJECT(o))
		return -EBADMSG;
	for (size_t i = 0; i < o->u.object.len; i++) {
		if (strcmp(o->u.object.keys[i], key) != 0)
			continue;
		if (found)
			return -EBADMSG;
		found = o->u.object.values[i];
	}
	if (!found)
		return -ENOENT;
	*ret = J(found);
	return 0;
}

size_t json_object_size(const struct json_value *obj)
{
	yajl_val o = Y(obj);

	return YAJL_IS_OBJECT(o) ? o->u.object.len : 0;
}

int json_object_at(const struct json_value *obj, size_t i, const char **ret_key,
		   const struct json_value **ret_value)
{
	yajl_val o = Y(obj);

	if (!YAJL_IS_OBJECT(o) || i >= o->u.object.len || !ret_key || !ret_value)
		return -EINVAL;
	*ret_key = o->u.object.keys[i];
	*ret_value = J(o->u.object.values[i]);
	return 0;
}

int json_string(const struct json_value *v, const char **ret)
{
	yajl_val s = Y(v);

	if (!ret)
		return -EINVAL;
	if (!YAJL_IS_STRING(s))
		return -EBADMSG;
	*ret = s->u.string;
	return 0;
}

/* yajl has already checked the JSON number grammar; only fraction, exponent, size remain. */
int json_int64(const struct json_value *v, int64_t *ret)
{
	yajl_val n = Y(v);
	const char *p;
	uint64_t mag = 0, limit = INT64_MAX;
	bool neg;

	if (!ret)
		return -EINVAL;
	if (!YAJL_IS_NUMBER(n) || !n->u.number.r)
		return -EBADMSG;
	p = n->u.number.r;
	neg = *p == '-';
	if (neg) {
		p++;
		limit = (uint64_t)INT64_MAX + 1;
	}
	if (*p == '\0')
		return -EBADMSG;
	for (; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (*p < '0' || *p > '9' || mag > (limit - digit) / 10)
			return -EBADMSG;
		mag = mag * 10 + digit;
	}
	/* Negate in unsigned arithmetic: -(int64_t)mag would overflow for INT64_MIN. */
	*ret = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin's only door to yajl, which is unmaintained upstream: a read-only tree of one
 * JSON document. Nothing outside json.c includes a yajl header, so replacing the library
 * touches one file. The reader is stricter than yajl on its own (see json_parse).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Nesting deeper than this is refused; OCI documents stay below 10. */
#define JSON_MAX_DEPTH 64

struct json_value;

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

/*
 * Parse exactly one JSON document of len bytes (buf needs no terminator). Refused with
 * -EBADMSG: syntax errors, trailing data, comments, NUL bytes, "\u0000" escapes, nesting
 * deeper than JSON_MAX_DEPTH, invalid UTF-8. 0, -EBADMSG or -ENOMEM.
 */
int json_parse(const char *buf, size_t len, struct json_value **ret);

/* Read fd to its end and parse it. A document over max_bytes is -EFBIG. */
int json_parse_fd(int fd, size_t max_bytes, struct json_value **ret);

void json_free(struct json_value *v);
void json_freep(struct json_value **v);
#define _cleanup_json_ __attribute__((cleanup(json_freep)))

enum json_type json_type(const struct json_value *v);

/*
 * Look up key in an object. 0 and *ret (which may be a JSON null), -ENOENT when absent,
 * -EBADMSG when obj is not an object or the key occurs more than once: parsers disagree on
 * which duplicate wins, so a document with one cannot mean the same thing to the runtime
 * and to us.
 */
int json_object_get(const struct json_value *obj, const char *key, const struct json_value **ret);

/* Number of members of an object, 0 for anything else. */
size_t json_object_size(const struct json_value *obj);

/* The i-th member of an object, in document order. 0 or -EINVAL (not an object, i too big). */
int json_object_at(const struct json_value *obj, size_t i, const char **ret_key,
		   const struct json_value **ret_value);

/* The NUL-free string of a JSON string value. 0 or -EBADMSG (not a string). */
int json_string(const struct json_value *v, const char **ret);

/* An integral number without fraction or exponent that fits int64_t. 0 or -EBADMSG. */
int json_int64(const struct json_value *v, int64_t *ret);

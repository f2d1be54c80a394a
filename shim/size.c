/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte sizes and targets as users write them on the command line and in annotations.
 * Only binary multiples exist here: "64M" and "64Mi" are both 64 << 20, because memory is
 * managed in pages and a decimal megabyte is never what anyone sizing a cgroup means.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "uswap/size.h"
#include "uswap/util.h"

struct size_suffix {
	const char *name;
	unsigned shift;
};

static const struct size_suffix size_suffixes[] = {
	{ "", 0 },    { "B", 0 },  { "K", 10 },	 { "Ki", 10 }, { "M", 20 },
	{ "Mi", 20 }, { "G", 30 }, { "Gi", 30 }, { "T", 40 },  { "Ti", 40 },
};

/*
 * Parse the leading decimal digits of s. Sets *ret_end to the first non-digit and
 * *ret_overflow when the value does not fit; an overflow is reported only after the caller
 * has validated the rest, so "99999999999999999999X" is -EINVAL, not -ERANGE.
 */
static int parse_decimal(const char *s, uint64_t *ret_value, const char **ret_end,
			 bool *ret_overflow)
{
	uint64_t v = 0;
	bool overflow = false;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10)
			overflow = true;
		else
			v = v * 10 + digit;
	}
	*ret_value = v;
	*ret_end = p;
	*ret_overflow = overflow;
	return 0;
}

static int lookup_suffix(const char *suffix, unsigned *ret_shift)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(size_suffixes); i++) {
		if (strcmp(suffix, size_suffixes[i].name) == 0) {
			*ret_shift = size_suffixes[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

int uswap_parse_size(const char *s, uint64_t *ret_bytes)
{
	const char *end;
	uint64_t v;
	unsigned shift;
	bool overflow;
	int r;

	if (!s || !ret_bytes)
		return -EINVAL;
	r = parse_decimal(s, &v, &end, &overflow);
	if (r < 0)
		return r;
	r = lookup_suffix(end, &shift);
	if (r < 0)
		return r;
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*ret_bytes = v << shift;
	return 0;
}

static int parse_percent(const char *s, size_t len, unsigned *ret_percent)
{
	unsigned v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v <= 100)
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 100)
		return -ERANGE;
	*ret_percent = v;
	return 0;
}

int uswap_parse_target(const char *s, uint64_t *ret_bytes, unsigned *ret_percent)
{
	uint64_t bytes;
	unsigned percent;
	size_t len;
	int r;

	if (!s || !ret_bytes || !ret_percent)
		return -EINVAL;
	len = strlen(s);
	if (len > 0 && s[len - 1] == '%') {
		r = parse_percent(s, len - 1, &percent);
		if (r < 0)
			return r;
		*ret_bytes = 0;
		*ret_percent = percent;
		return 0;
	}
	r = uswap_parse_size(s, &bytes);
	if (r < 0)
		return r;
	/* A target of 0 bytes would read as "no target" (percent and bytes both 0). */
	if (bytes == 0)
		return -ERANGE;
	*ret_bytes = bytes;
	*ret_percent = 0;
	return 0;
}

char *uswap_format_size(uint64_t bytes, char *buf, unsigned long len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (!buf || len == 0)
		return buf;
	if (bytes < 1024) {
		snprintf(buf, len, "%u B", (unsigned)bytes);
		return buf;
	}
	v /= 1024.0;
	/* Move up a unit when one decimal would round to 1024.0 of the current one. */
	while (v >= 1023.95 && u + 1 < USWAP_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

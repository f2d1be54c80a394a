/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/mountinfo lines look like
 *   36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory
 * mount id, parent id, major:minor, root, mount point, mount options, zero or more optional
 * fields ("shared:N", "master:N", "unbindable" ...) ended by a lone "-", then fstype, source
 * and superblock options. Fields are separated by exactly one space; show_mountinfo()
 * escapes blanks and backslashes in paths, so a space always separates fields, except that
 * a source given as "" is printed as nothing (two spaces in a row before the super options).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "uswap/mountinfo.h"
#include "uswap/util.h"

/* Decimal digits, at least one, no sign, up to UINT32_MAX; advances *p. */
static int parse_u32(const char **p, uint32_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EBADMSG;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -EBADMSG;
	}
	*p = s;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_whole_u32(const char *s, uint32_t *ret)
{
	return parse_u32(&s, ret) < 0 || *s ? -EBADMSG : 0;
}

static int parse_devno(const char *s, uint32_t *ret_major, uint32_t *ret_minor)
{
	if (parse_u32(&s, ret_major) < 0 || *s++ != ':' || parse_u32(&s, ret_minor) < 0 || *s)
		return -EBADMSG;
	return 0;
}

/* \ooo with exactly three octal digits, as mangle() writes them; anything else is damage. */
static int unescape_octal(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		unsigned v = 0;

		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		for (int i = 1; i <= 3; i++) {
			if (r[i] < '0' || r[i] > '7')
				return -EBADMSG;
			v = v * 8 + (unsigned)(r[i] - '0');
		}
		if (v == 0 || v > 0xff)
			return -EBADMSG;
		*w++ = (char)v;
		r += 4;
	}
	*w = '\0';
	return 0;
}

static int take_field(char **s, char **ret)
{
	char *f = strsep(s, " ");

	if (!f || !*f)
		return -EBADMSG;
	*ret = f;
	return 0;
}

/* Everything after " - ": fstype, then the super options from the end, the source between. */
static int split_tail(char *s, struct uswap_mount *m)
{
	char *last;

	if (take_field(&s, &m->fstype) < 0 || !s)
		return -EBADMSG;
	last = strrchr(s, ' ');
	if (!last || !last[1])
		return -EBADMSG;
	*last = '\0';
	m->source = s;
	m->superopts = last + 1;
	return unescape_octal(m->source);
}

int uswap_mountinfo_parse_line(char *line, struct uswap_mount *ret)
{
	struct uswap_mount m = {};
	char *s = line, *f[6], *opt;

	if (!line || !ret)
		return -EINVAL;
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(f); i++)
		if (take_field(&s, &f[i]) < 0)
			return -EBADMSG;
	do {
		if (take_field(&s, &opt) < 0)
			return -EBADMSG;
	} while (strcmp(opt, "-") != 0);
	if (split_tail(s, &m) < 0 || parse_whole_u32(f[0], &m.mount_id) < 0 ||
	    parse_whole_u32(f[1], &m.parent_id) < 0 || parse_devno(f[2], &m.major, &m.minor) < 0 ||
	    unescape_octal(f[3]) < 0 || unescape_octal(f[4]) < 0)
		return -EBADMSG;
	/* Both are absolute paths: the root within the filesystem, the mount point in the tree. */
	if (f[3][0] != '/' || f[4][0] != '/')
		return -EBADMSG;
	m.root = f[3];
	m.mountpoint = f[4];
	m.options = f[5];
	*ret = m;
	return 0;
}

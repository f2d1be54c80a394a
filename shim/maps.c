/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/maps lines look like
 *   7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0                  [heap]
 * The kernel (show_vma_header_prefix) always prints a space after the inode and pads to
 * align the name; seq_path() escapes '\n' in file names as "\012", so a line never
 * contains a raw newline and everything after the padding, spaces included, is the name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uswap/fileio.h"
#include "uswap/maps.h"
#include "uswap/util.h"

/* Largest maps file accepted (65530 VMAs with long paths fit well below this). */
#define MAPS_MAX_BYTES (256u << 20)

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex number at *p, at least one digit, no prefix or sign; advances *p. */
static int parse_hex(const char **p, uint64_t max, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (hex_digit(*s) < 0)
		return -EBADMSG;
	for (; (d = hex_digit(*s)) >= 0; s++) {
		if (v > (max - (uint64_t)d) / 16)
			return -EBADMSG;
		v = v * 16 + (uint64_t)d;
	}
	*p = s;
	*ret = v;
	return 0;
}

static int expect_char(const char **p, char c)
{
	if (**p != c)
		return -EBADMSG;
	(*p)++;
	return 0;
}

static int parse_perms(const char **p, struct uswap_vma *v)
{
	const char *s = *p;

	if ((s[0] != 'r' && s[0] != '-') || (s[1] != 'w' && s[1] != '-') ||
	    (s[2] != 'x' && s[2] != '-') || (s[3] != 's' && s[3] != 'p'))
		return -EBADMSG;
	v->read = s[0] == 'r';
	v->write = s[1] == 'w';
	v->exec = s[2] == 'x';
	v->shared = s[3] == 's';
	*p = s + 4;
	return 0;
}

static void parse_name(const char *s, struct uswap_vma *v)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	/*
	 * Names are absolute paths or bracketed, so leading blanks are padding; trailing ones
	 * belong to the file name. An anonymous mapping leaves nothing.
	 */
	len = strlen(s);
	if (len >= sizeof(v->name))
		len = sizeof(v->name) - 1;
	memcpy(v->name, s, len);
	v->name[len] = '\0';
}

/* Parse one NUL-terminated line (no newline). */
static int parse_line(const char *line, struct uswap_vma *ret)
{
	struct uswap_vma v = {};
	const char *p = line;
	uint64_t major, minor;
	int r;

	if ((r = parse_hex(&p, UINT64_MAX, &v.start)) < 0 || (r = expect_char(&p, '-')) < 0 ||
	    (r = parse_hex(&p, UINT64_MAX, &v.end)) < 0 || (r = expect_char(&p, ' ')) < 0 ||
	    (r = parse_perms(&p, &v)) < 0 || (r = expect_char(&p, ' ')) < 0 ||
	    (r = parse_hex(&p, UINT64_MAX, &v.offset)) < 0 || (r = expect_char(&p, ' ')) < 0 ||
	    (r = parse_hex(&p, UINT32_MAX, &major)) < 0 || (r = expect_char(&p, ':')) < 0 ||
	    (r = parse_hex(&p, UINT32_MAX, &minor)) < 0 || (r = expect_char(&p, ' ')) < 0 ||
	    (r = uswap_parse_decimal(&p, &v.inode)) < 0)
		return r;
	if (v.start >= v.end)
		return -EBADMSG;
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return -EBADMSG;
	v.dev_major = (unsigned)major;
	v.dev_minor = (unsigned)minor;
	parse_name(p, &v);
	*ret = v;
	return 0;
}

static size_t count_lines(const char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			n++;
	/* A last line without a newline still counts. */
	if (len > 0 && buf[len - 1] != '\n')
		n++;
	return n;
}

int uswap_maps_parse_fd(int fd, struct uswap_vma **ret_vmas, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct uswap_vma *vmas = NULL;
	size_t len = 0, nlines, n = 0;
	char *line;
	int r;

	if (fd < 0 || !ret_vmas || !ret_n)
		return -EINVAL;
	r = uswap_read_all(fd, MAPS_MAX_BYTES, &buf, &len);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	nlines = count_lines(buf, len);
	if (nlines > 0) {
		vmas = calloc(nlines, sizeof(*vmas));
		if (!vmas)
			return -ENOMEM;
	}
	line = buf;
	while (n < nlines) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		r = parse_line(line, &vmas[n]);
		if (r < 0)
			return r;
		n++;
		if (!nl)
			break;
		line = nl + 1;
	}
	*ret_vmas = TAKE_PTR(vmas);
	*ret_n = n;
	return 0;
}

int uswap_maps_read(pid_t pid, struct uswap_vma **ret_vmas, size_t *ret_n)
{
	_cleanup_close_ int fd = -1;
	char path[64];

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return uswap_maps_parse_fd(fd, ret_vmas, ret_n);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool uswap_vma_evictable(const struct uswap_vma *v)
{
	if (!v || v->shared || !v->read || !v->write || v->inode != 0)
		return false;
	if (has_prefix(v->name, "[anon:uswap"))
		return false;
	return v->name[0] == '\0' || strcmp(v->name, "[heap]") == 0 ||
	       has_prefix(v->name, "[anon:");
}

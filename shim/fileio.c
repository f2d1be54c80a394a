/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uswap/fileio.h"
#include "uswap/util.h"

int uswap_read_all(int fd, size_t max_bytes, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0 || max_bytes > SIZE_MAX / 4)
		return -EINVAL;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* One byte past max_bytes tells "too large" from "exactly max_bytes". */
			size_t ncap = USWAP_MIN(cap ? cap * 2 : 16384, max_bytes + 1);
			char *nbuf;

			if (cap > max_bytes)
				return -EFBIG;
			nbuf = realloc(buf, ncap + 1);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max_bytes)
		return -EFBIG;
	buf[len] = '\0';
	*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

ssize_t uswap_read_small(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

char uswap_proc_state(pid_t pid, pid_t tid)
{
	char st = 0;
	unsigned long flags;

	uswap_proc_stat(pid, tid, &st, &flags);
	return st;
}

int uswap_proc_stat(pid_t pid, pid_t tid, char *ret_state, unsigned long *ret_flags)
{
	char path[64], buf[512], *p;
	ssize_t n;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = uswap_read_small(path, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -EBADMSG;
	/* The command name may hold spaces and parentheses: the state follows the last ')',
	 * the flags are the sixth field after it. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", ret_state, ret_flags) != 2)
		return -EBADMSG;
	return 0;
}

/* Z zombie, X dead: the thread is gone, whatever /proc still shows. */
static bool state_live(char st)
{
	return st && st != 'Z' && st != 'X';
}

pid_t uswap_live_tid(pid_t pid)
{
	char path[64], st = uswap_proc_state(pid, 0);
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	if (state_live(st))
		return pid;
	if (!st)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && !found && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid > 0 && state_live(uswap_proc_state(pid, tid)))
			found = tid;
	}
	if (d)
		closedir(d);
	return found;
}

int uswap_parse_decimal(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EBADMSG;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return 0;
}

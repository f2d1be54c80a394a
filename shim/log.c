/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uswap/log.h"

static const char *log_prog = "uswap";
static enum uswap_log_level log_level = USWAP_LOG_INFO;
static int log_fd = STDERR_FILENO;
static int log_is_file;

int uswap_log_open(const char *prog, enum uswap_log_level level, const char *path)
{
	log_prog = prog;
	log_level = level;
	if (path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0)
			return -errno;
		if (log_is_file)
			close(log_fd);
		log_fd = fd;
		log_is_file = 1;
	}
	return 0;
}

void uswap_log_set_level(enum uswap_log_level level)
{
	log_level = level;
}

enum uswap_log_level uswap_log_get_level(void)
{
	return log_level;
}

int uswap_log_fd(void)
{
	return log_fd;
}

int uswap_log_errno(enum uswap_log_level level, int error, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	int n = 0, saved = errno;
	va_list ap;

	if (level > log_level)
		return error;
	if (log_is_file) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n += snprintf(buf + n, sizeof(buf) - n, "%s[%d]: %s: ", log_prog, (int)getpid(),
		      names[level]);
	if (error)
		errno = error < 0 ? -error : error;
	va_start(ap, fmt);
	if (n < (int)sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line so lines from several threads never interleave. */
	if (write(log_fd, buf, n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved;
	return error;
}

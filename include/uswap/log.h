/* SPDX-License-Identifier: Apache-2.0 */
/* One logging sink per process: stderr (hook, foreground shim) or a log file (daemon). */
#pragma once

#include <errno.h>

enum uswap_log_level {
	USWAP_LOG_ERROR = 0,
	USWAP_LOG_WARN = 1,
	USWAP_LOG_INFO = 2,
	USWAP_LOG_DEBUG = 3,
};

/* Set program name (prefix), level and optional file (NULL = stderr). 0 or -errno. */
int uswap_log_open(const char *prog, enum uswap_log_level level, const char *path);
void uswap_log_set_level(enum uswap_log_level level);
enum uswap_log_level uswap_log_get_level(void);
/* The file descriptor logs go to (for a daemon that closes everything else). */
int uswap_log_fd(void);

/* Logs the message; errno is set from -error for %m. Returns error unchanged (a -errno). */
int uswap_log_errno(enum uswap_log_level level, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) uswap_log_errno(USWAP_LOG_ERROR, 0, __VA_ARGS__)
#define log_warn(...) uswap_log_errno(USWAP_LOG_WARN, 0, __VA_ARGS__)
#define log_info(...) uswap_log_errno(USWAP_LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (uswap_log_get_level() >= USWAP_LOG_DEBUG)                                      \
			uswap_log_errno(USWAP_LOG_DEBUG, 0, __VA_ARGS__);                          \
	} while (0)
#define log_error_errno(r, ...) uswap_log_errno(USWAP_LOG_ERROR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) uswap_log_errno(USWAP_LOG_WARN, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) uswap_log_errno(USWAP_LOG_DEBUG, (r), __VA_ARGS__)

/* SPDX-License-Identifier: Apache-2.0 */
/* File reading for the parsers (maps, status, OCI JSON, cgroup files) and /proc lookups. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read fd from its current position to EOF into a malloc'd, NUL-terminated buffer. More
 * than max_bytes: -EFBIG. 0 or -errno; *ret_buf and *ret_len are set only on success. */
int uswap_read_all(int fd, size_t max_bytes, char **ret_buf, size_t *ret_len);

/* The state letter of /proc/PID/task/TID/stat (TID 0: /proc/PID/stat), e.g. 'R', 'S', 'Z',
 * 't'; 0 if the task is gone or the file unreadable. */
char uswap_proc_state(pid_t pid, pid_t tid);

/* The same file's state letter and flags (PF_*). 0, or -errno (-EBADMSG: unparsable). */
int uswap_proc_stat(pid_t pid, pid_t tid, char *ret_state, unsigned long *ret_flags);

/* A live thread of process pid: pid itself while its main thread runs, else another thread
 * (the main thread may end with pthread_exit while the others go on: then /proc/PID shows
 * neither memory nor files, /proc/TID does). 0 if the process is gone. */
pid_t uswap_live_tid(pid_t pid);

/* Read at most len - 1 bytes of a small file (a /proc or cgroup one) into buf and terminate
 * it. The byte count, or -errno. */
ssize_t uswap_read_small(const char *path, char *buf, size_t len);

/* Decimal digits at *p (at least one; no sign, no blanks) into *ret, advancing *p past
 * them. Overflow or no digit: -EBADMSG. */
int uswap_parse_decimal(const char **p, uint64_t *ret);

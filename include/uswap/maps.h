/* SPDX-License-Identifier: Apache-2.0 */
/* Parser for /proc/PID/maps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uswap_vma {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	unsigned dev_major;
	unsigned dev_minor;
	bool read, write, exec;
	bool shared; /* 's' in the permissions, 'p' otherwise */
	char name[256]; /* path or [heap]/[stack]/[vdso]/[anon:...]; "" for plain anon; truncated */
};

/* Parse a whole maps file from fd (read from the current position until EOF).
 * On success *ret_vmas is a malloc'd array the caller frees, *ret_n its length. -errno on
 * failure; a malformed line is -EBADMSG. */
int uswap_maps_parse_fd(int fd, struct uswap_vma **ret_vmas, size_t *ret_n);

/* Open /proc/PID/maps and parse it. -ESRCH if the process is gone. */
int uswap_maps_read(pid_t pid, struct uswap_vma **ret_vmas, size_t *ret_n);

/* A private anonymous read+write mapping that is not [stack], [vvar], [vdso], [vsyscall]
 * and has no backing file (inode 0; name empty, "[heap]" or starting with "[anon:").
 * Mappings named "[anon:uswap" are never evictable (the shim's own). */
bool uswap_vma_evictable(const struct uswap_vma *v);

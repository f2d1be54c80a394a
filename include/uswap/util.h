/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by plugin and shim: cleanup attributes and ownership transfer. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define USWAP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define USWAP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define USWAP_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void uswap_freep(void *p)
{
	free(*(void **)p);
}

static inline void uswap_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ __attribute__((cleanup(uswap_freep)))
#define _cleanup_close_ __attribute__((cleanup(uswap_closep)))

/* Hand a resource out of a cleanup-managed variable. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

/* Convert a libc -1/errno result into -errno right at the call. */
#define NEG_ERRNO(expr) ((expr) < 0 ? -errno : 0)

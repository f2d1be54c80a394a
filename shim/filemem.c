/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What keeps a container above its target once its anonymous memory is evicted, and asking
 * the kernel to reclaim the page cache among it (the pager evicts anonymous memory only;
 * file pages are the kernel's to reclaim, DESIGN "Enforce").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filemem.h"
#include "space.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/maps.h"
#include "uswap/size.h"
#include "uswap/util.h"

/* Reclaim is asked for at most this often: page cache the workload reads again comes back,
 * and asking more often would only turn it over faster. */
#define RECLAIM_INTERVAL_NS (5ull * 1000000000ull)
/* Less page cache than this is not worth a reclaim. */
#define RECLAIM_MIN_BYTES (1ull << 20)

const char *filemem_reason(uint64_t usage, const struct uswap_cgroup_stat *st, uint64_t *ret_bytes)
{
	uint64_t shmem = USWAP_MIN(st->shmem, st->file);
	/* Ties go to the earlier entry: page cache is the likeliest cause and the one the
	 * kernel can do something about. */
	const struct {
		const char *name;
		uint64_t bytes;
	} part[] = {
		{ "file-cache", st->file - shmem },
		{ "shmem", shmem },
		{ "anon-unevictable", st->anon },
		{ "kernel-memory", usage > st->anon + st->file ? usage - st->anon - st->file : 0 },
	};
	size_t best = 0;

	for (size_t i = 1; i < USWAP_ARRAY_SIZE(part); i++)
		if (part[i].bytes > part[best].bytes)
			best = i;
	*ret_bytes = part[best].bytes;
	return part[best].name;
}

/*
 * v2 memory.reclaim. "swappiness=0" keeps it to file pages (the anonymous ones are the
 * pager's); a kernel that does not know the key refuses it with EINVAL and gets the plain
 * byte count. EAGAIN means it reclaimed less than asked, which is no error here.
 */
static int reclaim_cgroup(struct filemem *fm, const struct uswap_cgroup *cg, uint64_t bytes)
{
	_cleanup_close_ int fd = openat(cg->dirfd, "memory.reclaim", O_WRONLY | O_CLOEXEC);
	char buf[64];
	int n;

	if (fd < 0)
		return -errno;
	if (!fm->no_swappiness) {
		n = snprintf(buf, sizeof(buf), "%" PRIu64 " swappiness=0", bytes);
		if (write(fd, buf, (size_t)n) >= 0 || errno == EAGAIN)
			return 0;
		if (errno != EINVAL)
			return -errno;
		fm->no_swappiness = true;
	}
	n = snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
	if (write(fd, buf, (size_t)n) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/*
 * File pages a process maps: not its anonymous memory (the pager's), not code it runs (that
 * would fault straight back in), not devices, not shared memory (tmpfs pages could only go
 * to swap).
 */
static bool pageout_candidate(const struct uswap_vma *v)
{
	return v->name[0] == '/' && v->inode != 0 && !v->exec && strncmp(v->name, "/dev/", 5) &&
	       strncmp(v->name, "/memfd:", 7) && strncmp(v->name, "/SYSV", 5);
}

/*
 * Remote MADV_PAGEOUT on each candidate mapping of pid, one call per mapping: the kernel
 * answers EINVAL for a mapping it will not page out (mlocked, PFN maps) and stops there,
 * and ENOMEM for one that went away. EPERM (no CAP_SYS_NICE, or ptrace access refused) and
 * ENOSYS are returned: asking again would not help.
 */
static int pageout_pid(pid_t pid, size_t *ret_vmas)
{
	_cleanup_free_ struct uswap_vma *v = NULL;
	_cleanup_close_ int pidfd = -1;
	size_t n = 0, done = 0;
	int r;

	r = uswap_maps_read(pid, &v, &n);
	if (r < 0)
		return r;
	pidfd = pidfd_open_(pid);
	if (pidfd < 0)
		return pidfd;
	for (size_t i = 0; i < n; i++) {
		struct iovec iov = { (void *)(uintptr_t)v[i].start, v[i].end - v[i].start };

		if (!pageout_candidate(&v[i]))
			continue;
		if (syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_PAGEOUT, 0) >= 0)
			done++;
		else if (errno == EPERM || errno == ENOSYS)
			return -errno;
	}
	*ret_vmas = done;
	return 0;
}

static int pageout_cgroup(const struct uswap_cgroup *cg, size_t *ret_vmas)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0, vmas = 0;
	int r;

	r = uswap_cgroup_procs(cg, &pids, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		size_t got = 0;

		r = pageout_pid(pids[i], &got);
		if (r == -EPERM || r == -ENOSYS)
			return r;
		vmas += got; /* a process that exited meanwhile is no error */
	}
	*ret_vmas = vmas;
	return 0;
}

static void reclaim(struct filemem *fm, const struct uswap_cgroup *cg, uint64_t bytes,
		    const char *id)
{
	char size[32];
	size_t vmas = 0;
	int r = -EOPNOTSUPP;

	uswap_format_size(bytes, size, sizeof(size));
	if (!fm->no_reclaim_file && cg->version == 2) {
		r = reclaim_cgroup(fm, cg, bytes);
		if (r == 0) {
			if (!fm->told)
				log_info(
					"container %s: page cache keeps it above its target; "
					"asking the kernel to reclaim %s of it with memory.reclaim "
					"(at most every %llu s)",
					id, size, RECLAIM_INTERVAL_NS / 1000000000ull);
			fm->told = true;
			return;
		}
		log_debug_errno(r, "container %s: memory.reclaim: %m; using MADV_PAGEOUT", id);
		fm->no_reclaim_file = true;
	}
	r = pageout_cgroup(cg, &vmas);
	if (r == -EPERM || r == -ENOSYS) {
		log_warn_errno(r,
			       "container %s: remote MADV_PAGEOUT refused (%m): page cache is "
			       "left to the kernel",
			       id);
		fm->no_pageout = true;
		return;
	}
	if (!fm->told)
		log_info("container %s: page cache keeps it above its target (%s over); asking "
			 "the kernel to page out the file mappings of its processes (%zu "
			 "mappings; at most every %llu s)",
			 id, size, vmas, RECLAIM_INTERVAL_NS / 1000000000ull);
	fm->told = true;
}

/* Anonymous memory the pager cannot evict, anon bytes of it: "anon-locked" when locked memory
 * (mlock, mlockall) is at least half of it, else "anon-unevictable". */
static void set_anon_reason(struct filemem *fm, uint64_t anon)
{
	bool locked = fm->locked_bytes && fm->locked_bytes >= anon / 2;

	snprintf(fm->reason, sizeof(fm->reason), "%s", locked ? "anon-locked" : "anon-unevictable");
	fm->reason_bytes = locked ? fm->locked_bytes : anon;
}

void filemem_tick(struct filemem *fm, const struct uswap_cgroup *cg, bool unreachable,
		  uint64_t usage, uint64_t target, const char *id)
{
	struct uswap_cgroup_stat st;
	uint64_t cache, now;
	const char *why;

	fm->reason[0] = '\0';
	fm->reason_bytes = 0;
	if (!unreachable || usage <= target)
		return;
	if (!cg || cg->dirfd < 0) {
		/* run and attach: the target is RssAnon, so what is left is anonymous memory
		 * the pager cannot page (shared, mlocked, stacks, unarmed processes). */
		set_anon_reason(fm, usage);
		return;
	}
	if (uswap_cgroup_stat(cg, &st) < 0)
		return;
	why = filemem_reason(usage, &st, &fm->reason_bytes);
	if (!strcmp(why, "anon-unevictable"))
		set_anon_reason(fm, fm->reason_bytes);
	else
		snprintf(fm->reason, sizeof(fm->reason), "%s", why);
	cache = st.file - USWAP_MIN(st.shmem, st.file);
	now = now_ns();
	if (fm->no_pageout || cache < RECLAIM_MIN_BYTES || now < fm->next_reclaim_ns)
		return;
	fm->next_reclaim_ns = now + RECLAIM_INTERVAL_NS;
	/* As far below the target as the eviction aims (2%), and no more than the cache. */
	reclaim(fm, cg, USWAP_MIN(usage - target + target / 50, cache), id ? id : "-");
}

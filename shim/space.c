/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena.h"
#include "inject.h"
#include "keeper.h"
#include "space.h"
#include "uswap/compat.h"
#include "uswap/fileio.h"
#include "uswap/log.h"
#include "uswap/util.h"

/* Offsets inside the scratch argument page. */
#define SCR_INTS 0
#define SCR_MSGHDR 256
#define SCR_IOV 512
#define SCR_BYTE 600
#define SCR_CMSG 640
#define SCR_VEC 1024 /* up to 192 iovecs for vectored madvise */
#define SCR_VEC_MAX ((SCRATCH_ARGS - SCR_VEC) / sizeof(struct iovec))

int pidfd_open_(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

int pidfd_getfd_(int pidfd, int fd)
{
	int r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);

	return r < 0 ? -errno : r;
}

int pagemap_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

size_t pagemap_read(int fd, uint64_t addr, uint64_t *pm, size_t n)
{
	ssize_t got = pread(fd, pm, n * sizeof(*pm), (off_t)(addr / PAGE_SIZE_4K * sizeof(*pm)));

	return got > 0 ? (size_t)got / sizeof(*pm) : 0;
}

bool pagemap_here(int fd, uint64_t addr)
{
	uint64_t pm = 0;

	return pagemap_read(fd, addr, &pm, 1) == 1 && (pm & (PM_PRESENT | PM_SWAP));
}

static int rsys(struct inject *in, long *res, long nr, unsigned long a1, unsigned long a2,
		unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6)
{
	int r = inject_syscall(in, nr, res, a1, a2, a3, a4, a5, a6);

	if (r < 0)
		return r;
	return *res < 0 && *res > -4096 ? (int)*res : 0;
}

/* Send fd into the target through an injected socketpair and recvmsg. Returns the fd
 * number in the target, or -errno. */
static int send_fd_into(struct inject *in, int pidfd, uint64_t scratch, int fd)
{
	int sv[2], tfd = -1, r;
	_cleanup_close_ int sock = -1;
	long res;

	r = rsys(in, &res, SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		 scratch + SCR_INTS, 0, 0);
	if (r < 0)
		return r;
	r = target_read(in->tid, scratch + SCR_INTS, sv, sizeof(sv));
	if (r < 0)
		return r;
	sock = pidfd_getfd_(pidfd, sv[0]);
	if (sock < 0) {
		r = sock;
		goto out;
	}
	{
		char c = 'u';
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		memset(u.buf, 0, sizeof(u.buf));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sock, &mh, MSG_NOSIGNAL) != 1) {
			r = -errno;
			goto out;
		}
	}
	{
		/* The target's recvmsg arguments, with target addresses. */
		struct iovec tiov = { .iov_base = (void *)(scratch + SCR_BYTE), .iov_len = 1 };
		struct msghdr tmh = { .msg_iov = (void *)(scratch + SCR_IOV),
				      .msg_iovlen = 1,
				      .msg_control = (void *)(scratch + SCR_CMSG),
				      .msg_controllen = CMSG_SPACE(sizeof(int)) };
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr *cm = (struct cmsghdr *)cbuf;

		if ((r = target_write(in->tid, scratch + SCR_IOV, &tiov, sizeof(tiov))) < 0 ||
		    (r = target_write(in->tid, scratch + SCR_MSGHDR, &tmh, sizeof(tmh))) < 0)
			goto out;
		r = rsys(in, &res, SYS_recvmsg, sv[1], scratch + SCR_MSGHDR, MSG_CMSG_CLOEXEC, 0, 0,
			 0);
		if (r < 0)
			goto out;
		r = target_read(in->tid, scratch + SCR_CMSG, cbuf, sizeof(cbuf));
		if (r < 0)
			goto out;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			r = -EPROTO;
			goto out;
		}
		memcpy(&tfd, CMSG_DATA(cm), sizeof(int));
		r = tfd;
	}
out:
	rsys(in, &res, SYS_close, sv[0], 0, 0, 0, 0, 0);
	rsys(in, &res, SYS_close, sv[1], 0, 0, 0, 0, 0);
	return r;
}

/* Move target fd to a high number (out of the way of programs that expect small numbers),
 * closing the old one. Returns the new number (or the old one if that fails). */
static int target_fd_high(struct inject *in, uint64_t scratch, int tfd)
{
	struct rlimit rl;
	long res;
	int want;

	if (rsys(in, &res, SYS_prlimit64, 0, RLIMIT_NOFILE, 0, scratch + SCR_INTS, 0, 0) < 0 ||
	    target_read(in->tid, scratch + SCR_INTS, &rl, sizeof(rl)) < 0)
		return tfd;
	want = rl.rlim_cur > 4096 ? 4000 : rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : tfd;
	if (want <= tfd)
		return tfd;
	if (rsys(in, &res, SYS_fcntl, tfd, F_DUPFD_CLOEXEC, want, 0, 0, 0) < 0)
		return tfd;
	want = (int)res;
	rsys(in, &res, SYS_close, tfd, 0, 0, 0, 0, 0);
	return want;
}

static int target_new_uffd(struct pager *p, struct inject *in, int pidfd, uint64_t scratch)
{
	_cleanup_close_ int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	long res;
	int r;

	if (dev >= 0) {
		int tdev = send_fd_into(in, pidfd, scratch, dev);

		if (tdev >= 0) {
			long closed;

			r = rsys(in, &res, SYS_ioctl, tdev, USERFAULTFD_IOC_NEW,
				 O_CLOEXEC | O_NONBLOCK, 0, 0, 0);
			rsys(in, &closed, SYS_close, tdev, 0, 0, 0, 0, 0);
			if (r == 0)
				return (int)res;
			log_debug_errno(r, "pid %d: USERFAULTFD_IOC_NEW failed: %m", in->pid);
		} else {
			log_debug_errno(tdev, "pid %d: passing /dev/userfaultfd failed: %m",
					in->pid);
		}
	}
	/* Under a seccomp filter, userfaultfd(2) is a call that filters often forbid, some by
	 * killing the caller: do without. */
	if (in->filtered)
		return -EPERM;
	r = rsys(in, &res, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0);
	return r < 0 ? r : (int)res;
}

static int uffd_api(int uffd, uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };

	return ioctl(uffd, UFFDIO_API, &api) < 0 ? -errno : 0;
}

int space_register(struct space *sp, uint64_t start, uint64_t end, bool wp)
{
	struct uffdio_register reg = { .range = { .start = start, .len = end - start },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct range *n;

	/* Write-protect mode lets a refilled page stay clean (its store copy kept) until it
	 * is written; where the kernel refuses it for a VMA, pages there are simply never
	 * refilled write-protected (fault.c falls back). */
	if (wp) {
		reg.mode |= UFFDIO_REGISTER_MODE_WP;
		if (ioctl(sp->uffd, UFFDIO_REGISTER, &reg) < 0)
			reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	}
	if (!(reg.mode & UFFDIO_REGISTER_MODE_WP) && ioctl(sp->uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (space_registered(sp, start, end))
		return 0;
	n = arena_realloc(sp->regs, (sp->nregs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	sp->regs = n;
	sp->regs[sp->nregs++] = (struct range){ start, end };
	return 0;
}

bool space_registered(const struct space *sp, uint64_t start, uint64_t end)
{
	/* Ranges we registered never overlap each other unless re-registered; a VMA is fully
	 * registered if the union of ranges covers it. Walk forward greedily. */
	uint64_t a = start;
	bool progress = true;

	while (a < end && progress) {
		progress = false;
		for (size_t i = 0; i < sp->nregs; i++) {
			if (sp->regs[i].start <= a && sp->regs[i].end > a) {
				a = sp->regs[i].end;
				progress = true;
			}
		}
	}
	return a >= end;
}

void space_forget_regs(struct space *sp, uint64_t start, uint64_t end)
{
	size_t n = sp->nregs;

	for (size_t i = 0; i < n; i++) {
		struct range *r = &sp->regs[i];

		if (r->end <= start || r->start >= end)
			continue;
		if (r->start < start && r->end > end) {
			struct range *g = arena_realloc(sp->regs, (sp->nregs + 1) * sizeof(*g));

			if (!g)
				continue; /* kept whole: each run is registered again before its MOVE */
			sp->regs = g;
			r = &sp->regs[i];
			sp->regs[sp->nregs++] = (struct range){ end, r->end };
			r->end = start;
		} else if (r->start < start) {
			r->end = start;
		} else if (r->end > end) {
			r->start = end;
		} else {
			r->start = r->end = 0;
		}
	}
	/* Emptied records go: under mapping churn the array would otherwise only grow, and
	 * space_registered walks all of it. */
	size_t w = 0;

	for (size_t i = 0; i < sp->nregs; i++)
		if (sp->regs[i].end > sp->regs[i].start)
			sp->regs[w++] = sp->regs[i];
	sp->nregs = w;
}

void space_move_regs(struct space *sp, uint64_t from, uint64_t to, uint64_t len)
{
	/* The kernel moved the VMAs with their registration; follow them. */
	bool was = space_registered(sp, from, from + len);

	space_forget_regs(sp, from, from + len);
	if (was) {
		struct range *g = arena_realloc(sp->regs, (sp->nregs + 1) * sizeof(*g));

		if (g) {
			sp->regs = g;
			sp->regs[sp->nregs++] = (struct range){ to, to + len };
		}
	}
}

int space_madvise(struct space *sp, struct inject *in, const struct range *rg, size_t n, int advice)
{
	long res;
	int r;

	for (size_t done = 0; done < n;) {
		size_t k = USWAP_MIN(n - done, (size_t)SCR_VEC_MAX);

		if (sp->pm_self) {
			struct iovec iov[SCR_VEC_MAX];

			for (size_t i = 0; i < k; i++) {
				iov[i].iov_base = (void *)rg[done + i].start;
				iov[i].iov_len = rg[done + i].end - rg[done + i].start;
			}
			r = target_write(in->tid, sp->scratch + SCR_VEC, iov, k * sizeof(*iov));
			if (r < 0)
				return r;
			r = rsys(in, &res, SYS_process_madvise, (unsigned long)PIDFD_SELF,
				 sp->scratch + SCR_VEC, k, advice, 0, 0);
			if (r < 0)
				return r;
		} else {
			for (size_t i = 0; i < k; i++) {
				r = rsys(in, &res, SYS_madvise, rg[done + i].start,
					 rg[done + i].end - rg[done + i].start, advice, 0, 0, 0);
				if (r < 0)
					return r;
			}
		}
		done += k;
	}
	return 0;
}

static void probe_pm_self(struct space *sp, struct inject *in)
{
	struct range r = { sp->scratch, sp->scratch + SCRATCH_ARGS };

	/* MADV_COLD on our own scratch page: harmless, and tells whether the target's
	 * seccomp profile and kernel accept process_madvise(PIDFD_SELF). Not under a filter:
	 * one that kills for it would kill the program (see keep_to_common). */
	sp->pm_self = !in->filtered;
	if (!sp->pm_self)
		return;
	if (space_madvise(sp, in, &r, 1, MADV_COLD) < 0)
		sp->pm_self = false;
}

/* Map len bytes for the pager in the target, preferably at hint: far from where the program
 * maps its own memory (top-down from below the libraries), so that a program that maps its
 * old addresses back with MAP_FIXED (allocators, stress-ng) does not land on the stash. 0 with
 * *ret_addr, or -errno. */
static int map_own(struct inject *in, uint64_t hint, uint64_t len, int flags, uint64_t *ret_addr)
{
	long res;
	int r = rsys(in, &res, SYS_mmap, hint, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | flags, (unsigned long)-1,
		     0);

	if (r < 0 || (uint64_t)res != hint) {
		if (r == 0)
			rsys(in, &res, SYS_munmap, (uint64_t)res, len, 0, 0, 0, 0);
		r = rsys(in, &res, SYS_mmap, 0, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | flags, (unsigned long)-1, 0);
	}
	if (r == 0)
		*ret_addr = (uint64_t)res;
	return r;
}

/* The runner (inject.h): written while the page is writable, then made read and execute
 * only (never writable and executable at once). Without it (a seccomp or security policy that
 * refuses executable memory, USWAP_DISABLE=runner) every MOVE is its own injection. */
static void map_runner(struct pager *p, struct space *sp, struct inject *in, uint64_t hint)
{
	uint64_t addr;
	long res;
	int r;

	if (p->no_runner)
		return;
	r = map_own(in, hint, PAGE_SIZE_4K, 0, &addr);
	if (r < 0) {
		log_debug_errno(r, "pid %d: runner mmap failed: %m", sp->pid);
		return;
	}
	r = inject_runner_put(space_tid(sp), addr);
	if (r == 0)
		r = rsys(in, &res, SYS_mprotect, addr, PAGE_SIZE_4K, PROT_READ | PROT_EXEC, 0, 0,
			 0);
	if (r < 0) {
		log_debug_errno(r, "pid %d: no runner (%m): one injection per MOVE", sp->pid);
		rsys(in, &res, SYS_munmap, addr, PAGE_SIZE_4K, 0, 0, 0, 0);
		return;
	}
	sp->runner = addr;
	/* The rest of the arming goes through it too: a pager that dies meanwhile leaves the
	 * thread parked, not trapped (inject.c). */
	inject_use_runner(in, addr);
}

static int write_token(struct space *sp);

/* Empty the id pages but page 0 (the probe of space_check) and the one with sp's token. */
static int discard_ids(struct space *sp, struct inject *in)
{
	uint64_t base = sp->scratch + SCRATCH_ARGS;
	int keep = sp->id_page < 1 ? 0 : sp->id_page;
	struct range ids[2] = {
		{ base + PAGE_SIZE_4K, base + (uint64_t)keep * PAGE_SIZE_4K },
		{ base + (uint64_t)(keep + 1) * PAGE_SIZE_4K, base + ID_PAGES * PAGE_SIZE_4K },
	};
	size_t n = 0;

	for (size_t i = 0; i < 2; i++)
		if (ids[i].end > ids[i].start)
			ids[n++] = ids[i];
	return space_madvise(sp, in, ids, n, MADV_DONTNEED);
}

uint64_t space_rss_anon(pid_t pid, uint64_t *locked)
{
	char path[64], buf[4096], *s;
	pid_t tid;

	if (locked)
		*locked = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (uswap_read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	s = strstr(buf, "RssAnon:");
	/* No memory shown: its main thread may have ended while others run on. */
	if (!s && (tid = uswap_live_tid(pid)) > 0 && tid != pid) {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
		if (uswap_read_small(path, buf, sizeof(buf)) <= 0)
			return 0;
		s = strstr(buf, "RssAnon:");
	}
	if (locked) {
		const char *l = strstr(buf, "VmLck:");

		*locked = l ? strtoull(l + 6, NULL, 10) * 1024 : 0;
	}
	return s ? strtoull(s + 8, NULL, 10) * 1024 : 0;
}

bool ranges_overlap(const struct range *r, size_t n, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].start < end && r[i].end > start)
			return true;
	return false;
}

/* Whether a lock of the program's (mlockall) covers one of the pager's mappings. locked: its
 * VmLck; its smaps are read only when that is not 0. */
static bool own_locked(struct space *sp, pid_t pid, uint64_t locked)
{
	_cleanup_free_ struct range *r = NULL;
	size_t n = 0;

	if (!locked || space_locked_ranges(pid, &r, &n) < 0)
		return false;
	return ranges_overlap(r, n, sp->stash, sp->stash + STASH_SIZE) ||
	       ranges_overlap(r, n, sp->scratch, sp->scratch + SCRATCH_SIZE) ||
	       (sp->runner && ranges_overlap(r, n, sp->runner, sp->runner + PAGE_SIZE_4K));
}

/* mlockall locks the pager's mappings with the program's and fills them: 16 MiB of stash held
 * in the program's memory, and id pages that are never missing again. Unlock them and empty
 * the stash and the id pages (all but the one with sp's token). 0 or -errno. */
static int unlock_own(struct space *sp, struct inject *in)
{
	struct range stash = { sp->stash, sp->stash + STASH_SIZE };
	long res;
	int r;

	r = rsys(in, &res, SYS_munlock, sp->stash, STASH_SIZE, 0, 0, 0, 0);
	if (r == 0)
		r = rsys(in, &res, SYS_munlock, sp->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	if (r == 0 && sp->runner)
		r = rsys(in, &res, SYS_munlock, sp->runner, PAGE_SIZE_4K, 0, 0, 0, 0);
	if (r == 0)
		r = space_madvise(sp, in, &stash, 1, MADV_DONTNEED);
	if (r == 0)
		r = discard_ids(sp, in);
	if (r < 0)
		return log_debug_errno(r, "pid %d: cannot unlock the pager's mappings: %m",
				       sp->pid);
	log_info("pid %d: locks its memory (mlockall): the pager's own mappings unlocked, its "
		 "locked ones are never evicted",
		 sp->pid);
	return 0;
}

int space_unlock_own(struct space *sp)
{
	struct inject in;
	int r;

	if (!own_locked(sp, space_tid(sp), sp->locked))
		return 0;
	r = space_attach(sp, &in, 200);
	if (r < 0)
		return r;
	r = unlock_own(sp, &in);
	inject_detach(&in);
	return r;
}

static int arm_in(struct pager *p, struct space *sp, struct inject *in)
{
	/* 64 TiB: the middle of a 47-bit address space, far below the libraries. */
	uint64_t hint = 64ull << 40;
	int r, tfd;

	r = map_own(in, hint, SCRATCH_SIZE, 0, &sp->scratch);
	if (r < 0)
		return log_debug_errno(r, "pid %d: scratch mmap failed: %m", sp->pid);
	/* Populate the argument pages now: once the scratch's VMA is registered, a first write
	 * there (a table for the runner, while a MOVE has the fault thread leave the uffd
	 * unread) would wait for a fault nobody serves. */
	static const uint8_t zeros[SCRATCH_ARGS];

	r = target_write(in->tid, sp->scratch, zeros, sizeof(zeros));
	if (r < 0)
		return log_debug_errno(r, "pid %d: scratch write failed: %m", sp->pid);
	map_runner(p, sp, in, hint + (2ull << 20));
	r = map_own(in, hint + (4ull << 20), STASH_SIZE, MAP_NORESERVE, &sp->stash);
	if (r < 0)
		return log_debug_errno(r, "pid %d: stash mmap failed: %m", sp->pid);
	/* A program that called mlockall(MCL_FUTURE) gets them locked and filled at once. */
	sp->locked = 0;
	space_rss_anon(in->tid, &sp->locked);
	if (own_locked(sp, in->tid, sp->locked)) {
		r = unlock_own(sp, in);
		if (r < 0)
			return r;
	}
	tfd = target_new_uffd(p, in, sp->pidfd, sp->scratch);
	if (tfd < 0)
		return log_debug_errno(tfd, "pid %d: no userfaultfd in target: %m", sp->pid);
	sp->target_fd = target_fd_high(in, sp->scratch, tfd);
	sp->uffd = pidfd_getfd_(sp->pidfd, sp->target_fd);
	if (sp->uffd < 0)
		return sp->uffd;
	r = uffd_api(sp->uffd, p->features);
	if (r < 0)
		return log_debug_errno(r, "pid %d: UFFDIO_API failed: %m", sp->pid);
	r = space_register(sp, sp->stash, sp->stash + STASH_SIZE, false);
	if (r < 0)
		return r;
	r = space_register(sp, sp->scratch + SCRATCH_ARGS, sp->scratch + SCRATCH_SIZE, false);
	if (r < 0)
		return r;
	/* Id page 0 answers "is this mm alive": ZEROPAGE gives EEXIST while it is, ESRCH
	 * once it is gone (exit or exec). */
	struct uffdio_zeropage zp = { .range = { sp->scratch + SCRATCH_ARGS, PAGE_SIZE_4K } };

	if (ioctl(sp->uffd, UFFDIO_ZEROPAGE, &zp) < 0 && errno != EEXIST)
		return -errno;
	/* A token from the start: a later mlockall fills the missing id pages, and the pager
	 * must still know the process to unlock its mappings there. */
	r = write_token(sp);
	if (r < 0)
		return log_debug_errno(r, "pid %d: no id token: %m", sp->pid);
	probe_pm_self(sp, in);
	return 0;
}

static void arm_undo(struct space *sp, struct inject *in)
{
	long res;

	if (sp->scratch)
		rsys(in, &res, SYS_munmap, sp->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	if (sp->stash)
		rsys(in, &res, SYS_munmap, sp->stash, STASH_SIZE, 0, 0, 0, 0);
	if (sp->target_fd >= 0)
		rsys(in, &res, SYS_close, sp->target_fd, 0, 0, 0, 0, 0);
	if (sp->runner) {
		inject_use_runner(in, 0); /* not the code the munmap takes away */
		rsys(in, &res, SYS_munmap, sp->runner, PAGE_SIZE_4K, 0, 0, 0, 0);
	}
}

static uint64_t serials;

void space_serials_from(uint64_t first)
{
	__atomic_store_n(&serials, first - 1, __ATOMIC_RELAXED);
}

static struct space *space_alloc(void)
{
	struct space *sp = arena_calloc(sizeof(*sp));

	if (!sp)
		return NULL;
	sp->pidfd = sp->uffd = sp->target_fd = -1;
	sp->id_page = -1;
	/* The manager and the fault thread both make spaces. */
	sp->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	pmap_init(&sp->map);
	pmap_init(&sp->clean);
	return sp;
}

static void space_free(struct space *sp)
{
	if (sp->uffd >= 0) {
		close(sp->uffd);
		keeper_forget(sp->serial);
	}
	if (sp->pidfd >= 0)
		close(sp->pidfd);
	pmap_free(&sp->map);
	pmap_free(&sp->clean);
	arena_free(sp->regs);
	arena_free(sp->lranges);
	arena_free(sp->foreign);
	arena_free(sp);
}

int space_arm(struct pager *p, pid_t pid, struct inject *given, struct space **ret)
{
	struct inject own, *in = given ? given : &own;
	struct space *sp = space_alloc();
	uint64_t ip = given ? given->syscall_ip : 0;
	int r;

	if (!sp)
		return -ENOMEM;
	sp->pid = pid;
	sp->pidfd = pidfd_open_(pid);
	if (sp->pidfd < 0) {
		r = sp->pidfd;
		goto fail_free;
	}
	if (!given) {
		r = inject_find_syscall_ip(pid, &ip);
		if (r < 0)
			goto fail_free;
		r = inject_attach(in, pid, ip, 200);
		if (r < 0)
			goto fail_free;
	}
	sp->syscall_ip = ip;
	r = arm_in(p, sp, in);
	if (r < 0)
		arm_undo(sp, in);
	if (!given)
		inject_detach(in);
	if (r < 0)
		goto fail_free;
	keeper_hold(sp->serial, sp->uffd);
	pthread_mutex_lock(&p->lock);
	sp->next = p->spaces;
	p->spaces = sp;
	pthread_mutex_unlock(&p->lock);
	uint64_t one = 1;

	if (write(p->wake_fd, &one, sizeof(one)) < 0) {
		/* The fault thread also rescans on its poll timeout. */
	}
	log_info("pid %d: armed (uffd %d in target, stash %#lx, scratch %#lx, %s, runner %#lx)",
		 pid, sp->target_fd, (unsigned long)sp->stash, (unsigned long)sp->scratch,
		 sp->pm_self ? "process_madvise" : "madvise", (unsigned long)sp->runner);
	*ret = sp;
	return 0;
fail_free:
	space_free(sp);
	return r;
}

/* Does a VmFlags line of smaps name the two-letter flag? */
static bool vmflag(const char *line, const char *flag)
{
	for (const char *t = line + strlen("VmFlags:"); *t;) {
		while (*t == ' ')
			t++;
		if (t[0] == flag[0] && t[1] == flag[1] && (t[2] == ' ' || t[2] == '\0'))
			return true;
		while (*t && *t != ' ')
			t++;
	}
	return false;
}

/* Record [start,end) as registered, merged with a record that ends where it starts. */
static void add_reg(struct space *sp, uint64_t start, uint64_t end)
{
	struct range *n;

	if (sp->nregs && sp->regs[sp->nregs - 1].end == start) {
		sp->regs[sp->nregs - 1].end = end;
		return;
	}
	n = arena_realloc(sp->regs, (sp->nregs + 1) * sizeof(*n));
	if (!n)
		return; /* unrecorded: the next batch registers it again */
	sp->regs = n;
	sp->regs[sp->nregs++] = (struct range){ start, end };
}

/* Read pid's smaps and call fn for each VMA with its VmFlags line. 0, or -errno. */
static int smaps_each(pid_t pid,
		      void (*fn)(uint64_t start, uint64_t end, const char *flags, void *arg),
		      void *arg)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	uint64_t start = 0, end = 0;
	char path[64];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = uswap_read_all(fd, 256u << 20, &buf, &len);
	if (r < 0)
		return r;
	for (char *line = buf, *next; *line; line = next) {
		uint64_t a, b;
		char dash;

		next = strchrnul(line, '\n');
		if (*next)
			*next++ = '\0';
		if (!strncmp(line, "VmFlags:", 8)) {
			if (end > start)
				fn(start, end, line, arg);
		} else if (sscanf(line, "%" SCNx64 "%c%" SCNx64 " ", &a, &dash, &b) == 3 &&
			   dash == '-') {
			/* A VMA's first line. Only a whole match counts: field lines such as
			 * "Anonymous:" begin with a hex digit too. */
			start = a;
			end = b;
		}
	}
	return 0;
}

struct inherit_check {
	struct pager *p;
	struct space *child;
	bool own;
};

static void check_inherited_vma(uint64_t start, uint64_t end, const char *flags, void *arg)
{
	struct inherit_check *c = arg;
	/* "wf" (wipe-on-fork: the child reads zeros), "dc" (not copied at all). */
	bool wiped = vmflag(flags, "wf"), gone = vmflag(flags, "dc");

	if (wiped || gone)
		space_drop_range(c->p, c->child, start, end);
	if (c->own && !gone && vmflag(flags, "um"))
		add_reg(c->child, start, end);
	else if (!c->own && gone)
		space_forget_regs(c->child, start, end);
}

void space_check_inherited(struct pager *p, struct space *child, pid_t pid)
{
	struct inherit_check c = { p, child, pid == child->pid };

	if (!child->inherit_unchecked)
		return;
	child->inherit_unchecked = false;
	if (pid <= 0) {
		log_warn("a fork child's wipe-on-fork ranges are unknown (its parent is gone)");
		return;
	}
	/* Which of the child's VMAs are registered is rebuilt from the kernel's own view (the
	 * "um" flag): the parent's record, copied at the fork, also covers VMAs that fork did
	 * not copy (MADV_DONTFORK). Trusting it, a VMA the child maps there later would be taken
	 * as registered and its pages moved out with nothing to fault to on their next access.
	 * From the parent's smaps (the child not identified yet) only what fork left out goes. */
	size_t nregs = child->nregs;

	if (c.own)
		child->nregs = 0;
	/* smaps_each reads the whole file before the first call: a failure changes nothing. */
	if (smaps_each(pid, check_inherited_vma, &c) < 0) {
		child->nregs = nregs;
		log_warn("pid %d: cannot read its smaps: wipe-on-fork ranges of a fork child "
			 "unknown",
			 (int)pid);
	}
}

struct locked_list {
	struct range *r;
	size_t n;
	int err;
};

static void add_locked_vma(uint64_t start, uint64_t end, const char *flags, void *arg)
{
	struct locked_list *l = arg;
	struct range *n;

	/* "lo": mlock, mlockall; "lf": locked on fault (MLOCK_ONFAULT, MCL_ONFAULT). */
	if (l->err || !(vmflag(flags, "lo") || vmflag(flags, "lf")))
		return;
	n = realloc(l->r, (l->n + 1) * sizeof(*n));
	if (!n) {
		l->err = -ENOMEM;
		return;
	}
	l->r = n;
	l->r[l->n++] = (struct range){ start, end };
}

int space_locked_ranges(pid_t pid, struct range **ret, size_t *ret_n)
{
	struct locked_list l = { 0 };
	int r = smaps_each(pid, add_locked_vma, &l);

	if (r == 0)
		r = l.err;
	if (r < 0) {
		free(l.r);
		return r;
	}
	*ret = l.r;
	*ret_n = l.n;
	return 0;
}

struct space *space_new_forked(struct pager *p, struct space *parent, int uffd)
{
	struct space *sp = space_alloc();

	if (!sp)
		return NULL;
	sp->uffd = uffd;
	keeper_hold(sp->serial, uffd);
	sp->parent = parent;
	sp->scratch = parent->scratch;
	sp->stash = parent->stash;
	sp->stash_gone = parent->stash_gone;
	sp->syscall_ip = parent->syscall_ip;
	sp->runner = parent->runner;
	sp->target_fd = parent->target_fd;
	sp->pm_self = parent->pm_self;
	sp->forked = true;
	sp->stash_dirty = true;
	parent->forked = true;
	/* The kernel copied the parent's registrations; mirror our record of them, and share
	 * the parent's evicted pages (each slot gains a reference). */
	if (parent->nregs) {
		sp->regs = arena_calloc(parent->nregs * sizeof(*sp->regs));
		if (sp->regs) {
			memcpy(sp->regs, parent->regs, parent->nregs * sizeof(*sp->regs));
			sp->nregs = parent->nregs;
		}
	}
	pmap_share(p, &sp->map, &parent->map);
	/* Fork copied the write-protected ptes of clean pages too (the child's VMAs keep the
	 * registration), so they are clean in the child as well. */
	pmap_share(p, &sp->clean, &parent->clean);
	/* Until its wipe-on-fork ranges are known (the parent's flags may change right after
	 * fork returns; the child's keep the state fork saw), the child's faults on these
	 * entries wait. */
	sp->inherit_unchecked = sp->map.npages > 0;
	sp->born_ns = now_ns();
	memcpy(sp->q, parent->q, sizeof(sp->q));
	sp->nq = parent->nq;
	sp->next = p->spaces;
	p->spaces = sp;
	return sp;
}

static int zeropage(int uffd, uint64_t addr)
{
	struct uffdio_zeropage zp = { .range = { addr, PAGE_SIZE_4K } };

	return ioctl(uffd, UFFDIO_ZEROPAGE, &zp) < 0 ? -errno : 0;
}

bool space_same_mm(struct pager *p, struct space *sp, pid_t pid)
{
	if (!p->have_kcmp || !sp->pid)
		return false;
	return syscall(SYS_kcmp, space_tid(sp), pid, KCMP_VM, 0, 0) == 0;
}

/* Write a fresh token into the first id page after sp->id_page, wrapping around (page 0 is
 * the probe of space_check), that is still missing in sp's mm; it becomes sp's token. 0, or
 * -errno (-ENOSPC: no id page missing). */
static int write_token(struct space *sp)
{
	static uint64_t counter;
	_Alignas(4096) static uint8_t page[4096];
	int from = sp->id_page < 0 ? 0 : sp->id_page;
	int tries = sp->id_page < 0 ? ID_PAGES - 1 : ID_PAGES - 2;

	for (int i = 0; i < tries; i++) {
		int k = 1 + (from + i) % (ID_PAGES - 1);
		struct uffdio_copy cp = { .dst = sp->scratch + SCRATCH_ARGS + k * PAGE_SIZE_4K,
					  .src = (uint64_t)page,
					  .len = PAGE_SIZE_4K };
		uint64_t tok = (now_ns() << 16) ^ ++counter ^ 0x5a5a5a5a00000000ull;

		memcpy(page, &tok, sizeof(tok));
		if (ioctl(sp->uffd, UFFDIO_COPY, &cp) == 0) {
			sp->id_page = k;
			sp->id_token = tok;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -ENOSPC;
}

/* Does pid's id page show sp's current token? Only a present page is read: a missing one
 * would fault into a uffd. */
static bool shows_token(const struct space *sp, pid_t pid)
{
	uint64_t addr = sp->scratch + SCRATCH_ARGS + (uint64_t)sp->id_page * PAGE_SIZE_4K;
	uint64_t pm = 0, tok = 0;
	_cleanup_close_ int fd = pagemap_open(pid);

	if (fd < 0 || pagemap_read(fd, addr, &pm, 1) != 1 || !(pm & PM_PRESENT))
		return false;
	return target_read(pid, addr, &tok, sizeof(tok)) == 0 && tok == sp->id_token;
}

/*
 * Is pid the process whose mm sp's uffd belongs to? A token written through the uffd into
 * a page missing in that mm shows only there, except in processes it forks afterwards: they
 * copy the page. So a match is confirmed with a fresh token, written once pid is pinned by a
 * pidfd: a process that already existed then and shows the new token is the mm's own. (A
 * fork child carrying its parent's token and taken for it had its pages moved through one
 * process and read from the other's stash: wrong data.)
 */
bool space_matches(struct pager *p, struct space *sp, pid_t pid)
{
	_cleanup_close_ int pidfd = -1;
	struct pollfd pfd;

	if (sp->id_page < 0 && write_token(sp) < 0)
		return false;
	if (!shows_token(sp, pid))
		return false;
	pidfd = pidfd_open_(pid);
	if (pidfd < 0 || write_token(sp) < 0)
		return false;
	if (!shows_token(sp, pid)) {
		log_debug("pid %d carries the id token of another process (its fork parent)",
			  (int)pid);
		return false;
	}
	/* Still the process pinned before the token was written, not a new one with its pid. */
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 0;
}

/* A thread found under a seccomp filter (the program may add one at any time, and each
 * thread has its own): from now on only the commonest system calls are injected into this
 * process, madvise rather than process_madvise, since a filter may kill for the rarer ones
 * where the kernel would return an error. */
static void keep_to_common(struct space *sp, const struct inject *in)
{
	if (!in->filtered || !sp->pm_self)
		return;
	sp->pm_self = false;
	log_info("pid %d: runs under a seccomp filter: the pager now frees its stash with "
		 "madvise, not process_madvise",
		 sp->pid);
}

int space_attach(struct space *sp, struct inject *in, int timeout_ms)
{
	int r = inject_attach(in, sp->pid, sp->syscall_ip, timeout_ms);

	if (r < 0)
		return r;
	keep_to_common(sp, in);
	/* Stopped, the thread can no longer exec: does its mm still show sp's token (a fresh
	 * one if the last is gone, e.g. discarded by the program)? */
	if ((sp->id_page >= 0 && shows_token(sp, in->tid)) ||
	    (write_token(sp) == 0 && shows_token(sp, in->tid))) {
		if (sp->runner && inject_runner_intact(in->tid, sp->runner))
			inject_use_runner(in, sp->runner);
		return 0;
	}
	inject_detach(in);
	log_debug("pid %d: no longer runs the image its space belongs to (exec)", sp->pid);
	return -ESRCH;
}

int space_reinstall_fd(struct pager *p, struct space *sp)
{
	struct inject in;
	long res;
	int r, tfd;

	r = space_attach(sp, &in, 200);
	if (r < 0)
		return r;
	tfd = send_fd_into(&in, sp->pidfd, sp->scratch, sp->uffd);
	if (tfd >= 0) {
		sp->target_fd = target_fd_high(&in, sp->scratch, tfd);
		r = 0;
	} else {
		r = tfd;
	}
	(void)res;
	inject_detach(&in);
	return r;
}

int space_adopt(struct pager *p, struct space *sp)
{
	struct inject in;
	struct range stash = { sp->stash, sp->stash + STASH_SIZE };
	bool inherited = false;
	long res;
	int r, tfd;

	sp->pidfd = pidfd_open_(sp->pid);
	if (sp->pidfd < 0)
		return sp->pidfd;
	r = space_attach(sp, &in, 200);
	if (r < 0)
		return r;
	/* Whatever the parent had in its stash at fork time was copied here: free it. */
	r = space_madvise(sp, &in, &stash, 1, MADV_DONTNEED);
	if (r == 0)
		sp->stash_dirty = false;
	/* It inherited every id page its ancestors wrote a token into: it keeps only its own,
	 * so that its children find missing ones however long the chain of forks. */
	discard_ids(sp, &in);
	if (p->have_kcmp && sp->parent && sp->parent->uffd >= 0)
		inherited = syscall(SYS_kcmp, getpid(), space_tid(sp), KCMP_FILE, sp->parent->uffd,
				    sp->target_fd) == 0;
	tfd = send_fd_into(&in, sp->pidfd, sp->scratch, sp->uffd);
	if (tfd < 0) {
		r = tfd;
	} else if (inherited) {
		/* Replace the parent's uffd the child inherited by its own. */
		r = rsys(&in, &res, SYS_dup3, tfd, sp->target_fd, O_CLOEXEC, 0, 0, 0);
		rsys(&in, &res, SYS_close, tfd, 0, 0, 0, 0, 0);
	} else {
		sp->target_fd = target_fd_high(&in, sp->scratch, tfd);
		r = 0;
	}
	inject_detach(&in);
	return r;
}

/* Point sp->tid at a live thread of sp's process, if space_tid() no longer names one. Only
 * then is this looked up: /proc/PID and kcmp(PID) work while the main thread runs. true if
 * sp->tid changed. */
static bool follow_live_thread(struct space *sp)
{
	pid_t tid = uswap_live_tid(sp->pid);

	if (tid <= 0 || tid == space_tid(sp))
		return false;
	if (tid != sp->pid && sp->tid <= 0)
		log_info("pid %d: its main thread has ended; paged through thread %d", sp->pid,
			 tid);
	sp->tid = tid == sp->pid ? 0 : tid;
	return true;
}

enum space_health space_check(struct pager *p, struct space *sp)
{
	uint64_t probe = sp->scratch + SCRATCH_ARGS;
	int r;

	if (sp->pidfd >= 0) {
		struct pollfd pfd = { .fd = sp->pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) > 0) {
			log_debug("pid %d: exited", sp->pid);
			return SPACE_GONE;
		}
	}
	r = zeropage(sp->uffd, probe);
	if (r == -ESRCH || r == -ENOSPC) {
		log_debug("pid %d: probe: %d", sp->pid, r);
		return sp->pid ? SPACE_EXECED : SPACE_GONE;
	}
	if (!sp->pid || !p->have_kcmp)
		return SPACE_OK;
	for (bool followed = false;; followed = true) {
		int err;

		if (syscall(SYS_kcmp, getpid(), space_tid(sp), KCMP_FILE, sp->uffd,
			    sp->target_fd) == 0)
			return SPACE_OK;
		err = errno;
		/* The thread we name may have ended, or be the main thread, whose /proc shows
		 * no files once it has ended while others run: ask again through a live one. */
		if (followed || !follow_live_thread(sp))
			return err == ESRCH ? SPACE_GONE : SPACE_FD_LOST;
	}
}

void space_destroy(struct pager *p, struct space *sp)
{
	struct space **pp = &p->spaces;

	while (*pp && *pp != sp)
		pp = &(*pp)->next;
	if (*pp)
		*pp = sp->next;
	space_drop_range(p, sp, 0, UINT64_MAX);
	for (struct space *o = p->spaces; o; o = o->next)
		if (o->parent == sp)
			o->parent = NULL;
	space_free(sp);
}

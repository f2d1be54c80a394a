/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manager thread: finds the processes to manage, arms them, notices fork children,
 * exec and exit, keeps the resident anonymous memory at the target, writes the status file,
 * and on SIGTERM/SIGINT puts every page back before leaving.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "caps.h"
#include "evict.h"
#include "fault.h"
#include "filemem.h"
#include "inject.h"
#include "keeper.h"
#include "space.h"
#include "uswap/cgroup.h"
#include "uswap/compat.h"
#include "uswap/fileio.h"
#include "uswap/log.h"
#include "uswap/status.h"
#include "uswap/util.h"

#define TICK_MS 100
/* While over the target the manager measures and evicts again after this long, so that a
 * workload writing new memory quickly (hundreds of MiB/s) is held near its target. */
#define BUSY_TICK_MS 5
#define MAX_PIDS 4096
#define EVICT_BUDGET_NS (300ull * 1000000ull)
/* Refills read neighbours and ahead only while the tree is below target + target/8. */
#define HEADROOM_SLACK_DIV 8

struct tracked {
	pid_t pid;
	struct space *sp; /* NULL: not managed (arming failed) or alias */
	bool alias; /* shares the mm of another tracked process (vfork) */
	bool seen;
};

/* A process seen in the middle of an exec: its new image has no vDSO mapped yet, so it
 * cannot be armed before the exec completes. Tried again each tick for a while. */
#define ARM_RETRY_NS (2ull * 1000000000ull)
#define ARM_RETRY_MAX 16
struct arm_retry {
	pid_t pid;
	uint64_t since_ns;
};

struct manager {
	struct pager *p;
	const struct pager_cfg *cfg;
	struct arm_retry retry[ARM_RETRY_MAX];
	unsigned nretry;
	struct tracked *t;
	size_t nt;
	pid_t root;
	bool root_exited;
	int root_status;
	int sfd;
	uint64_t rss; /* sum of RssAnon of the managed processes */
	uint64_t usage; /* what the target applies to: rss, or the container's cgroup usage */
	uint64_t last_faults;
	uint64_t last_tick_ns;
	double faults_per_sec;
	bool unreachable;
	uint64_t evicted_tick; /* bytes enforce() evicted this tick */
	uint64_t store_full_since;
	/* container mode: the root is traced until its exec, then armed; the cgroup names
	 * the processes to manage and gives the usage the target applies to */
	bool exec_pending;
	struct uswap_cgroup cg;
	struct filemem fm; /* why the target is unreachable; page cache reclaim */
};

static int probe_features(struct pager *p)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t need = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_MOVE;
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		_cleanup_close_ int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0)
			return -ENOSYS;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return -errno;
	}
	/* Asking for no feature reports every feature the kernel has. */
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	if ((api.features & need) != need) {
		log_error("userfaultfd lacks features %#llx (has %#llx)",
			  (unsigned long long)(need & ~api.features),
			  (unsigned long long)api.features);
		return -EOPNOTSUPP;
	}
	p->features = need | (api.features & UFFD_FEATURE_THREAD_ID);
	p->have_poison = api.features & UFFD_FEATURE_POISON;
	/* Anonymous write-protect needs no feature bit; this one says the kernel has it. */
	p->have_wp = api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if (p->have_poison)
		p->features |= UFFD_FEATURE_POISON;
	return 0;
}

/* Remote MADV_DONTNEED through a pidfd: try it on a child of ours. */
static bool probe_remote_dontneed(void)
{
	void *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { pg, 4096 };
	bool ok = false;
	pid_t child;
	int pidfd;

	if (pg == MAP_FAILED)
		return false;
	memset(pg, 1, 4096);
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (child > 0) {
		pidfd = pidfd_open_(child);
		if (pidfd >= 0) {
			ok = syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_DONTNEED, 0) == 4096;
			close(pidfd);
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	munmap(pg, 4096);
	return ok;
}

/* The pfn of the shared zero page, as pagemap shows it to us (0 if hidden). */
static uint64_t probe_zero_pfn(void)
{
	volatile uint8_t *pg = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_cleanup_close_ int fd = pagemap_open(getpid());
	uint64_t pm = 0;

	if (pg == MAP_FAILED)
		return 0;
	(void)pg[0]; /* a read fault maps the zero page */
	if (fd < 0 || pagemap_read(fd, (uintptr_t)pg, &pm, 1) != 1)
		pm = 0;
	munmap((void *)pg, 4096);
	return (pm & PM_PRESENT) ? pm & PM_PFN_MASK : 0;
}

/* USWAP_DISABLE: a comma list of optional features to do without, read once at start, so
 * that tests run the paths a kernel without them takes: "wp" (clean-page tracking), "uring"
 * (asynchronous store reads), "runner" (MOVEs batched in one injection). */
bool pager_disabled(const char *feature)
{
	const char *list = getenv("USWAP_DISABLE");
	size_t n = strlen(feature);

	for (const char *t = list; t && *t; t += strcspn(t, ",")) {
		t += *t == ',';
		if (!strncmp(t, feature, n) && (t[n] == ',' || !t[n]))
			return true;
	}
	return false;
}

int pager_init(struct pager *p, const char *store_dir)
{
	int r;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->store.fd = -1;
	r = probe_features(p);
	if (r < 0)
		return r;
	if (pager_disabled("wp"))
		p->have_wp = false;
	p->no_uring = pager_disabled("uring");
	p->no_runner = pager_disabled("runner");
	if (p->no_uring || !p->have_wp || p->no_runner)
		log_info("without%s%s%s (USWAP_DISABLE or kernel)",
			 p->have_wp ? "" : " clean-page tracking", p->no_uring ? " io_uring" : "",
			 p->no_runner ? " runner" : "");
	p->have_kcmp = syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0) == 0;
	p->zero_pfn = probe_zero_pfn();
	p->remote_dontneed = probe_remote_dontneed();
	snprintf(p->store_dir, sizeof(p->store_dir), "%s", store_dir);
	r = store_open(&p->store, store_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to create the store in %s: %m", store_dir);
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0)
		return -errno;
	p->evict_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->evict_fd < 0)
		return -errno;
	p->headroom = INT64_MAX;
	return 0;
}

/* What the status file and the hook name as the shim: the keeper, whose pid stays while
 * pagers come and go. */
static pid_t shim_pid(void)
{
	return keeper_pid() > 0 ? keeper_pid() : getpid();
}

/* ---- process discovery ---- */

/* Alive while any of its threads is: its main thread may have ended first. */
static bool proc_alive(pid_t pid)
{
	return uswap_live_tid(pid) > 0;
}

static bool set_has(const pid_t *set, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

/* Add the children of every thread of pid to set. */
static void add_children(pid_t pid, pid_t *set, size_t *n)
{
	char path[64];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char cpath[300], buf[4096];
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		fd = open(cpath, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		for (char *s = buf, *e; *s; s = e) {
			long c = strtol(s, &e, 10);

			if (e == s)
				break;
			if (c > 0 && *n < MAX_PIDS && !set_has(set, *n, (pid_t)c))
				set[(*n)++] = (pid_t)c;
		}
	}
	closedir(d);
}

/* Container mode: every process of the cgroup, but the root while it still waits for its
 * exec (it is ours to arm then, and already traced). */
static size_t discover_cgroup(struct manager *m, pid_t *set)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0, k = 0;

	if (uswap_cgroup_procs(&m->cg, &pids, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && k < MAX_PIDS; i++)
		if (!(m->exec_pending && pids[i] == m->root) && proc_alive(pids[i]))
			set[k++] = pids[i];
	return k;
}

/* Every live process of the managed tree. */
static size_t discover(struct manager *m, pid_t *set)
{
	size_t n = 0;

	if (m->cg.dirfd >= 0)
		return discover_cgroup(m, set);
	if (m->root > 0 && proc_alive(m->root))
		set[n++] = m->root;
	for (size_t i = 0; i < m->nt; i++)
		if (!set_has(set, n, m->t[i].pid) && proc_alive(m->t[i].pid))
			set[n++] = m->t[i].pid;
	/* In run mode we are the subreaper: orphans of the tree come to us, or to the keeper
	 * once we took over from a pager that died (then we are among its children). */
	if (!strcmp(m->cfg->mode, "run")) {
		add_children(getpid(), set, &n);
		if (keeper_pid() > 0)
			add_children(keeper_pid(), set, &n);
		for (size_t i = n; i-- > 0;)
			if (set[i] == getpid())
				set[i] = set[--n];
	}
	for (size_t i = 0; i < n; i++)
		add_children(set[i], set, &n);
	for (size_t i = 0; i < n;) {
		if (set[i] != m->root && !proc_alive(set[i]))
			set[i] = set[--n];
		else
			i++;
	}
	return n;
}

static struct tracked *track_find(struct manager *m, pid_t pid)
{
	for (size_t i = 0; i < m->nt; i++)
		if (m->t[i].pid == pid)
			return &m->t[i];
	return NULL;
}

static void track_add(struct manager *m, pid_t pid, struct space *sp, bool alias)
{
	struct tracked *t = realloc(m->t, (m->nt + 1) * sizeof(*t));

	if (!t)
		return;
	m->t = t;
	m->t[m->nt++] = (struct tracked){ .pid = pid, .sp = sp, .alias = alias };
}

static void untrack_space(struct manager *m, struct space *sp)
{
	for (size_t i = 0; i < m->nt;) {
		if (m->t[i].sp == sp)
			m->t[i] = m->t[--m->nt];
		else
			i++;
	}
}

/* Destroy dead spaces, re-arm after exec, give back lost fds. */
static void check_spaces(struct manager *m)
{
	struct pager *p = m->p;
	struct space *sp, *next;

	pthread_mutex_lock(&p->lock);
	for (sp = p->spaces; sp; sp = next) {
		enum space_health h = sp->dead ? SPACE_GONE : space_check(p, sp);

		next = sp->next;
		if (h == SPACE_OK)
			continue;
		if (h == SPACE_FD_LOST) {
			pthread_mutex_unlock(&p->lock);
			log_warn("pid %d: the program closed the pager's uffd; handing it back",
				 sp->pid);
			if (space_reinstall_fd(p, sp) < 0)
				log_error("pid %d: could not hand the uffd back", sp->pid);
			/* Only this thread frees spaces: next is still valid. */
			pthread_mutex_lock(&p->lock);
			continue;
		}
		log_debug("pid %d: address space %s", sp->pid,
			  h == SPACE_EXECED ? "replaced by exec" : "gone");
		untrack_space(m, sp);
		space_destroy(p, sp);
	}
	pthread_mutex_unlock(&p->lock);
}

static uint64_t stale_warned_ns;
static unsigned stale_unwarned;

/* A fork child not identified within a second: check its inherited entries against its
 * parent's flags rather than let its faults wait any longer. */
static void check_stale_children(struct pager *p)
{
	bool woke = false;

	pthread_mutex_lock(&p->lock);
	for (struct space *sp = p->spaces; sp; sp = sp->next) {
		pid_t parent = sp->parent ? sp->parent->pid : 0;

		if (!sp->inherit_unchecked || sp->pid || now_ns() - sp->born_ns < 1000000000ull)
			continue;
		/* Many children at once (a server forking hundreds) all come late: say so once a
		 * minute, with how many, not once per child. */
		if (now_ns() - stale_warned_ns > 60000000000ull) {
			log_warn(
				"a fork child of pid %d was not identified in 1 s: using its "
				"parent's wipe-on-fork ranges; %u more since the last such message",
				(int)parent, stale_unwarned);
			stale_warned_ns = now_ns();
			stale_unwarned = 0;
		} else {
			log_debug("a fork child of pid %d was not identified in 1 s", (int)parent);
			stale_unwarned++;
		}
		space_check_inherited(p, sp, parent);
		woke = true;
	}
	pthread_mutex_unlock(&p->lock);
	if (woke)
		pager_wake_faults(p);
}

static struct space *find_unidentified(struct manager *m, pid_t pid)
{
	struct pager *p = m->p;
	struct space *found = NULL;

	pthread_mutex_lock(&p->lock);
	for (struct space *sp = p->spaces; sp && !found; sp = sp->next)
		if (!sp->pid && !sp->dead && space_matches(p, sp, pid))
			found = sp;
	if (found)
		found->pid = pid;
	pthread_mutex_unlock(&p->lock);
	return found;
}

/* Arming pid failed with r: true if it should simply be tried again next tick (an exec
 * not finished yet), false once that has lasted too long or for any other error. */
static bool arm_again(struct manager *m, pid_t pid, int r)
{
	uint64_t now = now_ns();
	unsigned i = 0;

	while (i < m->nretry && m->retry[i].pid != pid)
		i++;
	if (r != -ENOENT) {
		if (i < m->nretry)
			m->retry[i] = m->retry[--m->nretry];
		return false;
	}
	if (i == m->nretry) {
		if (m->nretry == ARM_RETRY_MAX)
			return false;
		m->retry[m->nretry++] = (struct arm_retry){ pid, now };
		log_debug("pid %d: no vDSO mapped yet (exec in progress?): arming later", pid);
		return true;
	}
	if (now - m->retry[i].since_ns < ARM_RETRY_NS)
		return true;
	m->retry[i] = m->retry[--m->nretry];
	return false;
}

static void adopt_new(struct manager *m, const pid_t *set, size_t n)
{
	struct pager *p = m->p;

	for (size_t i = 0; i < n; i++) {
		pid_t pid = set[i];
		struct space *sp = NULL;
		bool alias = false;
		int r;

		if (track_find(m, pid))
			continue;
		pthread_mutex_lock(&p->lock);
		for (struct space *s = p->spaces; s && !sp; s = s->next)
			if (s->pid && space_same_mm(p, s, pid))
				sp = s;
		pthread_mutex_unlock(&p->lock);
		if (sp) {
			alias = true;
		} else if ((sp = find_unidentified(m, pid))) {
			pthread_mutex_lock(&p->lock);
			space_check_inherited(p, sp, pid);
			pthread_mutex_unlock(&p->lock);
			pager_wake_faults(p);
			r = space_adopt(p, sp);
			if (r == -ESRCH)
				/* Its space goes at the next check; the new image is armed then. */
				log_debug("pid %d: exec'ed or exited while being adopted", pid);
			else if (r < 0)
				log_warn_errno(r, "pid %d: adopting forked child failed: %m", pid);
			else
				log_info("pid %d: forked child adopted", pid);
		} else {
			r = space_arm(p, pid, NULL, &sp);
			if (r < 0 && proc_alive(pid) && arm_again(m, pid, r))
				continue; /* not tracked: discovery offers it again */
			if (r >= 0)
				arm_again(m, pid, 0);
			if (r < 0 && !proc_alive(pid))
				log_debug_errno(r, "pid %d: exited while being armed: %m", pid);
			else if (r < 0)
				log_warn_errno(r, "pid %d: cannot be paged (%m); it runs unpaged",
					       pid);
			if (r < 0)
				sp = NULL;
		}
		track_add(m, pid, sp, alias);
	}
}

static void measure(struct manager *m)
{
	uint64_t usage;

	m->rss = 0;
	m->fm.locked_bytes = 0;
	for (size_t i = 0; i < m->nt; i++) {
		uint64_t r, locked;

		if (m->t[i].alias)
			continue;
		r = space_rss_anon(m->t[i].pid, &locked);
		if (m->t[i].sp) {
			m->t[i].sp->rss_anon = r;
			m->t[i].sp->locked = locked;
		}
		m->rss += r;
		m->fm.locked_bytes += locked;
	}
	/* A container's target applies to what its memory cgroup is charged. */
	m->usage = m->cg.dirfd >= 0 && uswap_cgroup_usage(&m->cg, &usage) == 0 ? usage : m->rss;
}

/* ---- enforcement ---- */

/* A program that locks its memory after it was armed (mlockall) locks the pager's stash and
 * scratch with it. Checked whenever its locked size changes. */
static void unlock_spaces(struct manager *m)
{
	for (size_t i = 0; i < m->nt; i++) {
		struct space *sp = m->t[i].sp;
		int r;

		if (!sp || m->t[i].alias || sp->dead || !sp->pid || sp->locked == sp->locked_seen)
			continue;
		sp->locked_seen = sp->locked;
		if (sp->locked && (r = space_unlock_own(sp)) < 0)
			log_debug_errno(r, "pid %d: cannot unlock the pager's mappings: %m",
					sp->pid);
	}
}

static struct space *largest_space(struct manager *m, const bool *exhausted)
{
	struct space *best = NULL;
	size_t bi = 0;

	for (size_t i = 0; i < m->nt; i++) {
		struct space *sp = m->t[i].sp;

		if (!sp || m->t[i].alias || exhausted[i] || sp->dead || sp->stash_gone || !sp->pid)
			continue;
		if (!best || sp->rss_anon > best->rss_anon) {
			best = sp;
			bi = i;
		}
	}
	(void)bi;
	return best;
}

/* Evict until the tree is a little below the target or the time budget is spent. Returns
 * true when it evicted something (the next tick comes soon). */
static bool enforce(struct manager *m)
{
	struct pager *p = m->p;
	uint64_t target = m->cfg->target, deadline = now_ns() + EVICT_BUDGET_NS;
	_cleanup_free_ bool *exhausted = NULL;
	bool evicted = false;
	int64_t need;

	m->unreachable = false;
	m->evicted_tick = 0;
	if (!target || m->usage <= target)
		return false;
	if (p->store_full) {
		/* Retry the store every 10 s; meanwhile evicted pages stay in memory. */
		if (now_ns() - m->store_full_since < 10000000000ull)
			return false;
		p->store_full = false;
	}
	exhausted = calloc(m->nt + 1, sizeof(*exhausted));
	if (!exhausted)
		return false;
	/* Aim a little below the target so the next refaults do not cross it at once. */
	need = (int64_t)((m->usage - target + target / 50) / PAGE_SIZE_4K);
	while (need > 0 && now_ns() < deadline) {
		struct space *sp = largest_space(m, exhausted);
		long got;

		if (!sp)
			break;
		got = evict_batch(p, sp, (uint64_t)need);
		if (got == -ENOSPC || p->store_full) {
			log_error("store full: eviction paused, evicted pages kept in memory");
			m->store_full_since = now_ns();
			p->store_full = true;
			break;
		}
		if (got <= 0) {
			if (got < 0 && got != -ESRCH)
				log_debug_errno((int)got, "pid %d: eviction stopped: %m", sp->pid);
			if (got == -EBADF)
				sp->dead = false; /* check_spaces will notice the lost fd */
			for (size_t i = 0; i < m->nt; i++)
				if (m->t[i].sp == sp)
					exhausted[i] = true;
			continue;
		}
		need -= got;
		evicted = true;
		sp->rss_anon -= USWAP_MIN(sp->rss_anon, (uint64_t)got * PAGE_SIZE_4K);
		m->evicted_tick += (uint64_t)got * PAGE_SIZE_4K;
	}
	if (need > (int64_t)((target / 50) / PAGE_SIZE_4K) && now_ns() < deadline)
		m->unreachable = true;
	return evicted;
}

/* The refills the fault thread may still make before the tree is over its target by the
 * slack, counted from what this tick measured and evicted. */
static void set_headroom(struct manager *m)
{
	uint64_t target = m->cfg->target, limit = target + target / HEADROOM_SLACK_DIV;
	int64_t h = INT64_MAX;

	if (target) {
		uint64_t now = m->usage - USWAP_MIN(m->usage, m->evicted_tick);

		h = ((int64_t)limit - (int64_t)USWAP_MIN(now, (uint64_t)INT64_MAX)) /
		    (int64_t)PAGE_SIZE_4K;
	}
	__atomic_store_n(&m->p->headroom, h, __ATOMIC_RELAXED);
}

/* ---- status ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(struct pager *p, double *p50, double *p99)
{
	static uint32_t tmp[LAT_RING];
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = USWAP_MIN(p->fstats.faults, (uint64_t)LAT_RING);
	memcpy(tmp, p->fstats.ring, n * sizeof(tmp[0]));
	pthread_mutex_unlock(&p->lock);
	if (!n) {
		*p50 = *p99 = 0;
		return;
	}
	qsort(tmp, n, sizeof(tmp[0]), cmp_u32);
	*p50 = tmp[n / 2] / 10.0;
	*p99 = tmp[USWAP_MIN(n - 1, n * 99 / 100)] / 10.0;
}

/* The pager's own memory: its heap, and the arena (shared memory: RssShmem). */
static uint64_t own_rss(void)
{
	char buf[4096];
	const char *a, *sh;

	if (uswap_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	a = strstr(buf, "RssAnon:");
	sh = strstr(buf, "RssShmem:");
	return ((a ? strtoull(a + 8, NULL, 10) : 0) + (sh ? strtoull(sh + 9, NULL, 10) : 0)) * 1024;
}

static void write_status(struct manager *m, const char *state)
{
	struct pager *p = m->p;
	struct uswap_status st = { 0 };
	uint64_t now = now_ns(), faults;

	if (!m->cfg->status_path)
		return;
	st.shim_pid = shim_pid();
	snprintf(st.mode, sizeof(st.mode), "%s", m->cfg->mode);
	snprintf(st.id, sizeof(st.id), "%s", m->cfg->id ? m->cfg->id : "");
	st.target_bytes = m->cfg->target;
	st.rss_anon_bytes = m->rss;
	pthread_mutex_lock(&p->lock);
	for (struct space *sp = p->spaces; sp; sp = sp->next)
		st.evicted_pages += sp->map.npages;
	st.store_bytes = p->store.used * PAGE_SIZE_4K;
	faults = p->fstats.faults;
	st.evictions_total = p->evictions_total;
	st.evictions_clean_total = p->evictions_clean;
	st.store_writes_total = p->store_writes;
	pthread_mutex_unlock(&p->lock);
	st.faults_total = faults;
	if (m->last_tick_ns && now > m->last_tick_ns)
		m->faults_per_sec =
			(double)(faults - m->last_faults) * 1e9 / (double)(now - m->last_tick_ns);
	m->last_faults = faults;
	m->last_tick_ns = now;
	st.faults_per_sec = m->faults_per_sec;
	latency(p, &st.fault_p50_us, &st.fault_p99_us);
	inject_stop_stats(&st.stops_total, &st.stopped_ms_total, &st.stopped_ms_max);
	st.shim_rss_bytes = own_rss();
	st.takeovers_total = p->takeovers;
	st.store_cache_bytes = store_cache_bytes(&p->store);
	snprintf(st.state, sizeof(st.state), "%s", state);
	snprintf(st.reason, sizeof(st.reason), "%s", m->fm.reason);
	st.reason_bytes = m->fm.reason_bytes;
	for (size_t i = 0; i < m->nt && st.npids < USWAP_STATUS_MAX_PIDS; i++)
		st.pids[st.npids++] = m->t[i].pid;
	int r = uswap_status_write(m->cfg->status_path, &st);

	if (r < 0)
		log_debug_errno(r, "status file %s: %m", m->cfg->status_path);
}

/* ---- restore on stop ---- */

struct addr_list {
	uint64_t *a;
	size_t n, cap;
};

static void list_addr(struct pmap *pm, uint64_t addr, struct slot **pp, void *arg)
{
	struct addr_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint64_t *a = realloc(l->a, cap * sizeof(*a));

		if (!a)
			return;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n++] = addr;
}

/* Put every evicted page of sp back. Returns the number of pages that could not be. */
static size_t restore_space(struct pager *p, struct space *sp)
{
	struct addr_list l = { 0 };
	size_t failed = 0;

	pthread_mutex_lock(&p->lock);
	space_check_inherited(p, sp, sp->pid ? sp->pid : sp->parent ? sp->parent->pid : 0);
	pmap_for_range(&sp->map, 0, UINT64_MAX, list_addr, &l);
	for (size_t i = 0; i < l.n && !sp->dead; i++) {
		int r, tries = 0;

		while ((r = fault_fill_page(p, sp, l.a[i], 0)) == -EAGAIN || r == -EINPROGRESS) {
			/* An mm change is in flight: let the fault thread read it. */
			pthread_mutex_unlock(&p->lock);
			usleep(1000);
			pthread_mutex_lock(&p->lock);
			if (++tries > 5000 || sp->dead)
				break;
		}
		if (r < 0 && r != -EAGAIN && pmap_get(&sp->map, l.a[i]))
			failed++;
	}
	pthread_mutex_unlock(&p->lock);
	free(l.a);
	return failed;
}

/* Whether sp's program exited or exec'ed (its evicted pages went with the old image). */
static bool space_ended(struct pager *p, struct space *sp)
{
	enum space_health h;

	pthread_mutex_lock(&p->lock);
	h = sp->dead ? SPACE_GONE : space_check(p, sp);
	pthread_mutex_unlock(&p->lock);
	return h == SPACE_GONE || h == SPACE_EXECED;
}

static void unregister_all(struct space *sp)
{
	for (size_t i = 0; i < sp->nregs; i++) {
		struct uffdio_range r = { sp->regs[i].start, sp->regs[i].end - sp->regs[i].start };

		if (r.len)
			ioctl(sp->uffd, UFFDIO_UNREGISTER, &r);
	}
	sp->nregs = 0;
}

static void disarm_target(struct space *sp)
{
	struct inject in;
	long res;

	if (!sp->pid || space_attach(sp, &in, 1000) < 0)
		return;
	inject_syscall(&in, SYS_close, &res, sp->target_fd, 0, 0, 0, 0, 0);
	if (!sp->stash_gone)
		inject_syscall(&in, SYS_munmap, &res, sp->stash, STASH_SIZE, 0, 0, 0, 0);
	inject_syscall(&in, SYS_munmap, &res, sp->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	if (sp->runner) {
		inject_use_runner(&in, 0); /* not the code the munmap takes away */
		inject_syscall(&in, SYS_munmap, &res, sp->runner, PAGE_SIZE_4K, 0, 0, 0, 0);
	}
	inject_detach(&in);
}

static int restore_all(struct manager *m)
{
	struct pager *p = m->p;
	size_t failed = 0;

	write_status(m, "stopping");
	evict_drain_writes(p);
	/* A program that exited since the last tick took its evicted pages with it. */
	check_spaces(m);
	for (struct space *sp = p->spaces; sp; sp = sp->next) {
		size_t f = restore_space(p, sp);

		if (f && space_ended(p, sp)) {
			log_debug("pid %d exited while its pages were put back", sp->pid);
			f = 0;
		}
		failed += f;
	}
	if (failed) {
		/* Keep the uffds registered: closing them would turn these pages to zeros. */
		log_error("%zu evicted pages could not be restored; staying attached", failed);
		return -EIO;
	}
	for (struct space *sp = p->spaces; sp; sp = sp->next) {
		unregister_all(sp);
		disarm_target(sp);
	}
	log_info("every evicted page restored; detached");
	return 0;
}

/* ---- run: start the command and arm its new image before its first instruction ---- */

static int wait_event_stop(pid_t pid, int *ret_status)
{
	for (;;) {
		int st;

		if (waitpid(pid, &st, __WALL) < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			*ret_status = st;
			return -ESRCH;
		}
		if (st >> 16 == PTRACE_EVENT_EXEC || st >> 16 == PTRACE_EVENT_STOP) {
			*ret_status = st;
			return 0;
		}
		/* A signal for the program before it runs: deliver it. */
		ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(st));
	}
}

/* pid sits at its PTRACE_EVENT_EXEC stop: arm the new image before its first instruction,
 * then let it go. */
static int arm_at_exec(struct manager *m, pid_t pid)
{
	struct inject in = { 0 };
	struct space *sp = NULL;
	uint64_t ip;
	int r, st;

	/* Not at the exec stop itself (the kernel still writes execve's result there): take
	 * the next stop, before any instruction of the new image runs. */
	ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	ptrace(PTRACE_CONT, pid, 0, 0);
	r = wait_event_stop(pid, &st);
	if (r == -ESRCH) {
		m->root_exited = true;
		m->root_status = st;
		return 0;
	}
	if (r < 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return r;
	}
	r = inject_find_syscall_ip(pid, &ip);
	if (r == 0)
		r = inject_prepare(&in, pid, pid, ip);
	if (r == 0)
		r = space_arm(m->p, pid, &in, &sp);
	if (r < 0)
		log_warn_errno(r, "pid %d: cannot be paged (%m); it runs unpaged", pid);
	if (in.seized || r < 0)
		inject_detach(&in);
	if (!in.seized && r < 0)
		ptrace(PTRACE_DETACH, pid, 0, 0);
	track_add(m, pid, sp, false);
	return 0;
}

/* Container mode: trace the runtime's init process until it execs the container's program.
 * The hook starts us while it waits in runc create; the exec comes with runc start. */
static int seize_container(struct manager *m)
{
	int r = uswap_cgroup_find_for_pid(m->root, &m->cg);

	if (r < 0)
		return log_error_errno(r, "pid %d: no memory cgroup found: %m", m->root);
	if (ptrace(PTRACE_SEIZE, m->root, 0, PTRACE_O_TRACEEXEC) < 0)
		return log_error_errno(-errno, "cannot trace pid %d: %m", m->root);
	m->exec_pending = true;
	log_info("container %s: init pid %d, memory cgroup %s (v%d)", m->cfg->id, m->root,
		 m->cg.path, m->cg.version);
	return 0;
}

/* The traced root stopped or exited (container mode, before its exec). false: nothing to
 * collect after all. */
static bool root_event(struct manager *m)
{
	int st;
	pid_t r = waitpid(m->root, &st, __WALL | WNOHANG);

	if (r <= 0)
		return false;
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		m->exec_pending = false;
		m->root_exited = true;
		m->root_status = st;
	} else if (st >> 16 == PTRACE_EVENT_EXEC) {
		m->exec_pending = false;
		if (arm_at_exec(m, m->root) < 0)
			log_warn("pid %d: could not be armed at exec", m->root);
	} else if (WIFSTOPPED(st)) {
		/* A signal for it, or a group stop: pass it on. */
		ptrace(PTRACE_CONT, m->root, 0, st >> 16 ? 0 : WSTOPSIG(st));
	}
	return true;
}

static int spawn(struct manager *m, char *const *argv)
{
	int go[2], err[2], st, r, child_errno = 0;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		char c;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		close(go[1]);
		close(err[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		child_errno = errno;
		if (write(err[1], &child_errno, sizeof(child_errno)) < 0) {
			/* The parent sees the exit status anyway. */
		}
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	m->root = pid;
	m->p->root_pid = pid;
	r = ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXEC) < 0 ? -errno : 0;
	if (write(go[1], "g", 1) != 1 && !r)
		r = -EPIPE;
	close(go[1]);
	if (r < 0) {
		close(err[0]);
		return log_error_errno(r, "cannot trace %s: %m", argv[0]);
	}
	r = wait_event_stop(pid, &st);
	if (r == -ESRCH) {
		if (read(err[0], &child_errno, sizeof(child_errno)) == sizeof(child_errno)) {
			close(err[0]);
			m->root_exited = true;
			m->root_status = st;
			return log_error_errno(-child_errno, "cannot execute %s: %m", argv[0]);
		}
		close(err[0]);
		m->root_exited = true;
		m->root_status = st;
		return 0;
	}
	close(err[0]);
	if (r < 0)
		return r;
	return arm_at_exec(m, pid);
}

static void reap(struct manager *m)
{
	for (;;) {
		siginfo_t si = { 0 };

		/* The kernel reports the stops of our tracees whatever the options say. No
		 * injection runs now, so a stopped tracee is a thread whose seize we gave up
		 * waiting for (it was inside a kernel-mode fault): let it go, or it would stay
		 * stopped and traced forever. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL | WNOWAIT) < 0 ||
		    si.si_pid == 0)
			return;
		if (si.si_pid == m->root && m->exec_pending) {
			if (!root_event(m))
				return;
			continue;
		}
		if (waitid(P_PID, (id_t)si.si_pid, &si, WEXITED | WNOHANG | __WALL) < 0 ||
		    si.si_pid == 0)
			return;
		if (si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED) {
			/* si_status: the stop's signal, and the ptrace event above it */
			inject_release(si.si_pid, si.si_status << 8 | 0x7f);
			continue;
		}
		if (si.si_pid == m->root) {
			m->root_exited = true;
			m->root_status = si.si_code == CLD_EXITED ? si.si_status << 8 :
								    si.si_status;
		}
	}
}

static bool tree_empty(struct manager *m, size_t nset)
{
	return nset == 0 && (m->root_exited || !proc_alive(m->root));
}

int pager_signalfd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGCHLD);
	/* Blocked in every thread: never a handler while a target thread is modified. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

static int take_signal(struct manager *m)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGCHLD) {
			log_info("signal %d: restoring every page and detaching", si.ssi_signo);
			stop = 1;
		}
	return stop;
}

/* Tell whoever started us (the hook) that we are ready, or why not, in one line. */
static void tell_ready(int fd, int r)
{
	char line[256];
	int n;

	if (fd < 0)
		return;
	errno = -r;
	n = r < 0 ? snprintf(line, sizeof(line), "error: %m\n") :
		    snprintf(line, sizeof(line), "ok %d\n", (int)shim_pid());
	if (write(fd, line, (size_t)n) < 0) {
		/* The hook gave up waiting; it reports that itself. */
	}
	close(fd);
}

/* The pager before this one died: manage what it managed. Its spaces are ours already
 * (pager_takeover); the root is traced no more, so an exec it had still to make is found as
 * any new image is. */
static int take_over(struct manager *m)
{
	pid_t any = 0;

	if (!strcmp(m->cfg->mode, "run"))
		m->root = m->p->root_pid;
	for (struct space *sp = m->p->spaces; sp; sp = sp->next)
		if (sp->pid > 0) {
			track_add(m, sp->pid, sp, false);
			any = any ? any : sp->pid;
		}
	if (strcmp(m->cfg->mode, "container"))
		return 0;
	if (proc_alive(m->root))
		any = m->root;
	int r = any ? uswap_cgroup_find_for_pid(any, &m->cg) : -ESRCH;

	if (r < 0)
		return log_error_errno(r, "container %s: its memory cgroup is gone: %m",
				       m->cfg->id);
	return 0;
}

int pager_main(struct pager *p, const struct pager_cfg *cfg, int *ret_status)
{
	struct manager m = { .p = p, .cfg = cfg, .root = cfg->root, .cg = USWAP_CGROUP_INIT };
	_cleanup_free_ pid_t *set = calloc(MAX_PIDS, sizeof(*set));
	bool stopping = false, busy = false;
	uint64_t status_due = 0;
	int r;

	if (!set)
		return -ENOMEM;
	m.sfd = pager_signalfd();
	if (m.sfd < 0)
		return m.sfd;
	if (!p->no_uring && !store_async_init(&p->store))
		log_debug("store writes are synchronous (no O_DIRECT or no io_uring)");
	inject_record_holds(arena_active() ? &p->hold : NULL);
	r = fault_thread_start(p);
	if (r < 0)
		return r;
	if (cfg->takeover) {
		r = take_over(&m);
		if (r < 0)
			goto out;
	} else if (!strcmp(cfg->mode, "run")) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		r = spawn(&m, cfg->argv);
		if (r < 0)
			goto out;
	} else if (!strcmp(cfg->mode, "container")) {
		r = seize_container(&m);
		tell_ready(cfg->ready_fd, r);
		if (r < 0)
			goto out;
	}
	/* A container keeps CAP_SYS_NICE too: remote MADV_PAGEOUT of its page cache needs it. */
	r = caps_drop(p->remote_dontneed || m.cg.dirfd >= 0);
	if (r < 0)
		log_debug_errno(r, "capabilities not reduced: %m");
	for (;;) {
		struct pollfd pfd[2] = { { .fd = m.sfd, .events = POLLIN },
					 { .fd = p->evict_fd, .events = POLLIN } };
		size_t nset;
		uint64_t v;

		reap(&m);
		inject_reap_lingering();
		keeper_check();
		if (!stopping) {
			check_spaces(&m);
			nset = discover(&m, set);
			if (tree_empty(&m, nset))
				break;
			adopt_new(&m, set, nset);
			check_stale_children(p);
			evict_finish_writes(p, false);
			measure(&m);
			unlock_spaces(&m);
			busy = enforce(&m);
			set_headroom(&m);
			filemem_tick(&m.fm, &m.cg, m.unreachable, m.usage, cfg->target, cfg->id);
			if (now_ns() >= status_due) {
				write_status(&m, p->store_full ? "store-full" :
						 m.unreachable ? "target-unreachable" :
								 "ok");
				status_due = now_ns() + TICK_MS * 1000000ull;
			}
		} else {
			check_spaces(&m);
			if (restore_all(&m) == 0)
				break;
			if (!discover(&m, set) && m.root_exited)
				break;
		}
		if (poll(pfd, 2, busy ? BUSY_TICK_MS : TICK_MS) > 0 && (pfd[1].revents & POLLIN) &&
		    read(p->evict_fd, &v, sizeof(v)) < 0) {
			/* Already drained: the next tick evicts anyway. */
		}
		if ((pfd[0].revents & POLLIN) && take_signal(&m)) {
			stopping = true;
			if (restore_all(&m) == 0)
				break;
		}
	}
	r = 0;
out:
	evict_drain_writes(p);
	fault_thread_stop(p);
	/* The root may have died while we held it: our wait for its stop took its status. */
	if (!m.root_exited && m.root > 0 && inject_reaped_status(m.root, &m.root_status))
		m.root_exited = true;
	*ret_status = m.root_exited ? m.root_status : 0;
	if (stopping)
		*ret_status = 0;
	if (cfg->status_path)
		unlink(cfg->status_path);
	for (struct space *sp = p->spaces, *n; sp; sp = n) {
		n = sp->next;
		space_destroy(p, sp);
	}
	store_close(&p->store);
	uswap_cgroup_close(&m.cg);
	free(m.t);
	close(m.sfd);
	return r;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * memload: the victim program of the pager tests.
 *
 * Fills private anonymous memory with the seeded pattern of pattern.h, then (after --wait or
 * --hold) runs a list of operations that stress what a userspace pager must get right: fork
 * (EVENT_FORK, pages shared copy-on-write), fork+exec and posix_spawn (CLONE_VM|CLONE_VFORK),
 * mremap (EVENT_REMAP), munmap (EVENT_UNMAP), MADV_DONTNEED (EVENT_REMOVE), MADV_FREE,
 * MADV_POPULATE_*, mprotect, syscalls that read and write evicted pages from kernel mode (plain,
 * O_DIRECT, io_uring and its io-wq workers, another process through process_vm_readv/writev
 * and /proc/PID/mem), exec (a new mm), and threads touching pages while the pager evicts them.
 * All live memory is verified after every operation.
 *
 * Exit status: 0 every verification passed, 1 a mismatch (a "memload: MISMATCH" line on
 * stderr) or an unexpected system error, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <liburing.h>
#include <seccomp.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "pattern.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PROG "memload"
#define MAX_REGIONS 64
#define MAX_OPS 32
#define MAX_THREADS 64
#define IO_CHUNK (8UL << 20)

extern char **environ;

/* A mapped range whose pages carry the consecutive ids id0 .. id0 + npages - 1. */
struct region {
	char *addr;
	size_t npages;
	uint64_t id0;
};

static struct {
	uint64_t size_mib;
	uint64_t seed;
	const char *ready;
	bool wait;
	uint64_t hold;
	uint64_t touch;
	bool deny_exec;
	bool catch_signals;
	const char *mlock; /* NULL, "half" or "all" */
	bool own_uffd;
	char *seccomp_kill;
	char *seccomp_refuse;
	char *ops[MAX_OPS];
	int nops;

	uint32_t *gen; /* expected generation of each page id */
	size_t nids;
	size_t cap_ids;
	struct region reg[MAX_REGIONS];
	int nreg;
} M = { .size_mib = 64, .seed = 1 };

#define die(...) wl_die(PROG, __VA_ARGS__)

static void fill_page(const struct region *r, size_t i)
{
	uint64_t id = r->id0 + i;

	pat_fill(r->addr + i * PAT_PAGE, M.seed, M.gen[id], id);
}

/* Verify pages [from, from + n) of r; report the first bad one. Returns the bad count. */
static size_t verify_pages(const struct region *r, size_t from, size_t n, const char *when)
{
	size_t nbad = 0, first = 0;
	long word = -1;

	for (size_t i = from; i < from + n; i++) {
		uint64_t id = r->id0 + i;
		long w = pat_check(r->addr + i * PAT_PAGE, M.seed, M.gen[id], id);

		if (w >= 0 && nbad++ == 0) {
			first = i;
			word = w;
		}
	}
	if (nbad)
		pat_report(PROG, when, r->addr + first * PAT_PAGE, M.seed, M.gen[r->id0 + first],
			   r->id0 + first, word, nbad);
	return nbad;
}

static size_t verify_all(const char *when)
{
	size_t nbad = 0;

	for (int i = 0; i < M.nreg; i++)
		nbad += verify_pages(&M.reg[i], 0, M.reg[i].npages, when);
	return nbad;
}

static size_t total_pages(void)
{
	size_t n = 0;

	for (int i = 0; i < M.nreg; i++)
		n += M.reg[i].npages;
	return n;
}

/* Map a flat page index over all regions to (region, page). */
static const struct region *flat_page(size_t flat, size_t *ret_i)
{
	for (int i = 0; i < M.nreg; i++) {
		if (flat < M.reg[i].npages) {
			*ret_i = flat;
			return &M.reg[i];
		}
		flat -= M.reg[i].npages;
	}
	die("page index out of range");
	return NULL;
}

static struct region *add_region(char *addr, size_t npages, uint64_t id0)
{
	if (M.nreg == MAX_REGIONS)
		die("too many regions");
	M.reg[M.nreg] = (struct region){ .addr = addr, .npages = npages, .id0 = id0 };
	return &M.reg[M.nreg++];
}

static struct region *largest_region(void)
{
	struct region *best = &M.reg[0];

	for (int i = 1; i < M.nreg; i++)
		if (M.reg[i].npages > best->npages)
			best = &M.reg[i];
	return best;
}

static uint64_t new_ids(size_t n)
{
	uint64_t id0 = M.nids;

	if (M.nids + n > M.cap_ids)
		die("out of page ids");
	memset(&M.gen[id0], 0, n * sizeof(M.gen[0]));
	M.nids += n;
	return id0;
}

/* Give pages [from, from + n) of r the next generation and write it. */
static void rewrite_pages(const struct region *r, size_t from, size_t n)
{
	for (size_t i = from; i < from + n; i++) {
		M.gen[r->id0 + i]++;
		fill_page(r, i);
	}
}

static void setup_and_fill(void)
{
	size_t npages = (size_t)(M.size_mib << 20) / PAT_PAGE;
	char *p;

	/* room for the pages that mremap grows and waits maps: ids are never reused */
	M.cap_ids = 2 * npages + 1024;
	M.gen = calloc(M.cap_ids, sizeof(M.gen[0]));
	if (!M.gen)
		die("calloc: %m");
	p = mmap(NULL, npages * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		die("mmap %llu MiB: %m", (unsigned long long)M.size_mib);
	add_region(p, npages, new_ids(npages));
	for (size_t i = 0; i < npages; i++)
		M.gen[i] = 1;
	for (size_t i = 0; i < npages; i++)
		fill_page(&M.reg[0], i);
}

/* Register the first half of the memory with a userfaultfd of our own (kept open): the
 * kernel allows one per mapping, so a pager must leave that range alone. */
static void own_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { (unsigned long)M.reg[0].addr, M.reg[0].npages / 2 * PAT_PAGE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0)
		die("userfaultfd: %m");
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		die("UFFDIO_REGISTER of our own memory: %m");
	printf(PROG ": own userfaultfd registered on %zu pages\n", M.reg[0].npages / 2);
	fflush(stdout);
}

/* ---- operations ---- */

/* 0 if the child exited 0, else 1 with a MISMATCH line. */
static int child_status(pid_t pid, int st, const char *what)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, PROG ": MISMATCH %s: child %d exited %d\n", what, (int)pid,
			WEXITSTATUS(st));
	else
		fprintf(stderr, PROG ": MISMATCH %s: child %d killed by signal %d\n", what,
			(int)pid, WTERMSIG(st));
	return 1;
}

static int wait_child(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid %s: %m", what);
	return child_status(pid, st, what);
}

static int op_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		size_t nbad = verify_all("in fork child (inherited memory)");

		/* the child's copy diverges from the parent's: the parent must not see it */
		for (int r = 0; r < M.nreg && !nbad; r++)
			for (size_t i = 0; i < M.reg[r].npages; i += 3)
				rewrite_pages(&M.reg[r], i, 1);
		if (!nbad)
			nbad = verify_all("in fork child (after rewriting every third page)");
		_exit(nbad ? 1 : 0);
	}
	return wait_child(pid, "in fork child");
}

/* MADV_WIPEONFORK on the first half of the first region: a fork child must read zeros
 * there (never the parent's evicted copy), the parent keeps its data. */
static int op_wipefork(void)
{
	const struct region *r = &M.reg[0];
	size_t half = r->npages / 2;
	pid_t pid;

	if (madvise(r->addr, half * PAT_PAGE, MADV_WIPEONFORK) < 0)
		die("madvise(MADV_WIPEONFORK): %m");
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		size_t nbad = 0;

		for (size_t i = 0; i < half; i++) {
			const uint64_t *w = (const uint64_t *)(r->addr + i * PAT_PAGE);

			for (size_t k = 0; k < PAT_WORDS; k++)
				if (w[k]) {
					if (!nbad)
						fprintf(stderr,
							PROG
							": MISMATCH in fork child: page %zu of a "
							"wipe-on-fork range is not zero (word %zu)\n",
							i, k);
					nbad++;
					break;
				}
		}
		if (!nbad)
			nbad = verify_pages(r, half, r->npages - half,
					    "in fork child (after the wipe-on-fork range)");
		_exit(nbad ? 1 : 0);
	}
	if (madvise(r->addr, half * PAT_PAGE, MADV_KEEPONFORK) < 0)
		die("madvise(MADV_KEEPONFORK): %m");
	return wait_child(pid, "in wipe-on-fork child");
}

static int op_fork_exec(void)
{
	char *argv[] = { "true", NULL };
	pid_t pid = fork();
	int r;

	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	if (wait_child(pid, "fork+execve /bin/true"))
		return 1;
	/* glibc's posix_spawn uses clone(CLONE_VM | CLONE_VFORK): no fork event at all */
	r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	if (r)
		die("posix_spawn /bin/true: %s", strerror(r));
	return wait_child(pid, "posix_spawn /bin/true");
}

/* n fork children that exec /bin/true after a random pause of up to 2 ms each: the pager
 * meets some of them while it adopts the child of the fork, some in the middle of that, some
 * only after the exec. */
static int op_exec_race(uint64_t n)
{
	char *argv[] = { "true", NULL };
	int bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		useconds_t pause_us = (useconds_t)(pat_mix(M.seed + i) % 2000);
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %m");
		if (pid == 0) {
			usleep(pause_us);
			execve("/bin/true", argv, environ);
			_exit(127);
		}
		bad |= wait_child(pid, "exec-race fork+execve /bin/true");
	}
	return bad;
}

/* Read a small /proc file into buf, terminated; false if it cannot be read. */
static bool read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* A "Key: N kB" line of one of this process's /proc files (status, smaps_rollup); 0 if
 * unreadable. From /proc/thread-self: /proc/self shows no memory once the main thread has
 * ended. */
static uint64_t own_kib(const char *file, const char *key)
{
	char path[64], buf[4096], *s;

	snprintf(path, sizeof(path), "/proc/thread-self/%s", file);
	if (!read_small(path, buf, sizeof(buf)))
		return 0;
	s = strstr(buf, key);
	return s ? strtoull(s + strlen(key), NULL, 10) : 0;
}

/* sigmask: the signals blocked in this thread are the ones we blocked ourselves (SIGUSR1,
 * at start; every op restores what it changes): no pager left its own mask behind. */
static int op_sigmask(void)
{
	char buf[4096], *s;
	uint64_t blk, want = 1ull << (SIGUSR1 - 1);

	if (!read_small("/proc/thread-self/status", buf, sizeof(buf)) ||
	    !(s = strstr(buf, "SigBlk:")))
		die("cannot read SigBlk from /proc/thread-self/status");
	blk = strtoull(s + 7, NULL, 16);
	if (blk != want) {
		fprintf(stderr, PROG ": MISMATCH signal mask: %#llx blocked, expected %#llx\n",
			(unsigned long long)blk, (unsigned long long)want);
		return 1;
	}
	printf(PROG ": sigmask: only SIGUSR1 blocked\n");
	return 0;
}

static atomic_ulong self_sent;

/* Count a caught signal that this thread sent itself: we never do, a pager that ends its
 * rounds with a signal the program catches would. */
static void on_caught(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == SI_TKILL && si->si_pid == getpid())
		atomic_fetch_add(&self_sent, 1);
}

/* --catch: handlers for SIGURG and SIGWINCH, which default to being ignored (as a Go
 * program's runtime catches SIGURG), from the start; op caught: none of them ever came from
 * ourselves. */
static void install_catchers(void)
{
	struct sigaction sa = { .sa_sigaction = on_caught, .sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGURG, &sa, NULL) < 0 || sigaction(SIGWINCH, &sa, NULL) < 0)
		die("sigaction: %m");
}

static int op_caught(void)
{
	unsigned long n = atomic_load(&self_sent);

	if (n) {
		fprintf(stderr,
			PROG ": MISMATCH %lu caught signals sent by this thread to itself\n", n);
		return 1;
	}
	printf(PROG ": caught: no signal we catch came from ourselves\n");
	return 0;
}

/* glibc (2.35 and later) registers each thread's rseq area: at this offset from the thread
 * pointer, registered if the size is not 0. */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;

/* One rseq critical section (rseq(2)) that spins for spins rounds between two reads of this
 * thread's context switches (getrusage): 0 if it ran to its end without one, 1 if the kernel
 * sent it to its abort handler, 2 if it ran to its end although the thread was switched out
 * inside it, which rseq forbids (a switch inside a section always aborts it). */
#define STR_(x) #x
#define STR(x) STR_(x)
static int rseq_section(void *rs, unsigned spins)
{
	struct rusage before, after;
	int ret;

	/* clang-format off */
	__asm__ volatile(
		".pushsection .data.rel.ro.memload_rseq, \"aw\"\n"
		".balign 32\n"
		"3:	.long 0, 0\n"
		"	.quad 1f, (2f - 1f), 4f\n"
		".popsection\n"
		"	leaq 3b(%%rip), %%rax\n"
		"	movq %%rax, 8(%[rs])\n"
		"1:	movl $" STR(SYS_getrusage) ", %%eax\n"
		"	movl $1, %%edi\n" /* RUSAGE_THREAD */
		"	movq %[before], %%rsi\n"
		"	syscall\n"
		"	movq 128(%[before]), %%r8\n" /* ru_nvcsw */
		"	addq 136(%[before]), %%r8\n" /* ru_nivcsw */
		"	movl %[spins], %%ecx\n"
		"5:	pause\n"
		"	decl %%ecx\n"
		"	jnz 5b\n"
		"	movl $" STR(SYS_getrusage) ", %%eax\n"
		"	movl $1, %%edi\n"
		"	movq %[after], %%rsi\n"
		"	syscall\n"
		"	movq 128(%[after]), %%r9\n"
		"	addq 136(%[after]), %%r9\n"
		"	cmpq %%r8, %%r9\n"
		"	jne 6f\n"
		"	movl $0, %[ret]\n"
		"2:	jmp 7f\n"
		"6:	movl $2, %[ret]\n"
		"	jmp 7f\n"
		"	.long 0x53053053\n" /* glibc's signature on x86-64 */
		"4:	movl $1, %[ret]\n"
		"7:\n"
		: [ret] "=&r"(ret)
		: [rs] "r"(rs), [spins] "r"(spins), [before] "r"(&before), [after] "r"(&after)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r11", "memory", "cc");
	/* clang-format on */
	return ret;
}

static atomic_int rseq_done;

/* Rewrite pages at pseudo-random places until rseq_done: the pager keeps evicting. */
static void *rseq_rewriter(void *arg)
{
	size_t total = total_pages(), next = 1;

	(void)arg;
	while (!atomic_load(&rseq_done)) {
		size_t i;
		const struct region *r;

		next = (next * 6364136223846793005ull + 1442695040888963407ull) >> 1;
		r = flat_page(next % total, &i);
		rewrite_pages(r, i, 1);
	}
	return NULL;
}

/* rseq: for 4 s the main thread (the one a pager stops first) runs rseq critical sections,
 * while a second thread rewrites pages so that the pager keeps evicting. None may run to its
 * end after a preemption; exit 77 if the main thread has no rseq area. */
static int op_rseq(void)
{
	unsigned long counts[3] = { 0 };
	char *rs = (char *)__builtin_thread_pointer() + __rseq_offset;
	double end = wl_now() + 4;
	pthread_t t;

	if (!__rseq_size) {
		printf(PROG ": rseq: this thread has no rseq area (glibc did not register one)\n");
		exit(77);
	}
	atomic_store(&rseq_done, 0);
	errno = pthread_create(&t, NULL, rseq_rewriter, NULL);
	if (errno)
		die("pthread_create: %m");
	while (wl_now() < end)
		counts[rseq_section(rs, 2000)]++;
	atomic_store(&rseq_done, 1);
	pthread_join(t, NULL);
	printf(PROG ": rseq: %lu sections ran to their end, %lu aborted, %lu ran on after a "
		    "preemption\n",
	       counts[0], counts[1], counts[2]);
	if (counts[2]) {
		fprintf(stderr,
			PROG ": MISMATCH %lu rseq critical sections ran on after a preemption "
			     "instead of aborting\n",
			counts[2]);
		return 1;
	}
	return 0;
}

static uint64_t own_rss_anon_kib(void)
{
	return own_kib("status", "RssAnon:");
}

/* A chain of n generations, each the fork child of the one before: every generation
 * rewrites all of its memory (its own copy now), waits until a pager has evicted at least
 * half of it (up to 60 s: a pager that no longer adopts deep generations leaves it
 * resident), then forks the next. Every generation verifies its memory once its child is
 * done; the exit status covers the whole chain. */
/* n fork children alive at once, each with its own userfaultfd (its own space in a pager),
 * then all verify 16 pages of their inherited memory (evicted ones fault to the pager
 * through the child's own uffd) and exit. A child not done within 120 s is counted, killed
 * and reported. */
static int op_fork_many(uint64_t n)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	size_t total = total_pages(), stuck = 0, bad = 0;
	int go[2];
	double end;

	if (!pids || pipe2(go, O_CLOEXEC) < 0)
		die("fork-many: %m");
	for (uint64_t c = 0; c < n; c++) {
		pids[c] = fork();
		if (pids[c] < 0)
			die("fork %" PRIu64 ": %m", c);
		if (pids[c] == 0) {
			char b;
			size_t nbad = 0;

			close(go[1]);
			if (read(go[0], &b, 1) < 0)
				_exit(1);
			for (size_t k = 0; k < 16; k++) {
				size_t i;
				const struct region *r =
					flat_page((c * 7919 + k * 104729) % total, &i);

				nbad += verify_pages(r, i, 1, "in one of many fork children");
			}
			_exit(nbad != 0);
		}
	}
	close(go[0]);
	close(go[1]); /* all go */
	end = wl_now() + 120;
	for (uint64_t done = 0; done < n && wl_now() < end;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);

		if (w < 0 && errno != EINTR)
			die("waitpid: %m");
		if (w <= 0) {
			wl_sleep(0.01);
			continue;
		}
		for (uint64_t c = 0; c < n; c++)
			if (pids[c] == w) {
				pids[c] = 0;
				done++;
				bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			}
	}
	for (uint64_t c = 0; c < n; c++)
		if (pids[c] > 0) {
			stuck++;
			kill(pids[c], SIGKILL);
			waitpid(pids[c], NULL, 0);
		}
	free(pids);
	if (stuck || bad) {
		fprintf(stderr,
			PROG ": MISMATCH of %" PRIu64 " fork children alive at once, %zu failed "
			     "and %zu were not done within 120 s\n",
			n, bad, stuck);
		return 1;
	}
	printf(PROG ": fork-many: %" PRIu64 " children verified\n", n);
	fflush(stdout);
	return 0;
}

static int op_fork_chain(uint64_t n)
{
	uint64_t size_kib = total_pages() * PAT_PAGE / 1024;

	for (uint64_t gen = 1; gen <= n; gen++) {
		pid_t pid = fork();
		double end;

		if (pid < 0)
			die("fork: %m");
		if (pid > 0) {
			int bad = wait_child(pid, "in fork-chain child");

			if (gen == 1)
				return bad;
			bad |= verify_all("in fork-chain generation after its child") != 0;
			_exit(bad);
		}
		for (int r = 0; r < M.nreg; r++)
			rewrite_pages(&M.reg[r], 0, M.reg[r].npages);
		end = wl_now() + 60;
		while (own_rss_anon_kib() > size_kib / 2) {
			if (wl_now() > end) {
				fprintf(stderr,
					PROG ": fork-chain generation %" PRIu64
					     " (pid %d): RssAnon %" PRIu64 " kB of %" PRIu64
					     " kB not evicted within 60 s\n",
					gen, (int)getpid(), own_rss_anon_kib(), size_kib);
				_exit(1);
			}
			usleep(20000);
		}
	}
	_exit(verify_all("in the last fork-chain generation") != 0);
}

static int op_mremap(void)
{
	struct region *r = largest_region();
	size_t chunk = r->npages / 8, start, len;
	uint64_t id0 = r->id0;
	struct region *moved;
	char *dst, *p;

	if (chunk == 0 || r->npages < 3)
		die("mremap: region too small");
	start = (r->npages - chunk) / 2;
	len = chunk * PAT_PAGE;
	/* reserve twice the room, then free the upper half so the moved chunk can grow in place */
	dst = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		die("mmap reserve: %m");
	if (munmap(dst + len, len) < 0)
		die("munmap: %m");
	p = mremap(r->addr + start * PAT_PAGE, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p != dst)
		die("mremap %p -> %p: %m", (void *)(r->addr + start * PAT_PAGE), (void *)dst);

	add_region(r->addr + (start + chunk) * PAT_PAGE, r->npages - start - chunk,
		   id0 + start + chunk);
	r->npages = start;
	moved = add_region(dst, chunk, id0 + start);
	if (verify_pages(moved, 0, chunk, "after mremap (moved chunk)"))
		return 1;

	p = mremap(dst, len, 2 * len, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, PROG ": note: mremap could not grow in place: %m\n");
		return 0;
	}
	moved = add_region(dst + len, chunk, new_ids(chunk));
	if (verify_pages(moved, 0, chunk, "after mremap grow (new pages must read zero)"))
		return 1;
	rewrite_pages(moved, 0, chunk);
	return 0;
}

static int zero_then_rewrite(const struct region *r, size_t start, size_t n, const char *when)
{
	uint32_t *saved = malloc(n * sizeof(*saved));

	if (!saved)
		die("malloc: %m");
	memcpy(saved, &M.gen[r->id0 + start], n * sizeof(*saved));
	memset(&M.gen[r->id0 + start], 0, n * sizeof(*saved));
	if (verify_pages(r, start, n, when)) {
		free(saved);
		return 1;
	}
	/* a newer generation than before: reading back the old content would be caught */
	for (size_t i = 0; i < n; i++) {
		M.gen[r->id0 + start + i] = saved[i] + 1;
		fill_page(r, start + i);
	}
	free(saved);
	return 0;
}

static int op_munmap(void)
{
	struct region *r = largest_region();
	size_t n = r->npages / 16 ? r->npages / 16 : 1, start = r->npages / 4;
	char *addr = r->addr + start * PAT_PAGE, *p;

	if (munmap(addr, n * PAT_PAGE) < 0)
		die("munmap: %m");
	p = mmap(addr, n * PAT_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap MAP_FIXED_NOREPLACE %p: %m", (void *)addr);
	if (p != addr)
		die("mmap MAP_FIXED_NOREPLACE: wanted %p got %p", (void *)addr, (void *)p);
	return zero_then_rewrite(r, start, n, "after munmap + mmap (fresh pages must read zero)");
}

static int op_dontneed(void)
{
	struct region *r = largest_region();
	size_t n = r->npages / 16 ? r->npages / 16 : 1, start = r->npages * 5 / 8;

	if (madvise(r->addr + start * PAT_PAGE, n * PAT_PAGE, MADV_DONTNEED) < 0)
		die("madvise DONTNEED: %m");
	return zero_then_rewrite(r, start, n, "after MADV_DONTNEED (pages must read zero)");
}

/* Check a stream of pages read from a file or pipe against the expected pattern. */
static size_t check_stream_pages(const char *buf, size_t flat0, size_t n, const char *when)
{
	size_t nbad = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i;
		const struct region *r = flat_page(flat0 + k, &i);
		uint64_t id = r->id0 + i;
		long w = pat_check(buf + k * PAT_PAGE, M.seed, M.gen[id], id);

		if (w >= 0 && nbad++ == 0)
			pat_report(PROG, when, buf + k * PAT_PAGE, M.seed, M.gen[id], id, w, 1);
	}
	return nbad;
}

static ssize_t full_io(int fd, char *buf, size_t len, off_t off, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (off < 0)
			n = wr ? write(fd, buf + done, len - done) :
				 read(fd, buf + done, len - done);
		else
			n = wr ? pwrite(fd, buf + done, len - done, off + (off_t)done) :
				 pread(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Write every region, in big chunks straight from the mapping, to fd (offset off or stream). */
static void write_regions(int fd, bool seekable)
{
	off_t off = 0;

	for (int i = 0; i < M.nreg; i++) {
		size_t len = M.reg[i].npages * PAT_PAGE;

		for (size_t at = 0; at < len; at += IO_CHUNK) {
			size_t n = len - at < IO_CHUNK ? len - at : IO_CHUNK;
			ssize_t w = full_io(fd, M.reg[i].addr + at, n, seekable ? off : -1, true);

			if (w != (ssize_t)n)
				die("write %zu bytes from %p: %s", n, (void *)(M.reg[i].addr + at),
				    w < 0 ? strerror((int)-w) : "short write");
			off += (off_t)n;
		}
	}
}

static size_t read_and_check(int fd, bool seekable, const char *when)
{
	size_t total = total_pages(), nbad = 0;
	char *buf = aligned_alloc(PAT_PAGE, IO_CHUNK); /* O_DIRECT reads need it */

	if (!buf)
		die("malloc: %m");
	for (size_t flat = 0; flat < total && !nbad;) {
		size_t n = total - flat < IO_CHUNK / PAT_PAGE ? total - flat : IO_CHUNK / PAT_PAGE;
		ssize_t got = full_io(fd, buf, n * PAT_PAGE,
				      seekable ? (off_t)(flat * PAT_PAGE) : -1, false);

		if (got != (ssize_t)(n * PAT_PAGE))
			die("%s: read %zd of %zu bytes", when, got, n * PAT_PAGE);
		nbad += check_stream_pages(buf, flat, n, when);
		flat += n;
	}
	free(buf);
	return nbad;
}

static int write_via_pipe(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2: %m");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		close(p[1]);
		_exit(read_and_check(p[0], false, "in data read from a pipe") ? 1 : 0);
	}
	close(p[0]);
	write_regions(p[1], false);
	close(p[1]);
	return wait_child(pid, "pipe reader");
}

/* An unnamed file in dir, opened with extra flags (O_DIRECT needs a block file system: /tmp
 * may be tmpfs, /var/tmp is on disk). */
static int tmpfile_in(const char *dir, int flags)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | flags, 0600);

	if (fd < 0)
		die("open O_TMPFILE%s in %s: %m", flags & O_DIRECT ? " | O_DIRECT" : "", dir);
	return fd;
}

/* Write all memory to fd straight from the mapping, check what the file holds, then read the
 * file back over the mapping (copy_to_user, or DMA for O_DIRECT, into evicted pages). */
static int file_round_trip(int fd, const char *what)
{
	char when[96];
	off_t off = 0;

	write_regions(fd, true);
	snprintf(when, sizeof(when), "in data written to a file (%s)", what);
	if (read_and_check(fd, true, when))
		return 1;
	for (int i = 0; i < M.nreg; i++) {
		size_t len = M.reg[i].npages * PAT_PAGE;
		ssize_t n = full_io(fd, M.reg[i].addr, len, off, false);

		if (n != (ssize_t)len)
			die("%s: pread into %p: %s", what, (void *)M.reg[i].addr,
			    n < 0 ? strerror((int)-n) : "short read");
		off += (off_t)len;
	}
	snprintf(when, sizeof(when), "after %s of the file back into the mapping", what);
	return verify_all(when) != 0;
}

static int op_write(void)
{
	int fd = tmpfile_in("/tmp", 0), r;

	r = file_round_trip(fd, "read(2)");
	close(fd);
	return r ? r : write_via_pipe();
}

/* O_DIRECT: the kernel pins the evicted pages (get_user_pages) for the disk's DMA. */
static int op_direct(void)
{
	int fd = tmpfile_in("/var/tmp", O_DIRECT), r;

	r = file_round_trip(fd, "O_DIRECT read");
	close(fd);
	return r;
}

/* One io_uring read or write of [buf, buf + len) at off, to the end; with IOSQE_ASYNC the
 * kernel's io-wq worker thread, not this thread, touches the evicted pages. */
static void uring_io(struct io_uring *ring, int fd, char *buf, size_t len, off_t off, bool wr,
		     bool async)
{
	for (size_t done = 0; done < len;) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		struct io_uring_cqe *cqe;
		int r;

		if (!sqe)
			die("io_uring_get_sqe: ring full");
		if (wr)
			io_uring_prep_write(sqe, fd, buf + done, (unsigned)(len - done),
					    (uint64_t)(off + (off_t)done));
		else
			io_uring_prep_read(sqe, fd, buf + done, (unsigned)(len - done),
					   (uint64_t)(off + (off_t)done));
		if (async)
			sqe->flags |= IOSQE_ASYNC;
		r = io_uring_submit_and_wait(ring, 1);
		if (r < 0)
			die("io_uring_submit_and_wait: %s", strerror(-r));
		r = io_uring_wait_cqe(ring, &cqe);
		if (r < 0)
			die("io_uring_wait_cqe: %s", strerror(-r));
		r = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (r <= 0)
			die("io_uring %s of %zu bytes at %p: %s", wr ? "write" : "read", len - done,
			    (void *)(buf + done), r ? strerror(-r) : "end of file");
		done += (size_t)r;
	}
}

/* io_uring writes from evicted pages and reads back into them, every other chunk through the
 * io-wq worker. */
static int op_uring(void)
{
	struct io_uring ring;
	int fd = tmpfile_in("/var/tmp", 0), r;
	unsigned k = 0;
	off_t off = 0;

	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0)
		die("io_uring_queue_init: %s", strerror(-r));
	for (int pass = 0; pass < 2; pass++) {
		off = 0;
		for (int i = 0; i < M.nreg; i++) {
			size_t len = M.reg[i].npages * PAT_PAGE;

			for (size_t at = 0; at < len; at += IO_CHUNK, k++) {
				size_t n = len - at < IO_CHUNK ? len - at : IO_CHUNK;

				uring_io(&ring, fd, M.reg[i].addr + at, n, off, pass == 0, k & 1);
				off += (off_t)n;
			}
		}
		if (pass == 0 && read_and_check(fd, true, "in data written by io_uring")) {
			io_uring_queue_exit(&ring);
			close(fd);
			return 1;
		}
	}
	io_uring_queue_exit(&ring);
	close(fd);
	return verify_all("after io_uring reads of the file back into the mapping") != 0;
}

/* Read or write len bytes at the parent's address addr: process_vm_readv/writev, or
 * /proc/PID/mem (what a debugger or a checkpointer uses). 0, or -errno of a failed transfer
 * (a short one is -EIO). */
static int remote_io(pid_t pid, int memfd, char *buf, char *addr, size_t len, bool wr)
{
	ssize_t n;

	if (memfd < 0) {
		struct iovec local = { buf, len }, remote = { addr, len };

		n = wr ? process_vm_writev(pid, &local, 1, &remote, 1, 0) :
			 process_vm_readv(pid, &local, 1, &remote, 1, 0);
	} else {
		n = wr ? pwrite(memfd, buf, len, (off_t)(uintptr_t)addr) :
			 pread(memfd, buf, len, (off_t)(uintptr_t)addr);
	}
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

#define REMOTE_HOW(memfd, wr)                                                                      \
	((memfd) < 0 ? ((wr) ? "process_vm_writev" : "process_vm_readv") :                         \
		       ((wr) ? "pwrite of /proc/PID/mem" : "pread of /proc/PID/mem"))

/* The kernel reads /proc/PID/mem without letting a fault wait for a userfaultfd: an evicted
 * page fails with EIO there (never with other data), as it does for gdb's PTRACE_PEEKDATA. */
#define REMOTE_REFUSED(memfd, r) ((memfd) >= 0 && (r) == -EIO)

/* Read pages [flat, flat + n) of the parent, at addr, through one interface and check them;
 * a chunk /proc/PID/mem refuses is read again page by page. The count of bad pages. */
static size_t remote_check(pid_t parent, int memfd, char *buf, char *addr, size_t flat, size_t n,
			   size_t *refused)
{
	const char *when = memfd < 0 ? "in the parent's memory read with process_vm_readv" :
				       "in the parent's memory read through /proc/PID/mem";
	size_t nbad = 0;
	int r = remote_io(parent, memfd, buf, addr, n * PAT_PAGE, false);

	if (r == 0)
		return check_stream_pages(buf, flat, n, when);
	if (!REMOTE_REFUSED(memfd, r))
		die("%s of %zu bytes at %p of pid %d: %s", REMOTE_HOW(memfd, false), n * PAT_PAGE,
		    (void *)addr, (int)parent, strerror(-r));
	for (size_t k = 0; k < n; k++) {
		r = remote_io(parent, memfd, buf, addr + k * PAT_PAGE, PAT_PAGE, false);
		if (r == 0)
			nbad += check_stream_pages(buf, flat + k, 1, when);
		else if (REMOTE_REFUSED(memfd, r))
			(*refused)++;
		else
			die("pread of /proc/PID/mem at %p: %s", (void *)(addr + k * PAT_PAGE),
			    strerror(-r));
	}
	return nbad;
}

/* In a fork child: read all of the parent's memory from outside, twice (both interfaces), and
 * write a new generation into pages [start, start + n) of region ri, half each way; written[k]
 * tells the parent which pages of the second half /proc/PID/mem took. */
static int remote_child(pid_t parent, int ri, size_t start, size_t n, uint8_t *written)
{
	char path[64], *buf = aligned_alloc(PAT_PAGE, IO_CHUNK);
	const struct region *r = &M.reg[ri];
	size_t nbad = 0, refused = 0, wrefused = 0;
	int memfd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)parent);
	memfd = open(path, O_RDWR | O_CLOEXEC);
	if (!buf || memfd < 0)
		die("open %s: %m", path);
	for (int way = 0; way < 2 && !nbad; way++) {
		size_t flat = 0;

		for (int i = 0; i < M.nreg && !nbad; i++) {
			size_t len = M.reg[i].npages * PAT_PAGE;

			for (size_t at = 0; at < len && !nbad; at += IO_CHUNK) {
				size_t m = (len - at < IO_CHUNK ? len - at : IO_CHUNK) / PAT_PAGE;

				nbad += remote_check(parent, way ? memfd : -1, buf,
						     M.reg[i].addr + at, flat, m, &refused);
				flat += m;
			}
		}
	}
	for (size_t k = 0; k < n && !nbad; k++) {
		uint64_t id = r->id0 + start + k;
		int fd = k < n / 2 ? -1 : memfd, w;

		pat_fill(buf, M.seed, M.gen[id] + 1, id);
		w = remote_io(parent, fd, buf, r->addr + (start + k) * PAT_PAGE, PAT_PAGE, true);
		if (w == 0)
			written[k] = 1;
		else if (REMOTE_REFUSED(fd, w))
			wrefused++;
		else
			die("%s at %p: %s", REMOTE_HOW(fd, true),
			    (void *)(r->addr + (start + k) * PAT_PAGE), strerror(-w));
	}
	close(memfd);
	printf(PROG ": remote: /proc/PID/mem refused %zu evicted pages of %zu read, %zu of %zu "
		    "written\n",
	       refused, total_pages(), wrefused, n - n / 2);
	fflush(stdout);
	return nbad != 0;
}

/* Another process reads and writes our evicted memory (the kernel faults it in on the remote
 * side); we wait meanwhile, then the pages it wrote must carry the new generation. */
static int op_remote(void)
{
	struct region *r = largest_region();
	size_t n = r->npages / 8 ? r->npages / 8 : 1, start = r->npages / 3;
	pid_t parent = getpid(), pid;
	/* shared, so the child's marks reach us (a pager leaves shared memory alone) */
	uint8_t *written = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (written == MAP_FAILED)
		die("mmap: %m");
	/* Yama's ptrace_scope 1 lets only an ancestor look into a process: allow the child. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0)
		_exit(remote_child(parent, (int)(r - M.reg), start, n, written));
	if (wait_child(pid, "reading and writing our memory from another process"))
		return 1;
	for (size_t k = 0; k < n; k++)
		M.gen[r->id0 + start + k] += written[k];
	munmap(written, n);
	return 0;
}

/* Verify the chunks of [start, start + nchunks * 8) of r that are not PROT_NONE (every third,
 * from the second on). */
static size_t verify_unprotected(const struct region *r, size_t start, size_t nchunks,
				 const char *when)
{
	size_t nbad = 0;

	for (size_t c = 0; c < nchunks; c++)
		if (c % 3 != 1)
			nbad += verify_pages(r, start + c * 8, 8, when);
	return nbad;
}

/* mprotect over evicted pages: chunks of 8 pages turn read-only, inaccessible or stay
 * read-write (three mappings side by side in one registered range); the readable ones are read
 * twice with the rest of memory read in between (the pager evicts meanwhile), then everything
 * goes back to read-write and is rewritten. */
static int op_mprotect(void)
{
	struct region *r = largest_region();
	size_t nchunks = r->npages / 4 / 8, start = r->npages / 2;
	char *base = r->addr + start * PAT_PAGE;

	if (nchunks < 3 || start + nchunks * 8 > r->npages)
		die("mprotect: region too small");
	for (size_t c = 0; c < nchunks; c++) {
		int prot = c % 3 == 0 ? PROT_READ : c % 3 == 1 ? PROT_NONE : PROT_READ | PROT_WRITE;

		if (mprotect(base + c * 8 * PAT_PAGE, 8 * PAT_PAGE, prot) < 0)
			die("mprotect: %m");
	}
	if (verify_unprotected(r, start, nchunks, "in a read-only or read-write chunk"))
		return 1;
	for (int i = 0; i < M.nreg; i++)
		if (&M.reg[i] != r &&
		    verify_pages(&M.reg[i], 0, M.reg[i].npages, "beside mprotect"))
			return 1;
	if (verify_pages(r, 0, start, "beside mprotect") ||
	    verify_pages(r, start + nchunks * 8, r->npages - start - nchunks * 8,
			 "beside mprotect") ||
	    verify_unprotected(r, start, nchunks, "in a read-only or read-write chunk, again"))
		return 1;
	if (mprotect(base, nchunks * 8 * PAT_PAGE, PROT_READ | PROT_WRITE) < 0)
		die("mprotect back to read-write: %m");
	if (verify_pages(r, start, nchunks * 8, "after mprotect back to read-write"))
		return 1;
	rewrite_pages(r, start, nchunks * 8);
	return 0;
}

/* MADV_FREE over evicted and resident pages: each page then reads its data or zero (the kernel
 * may drop a freed page until it is written again); a new generation written must stay. */
static int op_free(void)
{
	struct region *r = largest_region();
	size_t n = r->npages / 16 ? r->npages / 16 : 1, start = r->npages * 3 / 16, nbad = 0;

	if (madvise(r->addr + start * PAT_PAGE, n * PAT_PAGE, MADV_FREE) < 0)
		die("madvise FREE: %m");
	for (size_t i = start; i < start + n; i++) {
		uint64_t id = r->id0 + i;
		char *page = r->addr + i * PAT_PAGE;
		long w = pat_check(page, M.seed, M.gen[id], id);

		if (w >= 0 && pat_check(page, M.seed, 0, id) >= 0 && nbad++ == 0)
			pat_report(PROG, "after MADV_FREE (neither its data nor zero)", page,
				   M.seed, M.gen[id], id, w, 1);
	}
	if (nbad)
		return 1;
	rewrite_pages(r, start, n);
	return 0;
}

/* MADV_POPULATE_READ and _WRITE over evicted pages: the kernel faults them in itself. */
static int op_populate(void)
{
	struct region *r = largest_region();
	size_t n = r->npages / 8 ? r->npages / 8 : 1, start = r->npages * 5 / 8;

	for (int w = 0; w < 2; w++) {
		char *addr = r->addr + (start + (size_t)w * n / 2) * PAT_PAGE;

		if (madvise(addr, n / 2 * PAT_PAGE, w ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) <
		    0)
			die("madvise POPULATE_%s: %m", w ? "WRITE" : "READ");
	}
	return verify_pages(r, start, n / 2 * 2, "after MADV_POPULATE_READ/_WRITE") != 0;
}

static int op_rewrite(void)
{
	for (int i = 0; i < M.nreg; i++)
		rewrite_pages(&M.reg[i], 0, M.reg[i].npages);
	return 0;
}

/* Every other page gets a new generation, last page first: the pages read most recently are
 * the ones a pager still holds resident and clean, so writes hit those, and the written pages
 * sit beside unwritten ones in the same eviction batches. */
static int op_rewrite_odd(void)
{
	for (int i = M.nreg - 1; i >= 0; i--)
		for (size_t k = M.reg[i].npages; k-- > 0;)
			if (k & 1)
				rewrite_pages(&M.reg[i], k, 1);
	return 0;
}

struct worker {
	pthread_t tid;
	size_t first;
	size_t count;
	size_t passes;
	int bad;
};

static atomic_int stop_workers;

static void *worker_main(void *arg)
{
	struct worker *wk = arg;

	while (!atomic_load(&stop_workers) && !wk->bad) {
		for (size_t k = 0; k < wk->count && !wk->bad; k++) {
			size_t i;
			const struct region *r = flat_page(wk->first + k, &i);

			if (verify_pages(r, i, 1, "in a thread, before rewriting its page"))
				wk->bad = 1;
			else
				rewrite_pages(r, i, 1);
		}
		wk->passes++;
	}
	return NULL;
}

static int op_threads(unsigned n)
{
	struct worker wk[MAX_THREADS] = { 0 };
	size_t total = total_pages(), per = total / n;
	int bad = 0;

	atomic_store(&stop_workers, 0);
	for (unsigned t = 0; t < n; t++) {
		wk[t].first = t * per;
		wk[t].count = t == n - 1 ? total - t * per : per;
		errno = pthread_create(&wk[t].tid, NULL, worker_main, &wk[t]);
		if (errno)
			die("pthread_create: %m");
	}
	wl_sleep(2.0);
	atomic_store(&stop_workers, 1);
	for (unsigned t = 0; t < n; t++) {
		pthread_join(wk[t].tid, NULL);
		bad |= wk[t].bad;
	}
	return bad;
}

/* io_uring last: the kernel's clean-up of a closed ring can make the next wait of the thread
 * return EINTR at once, pager or not. */
enum wait_kind {
	WAIT_SIGTIMEDWAIT,
	WAIT_EPOLL,
	WAIT_URING,
	WAIT_KINDS
};

static const char *const wait_names[WAIT_KINDS] = { "sigtimedwait", "epoll_wait",
						    "io_uring_enter" };

/* Block in one wait with no timeout until an event of our own ends it after secs: a timerfd,
 * an io_uring timeout, SIGALRM. 0, or -errno of the wait. */
static int wait_once(enum wait_kind kind, unsigned secs)
{
	int r = 0;

	if (kind == WAIT_EPOLL) {
		struct itimerspec its = { .it_value = { secs, 0 } };
		struct epoll_event ev = { .events = EPOLLIN };
		int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC),
		    ep = epoll_create1(EPOLL_CLOEXEC);

		if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0 ||
		    timerfd_settime(tfd, 0, &its, NULL) < 0)
			die("timerfd and epoll: %m");
		if (epoll_wait(ep, &ev, 1, -1) < 0)
			r = -errno;
		close(ep);
		close(tfd);
	} else if (kind == WAIT_URING) {
		struct __kernel_timespec ts = { .tv_sec = secs };
		struct io_uring ring;
		struct io_uring_cqe *cqe;

		r = io_uring_queue_init(2, &ring, 0);
		if (r < 0)
			die("io_uring_queue_init: %s", strerror(-r));
		io_uring_prep_timeout(io_uring_get_sqe(&ring), &ts, 0, 0);
		io_uring_submit(&ring);
		r = io_uring_wait_cqe(&ring, &cqe); /* no timeout argument: an unbounded wait */
		io_uring_queue_exit(&ring);
	} else {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		alarm(secs);
		if (sigtimedwait(&set, NULL, NULL) < 0)
			r = -errno;
		alarm(0);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	return r;
}

/* Each kind of wait: first fill a fresh quarter of the memory (a pager must evict it), then
 * block in the wait while it does. Stopping us to evict must not end the wait: we get no
 * signal, so EINTR here is the pager showing through. Single-threaded, we must have been
 * stopped if RssAnon dropped meanwhile: a pager can only evict through our thread. */
static int op_waits(void)
{
	size_t n = total_pages() / 4 ? total_pages() / 4 : 1;

	for (int k = 0; k < WAIT_KINDS; k++) {
		char *p = mmap(NULL, n * PAT_PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct region *r;
		uint64_t before, after;
		int w;

		if (p == MAP_FAILED)
			die("mmap: %m");
		r = add_region(p, n, new_ids(n));
		/* locked while filled, so that a pager cannot evict it before we block (it
		 * passes locked memory over), unlocked just before */
		if (mlock(p, n * PAT_PAGE) < 0)
			die("mlock %zu MiB: %m", n * PAT_PAGE >> 20);
		rewrite_pages(r, 0, n);
		before = own_rss_anon_kib();
		if (munlock(p, n * PAT_PAGE) < 0)
			die("munlock: %m");
		w = wait_once((enum wait_kind)k, 3);
		after = own_rss_anon_kib();
		if (w < 0) {
			fprintf(stderr,
				PROG ": MISMATCH %s with no timeout returned %s although no signal "
				     "came (RssAnon %" PRIu64 " -> %" PRIu64 " kB meanwhile)\n",
				wait_names[k], strerror(-w), before, after);
			return 1;
		}
		if (after + 1024 > before) {
			fprintf(stderr,
				PROG ": MISMATCH nothing was evicted while we waited in %s "
				     "(RssAnon %" PRIu64 " -> %" PRIu64
				     " kB): the op proves nothing\n",
				wait_names[k], before, after);
			return 1;
		}
		printf(PROG ": %s: RssAnon %" PRIu64 " -> %" PRIu64 " kB while blocked, no EINTR\n",
		       wait_names[k], before, after);
	}
	return 0;
}

static void *block_in_read(void *arg)
{
	char b;

	while (read(*(int *)arg, &b, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* An event loop: the main thread calls epoll_wait with a 50 ms timeout for 3 s while fresh
 * memory (locked while filled, as in waits) is evicted, and a second thread sits in read(2)
 * of a pipe. Interrupted, epoll_wait with a timeout returns EINTR to the program, read(2) is
 * restarted unseen: a pager that can borrow the reader must leave the loop alone. */
static int op_bounded_wait(void)
{
	size_t n = total_pages() / 4 ? total_pages() / 4 : 1;
	char *p = mmap(NULL, n * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	struct epoll_event ev = { .events = EPOLLIN };
	int pp[2], ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned eintr = 0, loops = 0;
	uint64_t before, after;
	pthread_t t;
	double end;

	if (p == MAP_FAILED || ep < 0 || pipe2(pp, O_CLOEXEC) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev) < 0)
		die("bounded-wait set-up: %m");
	errno = pthread_create(&t, NULL, block_in_read, &pp[0]);
	if (errno)
		die("pthread_create: %m");
	if (mlock(p, n * PAT_PAGE) < 0)
		die("mlock %zu MiB: %m", n * PAT_PAGE >> 20);
	rewrite_pages(add_region(p, n, new_ids(n)), 0, n);
	before = own_rss_anon_kib();
	if (munlock(p, n * PAT_PAGE) < 0)
		die("munlock: %m");
	for (end = wl_now() + 3; wl_now() < end; loops++)
		if (epoll_wait(ep, &ev, 1, 50) < 0)
			eintr += errno == EINTR;
	after = own_rss_anon_kib();
	if (write(pp[1], "x", 1) != 1)
		die("write: %m");
	pthread_join(t, NULL);
	close(ep);
	close(pp[0]);
	close(pp[1]);
	if (eintr) {
		fprintf(stderr,
			PROG ": MISMATCH epoll_wait with a timeout returned EINTR %u times in %u "
			     "calls although a thread in read(2) was there to stop instead\n",
			eintr, loops);
		return 1;
	}
	if (after + 1024 > before) {
		fprintf(stderr,
			PROG ": MISMATCH nothing was evicted during the loop (RssAnon %" PRIu64
			     " -> %" PRIu64 " kB): the op proves nothing\n",
			before, after);
		return 1;
	}
	printf(PROG ": bounded-wait: RssAnon %" PRIu64 " -> %" PRIu64 " kB over %u epoll_wait "
		    "calls, no EINTR\n",
	       before, after, loops);
	return 0;
}

/* Rewrite pages round the largest region until the child pid exits, then its status as
 * wait_child gives it. Our memory keeps a pager evicting, so it stops us again and again
 * meanwhile. */
static int churn_until_exit(pid_t pid, const char *what)
{
	struct region *r = largest_region();
	size_t i = 0;

	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w < 0 && errno != EINTR)
			die("waitpid %s: %m", what);
		if (w == pid)
			return child_status(pid, st, what);
		for (size_t k = 0; k < 256; k++, i = (i + 1) % r->npages)
			rewrite_pages(r, i, 1);
	}
}

static atomic_ulong rt_count, rt_sum, rt_foreign;
static pid_t rt_sender;

/* Count each signal, add up its payload and check who sent it: a signal passed on with other
 * siginfo (a tracer's, say) would show in the sum or the sender. */
static void on_rt_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_fetch_add(&rt_count, 1);
	atomic_fetch_add(&rt_sum, (unsigned long)si->si_value.sival_int);
	if (si->si_code != SI_QUEUE || si->si_pid != rt_sender)
		atomic_fetch_add(&rt_foreign, 1);
}

#define RT_SIGNALS 20000

/* A child queues RT_SIGNALS real-time signals (they queue, none merge) while we churn: every
 * one must be delivered, also those that arrive while a pager holds us. */
static int op_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_rt_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
	pid_t parent = getpid(), pid;
	double end;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) < 0)
		die("sigaction: %m");
	atomic_store(&rt_count, 0);
	atomic_store(&rt_sum, 0);
	atomic_store(&rt_foreign, 0);
	/* the sender's pid is known before its first signal: block them until it is set */
	sigaddset(&sa.sa_mask, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	rt_sender = pid;
	sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
	if (pid == 0) {
		for (int i = 0; i < RT_SIGNALS; i++) {
			union sigval v = { .sival_int = i };

			while (sigqueue(parent, SIGRTMIN, v) < 0)
				if (errno != EAGAIN)
					_exit(1);
				else
					usleep(100);
			if (i % 64 == 0)
				usleep(50);
		}
		_exit(0);
	}
	if (churn_until_exit(pid, "queueing real-time signals to us"))
		return 1;
	/* queued ones still come in: give them a moment */
	for (end = wl_now() + 5; atomic_load(&rt_count) < RT_SIGNALS && wl_now() < end;)
		wl_sleep(0.01);
	if (atomic_load(&rt_count) != RT_SIGNALS ||
	    atomic_load(&rt_sum) != (unsigned long)RT_SIGNALS * (RT_SIGNALS - 1) / 2 ||
	    atomic_load(&rt_foreign)) {
		fprintf(stderr,
			PROG ": MISMATCH %d real-time signals queued to us, %lu delivered, payload "
			     "sum %lu (expected %lu), %lu not from the sender by sigqueue\n",
			RT_SIGNALS, (unsigned long)atomic_load(&rt_count),
			(unsigned long)atomic_load(&rt_sum),
			(unsigned long)RT_SIGNALS * (RT_SIGNALS - 1) / 2,
			(unsigned long)atomic_load(&rt_foreign));
		return 1;
	}
	signal(SIGRTMIN, SIG_DFL);
	printf(PROG ": %d real-time signals delivered while churning\n", RT_SIGNALS);
	return 0;
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_small(path, buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* In a child: SIGSTOP the parent (churning, so a pager keeps stopping it), wait until it
 * shows stopped, SIGCONT it, again and again for secs seconds. 0, or 1 if a SIGSTOP was
 * lost (the parent never showed stopped within 5 s). */
static int stop_cont_child(pid_t parent, double secs)
{
	unsigned cycles = 0;

	for (double end = wl_now() + secs; wl_now() < end; cycles++) {
		double give_up = wl_now() + 5;
		char st;

		kill(parent, SIGSTOP);
		/* 'T' is the stop; 't' is a tracer (the pager) holding the thread meanwhile */
		while ((st = proc_state(parent)) != 'T' && wl_now() < give_up)
			usleep(200);
		if (st != 'T') {
			fprintf(stderr,
				PROG
				": MISMATCH SIGSTOP number %u was lost: not stopped within 5 s "
				"(state %c)\n",
				cycles + 1, st);
			kill(parent, SIGCONT);
			return 1;
		}
		kill(parent, SIGCONT);
		usleep(2000);
	}
	printf(PROG ": %u SIGSTOP/SIGCONT cycles while churning\n", cycles);
	fflush(stdout);
	return 0;
}

static int op_stopcont(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		die("fork: %m");
	if (pid == 0)
		_exit(stop_cont_child(parent, 3));
	return churn_until_exit(pid, "stopping and continuing us");
}

/*
 * Self-test of the verifier (STYLE: one environment variable read at start): MEMLOAD_FAULT
 * = zero | stale | flip damages one page after the wait, and the run must then fail.
 */
static void inject_fault(const char *kind)
{
	const struct region *r = &M.reg[0];
	size_t i = r->npages / 2 + 2;
	uint64_t id = r->id0 + i;
	char *page = r->addr + i * PAT_PAGE;

	if (!strcmp(kind, "zero")) {
		memset(page, 0, PAT_PAGE);
	} else if (!strcmp(kind, "stale")) {
		M.gen[id]++;
		rewrite_pages(r, i, 1);
		M.gen[id]++;
	} else if (!strcmp(kind, "flip")) {
		page[PAT_PAGE - 1] ^= 0x10;
	} else {
		die("MEMLOAD_FAULT=%s: expected zero, stale or flip", kind);
	}
}

static void wait_or_hold(void)
{
	if (M.wait) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		while (sigwait(&set, &sig) != 0)
			;
	} else if (M.hold) {
		wl_sleep((double)M.hold);
	}
}

static void write_ready(void)
{
	char buf[32];
	int r;

	if (!M.ready)
		return;
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	r = wl_write_atomic(M.ready, buf);
	if (r < 0)
		die("write ready file %s: %s", M.ready, strerror(-r));
}

/* exec ourselves: a fresh mm that the pager must take over again. Does not return. */
static void op_exec(int next_op)
{
	char size[24], seed[24], hold[24], touch[24], ops[1024] = "verify";
	char *ready = NULL;
	char *argv[20];
	int a = 0;

	for (int i = next_op; i < M.nops; i++) {
		strncat(ops, ",", sizeof(ops) - strlen(ops) - 1);
		strncat(ops, M.ops[i], sizeof(ops) - strlen(ops) - 1);
	}
	snprintf(size, sizeof(size), "%llu", (unsigned long long)M.size_mib);
	snprintf(seed, sizeof(seed), "%#llx", (unsigned long long)M.seed);
	snprintf(hold, sizeof(hold), "%llu", (unsigned long long)M.hold);
	snprintf(touch, sizeof(touch), "%llu", (unsigned long long)M.touch);
	argv[a++] = PROG;
	argv[a++] = "--size";
	argv[a++] = size;
	argv[a++] = "--seed";
	argv[a++] = seed;
	argv[a++] = "--ops";
	argv[a++] = ops;
	if (M.ready) {
		if (asprintf(&ready, "%s.exec", M.ready) < 0)
			die("asprintf: %m");
		argv[a++] = "--ready";
		argv[a++] = ready;
	}
	if (wl_result) {
		argv[a++] = "--result";
		argv[a++] = (char *)wl_result;
	}
	if (M.wait)
		argv[a++] = "--wait";
	if (M.hold) {
		argv[a++] = "--hold";
		argv[a++] = hold;
	}
	if (M.touch) {
		argv[a++] = "--touch-loop";
		argv[a++] = touch;
	}
	argv[a] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", argv);
	die("execv /proc/self/exe: %m");
}

/* Leave a thread of ours that never runs user code: an io_uring read of an empty pipe, forced
 * onto an io-wq worker (iou-wrk), blocked for the rest of our life. */
static void leave_io_worker(void)
{
	static struct io_uring ring;
	static char buf[8];
	static int p[2];
	struct io_uring_sqe *sqe;
	int r;

	if (p[0])
		return;
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2: %m");
	r = io_uring_queue_init(2, &ring, 0);
	if (r < 0)
		die("io_uring_queue_init: %s", strerror(-r));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, p[0], buf, sizeof(buf), 0);
	sqe->flags |= IOSQE_ASYNC;
	io_uring_submit(&ring);
}

static int vfork_sleeper(void *arg)
{
	struct timespec ts = { 3, 0 };

	(void)arg;
	nanosleep(&ts, NULL);
	return 0;
}

/* Fill a fresh quarter of the memory (a pager must evict it), with an io_uring worker thread
 * beside us, then sit 3 s in vfork: the main thread cannot stop for a tracer meanwhile, and
 * the only other thread never runs user code, so a pager must wait, not stop the worker. */
static int op_vfork_wait(void)
{
	static char stack[64 << 10] __attribute__((aligned(16)));
	size_t n = total_pages() / 4 ? total_pages() / 4 : 1;
	char *p = mmap(NULL, n * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	pid_t pid;

	if (p == MAP_FAILED)
		die("mmap: %m");
	leave_io_worker();
	rewrite_pages(add_region(p, n, new_ids(n)), 0, n);
	pid = clone(vfork_sleeper, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (pid < 0)
		die("clone CLONE_VFORK: %m");
	return wait_child(pid, "vfork child");
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define HUGE_SIZE (2UL << 20)

/* Transparent huge pages: a fresh quarter of the memory, 2 MiB aligned, asked for huge
 * pages and filled; wait until a pager has evicted at least half of it (it must split or
 * move the huge pages), read it back, then ask the kernel to collapse it into huge pages
 * again (MADV_COLLAPSE over evicted pages must not fill them with zeros). */
static int op_hugepage(void)
{
	size_t n = (total_pages() / 4) & ~(HUGE_SIZE / PAT_PAGE - 1), len = n * PAT_PAGE;
	char *raw, *p;
	struct region *r;
	uint64_t huge, before;
	double end;

	if (n == 0)
		die("hugepage: memory too small");
	raw = mmap(NULL, len + HUGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (raw == MAP_FAILED)
		die("mmap: %m");
	p = (char *)(((uintptr_t)raw + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	if (madvise(p, len, MADV_HUGEPAGE) < 0)
		die("madvise HUGEPAGE: %m");
	r = add_region(p, n, new_ids(n));
	before = own_rss_anon_kib();
	rewrite_pages(r, 0, n);
	huge = own_kib("smaps_rollup", "AnonHugePages:");
	printf(PROG ": hugepage: %" PRIu64 " kB of %zu in huge pages after the fill\n", huge,
	       len / 1024);
	for (end = wl_now() + 30; own_rss_anon_kib() > before + len / 1024 / 2; wl_sleep(0.05))
		if (wl_now() > end) {
			fprintf(stderr,
				PROG ": MISMATCH huge-page memory not evicted within 30 s (RssAnon "
				     "%" PRIu64 " kB)\n",
				own_rss_anon_kib());
			return 1;
		}
	if (verify_pages(r, 0, n, "in huge-page memory read back after its eviction"))
		return 1;
	if (madvise(p, len, MADV_COLLAPSE) < 0 && errno != EAGAIN && errno != EINVAL)
		printf(PROG ": hugepage: MADV_COLLAPSE: %s\n", strerror(errno));
	return verify_pages(r, 0, n, "after MADV_COLLAPSE") != 0;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* mremap with MREMAP_DONTUNMAP over evicted pages: the content moves to a new address, the
 * old range stays mapped and must read zero (its evicted copies moved with the content),
 * then both are written anew. */
static int op_mremap_dontunmap(void)
{
	struct region *r = largest_region();
	size_t chunk = r->npages / 8, start = r->npages / 8;
	char *old = r->addr + start * PAT_PAGE, *p;
	struct region *moved, *left;

	if (chunk == 0 || start + chunk > r->npages)
		die("mremap-dontunmap: region too small");
	p = mremap(old, chunk * PAT_PAGE, chunk * PAT_PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
		   NULL);
	if (p == MAP_FAILED)
		die("mremap MREMAP_DONTUNMAP: %m");
	/* r keeps [0, start); the old range gets fresh ids (must read zero); the rest of r and
	 * the moved chunk keep theirs */
	add_region(r->addr + (start + chunk) * PAT_PAGE, r->npages - start - chunk,
		   r->id0 + start + chunk);
	moved = add_region(p, chunk, r->id0 + start);
	r->npages = start;
	left = add_region(old, chunk, new_ids(chunk));
	if (verify_pages(moved, 0, chunk, "after mremap MREMAP_DONTUNMAP (moved chunk)") ||
	    verify_pages(left, 0, chunk,
			 "in the range MREMAP_DONTUNMAP left behind (must read zero)"))
		return 1;
	rewrite_pages(left, 0, chunk);
	rewrite_pages(moved, 0, chunk);
	return 0;
}

static void *run_ops_from(void *arg);

/* The main thread ends (pthread_exit) and a new thread runs the remaining ops: the process
 * lives on with a zombie leader, an io_uring worker thread beside it. */
static void main_exit(int next)
{
	pthread_t t;

	leave_io_worker();
	errno = pthread_create(&t, NULL, run_ops_from, (void *)(intptr_t)next);
	if (errno)
		die("pthread_create: %m");
	pthread_exit(NULL);
}

static atomic_int clone_vm_bad;

/* A process of its own sharing our mm: verify the first half of the largest region, page by
 * page, for 3 s. No libc beyond reads of memory and the clock: it shares our TLS. */
static int clone_vm_reader(void *arg)
{
	const struct region *r = arg;
	double end = wl_now() + 3;

	while (wl_now() < end && !atomic_load(&clone_vm_bad))
		for (size_t i = 0; i < r->npages / 2 && !atomic_load(&clone_vm_bad); i++)
			if (pat_check(r->addr + i * PAT_PAGE, M.seed, M.gen[r->id0 + i],
				      r->id0 + i) >= 0)
				atomic_store(&clone_vm_bad, (int)(i + 1));
	return 0;
}

/* clone(CLONE_VM) without CLONE_VFORK: a second process in our mm (no fork event, one
 * userfaultfd for both) reads the first half of the memory while we rewrite the second
 * half, so a pager evicts under both of them. */
static int op_clone_vm(void)
{
	static char stack[64 << 10] __attribute__((aligned(16)));
	struct region *r = largest_region();
	pid_t pid;
	int st, bad;

	atomic_store(&clone_vm_bad, 0);
	pid = clone(clone_vm_reader, stack + sizeof(stack), CLONE_VM | SIGCHLD, r);
	if (pid < 0)
		die("clone CLONE_VM: %m");
	for (size_t i = r->npages / 2; waitpid(pid, &st, WNOHANG) == 0;
	     i = i + 1 < r->npages ? i + 1 : r->npages / 2)
		rewrite_pages(r, i, 1);
	bad = atomic_load(&clone_vm_bad);
	if (bad) {
		/* say what the page holds now, if it is still wrong */
		if (!verify_pages(r, (size_t)bad - 1, 1, "read by a process sharing our mm"))
			fprintf(stderr,
				PROG ": MISMATCH a process sharing our mm read page %d wrong\n",
				bad - 1);
		return 1;
	}
	return child_status(pid, st, "reading our memory from a process sharing our mm");
}

#ifndef SYS_mseal
#define SYS_mseal 462
#endif

/* mseal (Linux 6.10) the first half of the largest region, which a pager has registered and
 * evicted from, and a fresh eighth of the memory filled just now, which it has not: their
 * mappings can no longer change (no munmap, mremap, mprotect, nor discarding madvise).
 * Exit 77 where the kernel has no mseal. */
static int op_mseal(void)
{
	struct region *r = largest_region();
	size_t n = total_pages() / 8 ? total_pages() / 8 : 1;
	char *p = mmap(NULL, n * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p == MAP_FAILED)
		die("mmap: %m");
	rewrite_pages(add_region(p, n, new_ids(n)), 0, n);
	if (syscall(SYS_mseal, r->addr, r->npages / 2 * PAT_PAGE, 0UL) < 0 ||
	    syscall(SYS_mseal, p, n * PAT_PAGE, 0UL) < 0) {
		if (errno == ENOSYS || errno == EINVAL)
			wl_exit(77, PROG, "", "mseal: %s (Linux 6.10 or later)", strerror(errno));
		die("mseal: %m");
	}
	printf(PROG ": mseal: %zu evicted and %zu fresh pages sealed\n", r->npages / 2, n);
	fflush(stdout);
	return 0;
}

/* close_range(3, ~0U): every fd but stdin, stdout and stderr, as daemons do at start; a
 * pager's fd in us goes too. */
static int op_close_fds(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		die("close_range: %m");
	return 0;
}

static void *exec_from_thread(void *arg)
{
	op_exec((int)(intptr_t)arg);
	return NULL;
}

static int run_op(int k)
{
	const char *op = M.ops[k];

	if (!strcmp(op, "verify"))
		return 0;
	if (!strcmp(op, "fork"))
		return op_fork();
	if (!strcmp(op, "fork-exec"))
		return op_fork_exec();
	if (!strncmp(op, "exec-race:", 10))
		return op_exec_race(strtoull(op + 10, NULL, 10));
	if (!strncmp(op, "fork-chain:", 11))
		return op_fork_chain(strtoull(op + 11, NULL, 10));
	if (!strncmp(op, "fork-many:", 10))
		return op_fork_many(strtoull(op + 10, NULL, 10));
	if (!strcmp(op, "wipefork"))
		return op_wipefork();
	if (!strcmp(op, "mremap"))
		return op_mremap();
	if (!strcmp(op, "munmap"))
		return op_munmap();
	if (!strcmp(op, "dontneed"))
		return op_dontneed();
	if (!strcmp(op, "write"))
		return op_write();
	if (!strcmp(op, "direct"))
		return op_direct();
	if (!strcmp(op, "uring"))
		return op_uring();
	if (!strcmp(op, "remote"))
		return op_remote();
	if (!strcmp(op, "mprotect"))
		return op_mprotect();
	if (!strcmp(op, "free"))
		return op_free();
	if (!strcmp(op, "populate"))
		return op_populate();
	if (!strcmp(op, "waits"))
		return op_waits();
	if (!strcmp(op, "signals"))
		return op_signals();
	if (!strcmp(op, "stopcont"))
		return op_stopcont();
	if (!strcmp(op, "bounded-wait"))
		return op_bounded_wait();
	if (!strcmp(op, "vfork-wait"))
		return op_vfork_wait();
	if (!strcmp(op, "hugepage"))
		return op_hugepage();
	if (!strcmp(op, "mremap-dontunmap"))
		return op_mremap_dontunmap();
	if (!strcmp(op, "close-fds"))
		return op_close_fds();
	if (!strcmp(op, "clone-vm"))
		return op_clone_vm();
	if (!strcmp(op, "mseal"))
		return op_mseal();
	if (!strcmp(op, "sigmask"))
		return op_sigmask();
	if (!strcmp(op, "caught"))
		return op_caught();
	if (!strcmp(op, "rseq"))
		return op_rseq();
	if (!strcmp(op, "rewrite"))
		return op_rewrite();
	if (!strcmp(op, "rewrite-odd"))
		return op_rewrite_odd();
	if (!strcmp(op, "exec")) {
		if (verify_all("before exec"))
			return 1;
		op_exec(k + 1);
	}
	if (!strcmp(op, "exec-thread")) {
		pthread_t t;

		if (verify_all("before exec"))
			return 1;
		/* The kernel ends every other thread and gives the exec'ing one our pid. */
		errno = pthread_create(&t, NULL, exec_from_thread, (void *)(intptr_t)(k + 1));
		if (errno)
			die("pthread_create: %m");
		pthread_join(t, NULL);
		die("exec from a thread did not happen");
	}
	if (!strncmp(op, "threads:", 8))
		return op_threads((unsigned)strtoul(op + 8, NULL, 10));
	die("unknown op %s", op);
	return 1;
}

static int touch_loop(void)
{
	double end = wl_now() + (double)M.touch;
	uint64_t x = M.seed | 1;
	size_t total = total_pages(), n = 0;

	while (wl_now() < end) {
		for (int k = 0; k < 256; k++, n++) {
			size_t i;
			const struct region *r;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			r = flat_page(x % total, &i);
			if (verify_pages(r, i, 1, "in touch-loop"))
				return 1;
		}
	}
	printf(PROG ": touch-loop verified %zu random pages\n", n);
	return 0;
}

/* ---- arguments ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTION...]\n"
		"Fill private anonymous memory with a seeded pattern and verify it.\n\n"
		"  --size MIB         memory to fill (default 64)\n"
		"  --seed N           pattern seed (default 1)\n"
		"  --ready FILE       write \"<pid>\\n\" to FILE (temp + rename) once filled\n"
		"  --wait             after the fill, block until SIGUSR1, then run the ops\n"
		"  --hold SECS        after the fill, sleep SECS instead of waiting for SIGUSR1\n"
		"  --ops LIST         comma list run in order, all memory verified after each:\n"
		"                     verify fork fork-exec wipefork mremap munmap dontneed\n"
		"                     write rewrite rewrite-odd\n"
		"                     direct (write(2) and read back with O_DIRECT, in /var/tmp)\n"
		"                     uring (the same with io_uring, half through io-wq)\n"
		"                     remote (a child reads all memory with process_vm_readv\n"
		"                     and /proc/PID/mem and writes some pages back)\n"
		"                     mprotect (read-only, no-access and read-write chunks)\n"
		"                     free (MADV_FREE: data or zero, then rewritten)\n"
		"                     populate (MADV_POPULATE_READ and _WRITE)\n"
		"                     waits (fill fresh memory, then block 3 s in sigtimedwait,\n"
		"                     epoll_wait and io_uring_enter with no timeout: never EINTR)\n"
		"                     signals (a child queues 20000 real-time signals while we\n"
		"                     rewrite memory: all delivered)\n"
		"                     stopcont (a child SIGSTOPs and SIGCONTs us for 3 s while we\n"
		"                     rewrite memory: every SIGSTOP stops us)\n"
		"                     bounded-wait (epoll_wait with a 50 ms timeout for 3 s, a\n"
		"                     second thread in read(2), fresh memory evicted meanwhile)\n"
		"                     vfork-wait (fill fresh memory, leave an io_uring worker\n"
		"                     thread, then sit 3 s in vfork)\n"
		"                     main-exit (leave an io_uring worker thread, end the main\n"
		"                     thread; a new thread runs the remaining ops)\n"
		"                     hugepage (fresh memory with MADV_HUGEPAGE: wait until half\n"
		"                     of it is evicted, read it back, MADV_COLLAPSE it)\n"
		"                     mremap-dontunmap (move an eighth of the memory with\n"
		"                     MREMAP_DONTUNMAP: the old range must read zero)\n"
		"                     exec-thread (exec ourselves from a second thread)\n"
		"                     close-fds (close_range(3, ~0U): all but 0, 1 and 2)\n"
		"                     clone-vm (a process sharing our mm, clone(CLONE_VM), reads\n"
		"                     half the memory for 3 s while we rewrite the other half)\n"
		"                     mseal (seal half of the evicted memory and a fresh eighth;\n"
		"                     exit 77 where the kernel has no mseal)\n"
		"                     sigmask (only the SIGUSR1 we block is blocked)\n"
		"                     caught (no SIGURG or SIGWINCH --catch caught came from\n"
		"                     ourselves)\n"
		"                     rseq (4 s of rseq critical sections in the main thread\n"
		"                     while a second one rewrites pages: none may run on after a\n"
		"                     preemption; exit 77 without an rseq area)\n"
		"                     exec threads:N exec-race:N (N fork children that each\n"
		"                     exec /bin/true after up to 2 ms)\n"
		"                     fork-chain:N (N generations of fork children, each\n"
		"                     rewriting its memory and waiting up to 60 s for a\n"
		"                     pager to evict half of it before forking the next)\n"
		"                     fork-many:N (N fork children alive at once, then each\n"
		"                     verifies 16 pages of what it inherited)\n"
		"  --touch-loop SECS  after the ops, verify random pages for SECS seconds\n"
		"  --mlock half|all   half: after the fill, mlock the first half of the first\n"
		"                     region; all: first mlockall(MCL_CURRENT | MCL_FUTURE)\n"
		"  --seccomp-kill LIST  after the fill, load a seccomp filter that kills the\n"
		"                     process for any of the system calls named in the comma\n"
		"                     list (as systemd's SystemCallFilter= does), none of which\n"
		"                     we make ourselves\n"
		"  --seccomp-refuse LIST  the same filter (with --seccomp-kill, one filter) makes\n"
		"                     the calls named fail with EPERM\n"
		"  --own-uffd         after the fill, register the first half of the memory\n"
		"                     with a userfaultfd of its own (write-protect mode, never\n"
		"                     protecting a page), as a program that pages itself would\n"
		"  --catch            catch SIGURG and SIGWINCH (see op caught)\n"
		"  --deny-exec        first refuse to make any memory executable (PR_SET_MDWE,\n"
		"                     as systemd's MemoryDenyWriteExecute= does); exit 77 where\n"
		"                     the kernel has no PR_SET_MDWE\n"
		"  --result FILE      write the exit status to FILE before exiting\n"
		"  --help             show this help\n\n"
		"Exit status: 0 verified, 1 mismatch or error, 2 bad arguments.\n");
}

#define bad_arg(...) wl_exit(2, PROG, "", __VA_ARGS__)

static void parse_ops(char *list)
{
	for (char *save = NULL, *op = strtok_r(list, ",", &save); op;
	     op = strtok_r(NULL, ",", &save)) {
		static const char *const known[] = {
			"verify",     "fork",	   "fork-exec", "wipefork",	    "mremap",
			"munmap",     "dontneed",  "write",	"rewrite",	    "rewrite-odd",
			"exec",	      "direct",	   "uring",	"remote",	    "mprotect",
			"free",	      "populate",  "waits",	"signals",	    "stopcont",
			"vfork-wait", "main-exit", "hugepage",	"mremap-dontunmap", "exec-thread",
			"close-fds",  "clone-vm",  "mseal",	"bounded-wait",	    "sigmask",
			"caught",     "rseq"
		};
		bool ok = false;
		uint64_t n;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= !strcmp(op, known[i]);
		if (!strncmp(op, "threads:", 8))
			ok = wl_parse_u64(op + 8, 1, MAX_THREADS, &n) == 0;
		if (!strncmp(op, "exec-race:", 10))
			ok = wl_parse_u64(op + 10, 1, 100000, &n) == 0;
		if (!strncmp(op, "fork-chain:", 11))
			ok = wl_parse_u64(op + 11, 1, 1000, &n) == 0;
		if (!strncmp(op, "fork-many:", 10))
			ok = wl_parse_u64(op + 10, 1, 100000, &n) == 0;
		if (!ok)
			bad_arg("unknown op '%s' (see --help)", op);
		if (M.nops == MAX_OPS)
			bad_arg("too many ops in '%s'", op);
		M.ops[M.nops++] = op;
	}
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_SIZE = 256,
		O_SEED,
		O_READY,
		O_WAIT,
		O_HOLD,
		O_OPS,
		O_TOUCH,
		O_RESULT,
		O_DENY_EXEC,
		O_CATCH,
		O_MLOCK,
		O_OWN_UFFD,
		O_SECCOMP_KILL,
		O_SECCOMP_REFUSE,
		O_HELP
	};
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "ready", required_argument, NULL, O_READY },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "ops", required_argument, NULL, O_OPS },
		{ "touch-loop", required_argument, NULL, O_TOUCH },
		{ "result", required_argument, NULL, O_RESULT },
		{ "deny-exec", no_argument, NULL, O_DENY_EXEC },
		{ "catch", no_argument, NULL, O_CATCH },
		{ "mlock", required_argument, NULL, O_MLOCK },
		{ "own-uffd", no_argument, NULL, O_OWN_UFFD },
		{ "seccomp-kill", required_argument, NULL, O_SECCOMP_KILL },
		{ "seccomp-refuse", required_argument, NULL, O_SECCOMP_REFUSE },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	char *ops;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (wl_parse_u64(optarg, 1, 1 << 20, &M.size_mib))
				bad_arg("invalid --size '%s' (MiB, 1..1048576)", optarg);
			break;
		case O_SEED:
			if (wl_parse_u64(optarg, 0, UINT64_MAX, &M.seed))
				bad_arg("invalid --seed '%s'", optarg);
			break;
		case O_READY:
			M.ready = optarg;
			break;
		case O_WAIT:
			M.wait = true;
			break;
		case O_HOLD:
			if (wl_parse_u64(optarg, 0, 86400, &M.hold))
				bad_arg("invalid --hold '%s' (seconds)", optarg);
			break;
		case O_OPS:
			/* a copy: strtok_r would otherwise show up in /proc/PID/cmdline */
			ops = strdup(optarg);
			if (!ops)
				die("strdup: %m");
			parse_ops(ops);
			break;
		case O_TOUCH:
			if (wl_parse_u64(optarg, 0, 86400, &M.touch))
				bad_arg("invalid --touch-loop '%s' (seconds)", optarg);
			break;
		case O_RESULT:
			wl_result = optarg;
			break;
		case O_DENY_EXEC:
			M.deny_exec = true;
			break;
		case O_CATCH:
			M.catch_signals = true;
			break;
		case O_OWN_UFFD:
			M.own_uffd = true;
			break;
		case O_SECCOMP_KILL:
			M.seccomp_kill = optarg;
			break;
		case O_SECCOMP_REFUSE:
			M.seccomp_refuse = optarg;
			break;
		case O_MLOCK:
			if (strcmp(optarg, "half") && strcmp(optarg, "all"))
				bad_arg("invalid --mlock '%s' (half or all)", optarg);
			M.mlock = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			exit(2); /* getopt_long printed the one line */
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (M.wait && M.hold)
		bad_arg("%s", "--wait and --hold exclude each other");
}

/* Run ops k.. with a verification after each, then the touch loop; exits the process. */
static void *run_ops_from(void *arg)
{
	for (int k = (int)(intptr_t)arg; k < M.nops; k++) {
		char when[64];

		if (!strcmp(M.ops[k], "main-exit"))
			main_exit(k + 1);
		else if (run_op(k))
			wl_finish(1);
		snprintf(when, sizeof(when), "after op %s", M.ops[k]);
		if (verify_all(when))
			wl_finish(1);
	}
	if (M.touch && touch_loop())
		wl_finish(1);
	wl_finish(0);
}

/* Add a rule with action to ctx for each system call in list (comma-separated names; opt
 * names the option, for errors). */
static void seccomp_rules(scmp_filter_ctx ctx, char *list, uint32_t action, const char *opt)
{
	for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		int nr = seccomp_syscall_resolve_name(name), r;

		if (nr == __NR_SCMP_ERROR)
			bad_arg("%s: unknown system call '%s'", opt, name);
		r = seccomp_rule_add(ctx, action, nr, 0);
		if (r < 0)
			die("seccomp_rule_add %s: %s", name, strerror(-r));
	}
}

/* Load a seccomp filter that allows everything but the system calls in kill (it kills the
 * process for them) and in refuse (they fail with EPERM). */
static void seccomp_filter(char *kill, char *refuse)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		die("seccomp_init failed");
	if (kill)
		seccomp_rules(ctx, kill, SCMP_ACT_KILL_PROCESS, "--seccomp-kill");
	if (refuse)
		seccomp_rules(ctx, refuse, SCMP_ACT_ERRNO(EPERM), "--seccomp-refuse");
	r = seccomp_load(ctx);
	if (r < 0)
		die("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
	printf(PROG ": seccomp filter loaded\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	sigset_t set;

	parse_args(argc, argv);
	if (M.catch_signals)
		install_catchers();
	if (M.deny_exec && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0) {
		fprintf(stderr, PROG ": PR_SET_MDWE: %s\n", strerror(errno));
		exit(errno == EINVAL ? 77 : 1);
	}
	/* blocked before the ready file exists: an early SIGUSR1 stays pending, never kills us */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (M.mlock && !strcmp(M.mlock, "all") && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		die("mlockall: %m");
	setup_and_fill();
	if (M.mlock && !strcmp(M.mlock, "half") &&
	    mlock(M.reg[0].addr, M.reg[0].npages / 2 * PAT_PAGE) < 0)
		die("mlock: %m");
	if (M.own_uffd)
		own_uffd();
	if (M.seccomp_kill || M.seccomp_refuse)
		seccomp_filter(M.seccomp_kill, M.seccomp_refuse);
	write_ready();
	wait_or_hold();
	if (getenv("MEMLOAD_FAULT"))
		inject_fault(getenv("MEMLOAD_FAULT"));
	/* every op is followed by a full verification: one more here would only cost time */
	if (M.nops == 0 && verify_all("after the wait"))
		wl_finish(1);
	run_ops_from((void *)0);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * memload: the victim program of the pager tests.
 *
 * Fills private anonymous memory with the seeded pattern of pattern.h, then (after --wait or
 * --hold) runs a list of operations that stress what a userspace pager must get right: fork
 * (EVENT_FORK, pages shared copy-on-write), fork+exec and posix_spawn (CLONE_VM|CLONE_VFORK),
 * mremap (EVENT_REMAP), munmap (EVENT_UNMAP), MADV_DONTNEED (EVENT_REMOVE), syscalls that read
 * and write evicted pages from kernel mode, exec (a new mm), and threads touching pages while
 * the pager evicts them. All live memory is verified after every operation.
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
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
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
	const char *mlock; /* NULL, "half" or "all" */
	bool own_uffd;
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

	/* room for the pages that mremap grows and for nothing else: ids are never reused */
	M.cap_ids = npages + npages / 2 + 1024;
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

static int wait_child(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid %s: %m", what);
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

/* The RssAnon of this process (kB), from /proc/self/status; 0 if unreadable. */
static uint64_t own_rss_anon_kib(void)
{
	char buf[4096], *s;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	s = strstr(buf, "RssAnon:");
	return s ? strtoull(s + 8, NULL, 10) : 0;
}

/* A chain of n generations, each the fork child of the one before: every generation
 * rewrites all of its memory (its own copy now), waits until a pager has evicted at least
 * half of it (up to 60 s: a pager that no longer adopts deep generations leaves it
 * resident), then forks the next. Every generation verifies its memory once its child is
 * done; the exit status covers the whole chain. */
static int op_fork_chain(uint64_t n)
{
	uint64_t own_kib = total_pages() * PAT_PAGE / 1024;

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
		while (own_rss_anon_kib() > own_kib / 2) {
			if (wl_now() > end) {
				fprintf(stderr,
					PROG ": fork-chain generation %" PRIu64
					     " (pid %d): RssAnon %" PRIu64 " kB of %" PRIu64
					     " kB not evicted within 60 s\n",
					gen, (int)getpid(), own_rss_anon_kib(), own_kib);
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
	char *buf = malloc(IO_CHUNK);

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

static int op_write(void)
{
	off_t off;
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		die("open O_TMPFILE in /tmp: %m");
	write_regions(fd, true);
	if (read_and_check(fd, true, "in data written to a file")) {
		close(fd);
		return 1;
	}
	/* read the file back over the mapping: copy_to_user into evicted pages */
	off = 0;
	for (int i = 0; i < M.nreg; i++) {
		size_t len = M.reg[i].npages * PAT_PAGE;
		ssize_t n = full_io(fd, M.reg[i].addr, len, off, false);

		if (n != (ssize_t)len)
			die("pread into %p: %s", (void *)M.reg[i].addr,
			    n < 0 ? strerror((int)-n) : "short read");
		off += (off_t)len;
	}
	close(fd);
	if (verify_all("after read(2) of the file back into the mapping"))
		return 1;
	return write_via_pipe();
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
	if (!strcmp(op, "rewrite"))
		return op_rewrite();
	if (!strcmp(op, "rewrite-odd"))
		return op_rewrite_odd();
	if (!strcmp(op, "exec")) {
		if (verify_all("before exec"))
			return 1;
		op_exec(k + 1);
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
		"                     exec threads:N exec-race:N (N fork children that each\n"
		"                     exec /bin/true after up to 2 ms)\n"
		"                     fork-chain:N (N generations of fork children, each\n"
		"                     rewriting its memory and waiting up to 60 s for a\n"
		"                     pager to evict half of it before forking the next)\n"
		"  --touch-loop SECS  after the ops, verify random pages for SECS seconds\n"
		"  --mlock half|all   half: after the fill, mlock the first half of the first\n"
		"                     region; all: first mlockall(MCL_CURRENT | MCL_FUTURE)\n"
		"  --own-uffd         after the fill, register the first half of the memory\n"
		"                     with a userfaultfd of its own (write-protect mode, never\n"
		"                     protecting a page), as a program that pages itself would\n"
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
		static const char *const known[] = { "verify",	    "fork",   "fork-exec",
						     "wipefork",    "mremap", "munmap",
						     "dontneed",    "write",  "rewrite",
						     "rewrite-odd", "exec" };
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
		O_MLOCK,
		O_OWN_UFFD,
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
		{ "mlock", required_argument, NULL, O_MLOCK },
		{ "own-uffd", no_argument, NULL, O_OWN_UFFD },
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
		case O_OWN_UFFD:
			M.own_uffd = true;
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

int main(int argc, char **argv)
{
	sigset_t set;

	parse_args(argc, argv);
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
	write_ready();
	wait_or_hold();
	if (getenv("MEMLOAD_FAULT"))
		inject_fault(getenv("MEMLOAD_FAULT"));
	/* every op is followed by a full verification: one more here would only cost time */
	if (M.nops == 0 && verify_all("after the wait"))
		wl_finish(1);
	for (int k = 0; k < M.nops; k++) {
		char when[64];

		if (run_op(k))
			wl_finish(1);
		snprintf(when, sizeof(when), "after op %s", M.ops[k]);
		if (verify_all(when))
			wl_finish(1);
	}
	if (M.touch && touch_loop())
		wl_finish(1);
	wl_finish(0);
}

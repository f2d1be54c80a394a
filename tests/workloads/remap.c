// SPDX-License-Identifier: Apache-2.0
/*
 * remap: a fork child maps new memory where its parent had paged memory that fork did not
 * copy. A new VMA starts unregistered with the pager's uffd; a pager that took it for
 * registered (going by the parent's registrations) would move its pages out with nothing to
 * fault them back from, and the child would read zeros.
 *
 * The parent fills --size MiB, marks it MADV_DONTFORK and holds it while the pager registers
 * and pages it; then it forks. The child maps a new VMA at the same address, fills it with
 * another seed, and verifies and rewrites it for --secs seconds; the parent verifies its own.
 *
 * --hole --ready FILE: a program that maps its own old addresses back, for `uswap-shim
 * attach`. It fills --size MiB, maps 64 MiB and unmaps it again (a hole, where mmap would put
 * the next mapping), writes its pid to FILE and waits for SIGUSR1. Then it maps the hole back
 * with MAP_FIXED, fills it, and verifies both. A pager that put its own mappings into the
 * hole loses them there. With --clobber FILE it first maps memory with MAP_FIXED at the
 * address FILE names (hex), before the hole, filled with 0x5a: 16 MiB, or as many bytes as a
 * second number in FILE says; with a third word "copy", filled with what was there before
 * (readable memory only); with "dontneed", nothing is mapped, that memory is discarded with
 * MADV_DONTNEED. The tests pass the pager's stash, scratch or runner, as a program that maps
 * over or discards memory not its own would.
 *
 * Exit 0 all verified, 1 a mismatch ("MISMATCH" on stderr) or an error, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>

#include "pattern.h"

#define PROG "remap"

#define bad_arg(...) wl_exit(2, PROG, "", __VA_ARGS__)

static void fill(char *mem, size_t npages, uint64_t seed, uint32_t gen)
{
	for (size_t i = 0; i < npages; i++)
		pat_fill(mem + i * PAT_PAGE, seed, gen, i);
}

/* 0 all pages as filled, 1 (reported) otherwise. */
static int verify(const char *when, char *mem, size_t npages, uint64_t seed, uint32_t gen)
{
	size_t bad = 0, first = 0;
	long word = -1;

	for (size_t i = 0; i < npages; i++) {
		long w = pat_check(mem + i * PAT_PAGE, seed, gen, i);

		if (w >= 0 && !bad++) {
			first = i;
			word = w;
		}
	}
	if (bad)
		pat_report(PROG, when, mem + first * PAT_PAGE, seed, gen, first, word, bad);
	return bad ? 1 : 0;
}

static char *map_at(void *addr, size_t len)
{
	int fixed = addr ? MAP_FIXED_NOREPLACE : 0;
	char *m =
		mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);

	if (m == MAP_FAILED || (addr && m != addr))
		wl_die(PROG, "mmap of %zu bytes at %p failed", len, addr);
	return m;
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void clobber(const char *file)
{
	unsigned long long addr = 0, n = 16ull << 20;
	FILE *f = fopen(file, "re");
	char how[16] = "";
	void *old = NULL;
	size_t len;
	char *m;

	if (!f || fscanf(f, "%llx", &addr) != 1)
		wl_die(PROG, "no address in %s", file);
	if (fscanf(f, "%llu %15s", &n, how) >= 1 && (n == 0 || n > 1ull << 30))
		wl_die(PROG, "bad length %llu in %s", n, file);
	fclose(f);
	len = (size_t)n;
	/* "dontneed": no new mapping, only MADV_DONTNEED on what is there */
	if (!strcmp(how, "dontneed")) {
		if (madvise((void *)(uintptr_t)addr, len, MADV_DONTNEED) < 0)
			wl_die(PROG, "MADV_DONTNEED at %#llx: %s", addr, strerror(errno));
		return;
	}
	/* "copy": the same bytes as what was there, in memory that is not executable */
	if (!strcmp(how, "copy")) {
		old = malloc(len);
		if (!old)
			wl_die(PROG, "out of memory");
		memcpy(old, (void *)(uintptr_t)addr, len);
	}
	m = mmap((void *)(uintptr_t)addr, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (m == MAP_FAILED)
		wl_die(PROG, "mmap MAP_FIXED at %#llx: %s", addr, strerror(errno));
	if (old)
		memcpy(m, old, len);
	else
		memset(m, 0x5a, len);
	free(old);
}

static int hole(size_t npages, const char *ready, const char *clobber_file)
{
	size_t hpages = (64ul << 20) / PAT_PAGE, len = hpages * PAT_PAGE;
	char *mem = map_at(NULL, npages * PAT_PAGE), *h, buf[32];
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigaction(SIGUSR1, &sa, NULL);
	fill(mem, npages, 44, 1);
	h = map_at(NULL, len);
	munmap(h, len);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (wl_write_atomic(ready, buf) < 0)
		wl_die(PROG, "cannot write %s", ready);
	while (!go)
		pause();
	if (clobber_file)
		clobber(clobber_file);
	if (mmap(h, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
	    h)
		wl_die(PROG, "mmap MAP_FIXED at %p: %s", (void *)h, strerror(errno));
	fill(h, hpages, 55, 1);
	return verify("in the mapped-back hole", h, hpages, 55, 1) |
	       verify("in the first mapping", mem, npages, 44, 1);
}

static int dontfork(size_t npages, double secs)
{
	size_t len = npages * PAT_PAGE;
	char *mem = map_at(NULL, len);
	int st, r = 0;
	pid_t child;

	fill(mem, npages, 11, 1);
	if (madvise(mem, len, MADV_DONTFORK) < 0)
		wl_die(PROG, "MADV_DONTFORK: %s", strerror(errno));
	/* Long enough for the pager to register this VMA and page some of it. */
	wl_sleep(2);
	child = fork();
	if (child < 0)
		wl_die(PROG, "fork: %s", strerror(errno));
	if (child == 0) {
		double end = wl_now() + secs;
		uint32_t gen = 1;
		int bad = 0;

		map_at(mem, len);
		fill(mem, npages, 22, gen);
		while (!bad && wl_now() < end) {
			bad = verify("in the fork child's new mapping", mem, npages, 22, gen);
			fill(mem, npages, 22, ++gen);
		}
		_exit(bad);
	}
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		r = 1;
	return verify("in the parent", mem, npages, 11, 1) || r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "secs", required_argument, NULL, 't' },
		{ "hole", no_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'R' },
		{ "clobber", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size_mib = 16, secs = 3;
	const char *ready = NULL, *clobber_file = NULL;
	bool with_hole = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (wl_parse_u64(optarg, 1, 1 << 20, &size_mib))
				bad_arg("invalid --size '%s' (MiB)", optarg);
			break;
		case 't':
			if (wl_parse_u64(optarg, 1, 3600, &secs))
				bad_arg("invalid --secs '%s'", optarg);
			break;
		case 'H':
			with_hole = true;
			break;
		case 'R':
			ready = optarg;
			break;
		case 'C':
			clobber_file = optarg;
			break;
		case 'h':
			printf("Usage: " PROG
			       " [--size MIB] [--secs N] | [--size MIB] --hole --ready FILE [--clobber FILE]\n");
			return 0;
		default:
			bad_arg("invalid option (see --help)");
		}
	}
	if (with_hole && !ready)
		bad_arg("--hole needs --ready FILE");
	if (with_hole)
		return hole((size_t)(size_mib << 20) / PAT_PAGE, ready, clobber_file);
	return dontfork((size_t)(size_mib << 20) / PAT_PAGE, (double)secs);
}

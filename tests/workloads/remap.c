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
 * Exit 0 all verified, 1 a mismatch ("MISMATCH" on stderr) or an error, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <sys/mman.h>
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size_mib = 16, secs = 3;
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
		case 'h':
			printf("Usage: " PROG " [--size MIB] [--secs N]\n");
			return 0;
		default:
			bad_arg("invalid option (see --help)");
		}
	}
	return dontfork((size_t)(size_mib << 20) / PAT_PAGE, (double)secs);
}

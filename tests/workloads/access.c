// SPDX-License-Identifier: Apache-2.0
/*
 * access: the benchmark workload (tests/bench/bench.sh).
 *
 * Maps --size MiB of private anonymous memory, fills it with the seeded pattern of pattern.h
 * (generation 1), then runs one timed phase of --touches page touches in an access --pattern:
 *
 *   seq      pages in address order, wrapping around (touches > pages: several passes)
 *   random   pages drawn with xorshift64 (with replacement)
 *   hotcold  90% of touches on the first 10% of the pages, 10% on the rest, both random
 *   write    pages rewritten in address order with the next generation (2, then 3, ...)
 *   stride   every --stride'th page in address order (negative: from the end down), then
 *            around again one page further on, until every page had its turn, and so on
 *
 * A read touch checks the whole page against its pattern, so every page read is verified
 * as it is touched; a write touch writes the whole page. Only the phase is timed
 * (CLOCK_MONOTONIC). Then every page is verified against the generation it must hold, and
 * one line is printed:
 *
 *   access: pattern=seq pages=65536 touches=131072 seconds=2.01 ns_per_touch=15335.2 ...
 *
 * --mark FILE gets "ready" after the fill and "done" after the phase (temp + rename). With
 * --handshake the workload then waits for SIGUSR1 each time, so that a benchmark can wait
 * for a pager to reach its target and read counters that cover the phase alone, with no
 * race and nothing of that in the timed phase.
 * Exit status: 0 every page verified, 1 a mismatch ("access: MISMATCH" on stderr) or an
 * error, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>

#include "pattern.h"

#define PROG "access"

enum pattern {
	P_SEQ,
	P_RANDOM,
	P_HOTCOLD,
	P_WRITE,
	P_STRIDE,
};

static const char *const pattern_names[] = { "seq", "random", "hotcold", "write", "stride" };

static struct {
	uint64_t size_mib;
	uint64_t touches;
	bool touches_set;
	uint64_t seed;
	enum pattern pattern;
	int64_t stride;
	const char *mark;
	bool handshake;

	char *mem;
	size_t npages;
	size_t nbad;
} A = { .size_mib = 256, .seed = 1, .stride = 8 };

#define die(...) wl_exit(1, PROG, "ERROR: ", __VA_ARGS__)

#define bad_arg(...) wl_exit(2, PROG, "", __VA_ARGS__)

static void mark(const char *what)
{
	char buf[32];
	int r;

	if (!A.mark)
		return;
	snprintf(buf, sizeof(buf), "%s\n", what);
	r = wl_write_atomic(A.mark, buf);
	if (r < 0)
		die("write mark file %s: %s", A.mark, strerror(-r));
}

/* Write the mark, then with --handshake wait for SIGUSR1 (blocked since start). */
static void mark_and_wait(const char *what)
{
	struct timespec limit = { .tv_sec = 3600 };
	sigset_t set;

	mark(what);
	if (!A.handshake)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	/* bounded: a benchmark that died must not leave us waiting forever */
	while (sigtimedwait(&set, NULL, &limit) < 0) {
		if (errno == EAGAIN)
			die("no SIGUSR1 within %ld s after \"%s\"", (long)limit.tv_sec, what);
		if (errno != EINTR)
			die("sigtimedwait: %m");
	}
}

static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Generation page i holds after the phase: only the write pattern changes any. */
static uint32_t final_gen(size_t i)
{
	uint64_t passes;

	if (A.pattern != P_WRITE)
		return 1;
	passes = A.touches / A.npages + (i < A.touches % A.npages);
	return (uint32_t)(1 + passes);
}

static void check_page(size_t i, uint32_t gen, const char *when)
{
	char *page = A.mem + i * PAT_PAGE;
	long w = pat_check(page, A.seed, gen, i);

	/* the first bad page is described in full; the count comes with the result line */
	if (w >= 0 && A.nbad++ == 0)
		pat_report(PROG, when, page, A.seed, gen, i, w, 1);
}

static void read_touch(size_t i)
{
	check_page(i, 1, "in the timed phase");
}

static void run_seq(void)
{
	size_t i = 0;

	for (uint64_t t = 0; t < A.touches; t++) {
		read_touch(i);
		if (++i == A.npages)
			i = 0;
	}
}

static void run_random(void)
{
	uint64_t x = pat_mix(A.seed) | 1;

	for (uint64_t t = 0; t < A.touches; t++)
		read_touch(xorshift64(&x) % A.npages);
}

static void run_hotcold(void)
{
	size_t hot = A.npages / 10 ? A.npages / 10 : 1;
	size_t cold = A.npages - hot;
	uint64_t x = pat_mix(A.seed) | 1;

	for (uint64_t t = 0; t < A.touches; t++) {
		uint64_t coin = xorshift64(&x) % 10, r = xorshift64(&x);

		read_touch(coin < 9 || cold == 0 ? r % hot : hot + r % cold);
	}
}

static void run_stride(void)
{
	size_t step = (size_t)(A.stride < 0 ? -A.stride : A.stride), col = 0, i = 0;

	for (uint64_t t = 0; t < A.touches; t++) {
		read_touch(A.stride < 0 ? A.npages - 1 - i : i);
		i += step;
		if (i >= A.npages) {
			col = (col + 1) % step;
			i = col;
		}
	}
}

static void run_write(void)
{
	size_t i = 0;
	uint32_t gen = 2;

	for (uint64_t t = 0; t < A.touches; t++) {
		pat_fill(A.mem + i * PAT_PAGE, A.seed, gen, i);
		if (++i == A.npages) {
			i = 0;
			gen++;
		}
	}
}

/* VmHWM of this process in MiB: the kernel's own peak, a cross-check of a sampled peak. */
static double vm_hwm_mib(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long kib = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (double)kib / 1024;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTION...]\n"
		"Fill private anonymous memory with a seeded pattern, time one access phase,\n"
		"verify everything.\n\n"
		"  --size MIB         memory to map and fill (default 256)\n"
		"  --pattern P        seq | random | hotcold | write | stride (default seq)\n"
		"  --stride N         pages between touches of the stride pattern, negative:\n"
		"                     downwards (default 8)\n"
		"  --touches N        page touches in the timed phase (default: one per page)\n"
		"  --seed N           pattern and access-order seed (default 1)\n"
		"  --mark FILE        write \"ready\" to FILE after the fill, \"done\" after the phase\n"
		"  --handshake        after each mark, wait for SIGUSR1\n"
		"  --help             show this help\n\n"
		"Exit status: 0 verified, 1 mismatch or error, 2 bad arguments.\n");
}

static int parse_pattern(const char *s, enum pattern *ret)
{
	for (size_t p = 0; p < sizeof(pattern_names) / sizeof(pattern_names[0]); p++) {
		if (!strcmp(s, pattern_names[p])) {
			*ret = (enum pattern)p;
			return 0;
		}
	}
	return -EINVAL;
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_SIZE = 256,
		O_PATTERN,
		O_TOUCHES,
		O_STRIDE,
		O_SEED,
		O_MARK,
		O_HANDSHAKE,
		O_HELP
	};
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "pattern", required_argument, NULL, O_PATTERN },
		{ "touches", required_argument, NULL, O_TOUCHES },
		{ "stride", required_argument, NULL, O_STRIDE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "mark", required_argument, NULL, O_MARK },
		{ "handshake", no_argument, NULL, O_HANDSHAKE },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (wl_parse_u64(optarg, 1, 1 << 20, &A.size_mib))
				bad_arg("invalid --size '%s' (MiB, 1..1048576)", optarg);
			break;
		case O_PATTERN:
			if (parse_pattern(optarg, &A.pattern))
				bad_arg("invalid --pattern '%s' (seq, random, hotcold, write or "
					"stride)",
					optarg);
			break;
		case O_TOUCHES:
			if (wl_parse_u64(optarg, 1, UINT64_MAX / 2, &A.touches))
				bad_arg("invalid --touches '%s'", optarg);
			A.touches_set = true;
			break;
		case O_STRIDE: {
			char *end;

			errno = 0;
			A.stride = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || A.stride == 0 || A.stride > 1 << 20 ||
			    A.stride < -(1 << 20))
				bad_arg("invalid --stride '%s' (pages, -1048576..1048576, not 0)",
					optarg);
			break;
		}
		case O_SEED:
			if (wl_parse_u64(optarg, 0, UINT64_MAX, &A.seed))
				bad_arg("invalid --seed '%s'", optarg);
			break;
		case O_MARK:
			A.mark = optarg;
			break;
		case O_HANDSHAKE:
			A.handshake = true;
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
	if (A.handshake && !A.mark)
		bad_arg("%s", "--handshake needs --mark");
}

int main(int argc, char **argv)
{
	double t0, fill_s, phase_s, verify_s, ns;
	sigset_t set;

	parse_args(argc, argv);
	/* blocked before any mark exists: an early SIGUSR1 stays pending, never kills us */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	A.npages = (size_t)(A.size_mib << 20) / PAT_PAGE;
	if (!A.touches_set)
		A.touches = A.npages;
	A.mem = mmap(NULL, A.npages * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	if (A.mem == MAP_FAILED)
		die("mmap %" PRIu64 " MiB: %m", A.size_mib);

	t0 = wl_now();
	for (size_t i = 0; i < A.npages; i++)
		pat_fill(A.mem + i * PAT_PAGE, A.seed, 1, i);
	fill_s = wl_now() - t0;

	mark_and_wait("ready");
	t0 = wl_now();
	switch (A.pattern) {
	case P_SEQ:
		run_seq();
		break;
	case P_RANDOM:
		run_random();
		break;
	case P_HOTCOLD:
		run_hotcold();
		break;
	case P_WRITE:
		run_write();
		break;
	case P_STRIDE:
		run_stride();
		break;
	}
	phase_s = wl_now() - t0;
	mark_and_wait("done");

	t0 = wl_now();
	for (size_t i = 0; i < A.npages; i++)
		check_page(i, final_gen(i), "in the final verification");
	verify_s = wl_now() - t0;

	ns = phase_s * 1e9 / (double)A.touches;
	printf(PROG ": pattern=%s pages=%zu touches=%" PRIu64 " seconds=%.6f ns_per_touch=%.1f"
		    " mib_per_s=%.1f fill_seconds=%.3f verify_seconds=%.3f vm_hwm_mib=%.1f"
		    " verified=%s bad_checks=%zu\n",
	       pattern_names[A.pattern], A.npages, A.touches, phase_s, ns,
	       (double)A.touches * PAT_PAGE / (1 << 20) / phase_s, fill_s, verify_s, vm_hwm_mib(),
	       A.nbad ? "FAILED" : "ok", A.nbad);
	return A.nbad ? 1 : 0;
}

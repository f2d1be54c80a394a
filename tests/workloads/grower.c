// SPDX-License-Identifier: Apache-2.0
/*
 * grower: writes new memory at a steady rate, as a process that keeps allocating would.
 *
 * Maps --size MiB of private anonymous memory and fills it page by page with the seeded
 * pattern of pattern.h at --rate MiB/s (paced every 1 MiB), writes the ready file when done,
 * then verifies every page and exits: 0 all verified, 1 a mismatch ("MISMATCH" on stderr) or
 * an error, 2 bad arguments. The pager tests sample its resident memory meanwhile.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/mman.h>

#include "pattern.h"

#define PROG "grower"
#define STEP (1UL << 20)

#define bad_arg(...) wl_exit(2, PROG, "", __VA_ARGS__)

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "ready", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size_mib = 1024, rate = 200, seed = 7;
	const char *ready = NULL;
	size_t npages, bad = 0;
	double t0;
	char *mem;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (wl_parse_u64(optarg, 1, 1 << 20, &size_mib))
				bad_arg("invalid --size '%s' (MiB)", optarg);
			break;
		case 'r':
			if (wl_parse_u64(optarg, 1, 1 << 20, &rate))
				bad_arg("invalid --rate '%s' (MiB/s)", optarg);
			break;
		case 'R':
			ready = optarg;
			break;
		case 'h':
			printf("Usage: " PROG " [--size MIB] [--rate MIB_PER_S] [--ready FILE]\n");
			return 0;
		default:
			bad_arg("invalid option (see --help)");
		}
	}
	npages = (size_t)(size_mib << 20) / PAT_PAGE;
	mem = mmap(NULL, npages * PAT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, PROG ": ERROR: mmap %" PRIu64 " MiB failed\n", size_mib);
		return 1;
	}
	t0 = wl_now();
	for (size_t i = 0; i < npages; i++) {
		pat_fill(mem + i * PAT_PAGE, seed, 1, i);
		if ((i + 1) % (STEP / PAT_PAGE) == 0) {
			double due = t0 + (double)((i + 1) * PAT_PAGE) / (double)(rate << 20);

			if (due > wl_now())
				wl_sleep(due - wl_now());
		}
	}
	printf(PROG ": wrote %" PRIu64 " MiB in %.2f s\n", size_mib, wl_now() - t0);
	if (ready) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (wl_write_atomic(ready, buf) < 0) {
			fprintf(stderr, PROG ": ERROR: cannot write %s\n", ready);
			return 1;
		}
	}
	for (size_t i = 0; i < npages; i++) {
		long w = pat_check(mem + i * PAT_PAGE, seed, 1, i);

		if (w >= 0 && bad++ == 0)
			pat_report(PROG, "after growing", mem + i * PAT_PAGE, seed, 1, i, w, 1);
	}
	if (bad) {
		fprintf(stderr, PROG ": MISMATCH in %zu of %zu pages\n", bad, npages);
		return 1;
	}
	printf(PROG ": verified %zu pages\n", npages);
	return 0;
}

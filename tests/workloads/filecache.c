// SPDX-License-Identifier: Apache-2.0
/*
 * filecache: page cache for the pager tests.
 *
 * Writes two files in --dir with the seeded pattern of pattern.h and fsyncs them, so their
 * pages are clean page cache charged to this process's memory cgroup. read.dat (--read MiB)
 * is then read back with read(2): page cache that no process maps. map.dat (--map MiB) is
 * mapped shared read-only and every page touched: page cache this process maps. After the
 * ready file, it waits for SIGUSR1, then verifies every page of both files, read.dat through
 * read(2) and map.dat through the mapping (pages the kernel reclaimed meanwhile are read
 * back from disk), and writes its exit status to --result.
 *
 * Exit status: 0 verified, 1 a mismatch ("filecache: MISMATCH" on stderr) or an error,
 * 2 bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>

#include "pattern.h"

#define PROG "filecache"
#define MAP_ID0 (1ull << 32) /* page ids of map.dat: never those of read.dat */

static struct {
	const char *dir;
	uint64_t read_mib, map_mib, seed;
	const char *ready;
} F = { .dir = ".", .read_mib = 64, .map_mib = 64, .seed = 1 };

#define die(...) wl_die(PROG, __VA_ARGS__)

/* Create DIR/name with npages pattern pages whose ids start at id0; fsync'ed. */
static int create_file(const char *name, uint64_t npages, uint64_t id0)
{
	static char page[PAT_PAGE] __attribute__((aligned(PAT_PAGE)));
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %m", path);
	for (uint64_t i = 0; i < npages; i++) {
		pat_fill(page, F.seed, 1, id0 + i);
		if (pwrite(fd, page, PAT_PAGE, (off_t)(i * PAT_PAGE)) != (ssize_t)PAT_PAGE)
			die("write %s: %m", path);
	}
	/* clean pages: the kernel may drop them without writing anything */
	if (fsync(fd) < 0)
		die("fsync %s: %m", path);
	return fd;
}

/* Read every page of fd with pread and check it; with check false just pull it in. */
static size_t read_pages(int fd, uint64_t npages, uint64_t id0, bool check, const char *when)
{
	static char page[PAT_PAGE] __attribute__((aligned(PAT_PAGE)));
	size_t nbad = 0;

	for (uint64_t i = 0; i < npages; i++) {
		long w;

		if (pread(fd, page, PAT_PAGE, (off_t)(i * PAT_PAGE)) != (ssize_t)PAT_PAGE)
			die("read read.dat: %m");
		if (!check || (w = pat_check(page, F.seed, 1, id0 + i)) < 0)
			continue;
		if (nbad++ == 0)
			pat_report(PROG, when, page, F.seed, 1, id0 + i, w, 1);
	}
	return nbad;
}

static size_t check_map(const char *map, uint64_t npages, const char *when)
{
	size_t nbad = 0;

	for (uint64_t i = 0; i < npages; i++) {
		long w = pat_check(map + i * PAT_PAGE, F.seed, 1, MAP_ID0 + i);

		if (w >= 0 && nbad++ == 0)
			pat_report(PROG, when, map + i * PAT_PAGE, F.seed, 1, MAP_ID0 + i, w, 1);
	}
	return nbad;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [OPTION...]\n"
		   "Fill page cache with two pattern files, wait for SIGUSR1, verify them.\n\n"
		   "  --dir DIR      where read.dat and map.dat are written (default .)\n"
		   "  --read MIB     size of read.dat, read with read(2) (default 64)\n"
		   "  --map MIB      size of map.dat, mapped and touched (default 64)\n"
		   "  --seed N       pattern seed (default 1)\n"
		   "  --ready FILE   write \"<pid>\\n\" to FILE once the cache is filled\n"
		   "  --result FILE  write the exit status to FILE before exiting\n"
		   "  --help         show this help\n\n"
		   "Exit status: 0 verified, 1 mismatch or error, 2 bad arguments.\n");
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_DIR = 256,
		O_READ,
		O_MAP,
		O_SEED,
		O_READY,
		O_RESULT,
		O_HELP
	};
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "read", required_argument, NULL, O_READ },
		{ "map", required_argument, NULL, O_MAP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "ready", required_argument, NULL, O_READY },
		{ "result", required_argument, NULL, O_RESULT },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_DIR:
			F.dir = optarg;
			break;
		case O_READ:
		case O_MAP:
			if (wl_parse_u64(optarg, 1, 1 << 16,
					 c == O_READ ? &F.read_mib : &F.map_mib))
				wl_exit(2, PROG, "", "invalid --%s '%s' (MiB, 1..65536)",
					c == O_READ ? "read" : "map", optarg);
			break;
		case O_SEED:
			if (wl_parse_u64(optarg, 0, UINT64_MAX, &F.seed))
				wl_exit(2, PROG, "", "invalid --seed '%s'", optarg);
			break;
		case O_READY:
			F.ready = optarg;
			break;
		case O_RESULT:
			wl_result = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			exit(2); /* getopt_long printed the one line */
		}
	}
	if (optind < argc)
		wl_exit(2, PROG, "", "unexpected argument '%s'", argv[optind]);
}

int main(int argc, char **argv)
{
	uint64_t rpages, mpages;
	char buf[32], *map;
	size_t nbad;
	sigset_t set;
	int sig, rfd, mfd;

	parse_args(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);

	rpages = F.read_mib * (1 << 20) / PAT_PAGE;
	mpages = F.map_mib * (1 << 20) / PAT_PAGE;
	rfd = create_file("read.dat", rpages, 0);
	mfd = create_file("map.dat", mpages, MAP_ID0);
	read_pages(rfd, rpages, 0, false, NULL);
	map = mmap(NULL, mpages * PAT_PAGE, PROT_READ, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED)
		die("mmap map.dat: %m");
	if (check_map(map, mpages, "after the fill"))
		wl_finish(1);
	if (F.ready) {
		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (wl_write_atomic(F.ready, buf) < 0)
			die("write ready file %s: %m", F.ready);
	}
	if (sigwait(&set, &sig) != 0)
		die("sigwait failed");
	nbad = read_pages(rfd, rpages, 0, true, "in read.dat after the wait");
	nbad += check_map(map, mpages, "in map.dat after the wait");
	printf(PROG ": verified %llu + %llu MiB of file pages, %zu bad\n",
	       (unsigned long long)F.read_mib, (unsigned long long)F.map_mib, nbad);
	wl_finish(nbad ? 1 : 0);
}

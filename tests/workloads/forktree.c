// SPDX-License-Identifier: Apache-2.0
/*
 * forktree: a process tree for the pager tests.
 *
 *   root (fills A)
 *   +-- child 0 (inherits A and rewrites every other page of it, fills B0)
 *   |   `-- grandchild 0 (inherits A and B0, fills C0)
 *   `-- child 1 (same with B1, C1)
 *
 * So the tree holds pages private to one process, pages shared copy-on-write by several, and
 * pages that diverged after the fork, each expected differently by each process. Everyone
 * reports "filled" on a pipe; the root then writes the ready file (all pids, root first, one
 * per line) and waits for SIGUSR1, which it forwards to the others. Each process verifies
 * its view of every region; a parent waits for its children, and each exit status is the AND
 * of its own verification and its children's. Exit 0 all verified, 1 a mismatch, 2 bad
 * arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "pattern.h"

#define PROG "forktree"
#define NCHILD 2
#define NPROC (1 + 2 * NCHILD)

struct region {
	char *addr;
	size_t npages;
	uint64_t seed;
	uint32_t *gen; /* this process's expectation; copied by fork like the data */
};

static struct {
	uint64_t size_mib;
	uint64_t seed;
	const char *ready;
	int pipe_w;
} F = { .size_mib = 32, .seed = 1, .pipe_w = -1 };

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ERROR: pid %d: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void region_fill(struct region *r, const char *name, uint64_t seed)
{
	r->npages = (size_t)(F.size_mib << 20) / PAT_PAGE;
	r->seed = seed;
	r->gen = malloc(r->npages * sizeof(r->gen[0]));
	r->addr = mmap(NULL, r->npages * PAT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!r->gen || r->addr == MAP_FAILED)
		die("allocating region %s: %m", name);
	for (size_t i = 0; i < r->npages; i++) {
		r->gen[i] = 1;
		pat_fill(r->addr + i * PAT_PAGE, r->seed, 1, i);
	}
}

/* Rewrite every other page of an inherited region: from now on this copy differs. */
static void region_diverge(struct region *r)
{
	for (size_t i = 1; i < r->npages; i += 2)
		pat_fill(r->addr + i * PAT_PAGE, r->seed, ++r->gen[i], i);
}

static int region_verify(const struct region *r, const char *name)
{
	size_t nbad = 0, first = 0;
	long word = -1;
	char when[96];

	for (size_t i = 0; i < r->npages; i++) {
		long w = pat_check(r->addr + i * PAT_PAGE, r->seed, r->gen[i], i);

		if (w >= 0 && nbad++ == 0) {
			first = i;
			word = w;
		}
	}
	if (!nbad)
		return 0;
	snprintf(when, sizeof(when), "in region %s", name);
	pat_report(PROG, when, r->addr + first * PAT_PAGE, r->seed, r->gen[first], first, word,
		   nbad);
	return 1;
}

static void wait_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigwait(&set, &sig) != 0)
		;
}

static void report_filled(void)
{
	pid_t me = getpid();

	/* sizeof(pid_t) < PIPE_BUF: the write is atomic even with several writers */
	if (write(F.pipe_w, &me, sizeof(me)) != sizeof(me))
		die("write to the parent's pipe: %m");
}

static int wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid %d: %m", (int)pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, PROG ": pid %d: child %d exited %d\n", (int)getpid(), (int)pid,
			WEXITSTATUS(st));
	else
		fprintf(stderr, PROG ": pid %d: child %d killed by signal %d\n", (int)getpid(),
			(int)pid, WTERMSIG(st));
	return 1;
}

static pid_t fork_or_die(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %m");
	/* test fixtures kill the root: take the rest of the tree along */
	if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die("PR_SET_PDEATHSIG: %m");
	return pid;
}

static __attribute__((noreturn)) void grandchild(int c, struct region *a, struct region *b)
{
	struct region cr;
	int bad;

	region_fill(&cr, "C", F.seed + 0x300 + (uint64_t)c);
	report_filled();
	wait_usr1();
	bad = region_verify(a, "A (as the grandchild sees it)");
	bad |= region_verify(b, "B (inherited by the grandchild)");
	bad |= region_verify(&cr, "C (the grandchild's own)");
	_exit(bad);
}

static __attribute__((noreturn)) void child(int c, struct region *a)
{
	struct region b;
	pid_t gc;
	int bad;

	region_diverge(a);
	region_fill(&b, "B", F.seed + 0x200 + (uint64_t)c);
	gc = fork_or_die();
	if (gc == 0)
		grandchild(c, a, &b);
	report_filled();
	wait_usr1();
	bad = region_verify(a, "A (as the child sees it)");
	bad |= region_verify(&b, "B (the child's own)");
	bad |= wait_child(gc);
	_exit(bad);
}

static void write_ready(const pid_t *pids)
{
	char buf[NPROC * 16] = "";
	int r;

	for (int i = 0; i < NPROC; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%d\n", (int)pids[i]);
	r = wl_write_atomic(F.ready, buf);
	if (r < 0)
		die("write ready file %s: %s", F.ready, strerror(-r));
}

static int root(void)
{
	pid_t pids[NPROC] = { getpid() }, kids[NCHILD];
	struct region a;
	int p[2], bad;

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2: %m");
	F.pipe_w = p[1];
	region_fill(&a, "A", F.seed + 0x100);
	for (int c = 0; c < NCHILD; c++) {
		kids[c] = fork_or_die();
		if (kids[c] == 0) {
			close(p[0]);
			child(c, &a);
		}
	}
	close(p[1]);
	for (int i = 1; i < NPROC; i++) {
		ssize_t n = read(p[0], &pids[i], sizeof(pids[i]));

		if (n != sizeof(pids[i]))
			die("only %d of %d processes reported filled", i - 1, NPROC - 1);
	}
	close(p[0]);
	if (F.ready)
		write_ready(pids);
	wait_usr1();
	for (int i = 1; i < NPROC; i++)
		kill(pids[i], SIGUSR1);
	bad = region_verify(&a, "A (the root's)");
	for (int c = 0; c < NCHILD; c++)
		bad |= wait_child(kids[c]);
	return bad;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [--size MIB] [--seed N] [--ready FILE]\n"
		"Build a tree of %d processes, each filling MIB MiB (default 32); write all\n"
		"pids to FILE once filled; on SIGUSR1 to the root, every process verifies.\n"
		"Exit status: 0 verified, 1 mismatch or error, 2 bad arguments.\n",
		NPROC);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "ready", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	sigset_t set;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (wl_parse_u64(optarg, 1, 1 << 16, &F.size_mib)) {
				fprintf(stderr, PROG ": invalid --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (wl_parse_u64(optarg, 0, UINT64_MAX, &F.seed)) {
				fprintf(stderr, PROG ": invalid --seed '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			F.ready = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* blocked before any fork, so every process inherits it and no SIGUSR1 is lost */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return root();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* uswap-shim: the pager daemon, standalone (run, attach) and status reader. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "keeper.h"
#include "pager.h"
#include "takeover.h"
#include "uswap/log.h"
#include "uswap/size.h"
#include "uswap/status.h"
#include "uswap/util.h"

#define PROG "uswap-shim"
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fputs("Usage:\n"
	      "  " PROG " run [OPTIONS] -- COMMAND [ARG...]\n"
	      "  " PROG " attach --pid PID [OPTIONS]\n"
	      "  " PROG " container --pid PID --id ID [--ready-fd FD] [OPTIONS]\n"
	      "  " PROG " status [--json] [FILE|DIR]\n"
	      "\n"
	      "Userspace swapping for a process tree: keeps the resident anonymous memory of\n"
	      "COMMAND (or of PID) and of all its descendants at a target by evicting cold pages\n"
	      "to a store file, and brings them back when they are touched.\n"
	      "\n"
	      "  run      start COMMAND under the pager; exit with its status\n"
	      "  attach   take over a running process and its descendants; on SIGTERM or\n"
	      "           SIGINT every evicted page is put back and the process runs on untouched\n"
	      "  container  page a container (uswap-hook starts it): PID is the runtime's\n"
	      "           init process, armed when it execs the container's program; every\n"
	      "           process of its memory cgroup is followed and the cgroup's usage is\n"
	      "           held at the target; exits when the container is gone\n"
	      "  status   print a status file written by --status; without FILE, one line\n"
	      "           for every pager whose status file is in the default directory\n"
	      "           (or in DIR)\n"
	      "\n"
	      "Options:\n"
	      "  -t, --target SIZE   memory to hold: run and attach, the resident anonymous\n"
	      "                      memory of the tree (sum of RssAnon); container, the memory\n"
	      "                      cgroup's usage. Bytes or a number with K, M, G, T, Ki, Mi,\n"
	      "                      Gi, Ti (powers of 1024). Without it nothing is evicted\n"
	      "  -p, --pid PID       process to attach to (attach, container)\n"
	      "      --id ID         container id (container; shown in status)\n"
	      "      --ready-fd FD   container: write \"ok\" or one error line to FD once\n"
	      "                      the container's init is traced, then close it\n"
	      "  -s, --store DIR     directory for the store file (root-only, created 0700);\n"
	      "                      default /var/lib/uswap as root, else $TMPDIR/uswap-UID\n"
	      "      --status FILE   rewrite FILE (JSON) every 100 ms; default\n"
	      "                      /run/uswap/shim-PID.json as root, else in the store directory\n"
	      "  -l, --log FILE      log to FILE instead of stderr\n"
	      "  -v, --verbose       debug logging\n"
	      "      --json          status: print the JSON object as is\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "The pager runs in a child of the first process (the keeper): if it is killed or\n"
	      "crashes, the keeper starts a new one that takes over its processes and their\n"
	      "evicted pages. PID in status and in /run/uswap names the keeper.\n"
	      "\n"
	      "Environment: USWAP_DISABLE=LIST turns optional features off, to test the paths\n"
	      "a kernel or policy without them takes: uring (asynchronous store reads), wp\n"
	      "(clean-page tracking), runner (a round of MOVEs in one ptrace round trip; a\n"
	      "held thread that outlives a pager that dies),\n"
	      "keeper (the pager in this process: one that dies takes its pages with it).\n"
	      "USWAP_TEST_CRASH=POINT:N (tests) kills the first pager at a point of its work.\n"
	      "\n"
	      "Exit status: run: COMMAND's status (128+N if killed by signal N); attach: 0 after a\n"
	      "clean detach; 1 on errors; 2 on bad arguments.\n",
	      f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s (see '" PROG " --help')\n", msg);
	return EXIT_USAGE;
}

/* Where shims write their status files by default (see default_dirs). */
static void status_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (geteuid() == 0)
		snprintf(buf, len, "/run/uswap");
	else
		snprintf(buf, len, "%s/uswap-%u", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
}

/* Copy the rest of fd to stdout; 1 if anything was copied. */
static int print_file_fd(int fd)
{
	char buf[8192];
	ssize_t n;
	int any = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		any = 1;
	}
	return any;
}

static int print_file(const char *path, bool json)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct uswap_status st;
	int r;

	if (fd < 0) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (json) {
		print_file_fd(fd);
		return 0;
	}
	r = uswap_status_parse_fd(fd, &st);
	if (r < 0) {
		fprintf(stderr, PROG ": %s is not a uswap status file: %s\n", path, strerror(-r));
		return 1;
	}
	uswap_status_print(stdout, &st);
	return 0;
}

static void print_row(const struct uswap_status *st)
{
	char target[32] = "none", rss[32], evicted[32], store[32], why[32] = "";
	bool alive = kill(st->shim_pid, 0) == 0 || errno != ESRCH;

	if (st->target_bytes)
		uswap_format_size(st->target_bytes, target, sizeof(target));
	uswap_format_size(st->rss_anon_bytes, rss, sizeof(rss));
	uswap_format_size(st->evicted_pages * 4096, evicted, sizeof(evicted));
	uswap_format_size(st->store_bytes, store, sizeof(store));
	if (alive && st->reason[0])
		uswap_format_size(st->reason_bytes, why, sizeof(why));
	printf("%-8d %-9s %-16.16s %-18s %12s %12s %12s %12s %9.0f %8.1f %8.1f %s%s%s\n",
	       (int)st->shim_pid, st->mode, st->id[0] ? st->id : "-", alive ? st->state : "gone",
	       target, rss, evicted, store, st->faults_per_sec, st->fault_p50_us, st->fault_p99_us,
	       alive && st->reason[0] ? st->reason : "-", why[0] ? " " : "", why);
}

/* Every status file (*.json) in dir: a table, or with json one JSON array. */
static int list_dir(const char *dir, bool json)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent **names = NULL;
	int n, shown = 0;

	if (dfd < 0 && errno == ENOENT) {
		if (json)
			printf("[]\n");
		else
			printf("no uswap-shim status files in %s\n", dir);
		return 0;
	}
	n = dfd < 0 ? -1 : scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, PROG ": cannot list %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%-8s %-9s %-16s %-18s %12s %12s %12s %12s %9s %8s %8s %s\n", "SHIM", "MODE",
		       "ID", "STATE", "TARGET", "RESIDENT", "EVICTED", "STORE", "FAULTS/S",
		       "P50(us)", "P99(us)", "REASON");
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		struct uswap_status st;
		_cleanup_close_ int fd = -1;

		if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".json"))
			fd = openat(dfd, names[i]->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && uswap_status_parse_fd(fd, &st) == 0) {
			if (json) {
				if (lseek(fd, 0, SEEK_SET) == 0) {
					printf("%s", shown ? "," : "");
					fflush(stdout);
					shown += print_file_fd(fd);
				}
			} else {
				print_row(&st);
				shown++;
			}
		}
		free(names[i]);
	}
	free(names);
	if (json)
		printf("]\n");
	else if (!shown)
		printf("(no uswap-shim running)\n");
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	bool json = false;
	const char *path = NULL;
	char dir[4200];
	struct stat sb;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-')
			return usage_error("status: unknown option '%s'", argv[i]);
		else if (path)
			return usage_error("status: one FILE or DIR only, got '%s' too", argv[i]);
		else
			path = argv[i];
	}
	if (!path) {
		status_dir(dir, sizeof(dir));
		return list_dir(dir, json);
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return list_dir(path, json);
	return print_file(path, json);
}

static int default_dirs(char *store, size_t slen, char *status, size_t stlen)
{
	if (geteuid() == 0) {
		mkdir("/var/lib/uswap", 0700);
		snprintf(store, slen, "/var/lib/uswap");
		if (mkdir("/run/uswap", 0700) < 0 && errno != EEXIST)
			return -errno;
		snprintf(status, stlen, "/run/uswap/shim-%d.json", (int)getpid());
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(store, slen, "%s/uswap-%u", tmp && *tmp ? tmp : "/tmp",
			 (unsigned)getuid());
		mkdir(store, 0700);
		snprintf(status, stlen, "%s/shim-%d.json", store, (int)getpid());
	}
	return 0;
}

/* Address space for the keeper's arena: ~50 bytes per evicted page, so 64 GiB index more
 * than a TiB. Only what is used takes memory. */
#define ARENA_SIZE (64ull << 30)

struct body {
	struct pager *p;
	struct pager_cfg *cfg;
};

/* The pager itself (in a child of the keeper, or in this process without one). */
static int pager_body(bool takeover, void *arg)
{
	struct body *b = arg;
	int r, status_code = 0;
	bool run = !strcmp(b->cfg->mode, "run");

	keeper_crash_setup(takeover);
	if (takeover) {
		b->cfg->takeover = true;
		b->cfg->ready_fd = -1;
		r = pager_takeover(b->p);
		if (r < 0) {
			log_error_errno(r, "cannot take over: %m");
			return 1;
		}
	}
	r = pager_main(b->p, b->cfg, &status_code);
	if (r < 0) {
		log_error_errno(r, "pager failed: %m");
		return run && status_code ? WEXITSTATUS(status_code) : 1;
	}
	if (!run)
		return 0;
	if (WIFSIGNALED(status_code))
		return 128 + WTERMSIG(status_code);
	return WEXITSTATUS(status_code);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'p' },
		{ "store", required_argument, NULL, 's' },
		{ "status", required_argument, NULL, 'S' },
		{ "log", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "id", required_argument, NULL, 'I' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pager_cfg cfg = { 0 };
	char def_store[4096], def_status[4200];
	const char *store = NULL, *status = NULL, *logpath = NULL, *cmd;
	static struct pager pager;
	struct pager *p = &pager;
	bool verbose = false;
	long pid = 0, ready_fd = -1;
	int c, r;

	if (argc < 2)
		return usage_error("missing command: run, attach or status");
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "run") && strcmp(cmd, "attach") && strcmp(cmd, "container"))
		return usage_error(
			"unknown command '%s' (expected run, attach, container or status)", cmd);
	optind = 2;
	opterr = 0; /* one line of our own per error, not getopt's too */
	while ((c = getopt_long(argc, argv, "+:t:p:s:l:vh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 't':
			if (uswap_parse_size(optarg, &cfg.target) < 0)
				return usage_error(
					"invalid --target '%s': expected bytes or a number "
					"with K/M/G/T or Ki/Mi/Gi/Ti",
					optarg);
			break;
		case 'p':
			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || pid <= 0 || pid > 0x3fffffff)
				return usage_error("invalid --pid '%s': expected a process id",
						   optarg);
			break;
		case 's':
			store = optarg;
			break;
		case 'S':
			status = optarg;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'I':
			if (!*optarg || strlen(optarg) >= 128 || strchr(optarg, '/') ||
			    !strcmp(optarg, ".") || !strcmp(optarg, ".."))
				return usage_error("invalid --id '%s': expected a container id",
						   optarg);
			cfg.id = optarg;
			break;
		case 'R':
			errno = 0;
			ready_fd = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || ready_fd < 3 || ready_fd > INT_MAX ||
			    fcntl((int)ready_fd, F_GETFD) < 0)
				return usage_error(
					"invalid --ready-fd '%s': expected an open fd >= 3",
					optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("invalid option '%s'", argv[optind - 1]);
		}
	}
	if (!strcmp(cmd, "run")) {
		if (pid)
			return usage_error("run: --pid is for attach");
		if (optind >= argc || strcmp(argv[optind - 1], "--"))
			return usage_error("run: give the command after '--'");
		cfg.argv = argv + optind;
	} else {
		if (!pid)
			return usage_error("%s: --pid PID is required", cmd);
		if (optind < argc)
			return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
		if (!strcmp(cmd, "container") && !cfg.id)
			return usage_error("container: --id ID is required");
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, PROG ": no process %ld\n", pid);
			return 1;
		}
		cfg.root = (pid_t)pid;
	}
	if ((cfg.id || ready_fd >= 0) && strcmp(cmd, "container"))
		return usage_error("%s: --id and --ready-fd are for container", cmd);
	cfg.mode = cmd;
	cfg.ready_fd = (int)ready_fd;
	r = default_dirs(def_store, sizeof(def_store), def_status, sizeof(def_status));
	if (r < 0 && !status) {
		fprintf(stderr, PROG ": cannot create /run/uswap: %s\n", strerror(-r));
		return 1;
	}
	cfg.status_path = status ? status : def_status;
	r = uswap_log_open(PROG, verbose ? USWAP_LOG_DEBUG : USWAP_LOG_INFO, logpath);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot open log %s: %s\n", logpath, strerror(-r));
		return 1;
	}
	umask(077);
	/* One userfaultfd per process paged, in the pager and in the keeper: as many fds as we
	 * may have (nothing here uses select()). */
	struct rlimit nofile;

	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* The keeper holds what outlives a pager that dies; the arena is address space only. */
	if (!pager_disabled("keeper")) {
		r = arena_create(ARENA_SIZE);
		if (r < 0)
			log_warn_errno(r, "no keeper (%m): a pager that dies leaves its processes' "
					  "evicted pages unreachable");
		else if (!(p = arena_calloc(sizeof(*p))))
			return 1;
	}
	r = pager_init(p, store ? store : def_store);
	if (r < 0) {
		log_error_errno(r, "cannot start the pager: %m");
		if (cfg.ready_fd >= 0)
			dprintf(cfg.ready_fd, "error: cannot start the pager: %s\n", strerror(-r));
		if (!strcmp(cmd, "run")) {
			/* Degrade: the command runs unpaged rather than not at all. */
			log_warn("running %s unpaged", cfg.argv[0]);
			execvp(cfg.argv[0], cfg.argv);
			log_error_errno(-errno, "cannot execute %s: %m", cfg.argv[0]);
			return 127;
		}
		return 1;
	}
	struct body b = { .p = p, .cfg = &cfg };

	if (!arena_active())
		return pager_body(false, &b);
	return keeper_run(pager_body, &b, &p->root_pid, cfg.ready_fd);
}

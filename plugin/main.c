/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uswap-hook: the OCI runtime hook. createRuntime (or prestart) starts the container's pager,
 * poststop stops it and removes its files. The OCI state comes on stdin; the runtime shows
 * what we print on stderr, and waits until our stdout and stderr close, so the pager is
 * started fully detached from them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uswap/oci.h"
#include "uswap/util.h"

#define PROG "uswap-hook"
#define READY_TIMEOUT_MS 10000

struct hook {
	const char *shim;
	const char *store_root;
	const char *run_dir;
	struct uswap_oci_state st;
	struct uswap_annotations a;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [--shim PATH] [--store-root DIR] [--run-dir DIR] STAGE\n"
	      "OCI hook: reads the container's state on stdin. createRuntime or prestart starts\n"
	      "the container's pager when the annotation io.uswap.enabled=true; poststop stops\n"
	      "it and removes its files; other stages do nothing.\n"
	      "  --shim PATH        uswap-shim to start (default: next to this program, else\n"
	      "                     " USWAP_BINDIR "/uswap-shim)\n"
	      "  --store-root DIR   io.uswap.store must lie below DIR (default /var/lib/uswap,\n"
	      "                     also the default store)\n"
	      "  --run-dir DIR      status, log and pid files (default /run/uswap)\n",
	      f);
}

/* dir/name+ext into buf; false (and an empty buf) if it does not fit. */
static bool path_join(char *buf, size_t len, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(buf, len, "%s/%s%s", dir, name, ext);

	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return false;
	}
	return true;
}

/* The default pager: next to this program (a build tree, or the same bin directory). */
static void default_shim(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/uswap-shim", self);
			if (access(buf, X_OK) == 0)
				return;
			/* A build tree keeps the hook in plugin/ and the pager in shim/. */
			snprintf(buf, len, "%s/../shim/uswap-shim", self);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/uswap-shim", USWAP_BINDIR);
}

/* The target in bytes: a size, or a percentage of the limit in the bundle's config.json. */
static int target_bytes(struct hook *h, uint64_t *ret)
{
	_cleanup_close_ int fd = -1;
	struct uswap_oci_config cfg = { 0 };
	char path[4200];
	int r;

	if (!h->a.target_percent)
		return uswap_annotations_target_bytes(&h->a, 0, ret);
	path_join(path, sizeof(path), h->st.bundle, "config.json", "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = uswap_oci_config_parse_fd(fd, &cfg);
	if (r < 0)
		return r;
	r = uswap_annotations_target_bytes(&h->a, cfg.memory_limit, ret);
	uswap_oci_config_free(&cfg);
	return r;
}

/* In the grandchild: a daemon with no tie to the runtime but the ready pipe (fd 3). */
static void exec_shim(struct hook *h, int ready, char **argv)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(ready, 3) < 0)
		_exit(127);
	syscall(SYS_close_range, 4, ~0U, 0);
	execv(h->shim, argv);
	dprintf(3, "error: cannot execute %s: %s\n", h->shim, strerror(errno));
	_exit(127);
}

/* Start the pager detached and wait for its one-line answer into line. 0 or -errno. */
static int spawn_shim(struct hook *h, char **argv, char *line, size_t len)
{
	int pfd[2], st;
	struct pollfd p;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* New session, and the middle process exits: the pager is reparented away
		 * from the runtime and never gets its terminal or its signals. */
		close(pfd[0]);
		if (setsid() < 0 || fork() != 0)
			_exit(0);
		exec_shim(h, pfd[1], argv);
	}
	close(pfd[1]);
	waitpid(pid, &st, 0);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	if (poll(&p, 1, READY_TIMEOUT_MS) <= 0) {
		close(pfd[0]);
		return -ETIMEDOUT;
	}
	n = read(pfd[0], line, len - 1);
	close(pfd[0]);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return n > 0 ? 0 : -EPIPE;
}

static int start(struct hook *h)
{
	char pidarg[16], target[32], store[4200], status[4200], log[4200], pidfile[4200];
	char line[512];
	uint64_t bytes = 0;
	int r;

	if (h->st.pid <= 0)
		return fail("container %s: the state has no pid (stage needs createRuntime or "
			    "prestart)",
			    h->st.id);
	r = target_bytes(h, &bytes);
	if (r < 0)
		return fail("container %s: io.uswap.target %u%% of the memory limit: %s", h->st.id,
			    h->a.target_percent,
			    r == -EINVAL ? "the container has no memory limit" : strerror(-r));
	if (!path_join(store, sizeof(store), h->a.store[0] ? h->a.store : h->store_root, h->st.id,
		       "") ||
	    !path_join(status, sizeof(status), h->run_dir, h->st.id, ".json") ||
	    !path_join(log, sizeof(log), h->run_dir, h->st.id, ".log") ||
	    !path_join(pidfile, sizeof(pidfile), h->run_dir, h->st.id, ".pid"))
		return fail("container %s: the store or run directory path is too long", h->st.id);
	if ((mkdir(h->run_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(h->a.store[0] ? h->a.store : h->store_root, 0700) < 0 && errno != EEXIST))
		return fail("container %s: cannot create %s: %m", h->st.id, h->run_dir);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)h->st.pid);
	snprintf(target, sizeof(target), "%" PRIu64, bytes);
	{
		char *argv[] = { "uswap-shim", "container", "--pid",	pidarg, "--id",	 h->st.id,
				 "--store",    store,	    "--status", status, "--log", log,
				 "--ready-fd", "3",	    "--target", target, NULL };

		if (!bytes)
			argv[14] = NULL; /* no target: the pager only follows */
		r = spawn_shim(h, argv, line, sizeof(line));
	}
	if (r == 0 && !strncmp(line, "ok ", 3)) {
		FILE *f = fopen(pidfile, "we");

		if (f) {
			fprintf(f, "%s\n", line + 3);
			fclose(f);
		}
		return 0;
	}
	if (r < 0)
		snprintf(line, sizeof(line), "%s",
			 r == -ETIMEDOUT ? "no answer in 10 s" : strerror(-r));
	if (h->a.required)
		return fail("container %s: the pager did not start (%s) and io.uswap.required=true",
			    h->st.id, line);
	fprintf(stderr, PROG ": warning: container %s runs unpaged: the pager did not start (%s)\n",
		h->st.id, line);
	return 0;
}

/*
 * A Kubernetes pod's sandbox ("pause" infra container): CRI-O and containerd give it the pod's
 * annotations, so it would match io.uswap.enabled too. Nothing in it is worth paging, and it
 * has no memory limit of its own, so a percentage target would fail the whole pod.
 */
static bool pod_sandbox(const struct uswap_oci_state *st)
{
	static const char *const keys[] = { "io.kubernetes.cri-o.ContainerType",
					    "io.kubernetes.cri.container-type" };

	for (size_t i = 0; i < USWAP_ARRAY_SIZE(keys); i++) {
		const char *v = uswap_kv_get(st->annotations, st->nannotations, keys[i]);

		if (v && !strcmp(v, "sandbox"))
			return true;
	}
	return false;
}

/* Stop the container's pager (it exits by itself once the container is gone; this makes
 * sure) and remove its files. */
static int stop(struct hook *h)
{
	char pidfile[4200], path[4200], buf[32] = "";
	FILE *f;
	pid_t pid = 0;

	path_join(pidfile, sizeof(pidfile), h->run_dir, h->st.id, ".pid");
	f = fopen(pidfile, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			pid = (pid_t)strtol(buf, NULL, 10);
		fclose(f);
	}
	if (pid > 0 && kill(pid, SIGTERM) == 0) {
		for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
			usleep(100000);
		kill(pid, SIGKILL);
	}
	unlink(pidfile);
	path_join(path, sizeof(path), h->run_dir, h->st.id, ".json");
	unlink(path);
	path_join(path, sizeof(path), h->run_dir, h->st.id, ".log");
	unlink(path);
	path_join(path, sizeof(path), h->a.store[0] ? h->a.store : h->store_root, h->st.id, "");
	{
		char file[4300];

		snprintf(file, sizeof(file), "%s/store-%d.pages", path, (int)pid);
		if (pid > 0)
			unlink(file);
		rmdir(path);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shim", required_argument, NULL, 's' },
		{ "store-root", required_argument, NULL, 'r' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct hook h = { .store_root = "/var/lib/uswap", .run_dir = "/run/uswap" };
	char shim[PATH_MAX + 32], err[512];
	const char *stage;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			h.shim = optarg;
			break;
		case 'r':
			h.store_root = optarg;
			break;
		case 'R':
			h.run_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return fail("option '%s' needs a value", argv[optind - 1]) + 1;
		default:
			return fail("invalid option '%s' (see --help)", argv[optind - 1]) + 1;
		}
	}
	if (optind != argc - 1)
		return fail("expected one STAGE argument (see --help)") + 1;
	stage = argv[optind];
	if (!h.shim) {
		default_shim(shim, sizeof(shim));
		h.shim = shim;
	}
	r = uswap_oci_state_parse_fd(STDIN_FILENO, &h.st);
	if (r < 0)
		return fail("%s: cannot read the OCI state on stdin: %s", stage, strerror(-r));
	r = uswap_annotations_parse(h.st.annotations, h.st.nannotations, h.store_root, &h.a, err,
				    sizeof(err));
	if (r < 0)
		r = fail("container %s: %s", h.st.id, err);
	else if (!h.a.enabled || pod_sandbox(&h.st))
		r = 0;
	else if (!strcmp(stage, "createRuntime") || !strcmp(stage, "prestart"))
		r = start(&h);
	else if (!strcmp(stage, "poststop"))
		r = stop(&h);
	uswap_oci_state_free(&h.st);
	return r;
}

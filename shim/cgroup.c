/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's memory cgroup, read by the enforcer each tick.
 *
 * Not through libcgroup, as DESIGN.md proposed: libcgroup 2.0.2 (Debian 12), tried as root
 * on this hybrid host (v1 memory, cgroup2 at /sys/fs/cgroup/unified), reads v1 fine
 * (cgroup_get_current_controller_path(pid, "memory"), cgroup_get_cgroup() and
 * cgroup_get_value_uint64("memory.usage_in_bytes") all work), but:
 *  - cgroup_get_current_controller_path(getpid(), "hugetlb"), the controller on cgroup2
 *    here, fails with ECGOTHER (50016) and cgroup_get_last_errno() 0 ("Success"): 2.0.2 does
 *    not resolve "0::/path" lines on a hybrid host, so v2 needs our own lookup anyway;
 *  - cgroup_get_value_uint64() is sscanf: "12abc" gives 12, "-1" and 2^64 give UINT64_MAX,
 *    all returning 0; "max" (v2 memory.max) gives ECGINVAL;
 *  - a cgroup is named by controller + path below the mount cgroup_init() found in
 *    /proc/mounts: it cannot read a fixture tree, so unit tests would miss the daemon's path;
 *  - cgroup_get_cgroup() reads every file of every controller: 0.56-1.3 ms per call here,
 *    against 5.3 us for one openat+read; cgroup_read_value_begin() takes 8.9 us per value
 *    and resolves the path each time.
 * So the directory is opened once and each value is one openat() relative to it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uswap/cgroup.h"
#include "uswap/fileio.h"
#include "uswap/mountinfo.h"
#include "uswap/util.h"

/* One-value files are a line; memory.stat is ~1.5 KiB on v1, ~3 KiB on v2. */
#define SMALL_FILE_MAX (64u << 10)
/* Up to pid_max (4M) pids of up to 7 digits and a newline each. */
#define PROCS_FILE_MAX (64u << 20)
/* A few thousand mounts with long paths on a busy container host. */
#define MOUNTINFO_MAX (16u << 20)
/* Sub-cgroups a container may create below its own; deeper trees are refused (-ELOOP). */
#define PROCS_MAX_DEPTH 32

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_dir_ __attribute__((cleanup(closedirp)))

static int read_fd(int fd, size_t max, char **ret_buf)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = uswap_read_all(fd, max, &buf, &len);
	if (r < 0)
		return r;
	/* The parsers work on C strings: a NUL would hide whatever follows it. */
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

/* O_NOFOLLOW: cgroupfs and /proc/PID have no symlinked files; one means a wrong tree. */
static int read_at(int dirfd, const char *name, size_t max, char **ret_buf)
{
	_cleanup_close_ int fd = -1;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return read_fd(fd, max, ret_buf);
}

/* Split *cursor at the next newline; NULL at the end. A last line without newline counts. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

static int expect_str(const char **p, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(*p, word, n) != 0)
		return -EBADMSG;
	*p += n;
	return 0;
}

/* A file holding one number, as the kernel prints it: digits and an optional newline. */
static int parse_number_file(const char *buf, uint64_t *ret)
{
	const char *p = buf;
	uint64_t v;

	if (uswap_parse_decimal(&p, &v) < 0)
		return -EBADMSG;
	if (*p == '\n')
		p++;
	if (*p)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Whether word is one of the sep-separated tokens of list (controller lists, options). */
static bool has_token(const char *list, char sep, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	for (;;) {
		if (strncmp(p, word, n) == 0 && (p[n] == sep || p[n] == '\0'))
			return true;
		p = strchr(p, sep);
		if (!p)
			return false;
		p++;
	}
}

static int has_file(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISREG(st.st_mode);
}

static const char *const usage_file[] = { [1] = "memory.usage_in_bytes", [2] = "memory.current" };

/* The version whose usage file dirfd holds; want 0 takes either, v2 first. */
static int detect_version(int dirfd, int want)
{
	for (int v = 2; v >= 1; v--) {
		int r = want && want != v ? 0 : has_file(dirfd, usage_file[v]);

		if (r != 0)
			return r < 0 ? r : v;
	}
	return -ENOENT;
}

int uswap_cgroup_open_dir(const char *dir, int version, struct uswap_cgroup *ret)
{
	_cleanup_close_ int fd = -1;
	size_t len;
	int r;

	if (!dir || !ret || version < 0 || version > 2)
		return -EINVAL;
	len = strlen(dir);
	if (len >= sizeof(ret->path))
		return -ENAMETOOLONG;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = detect_version(fd, version);
	if (r < 0)
		return r;
	ret->version = r;
	ret->dirfd = TAKE_FD(fd);
	memcpy(ret->path, dir, len + 1);
	return 0;
}

void uswap_cgroup_close(struct uswap_cgroup *cg)
{
	if (!cg)
		return;
	uswap_closep(&cg->dirfd);
	cg->dirfd = -1;
	cg->version = 0;
}

static bool cg_valid(const struct uswap_cgroup *cg)
{
	return cg && cg->dirfd >= 0 && (cg->version == 1 || cg->version == 2);
}

int uswap_cgroup_usage(const struct uswap_cgroup *cg, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (!cg_valid(cg) || !ret)
		return -EINVAL;
	r = read_at(cg->dirfd, usage_file[cg->version], SMALL_FILE_MAX, &buf);
	return r < 0 ? r : parse_number_file(buf, ret);
}

/*
 * v1 has no word for "no limit": the page counter's maximum is LONG_MAX / PAGE_SIZE pages,
 * printed in bytes (0x7ffffffffffff000 with 4 KiB pages); nothing can be set above it.
 */
static uint64_t v1_unlimited(void)
{
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		page = 4096;
	return (uint64_t)INT64_MAX / (uint64_t)page * (uint64_t)page;
}

int uswap_cgroup_limit(const struct uswap_cgroup *cg, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t v;
	int r;

	if (!cg_valid(cg) || !ret)
		return -EINVAL;
	r = read_at(cg->dirfd, cg->version == 1 ? "memory.limit_in_bytes" : "memory.max",
		    SMALL_FILE_MAX, &buf);
	if (r < 0)
		return r;
	if (cg->version == 2 && (strcmp(buf, "max\n") == 0 || strcmp(buf, "max") == 0)) {
		*ret = UINT64_MAX;
		return 0;
	}
	r = parse_number_file(buf, &v);
	if (r < 0)
		return r;
	if (cg->version == 1 && v >= v1_unlimited())
		v = UINT64_MAX;
	*ret = v;
	return 0;
}

struct want_key {
	const char *key;
	uint64_t value;
	bool found;
};

/* "key value" line of a flat-keyed file; fills the matching entry of want, if any. */
static int parse_keyed_line(const char *line, struct want_key *want, size_t n)
{
	const char *sp = strchr(line, ' '), *p;
	uint64_t v;
	int r;

	if (!sp || sp == line)
		return -EBADMSG;
	p = sp + 1;
	r = uswap_parse_decimal(&p, &v);
	if (r < 0 || *p)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (strlen(want[i].key) != (size_t)(sp - line) ||
		    strncmp(line, want[i].key, (size_t)(sp - line)) != 0)
			continue;
		/* The kernel prints each key once; a repeat means this is not memory.stat. */
		if (want[i].found)
			return -EBADMSG;
		want[i].value = v;
		want[i].found = true;
	}
	return 0;
}

static int read_keyed_at(int dirfd, const char *name, struct want_key *want, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	char *cursor, *line;
	int r;

	r = read_at(dirfd, name, SMALL_FILE_MAX, &buf);
	if (r < 0)
		return r;
	cursor = buf;
	while ((line = next_line(&cursor))) {
		r = parse_keyed_line(line, want, n);
		if (r < 0)
			return r;
	}
	return 0;
}

int uswap_cgroup_stat(const struct uswap_cgroup *cg, struct uswap_cgroup_stat *ret)
{
	/*
	 * v1: total_* include the sub-cgroups a container may create; rss, cache and shmem
	 * count this cgroup alone and are only the fallback. v2 counters are always
	 * hierarchical. shmem is optional (kernels before 4.x lack it).
	 */
	struct want_key v1[] = { { .key = "total_rss" },   { .key = "rss" },
				 { .key = "total_cache" }, { .key = "cache" },
				 { .key = "total_shmem" }, { .key = "shmem" } };
	struct want_key v2[] = { { .key = "anon" }, { .key = "file" }, { .key = "shmem" } };
	struct want_key *anon, *file, *shmem;
	int r;

	if (!cg_valid(cg) || !ret)
		return -EINVAL;
	if (cg->version == 1) {
		r = read_keyed_at(cg->dirfd, "memory.stat", v1, USWAP_ARRAY_SIZE(v1));
		anon = v1[0].found ? &v1[0] : &v1[1];
		file = v1[2].found ? &v1[2] : &v1[3];
		shmem = v1[4].found ? &v1[4] : &v1[5];
	} else {
		r = read_keyed_at(cg->dirfd, "memory.stat", v2, USWAP_ARRAY_SIZE(v2));
		anon = &v2[0];
		file = &v2[1];
		shmem = &v2[2];
	}
	if (r < 0)
		return r;
	if (!anon->found || !file->found)
		return -EBADMSG;
	ret->anon = anon->value;
	ret->file = file->value;
	ret->shmem = shmem->found ? USWAP_MIN(shmem->value, file->value) : 0;
	return 0;
}

/*
 * "12.34" as the kernel prints averages ("%lu.%02lu"): digits, a dot, 1-6 digits. Built
 * from an integer mantissa so that "1.53" compares equal to the literal 1.53.
 */
static int parse_fixed(const char **p, double *ret)
{
	const char *s = *p;
	uint64_t ip, frac = 0, scale = 1;

	if (uswap_parse_decimal(&s, &ip) < 0)
		return -EBADMSG;
	/* A percentage; the bound keeps the mantissa exact in a double. */
	if (ip > 1000000000 || *s++ != '.' || *s < '0' || *s > '9')
		return -EBADMSG;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (scale == 1000000)
			return -EBADMSG;
		frac = frac * 10 + (uint64_t)(*s - '0');
		scale *= 10;
	}
	*ret = (double)(ip * scale + frac) / (double)scale;
	*p = s;
	return 0;
}

/* The rest of a "some"/"full" line: " avg10=X avg60=X avg300=X total=N". */
static int parse_psi_line(const char *p, double *ret_avg10, uint64_t *ret_total)
{
	double avg10, ignored;
	uint64_t total;

	if (expect_str(&p, " avg10=") < 0 || parse_fixed(&p, &avg10) < 0 ||
	    expect_str(&p, " avg60=") < 0 || parse_fixed(&p, &ignored) < 0 ||
	    expect_str(&p, " avg300=") < 0 || parse_fixed(&p, &ignored) < 0 ||
	    expect_str(&p, " total=") < 0 || uswap_parse_decimal(&p, &total) < 0 || *p)
		return -EBADMSG;
	*ret_avg10 = avg10;
	*ret_total = total;
	return 0;
}

static int parse_pressure(char *buf, struct uswap_cgroup_pressure *ret)
{
	struct uswap_cgroup_pressure pr = {};
	bool some = false, full = false;
	char *cursor = buf, *line;
	int r;

	while ((line = next_line(&cursor))) {
		const char *p = line;

		if (!some && expect_str(&p, "some") == 0) {
			r = parse_psi_line(p, &pr.some_avg10, &pr.some_total_us);
			some = true;
		} else if (!full && expect_str(&p, "full") == 0) {
			r = parse_psi_line(p, &pr.full_avg10, &pr.full_total_us);
			full = true;
		} else {
			r = -EBADMSG;
		}
		if (r < 0)
			return r;
	}
	/* memory.pressure has had both lines since PSI exists (only cpu lacked "full"). */
	if (!some || !full)
		return -EBADMSG;
	*ret = pr;
	return 0;
}

int uswap_cgroup_pressure(const struct uswap_cgroup *cg, struct uswap_cgroup_pressure *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (!cg_valid(cg) || !ret)
		return -EINVAL;
	/* v1 memory cgroups have no PSI files (the kernel keeps them on the v2 hierarchy). */
	if (cg->version == 1)
		return -EOPNOTSUPP;
	r = read_at(cg->dirfd, "memory.pressure", SMALL_FILE_MAX, &buf);
	/* The file is hidden when PSI is compiled out or disabled with psi=0. */
	if (r == -ENOENT && has_file(cg->dirfd, "memory.current") > 0)
		return -EOPNOTSUPP;
	if (r < 0)
		return r;
	return parse_pressure(buf, ret);
}

struct pidvec {
	pid_t *v;
	size_t n, cap;
};

static int pidvec_push(struct pidvec *pv, pid_t pid)
{
	if (pv->n == pv->cap) {
		size_t ncap = pv->cap ? pv->cap * 2 : 64;
		pid_t *nv = reallocarray(pv->v, ncap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		pv->v = nv;
		pv->cap = ncap;
	}
	pv->v[pv->n++] = pid;
	return 0;
}

/* cgroup.procs: one positive pid per line, possibly none at all. */
static int parse_procs(char *buf, struct pidvec *pv)
{
	char *cursor = buf, *line;

	while ((line = next_line(&cursor))) {
		const char *p = line;
		uint64_t pid;
		int r;

		if (uswap_parse_decimal(&p, &pid) < 0 || *p || pid == 0 || pid > INT32_MAX)
			return -EBADMSG;
		r = pidvec_push(pv, (pid_t)pid);
		if (r < 0)
			return r;
	}
	return 0;
}

static int collect_procs(int dirfd, unsigned depth, struct pidvec *pv);

static int collect_child(int dirfd, const char *name, unsigned depth, struct pidvec *pv)
{
	_cleanup_close_ int fd = -1;

	if (depth > PROCS_MAX_DEPTH)
		return -ELOOP;
	fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/*
	 * A sub-cgroup removed while we walk is simply gone, with its processes. ENOTDIR: a
	 * file that readdir could not type (DT_UNKNOWN), which is no sub-cgroup.
	 */
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	return collect_procs(fd, depth, pv);
}

static int collect_children(int dirfd, unsigned depth, struct pidvec *pv)
{
	_cleanup_dir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	/* dirfd is O_PATH, which readdir cannot use. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && depth > 0 ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = collect_child(dirfd, de->d_name, depth + 1, pv);
		if (r < 0)
			return r;
	}
	return errno ? -errno : 0;
}

static int collect_procs(int dirfd, unsigned depth, struct pidvec *pv)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	r = read_at(dirfd, "cgroup.procs", PROCS_FILE_MAX, &buf);
	/* Gone meanwhile; or a v2 threaded sub-cgroup, whose processes its domain lists. */
	if ((r == -ENOENT || r == -EOPNOTSUPP) && depth > 0)
		return 0;
	if (r < 0)
		return r;
	r = parse_procs(buf, pv);
	if (r < 0)
		return r;
	return collect_children(dirfd, depth, pv);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int uswap_cgroup_procs(const struct uswap_cgroup *cg, pid_t **ret_pids, size_t *ret_n)
{
	struct pidvec pv = {};
	size_t n = 0;
	int r;

	if (!cg_valid(cg) || !ret_pids || !ret_n)
		return -EINVAL;
	r = collect_procs(cg->dirfd, 0, &pv);
	if (r < 0) {
		free(pv.v);
		return r;
	}
	/* cgroup.procs is unsorted and may repeat pids (cgroups(7)); a process moving to a
	 * sub-cgroup while we walk shows up twice. */
	if (pv.n)
		qsort(pv.v, pv.n, sizeof(*pv.v), cmp_pid);
	for (size_t i = 0; i < pv.n; i++)
		if (n == 0 || pv.v[n - 1] != pv.v[i])
			pv.v[n++] = pv.v[i];
	if (n == 0) {
		free(pv.v);
		pv.v = NULL;
	}
	*ret_pids = pv.v;
	*ret_n = n;
	return 0;
}

/* The lines of /proc/PID/cgroup that matter: "N:...memory...:/path" and "0::/path". */
struct proc_cgroup {
	const char *v1_memory;
	const char *v2;
};

static int parse_proc_cgroup_line(char *line, struct proc_cgroup *pc)
{
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *p = line, *ctrl, *path;
	uint64_t id;

	/* The path is everything after the second colon: cgroup names may contain colons. */
	if (!c2)
		return -EBADMSG;
	*c1 = *c2 = '\0';
	ctrl = c1 + 1;
	path = c2 + 1;
	if (uswap_parse_decimal(&p, &id) < 0 || *p || path[0] != '/')
		return -EBADMSG;
	/* Hierarchy 0 is cgroup2, which has no controller list here; every v1 one has one. */
	if ((id == 0) != (*ctrl == '\0'))
		return -EBADMSG;
	if (id == 0) {
		if (pc->v2)
			return -EBADMSG;
		pc->v2 = path;
	} else if (has_token(ctrl, ',', "memory")) {
		if (pc->v1_memory)
			return -EBADMSG;
		pc->v1_memory = path;
	}
	return 0;
}

static int parse_proc_cgroup(char *buf, struct proc_cgroup *ret)
{
	struct proc_cgroup pc = {};
	char *cursor = buf, *line;
	int r;

	while ((line = next_line(&cursor))) {
		r = parse_proc_cgroup_line(line, &pc);
		if (r < 0)
			return r;
	}
	*ret = pc;
	return 0;
}

/* The part of path below root ("/" for root itself); NULL if path is not under root. */
static const char *path_below(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path;
	if (strncmp(path, root, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return "/";
	return path[n] == '/' ? path + n : NULL;
}

static bool mount_matches(const struct uswap_mount *m, int version)
{
	if (version == 2)
		return strcmp(m->fstype, "cgroup2") == 0;
	return strcmp(m->fstype, "cgroup") == 0 && has_token(m->superopts, ',', "memory");
}

/*
 * The first mount of the hierarchy whose root contains cgpath. Every line is checked, so a
 * malformed file fails the same wherever the damage is.
 */
static int find_mount(char *mountinfo, int version, const char *cgpath, char **ret_mountpoint,
		      const char **ret_rel)
{
	char *cursor = mountinfo, *line, *mountpoint = NULL;
	const char *rel = NULL;

	while ((line = next_line(&cursor))) {
		struct uswap_mount m;

		if (uswap_mountinfo_parse_line(line, &m) < 0)
			return -EBADMSG;
		if (mountpoint || !mount_matches(&m, version))
			continue;
		rel = path_below(m.root, cgpath);
		if (rel)
			mountpoint = m.mountpoint;
	}
	if (!mountpoint)
		return -ENOENT;
	*ret_mountpoint = mountpoint;
	*ret_rel = rel;
	return 0;
}

/* sysroot + mountpoint + rel, where "/" adds nothing. */
static int join_path(char *buf, size_t size, const char *sysroot, const char *mountpoint,
		     const char *rel)
{
	int n;

	n = snprintf(buf, size, "%s%s%s", sysroot, strcmp(mountpoint, "/") ? mountpoint : "",
		     strcmp(rel, "/") ? rel : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (n == 0)
		snprintf(buf, size, "/");
	return 0;
}

/*
 * On a hybrid host the cgroup2 hierarchy exists without the memory controller (bound to
 * v1); its root's cgroup.controllers says which controllers it has.
 */
static int v2_has_memory(const char *sysroot, const char *mountpoint)
{
	_cleanup_free_ char *buf = NULL;
	char path[4096];
	int r;

	r = join_path(path, sizeof(path), sysroot, mountpoint, "/cgroup.controllers");
	if (r < 0)
		return r;
	r = read_at(AT_FDCWD, path, SMALL_FILE_MAX, &buf);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	return has_token(buf, ' ', "memory");
}

/*
 * The kernel shows a cgroup outside the reader's cgroup namespace as "/../...": it lies
 * outside every cgroup mount the reader has, and must not be joined to one.
 */
static bool path_escapes(const char *path)
{
	for (const char *p = strstr(path, "/.."); p; p = strstr(p + 1, "/.."))
		if (p[3] == '/' || p[3] == '\0')
			return true;
	return false;
}

static int find_from_fd(const char *sysroot, int cgroup_fd, const char *mountinfo_path,
			struct uswap_cgroup *ret)
{
	_cleanup_free_ char *cgbuf = NULL, *mibuf = NULL;
	struct proc_cgroup pc;
	const char *cgpath, *rel;
	char dir[4096], *mountpoint;
	int version, r;

	r = read_fd(cgroup_fd, SMALL_FILE_MAX, &cgbuf);
	if (r < 0)
		return r;
	r = parse_proc_cgroup(cgbuf, &pc);
	if (r < 0)
		return r;
	/* A controller lives on one hierarchy: with a v1 memory line, v2 has no memory. */
	version = pc.v1_memory ? 1 : 2;
	cgpath = pc.v1_memory ? pc.v1_memory : pc.v2;
	if (!cgpath || path_escapes(cgpath))
		return -ENOENT;
	r = read_at(AT_FDCWD, mountinfo_path, MOUNTINFO_MAX, &mibuf);
	if (r < 0)
		return r;
	r = find_mount(mibuf, version, cgpath, &mountpoint, &rel);
	if (r < 0)
		return r;
	if (version == 2) {
		r = v2_has_memory(sysroot, mountpoint);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
	}
	r = join_path(dir, sizeof(dir), sysroot, mountpoint, rel);
	if (r < 0)
		return r;
	return uswap_cgroup_open_dir(dir, version, ret);
}

int uswap_cgroup_find_for_pid_at(const char *sysroot, const char *proc_cgroup_path,
				 const char *mountinfo_path, struct uswap_cgroup *ret)
{
	_cleanup_close_ int fd = -1;

	if (!proc_cgroup_path || !mountinfo_path || !ret)
		return -EINVAL;
	fd = open(proc_cgroup_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return find_from_fd(sysroot ? sysroot : "", fd, mountinfo_path, ret);
}

int uswap_cgroup_find_for_pid(pid_t pid, struct uswap_cgroup *ret)
{
	_cleanup_close_ int fd = -1;
	char path[64];

	if (pid <= 0 || !ret)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/*
	 * The shim's own mountinfo, not the target's: the directory is opened in the shim's
	 * mount namespace, and /proc/PID/cgroup shows paths relative to the reader's cgroup
	 * namespace root, which is what the shim's cgroup mounts show too.
	 */
	return find_from_fd("", fd, "/proc/self/mountinfo", ret);
}

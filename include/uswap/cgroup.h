/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory cgroup of a container, as the shim's enforcer sees it: where it is, how much it
 * uses, its limit, what the usage is made of, memory pressure and which processes are in it.
 * cgroup v1 (memory controller on its own hierarchy, as on hybrid hosts) and v2 alike.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uswap_cgroup {
	int version; /* 1 or 2 */
	int dirfd; /* O_PATH|O_DIRECTORY of the memory cgroup's directory */
	char path[4096]; /* that directory, for messages */
};

/* A closed handle; closing it again is harmless. */
#define USWAP_CGROUP_INIT ((struct uswap_cgroup){ .dirfd = -1 })

struct uswap_cgroup_stat {
	uint64_t anon; /* v1 total_rss (rss without it), v2 anon: bytes */
	uint64_t file; /* v1 total_cache (cache), v2 file: page cache including shmem/tmpfs */
	uint64_t shmem; /* v1 total_shmem (shmem), v2 shmem: the part of file in tmpfs/shm; 0 if
			 * the kernel does not say */
};

struct uswap_cgroup_pressure {
	double some_avg10; /* % of the last 10 s some task stalled on memory */
	double full_avg10; /* % of the last 10 s all non-idle tasks stalled */
	uint64_t some_total_us; /* cumulative stall time, for rates over any tick length */
	uint64_t full_total_us;
};

/*
 * Open the memory cgroup directory dir. version 1 or 2 insists on that version, 0 detects
 * it: v2 if memory.current exists, v1 if memory.usage_in_bytes does. Neither (for instance
 * the v2 root cgroup, which has no memory.current): -ENOENT. Other version: -EINVAL.
 */
int uswap_cgroup_open_dir(const char *dir, int version, struct uswap_cgroup *ret);

/*
 * Find and open the memory cgroup of a process from the text of its /proc/PID/cgroup and of
 * a mountinfo (the reader's mount namespace, since the directory is opened by the reader).
 * The v1 memory hierarchy is taken when the process has one; otherwise its v2 cgroup, if the
 * cgroup2 mount lists "memory" in cgroup.controllers. sysroot (NULL or "" for the real
 * system) is prefixed to every mount point, so tests can run on a fixture tree.
 * No memory cgroup reachable (no such controller, not mounted, outside the reader's cgroup
 * namespace, the v2 root cgroup): -ENOENT. Malformed input: -EBADMSG.
 */
int uswap_cgroup_find_for_pid_at(const char *sysroot, const char *proc_cgroup_path,
				 const char *mountinfo_path, struct uswap_cgroup *ret);

/* The same for a live process: /proc/PID/cgroup and /proc/self/mountinfo. Gone: -ESRCH. */
int uswap_cgroup_find_for_pid(pid_t pid, struct uswap_cgroup *ret);

void uswap_cgroup_close(struct uswap_cgroup *cg);

static inline void uswap_cgroup_closep(struct uswap_cgroup *cg)
{
	uswap_cgroup_close(cg);
}

#define _cleanup_cgroup_ __attribute__((cleanup(uswap_cgroup_closep)))

/*
 * The readers below return 0 or -errno; a file that is not what the kernel writes
 * (numbers: decimal digits and one optional newline) is -EBADMSG. A cgroup removed
 * meanwhile reads as -ENOENT or -ENODEV.
 */

/* Bytes charged: v1 memory.usage_in_bytes, v2 memory.current. */
int uswap_cgroup_usage(const struct uswap_cgroup *cg, uint64_t *ret);

/* Hard limit in bytes, UINT64_MAX for none: v1 memory.limit_in_bytes (its "unlimited" is
 * LONG_MAX rounded down to the page size), v2 memory.max ("max"). */
int uswap_cgroup_limit(const struct uswap_cgroup *cg, uint64_t *ret);

/* From memory.stat. Missing keys: -EBADMSG. */
int uswap_cgroup_stat(const struct uswap_cgroup *cg, struct uswap_cgroup_stat *ret);

/* v2 memory.pressure. v1, or a kernel without PSI: -EOPNOTSUPP. */
int uswap_cgroup_pressure(const struct uswap_cgroup *cg, struct uswap_cgroup_pressure *ret);

/*
 * The processes of the cgroup and of all cgroups below it (a container may create its own),
 * sorted and without duplicates. *ret_pids is malloc'd (NULL when *ret_n is 0). A tree
 * deeper than 32 levels below cg: -ELOOP.
 */
int uswap_cgroup_procs(const struct uswap_cgroup *cg, pid_t **ret_pids, size_t *ret_n);

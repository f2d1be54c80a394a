/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's status file: one JSON object, rewritten atomically (write temp + rename). */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define USWAP_STATUS_MAX_PIDS 64

struct uswap_status {
	pid_t shim_pid;
	char mode[16]; /* "run", "attach" or "container" */
	char id[128]; /* container id, or "" standalone */
	uint64_t target_bytes; /* 0 = no target */
	uint64_t rss_anon_bytes; /* sum of RssAnon of the managed processes */
	uint64_t evicted_pages; /* pages currently held in the store (or zero/pending) */
	uint64_t store_bytes; /* bytes of the store file in use */
	uint64_t faults_total; /* faults served since start */
	double faults_per_sec; /* over the last interval */
	uint64_t evictions_total; /* pages evicted since start */
	uint64_t evictions_clean_total; /* of these, evicted again with no store write */
	uint64_t store_writes_total; /* pages written to the store since start */
	uint64_t store_cache_bytes; /* page cache held by the store file (should stay ~0) */
	double fault_p50_us;
	double fault_p99_us;
	uint64_t stops_total; /* ptrace stops of target threads since start */
	double stopped_ms_total; /* total time a target thread was held in ptrace stops */
	double stopped_ms_max; /* longest single stop */
	uint64_t shim_rss_bytes; /* the shim's own RSS */
	uint64_t takeovers_total; /* pagers that died and were replaced (keeper) */
	char state[32]; /* "ok", "target-unreachable", "store-full", "stopping" ... */
	/* Why the target is unreachable: "" (it is not), "file-cache", "shmem",
	 * "anon-unevictable" or "kernel-memory", and the bytes of that part of the usage. */
	char reason[32];
	uint64_t reason_bytes;
	unsigned npids;
	pid_t pids[USWAP_STATUS_MAX_PIDS];
};

/* Write st as JSON to path atomically (path.tmp then rename), mode 0600. 0 or -errno. */
int uswap_status_write(const char *path, const struct uswap_status *st);

/* Parse a status file written by uswap_status_write (from fd). Unknown keys are ignored.
 * 0, or -EBADMSG / -errno. */
int uswap_status_parse_fd(int fd, struct uswap_status *ret);

/* Print st for humans (several "key: value" lines) to f. */
void uswap_status_print(FILE *f, const struct uswap_status *st);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of a container's memory the pager does not evict. The target applies to the memory
 * cgroup's usage, which also counts page cache, shared memory and kernel memory: when the
 * pager has nothing anonymous left to evict, this module says which part keeps the usage
 * above the target (the status "reason") and asks the kernel to reclaim page cache, with v2
 * memory.reclaim where the cgroup has it, else with remote MADV_PAGEOUT on the file mappings
 * of the cgroup's processes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "uswap/cgroup.h"

struct filemem {
	char reason[32]; /* "" while the target is reachable */
	uint64_t locked_bytes; /* the processes' locked memory (VmLck), set by the caller */
	uint64_t reason_bytes;
	uint64_t next_reclaim_ns;
	bool told; /* the first reclaim was logged */
	bool no_reclaim_file; /* memory.reclaim absent or refused: MADV_PAGEOUT instead */
	bool no_swappiness; /* memory.reclaim refuses "swappiness=0" */
	bool no_pageout; /* remote MADV_PAGEOUT refused: nothing left to ask */
};

/*
 * The largest part of usage that is not evictable anonymous memory, from memory.stat: the
 * reason name ("file-cache", "shmem", "anon-unevictable" or "kernel-memory") and its bytes.
 */
const char *filemem_reason(uint64_t usage, const struct uswap_cgroup_stat *st, uint64_t *ret_bytes);

/*
 * Once a tick, after eviction. unreachable: the pager evicted all it could and usage is still
 * above target. Sets fm->reason (cg NULL or closed: the target is RssAnon, whatever is left
 * is anonymous memory the pager cannot evict) and, for a cgroup with page cache, asks the
 * kernel to reclaim up to the excess, at most every few seconds. id names the container in
 * the log.
 */
void filemem_tick(struct filemem *fm, const struct uswap_cgroup *cg, bool unreachable,
		  uint64_t usage, uint64_t target, const char *id);

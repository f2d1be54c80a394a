/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "inject.h"
#include "pager.h"

/* Arm pid: uffd inside the target (kept there), stash and scratch mapped, stash and id
 * pages registered. `in` is an already prepared injection handle or NULL (attach here).
 * The new space is linked into p->spaces. 0 or -errno. */
int space_arm(struct pager *p, pid_t pid, struct inject *in, struct space **ret);

/* A space for the uffd that an EVENT_FORK message delivered (child not identified yet).
 * Lock held. */
struct space *space_new_forked(struct pager *p, struct space *parent, int uffd);

/* Drop fork child sp's inherited entries in the ranges fork did not copy (MADV_WIPEONFORK
 * reads zeros, MADV_DONTFORK is unmapped), as the VmFlags in /proc/PID/smaps show them, and
 * release its waiting faults. pid: the child once identified (its VMAs keep the flags), or
 * the parent as a fallback. Lock held. */
void space_check_inherited(struct pager *p, struct space *sp, pid_t pid);

/* The VMAs of pid that are locked in memory (mlock, mlockall), from its smaps: a malloc'ed
 * array the caller frees. 0 or -errno. */
int space_locked_ranges(pid_t pid, struct range **ret, size_t *ret_n);

/* RssAnon of pid from /proc/PID/status, and its locked memory (VmLck: mlock, mlockall) into
 * *locked if not NULL; 0 when unreadable. */
uint64_t space_rss_anon(pid_t pid, uint64_t *locked);

/* Does [start,end) overlap one of the n ranges r? */
bool ranges_overlap(const struct range *r, size_t n, uint64_t start, uint64_t end);

/* The program locked the pager's mappings with its own (mlockall after it was armed; sp->locked
 * is its VmLck): unlock and empty them. 0 (also when nothing of the pager's is locked) or
 * -errno. */
int space_unlock_own(struct space *sp);

/* Give identified fork child sp its own uffd inside the target and free its inherited
 * stash. 0 or -errno. */
int space_adopt(struct pager *p, struct space *sp);

enum space_health {
	SPACE_OK,
	SPACE_GONE,
	SPACE_EXECED,
	SPACE_FD_LOST
};
enum space_health space_check(struct pager *p, struct space *sp);
/* Put the uffd back into the target under a fresh fd number. */
int space_reinstall_fd(struct pager *p, struct space *sp);

/* Does pid run in the same mm as space sp? (kcmp KCMP_VM) */
bool space_same_mm(struct pager *p, struct space *sp, pid_t pid);

/* inject_attach to sp's process, only if it still runs the image sp belongs to (an exec
 * since the caller chose it fails with -ESRCH: nothing may be injected into the new one). */
int space_attach(struct space *sp, struct inject *in, int timeout_ms);

/* Identification of fork children: true if pid's mm is the one of unidentified sp. */
bool space_matches(struct pager *p, struct space *sp, pid_t pid);

/* Register [start,end) with the space's uffd: MISSING mode, plus WP mode if wp and the
 * kernel takes it for this range. 0 or -errno. */
int space_register(struct space *sp, uint64_t start, uint64_t end, bool wp);
bool space_registered(const struct space *sp, uint64_t start, uint64_t end);
void space_forget_regs(struct space *sp, uint64_t start, uint64_t end);
void space_move_regs(struct space *sp, uint64_t from, uint64_t to, uint64_t len);

/* Spaces made from now on get serials from first on (a pager that takes over). */
void space_serials_from(uint64_t first);

/* Unlink and free (lock held); drops every page reference. */
void space_destroy(struct pager *p, struct space *sp);

/* Inject a madvise over a vector of ranges: process_madvise(PIDFD_SELF) when allowed,
 * one madvise per range otherwise. iov lives in the shim; copied to scratch. */
int space_madvise(struct space *sp, struct inject *in, const struct range *r, size_t n, int advice);

/* Helpers for raw syscalls. */
int pidfd_open_(pid_t pid);
int pidfd_getfd_(int pidfd, int fd);

/* /proc/PID/pagemap: one 64-bit entry per page. */
#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)
/* Open pid's pagemap: an fd, or -errno (-ESRCH once pid is gone). */
int pagemap_open(pid_t pid);
/* The entries of the n pages from addr into pm; how many were read (0 past the end, on
 * error). */
size_t pagemap_read(int fd, uint64_t addr, uint64_t *pm, size_t n);
/* Does the page at addr hold content: present, or swapped out by the kernel. */
bool pagemap_here(int fd, uint64_t addr);

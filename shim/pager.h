/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared state of the pager: spaces (one per address space), their page maps and the slots
 * holding evicted pages. One mutex (pager.lock) protects maps, slots and the space list; it is
 * never held while waiting for a ptrace stop or while the fault thread is needed.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/userfaultfd.h>

#include "inject.h"
#include "store.h"

#define PAGE_SIZE_4K 4096ull
#define PAGE_MASK_4K (~(PAGE_SIZE_4K - 1))
#define CHUNK_PAGES 512
#define CHUNK_SIZE (CHUNK_PAGES * PAGE_SIZE_4K)

/* Target-side layout, allocated at arm time. */
#define STASH_SIZE (16ull << 20) /* one eviction batch at most */
#define SCRATCH_ARGS 16384ull /* injected syscall arguments, the runner's table */
#define ID_PAGES 64 /* never-touched pages used to identify fork children */
#define SCRATCH_SIZE (SCRATCH_ARGS + ID_PAGES * PAGE_SIZE_4K)
/* The evictor's staging buffers (evict.c): the stash is read into one in a few large copies,
 * and a batch's pages are served and written from it until the batch is stored. Reading into
 * one allocated page per page cost 4x more (a first-touch fault and alignment padding per
 * page). Two of them, so that the next batch is moved and read out while the previous one is
 * being written. */
#define NSTAGES 2
/* Messages the fault thread reads from a uffd at once: an event (a REMOVE that holds an
 * injected madvise, and so a workload thread) waits behind at most this many store reads. */
#define EV_BATCH 16

/* A REMOVE event precedes the kernel's zap: pages in its range are not evicted for this long,
 * so a MOVE can never take a page the application is about to discard (DESIGN: events). */
#define QUARANTINE_NS (5ull * 1000000000ull)
#define QUARANTINE_MAX 256

enum slot_state {
	SLOT_PENDING, /* moved into the stash (to its page val), not yet read out */
	SLOT_MEM, /* content in a batch buffer (data) */
	SLOT_STORED, /* content in the store at page index val */
	SLOT_FILL, /* every 8-byte word equals val (zero pages: val 0); no I/O */
	SLOT_CANCELLED, /* was PENDING but its page was never moved: an entry pointing here
			 * (a fork child's copy, a remapped entry) is stale and means "none" */
};

struct slot {
	uint32_t refs; /* page-map entries pointing here (a page shared by forked spaces) */
	uint8_t state;
	bool reading; /* a store read for this page is in flight (fill.c) */
	bool borrowed; /* data points into the evictor's staging buffer, not a malloc */
	uint32_t csum;
	uint64_t val;
	void *data;
};

struct chunk {
	uint64_t base;
	struct chunk *next;
	unsigned count;
	struct slot *pages[CHUNK_PAGES];
};

struct pmap {
	struct chunk **buckets;
	size_t nbuckets;
	size_t nchunks;
	uint64_t npages;
};

struct range {
	uint64_t start, end;
};

/* A stream of faults in one space (fill.c). Sequential (stride 0): faults in (lo, next]
 * continue it. Stride: faults every stride bytes from lo continue it, next is the first one
 * not read yet. */
#define FILL_STREAMS 4
struct fill_stream {
	uint64_t lo, next;
	unsigned win; /* pages read per fault (stride: pages read ahead), doubled as it goes on */
	int64_t stride;
	int64_t delta; /* from the fault that started the stream to the one before it */
	uint64_t used_ns;
};

#define FILL_RECENT 256

struct quarantine_entry {
	uint64_t start, end, when_ns;
};

struct space {
	struct space *next;
	uint64_t serial; /* unique for the pager's life: a read in flight finds its space */
	pid_t pid; /* 0: fork child not identified yet */
	/* Another live thread of pid once its main thread has ended (pthread_exit while the
	 * others go on): /proc/PID then shows neither memory nor files, /proc/TID does, and
	 * process_vm_* need a thread with an mm. 0: pid itself. See space_tid(). */
	pid_t tid;
	int pidfd;
	int uffd; /* the shim's fd */
	int target_fd; /* the same uffd's number inside the target (crash safety, MOVE) */
	uint64_t scratch; /* target address of the scratch area */
	uint64_t stash; /* target address of the stash */
	uint64_t syscall_ip;
	uint64_t runner; /* target address of the runner (inject.h), 0 if none */
	struct space *parent;
	int id_page; /* id page index carrying id_token, -1 if none yet */
	uint64_t id_token;
	bool forked; /* may share pages with a child: make pages exclusive before MOVE */
	/* A fork child whose inherited entries are not yet checked against its wipe-on-fork
	 * ranges: its faults on them wait (space_check_inherited). */
	bool inherit_unchecked;
	uint64_t born_ns;
	bool pm_self; /* process_madvise(PIDFD_SELF) allowed in the target */
	bool dead;
	/* The program unmapped the stash (or mapped over it): its evicted pages are still served,
	 * but nothing more is evicted from it, and the range is the program's now. */
	bool stash_gone;
	bool stash_dirty; /* stash may hold pages (inherited through fork) */
	/* An injected UFFDIO_MOVE into the stash is in flight: the fault thread leaves this
	 * uffd unread, so an munmap/mremap/DONTNEED/fork that starts meanwhile keeps the
	 * kernel's mmap_changing raised and MOVE fails with EAGAIN instead of moving a page
	 * our page map no longer describes. */
	bool moving;
	struct pmap map; /* evicted pages: where their content is */
	/* Resident pages refilled write-protected from the store and not written since: their
	 * slot (SLOT_STORED) still holds their content, so evicting one again needs a MOVE but
	 * no store write. A write clears the entry first (a WP fault to us). */
	struct pmap clean;
	struct range *regs; /* ranges we registered */
	size_t nregs;
	/* Counts the UNMAP and REMAP events applied: a view of the VMAs read before it changed
	 * may show ranges since unmapped and so must not be registered by (lock held). */
	uint64_t vma_seq;
	struct quarantine_entry q[QUARANTINE_MAX];
	unsigned nq;
	uint64_t cursor; /* eviction clock hand */
	uint64_t hot_until_ns; /* refaults seen: slow down eviction of this space */
	struct fill_stream streams[FILL_STREAMS];
	/* The 2 MiB chunk of each of the last FILL_RECENT faults (fill.c: dense chunks). */
	uint32_t recent_chunks[FILL_RECENT];
	unsigned recent_pos;
	uint64_t rss_anon;
	uint64_t locked; /* VmLck: its locked mappings are never evicted */
	uint64_t locked_seen; /* VmLck when the pager's own mappings were last checked */
	struct range *lranges; /* its locked VMAs, read at VmLck locked_key and vma_seq locked_seq */
	size_t nlranges;
	uint64_t locked_key, locked_seq;
	/* VMAs registered with another userfaultfd (the program's), valid at vma_seq foreign_seq */
	struct range *foreign;
	size_t nforeign;
	uint64_t foreign_seq;
	bool foreign_told; /* logged once */
	uint64_t evicted_pages_total;
};

/* The thread to name in /proc paths and process_vm_* for sp's process. */
static inline pid_t space_tid(const struct space *sp)
{
	return sp->tid > 0 ? sp->tid : sp->pid;
}

#define LAT_RING 4096

struct fault_stats {
	uint64_t faults;
	uint64_t hist[64]; /* log2 buckets of nanoseconds */
	uint32_t ring[LAT_RING]; /* last service times, in 0.1 us */
};

struct pager {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast after each pass of the fault thread */
	uint64_t fault_passes; /* passes of the fault thread (lock held) */
	struct space *spaces;
	struct store store;
	int wake_fd; /* eventfd waking the fault thread */
	int evict_fd; /* eventfd waking the manager: refills used up the headroom */
	/* Pages the fault thread may still map before the tree is over its target by more
	 * than the slack: set by the manager at each measure, lowered by refills. At or below
	 * zero, faults read no neighbours and nothing ahead, and the manager is woken. */
	int64_t headroom;
	uint64_t features; /* uffd features requested */
	bool have_poison;
	bool have_wp; /* anonymous write-protect faults: clean pages are tracked */
	bool no_uring; /* store reads without io_uring (USWAP_DISABLE=uring) */
	bool no_runner; /* one injection per MOVE (USWAP_DISABLE=runner) */
	bool remote_dontneed; /* process_madvise(pidfd, MADV_DONTNEED) works */
	bool have_kcmp;
	uint64_t zero_pfn;
	volatile bool stopping;
	bool store_full;
	uint64_t evictions_total;
	uint64_t evictions_clean; /* pages evicted again without a store write (clean) */
	uint64_t store_writes; /* pages written to the store */
	uint64_t checksum_errors;
	uint64_t takeovers; /* pagers before this one that died (takeover.c) */
	struct fault_stats fstats;
	uint8_t *stages[NSTAGES]; /* STASH_SIZE each, allocated when first needed */
	volatile pid_t root_pid; /* run mode: the command, once started (the keeper reads it) */
	struct inject_hold hold; /* the thread held now (inject.c), for a pager that takes over */
	/* The fault thread reads each uffd's messages into evbuf, memory that outlives the
	 * pager: an event read and not yet applied when it dies is applied by the next one
	 * (fault_replay_events). Each message's event is zeroed once applied; ev_serial names
	 * the space read, ev_applying is 1 + the index of the message being applied, and
	 * ev_moving says that the mremap being applied has cleared its destination and moves
	 * its entries (fault.c: remap). */
	struct uffd_msg evbuf[EV_BATCH];
	uint64_t ev_serial;
	unsigned ev_applying;
	bool ev_moving;
	char store_dir[4096];
};

/* pmap.c */
void pmap_init(struct pmap *m);
struct slot *pmap_get(const struct pmap *m, uint64_t addr);
int pmap_set(struct pmap *m, uint64_t addr, struct slot *s);
typedef void (*pmap_fn)(struct pmap *m, uint64_t addr, struct slot **pp, void *arg);
void pmap_for_range(struct pmap *m, uint64_t start, uint64_t end, pmap_fn fn, void *arg);
void pmap_free(struct pmap *m);
/* Make dst share every entry of src (each slot gains a reference). Lock held. */
void pmap_share(struct pager *p, struct pmap *dst, const struct pmap *src);

/* slots (pmap.c) */
struct slot *slot_new(enum slot_state state);
void slot_ref(struct slot *s);
/* Drops one reference; frees the slot and its store page on the last. Lock held. */
void slot_unref(struct pager *p, struct slot *s);
/* Clear [start,end) of one map, dropping references. Lock held. */
void pmap_drop(struct pager *p, struct pmap *m, uint64_t start, uint64_t end);
/* Clear [start,end) of a space's maps (evicted and clean), dropping references. Lock held. */
void space_drop_range(struct pager *p, struct space *sp, uint64_t start, uint64_t end);

/* pager.c: the manager loop. */
struct pager_cfg {
	const char *mode; /* "run", "attach" or "container" */
	uint64_t target; /* bytes, 0 = none */
	const char *status_path;
	char *const *argv; /* run: the command */
	pid_t root; /* attach: the pid; container: the runtime's init process, armed at exec */
	const char *id; /* container: its id (status) */
	int ready_fd; /* container: gets "ok\n" or one error line once the pager is ready; -1 */
	bool takeover; /* the pager before this one died: p holds its state (takeover.c) */
};

int pager_init(struct pager *p, const char *store_dir);
/* Block the signals the shim takes (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD) in the calling
 * thread and those it starts, ignore SIGPIPE, and return a signalfd for them (or -errno). */
int pager_signalfd(void);
/* Is feature listed in USWAP_DISABLE (comma-separated)? */
bool pager_disabled(const char *feature);
/* Runs until the managed processes are gone or SIGTERM/SIGINT (then restores every page).
 * *ret_status: the exit status to report. 0 or -errno. */
int pager_main(struct pager *p, const struct pager_cfg *cfg, int *ret_status);

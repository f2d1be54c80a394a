/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Eviction of one batch (DESIGN "Evict"): cold present pages are moved into the stash with
 * UFFDIO_MOVE injected into the target (the kernel accepts MOVE only from the target's own
 * mm), so from that instant a touch faults to us and no write can be lost; then the stash is
 * read out with process_vm_readv, freed with one injected madvise, and the pages go to the
 * store. Zero and same-filled pages cost no I/O.
 *
 * Locking: pager.lock guards the page maps only for short updates; it is never held across
 * an injected syscall, because the injected thread may fault on evicted memory on its way
 * back to user mode and the fault thread must be free to serve it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "evict.h"
#include "fault.h"
#include "inject.h"
#include "keeper.h"
#include "space.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/maps.h"
#include "uswap/util.h"

#define MAX_RUNS 512

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

/* How often one batch waits for the fault thread to read an mm event that makes MOVE fail
 * with EAGAIN, before it gives up on the rest of the batch (each wait holds the thread up
 * to 2 ms; a workload that changes its mappings that often is evicted on a later tick). */
#define MAX_RESYNC 4
/* One ptrace stop moves at most this many runs (each one injection without the runner, all in
 * one with it) and pages. */
#define ROUND_RUNS 16
#define ROUND_RUNS_RUNNER 128
#define ROUND_PAGES 4096
#define ROUND_PAGES_FORKED 256

struct run {
	uint64_t start;
	uint64_t npages;
	uint64_t stash_off; /* page offset in the stash */
};

struct batch {
	struct run runs[MAX_RUNS];
	size_t nruns;
	bool split; /* the next page starts a new run (a new VMA) */
	uint64_t npages;
	uint64_t max_pages;
	uint64_t guard; /* a page that must stay resident: the seized thread's rseq area */
	uint64_t nmoved;
	struct slot **slots; /* per stash page; NULL where nothing was (or will be) moved */
	/* per stash page: the clean record of a page whose store copy is still valid, taken
	 * out of sp->clean while the page is in flight; it needs no read-out nor write */
	struct slot **clean;
	uint64_t *addrs;
	bool *moved;
	int stage; /* staging buffer its pages were read into */
};

static bool quarantined(const struct space *sp, uint64_t start, uint64_t end, uint64_t now)
{
	for (unsigned i = 0; i < sp->nq; i++)
		if (now - sp->q[i].when_ns < QUARANTINE_NS && sp->q[i].start < end &&
		    sp->q[i].end > start)
			return true;
	return false;
}

/* No live entry at addr (a cancelled one is dropped on the way). Lock held. */
static bool entry_free(struct pager *p, struct space *sp, uint64_t addr)
{
	struct slot *s = pmap_get(&sp->map, addr);

	if (s && s->state == SLOT_CANCELLED) {
		pmap_set(&sp->map, addr, NULL);
		slot_unref(p, s);
		s = NULL;
	}
	return !s;
}

static bool page_wanted(struct pager *p, struct space *sp, uint64_t pm)
{
	uint64_t pfn = pm & PM_PFN_MASK;

	if (!(pm & PM_PRESENT) || (pm & PM_SWAP))
		return false;
	/* The shared zero page holds no memory; making it writable would allocate some. */
	if (pfn && pfn == p->zero_pfn)
		return false;
	/* A page still shared copy-on-write after a fork is taken too: the MADV_POPULATE_WRITE
	 * before the MOVE gives this process its own copy (the last sharer keeps the original
	 * without a copy), so a forking tree can be held at its target as well. */
	return true;
}

static void add_page(struct batch *b, uint64_t addr)
{
	struct run *r = b->nruns ? &b->runs[b->nruns - 1] : NULL;

	if (r && !b->split && r->start + r->npages * PAGE_SIZE_4K == addr &&
	    r->npages < CHUNK_PAGES) {
		r->npages++;
	} else {
		r = &b->runs[b->nruns++];
		*r = (struct run){ .start = addr, .npages = 1, .stash_off = b->npages };
	}
	b->split = false;
	b->npages++;
}

/* Can addr join the batch: it extends the last run, or there is room for a new one. */
static bool room_for(const struct batch *b, uint64_t addr)
{
	const struct run *last = b->nruns ? &b->runs[b->nruns - 1] : NULL;

	if (b->nruns < MAX_RUNS)
		return true;
	return !b->split && last->start + last->npages * PAGE_SIZE_4K == addr &&
	       last->npages < CHUNK_PAGES;
}

/* Scan [start,end) of one VMA from pagemap and add wanted pages. Returns false when the
 * batch is full. */
static bool scan_range(struct pager *p, struct space *sp, int pmfd, struct batch *b, uint64_t start,
		       uint64_t end, uint64_t now)
{
	uint64_t pm[512];
	bool more = true;

	b->split = true;
	for (uint64_t a = start; a < end && more;) {
		size_t n = pagemap_read(pmfd, a, pm,
					USWAP_MIN((end - a) / PAGE_SIZE_4K, USWAP_ARRAY_SIZE(pm)));

		if (!n)
			return true;
		pthread_mutex_lock(&p->lock);
		if (quarantined(sp, a, a + n * PAGE_SIZE_4K, now)) {
			pthread_mutex_unlock(&p->lock);
			a += n * PAGE_SIZE_4K;
			b->split = true;
			continue;
		}
		for (size_t i = 0; i < n && more; i++, a += PAGE_SIZE_4K) {
			if (!page_wanted(p, sp, pm[i]) || !entry_free(p, sp, a)) {
				b->split = true;
				continue;
			}
			if (!room_for(b, a)) {
				more = false;
				break;
			}
			add_page(b, a);
			if (b->npages >= b->max_pages)
				more = false;
		}
		pthread_mutex_unlock(&p->lock);
	}
	return more;
}

/* Scan [s,e) of one evictable VMA, leaving out the pager's own stash and scratch. They are
 * separate mappings, but the kernel merges a registered one with an adjacent registered VMA
 * of the workload (same flags, same uffd), so /proc shows one VMA holding both. Returns
 * false when the batch is full. */
static bool scan_vma(struct pager *p, struct space *sp, int pmfd, struct batch *b, uint64_t s,
		     uint64_t e, uint64_t now)
{
	const struct range own[2] = { { sp->scratch, sp->scratch + SCRATCH_SIZE },
				      { sp->stash, sp->stash + STASH_SIZE } };
	int lo = own[0].start < own[1].start ? 0 : 1;

	for (int k = 0; k < 2 && s < e; k++) {
		const struct range *o = &own[k == 0 ? lo : 1 - lo];

		if (o->end <= s || o->start >= e)
			continue;
		if (o->start > s && !scan_range(p, sp, pmfd, b, s, o->start, now))
			return false;
		s = USWAP_MAX(s, o->end);
	}
	return s >= e || scan_range(p, sp, pmfd, b, s, e, now);
}

/* Register [s,e) of an evictable VMA, but never the scratch's argument area: the pager writes
 * there while a MOVE has the fault thread leave the uffd unread, so a page of it the program
 * discarded (MADV_DONTNEED) must come back as a plain zero page; registered, it faulted to
 * the pager itself, which hung with the program. (Where the kernel merged that area with an
 * adjacent VMA of the program, registering the rest splits it off again.) Lock held. */
static int register_vma(struct pager *p, struct space *sp, uint64_t s, uint64_t e)
{
	uint64_t a0 = sp->scratch, a1 = sp->scratch + SCRATCH_ARGS;
	int r = 0;

	if (s < a0)
		r = space_register(sp, s, USWAP_MIN(e, a0), p->have_wp);
	if (r == 0 && e > a1)
		r = space_register(sp, USWAP_MAX(s, a1), e, p->have_wp);
	return r;
}

/* [start,end) is registered with another userfaultfd (the program's own: the kernel allows
 * one per mapping): it is the program's, and passed over until its mappings change. */
static void note_foreign(struct space *sp, uint64_t seq, uint64_t start, uint64_t end)
{
	struct range *n;

	if (sp->foreign_seq != seq) {
		sp->nforeign = 0;
		sp->foreign_seq = seq;
	}
	n = arena_realloc(sp->foreign, (sp->nforeign + 1) * sizeof(*n));
	if (!n)
		return;
	sp->foreign = n;
	sp->foreign[sp->nforeign++] = (struct range){ start, end };
	if (!sp->foreign_told)
		log_info(
			"pid %d: %#lx-%#lx is registered with a userfaultfd of its own: left to it",
			sp->pid, (unsigned long)start, (unsigned long)end);
	sp->foreign_told = true;
}

/* Pick candidate pages starting at the clock hand; register their VMAs. */
static int select_pages(struct pager *p, struct space *sp, struct batch *b)
{
	_cleanup_free_ struct uswap_vma *v = NULL;
	const struct range *locked;
	_cleanup_close_ int pmfd = -1;
	size_t n, first = 0, nlocked = 0;
	uint64_t now = now_ns(), seq;
	int r;

	/* UFFDIO_REGISTER registers the VMAs it finds in a range and passes over holes. A VMA of
	 * this view unmapped since (its UNMAP event applied) and a new one mapped there would
	 * otherwise be recorded as registered while it is not: stop at the first sign of that. */
	pthread_mutex_lock(&p->lock);
	seq = sp->vma_seq;
	pthread_mutex_unlock(&p->lock);
	r = uswap_maps_read(space_tid(sp), &v, &n);
	if (r < 0)
		return r;
	if (!n)
		return 0;
	/* Locked memory (mlock, mlockall) must stay in RAM: the kernel would refuse to MOVE or
	 * discard it anyway. Its ranges come from smaps, read again when the locked size or the
	 * mappings change; without them nothing is evicted from the process. */
	if (sp->locked && (sp->locked != sp->locked_key || seq != sp->locked_seq || !sp->lranges)) {
		arena_free(sp->lranges);
		sp->lranges = NULL;
		sp->nlranges = 0;
		if (space_locked_ranges(space_tid(sp), &sp->lranges, &sp->nlranges) < 0)
			return 0;
		sp->locked_key = sp->locked;
		sp->locked_seq = seq;
	}
	locked = sp->locked ? sp->lranges : NULL;
	nlocked = sp->locked ? sp->nlranges : 0;
	pmfd = pagemap_open(space_tid(sp));
	if (pmfd < 0)
		return pmfd;
	while (first < n && v[first].end <= sp->cursor)
		first++;
	if (first == n) {
		first = 0;
		sp->cursor = 0;
	}
	/* From the clock hand to the end, then around to the hand again. */
	for (size_t k = 0; k <= n; k++) {
		size_t i = (first + k) % n;
		uint64_t s = v[i].start, e = v[i].end;
		bool registered;

		if (k == 0)
			s = USWAP_MAX(s, sp->cursor);
		if (k == n) {
			if (sp->cursor <= v[i].start)
				break;
			e = USWAP_MIN(e, sp->cursor);
		}
		if (s >= e || !uswap_vma_evictable(&v[i]) ||
		    ranges_overlap(locked, nlocked, v[i].start, v[i].end) ||
		    (sp->foreign_seq == seq &&
		     ranges_overlap(sp->foreign, sp->nforeign, v[i].start, v[i].end)))
			continue;
		pthread_mutex_lock(&p->lock);
		if (sp->vma_seq != seq) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		registered = space_registered(sp, v[i].start, v[i].end);
		r = registered ? 0 : register_vma(p, sp, v[i].start, v[i].end);
		pthread_mutex_unlock(&p->lock);
		if (r == -EBUSY) {
			note_foreign(sp, seq, v[i].start, v[i].end);
			continue;
		}
		if (r < 0) {
			log_debug_errno(r, "pid %d: cannot register %#lx-%#lx: %m", sp->pid,
					(unsigned long)v[i].start, (unsigned long)v[i].end);
			continue;
		}
		if (!scan_vma(p, sp, pmfd, b, s, e, now))
			break;
	}
	if (b->nruns)
		sp->cursor =
			b->runs[b->nruns - 1].start + b->runs[b->nruns - 1].npages * PAGE_SIZE_4K;
	else
		sp->cursor = 0;
	return 0;
}

/* A MOVE of npages whose struct uffdio_move is at addr in the target returned res (not 0): how
 * many pages it moved before it stopped (*ret_moved) and why (*ret_err). 0 or -errno. */
static int move_failed(struct space *sp, uint64_t addr, uint64_t npages, long res,
		       uint64_t *ret_moved, int *ret_err)
{
	struct uffdio_move mv;
	int r = target_read(space_tid(sp), addr, &mv, sizeof(mv));

	if (r < 0)
		return r;
	if (mv.move > 0)
		*ret_moved = USWAP_MIN((uint64_t)mv.move / PAGE_SIZE_4K, npages);
	*ret_err = res < 0 && res > -4096 ? (int)res : -EIO;
	return 0;
}

/* One injected UFFDIO_MOVE of npages from src to dst. The return value says whether the
 * injection worked; *ret_err is the MOVE's own result (0 or -errno), *ret_moved the pages
 * it moved (MOVE stops at the first page it cannot take). */
static int move_run(struct space *sp, struct inject *in, uint64_t src, uint64_t dst,
		    uint64_t npages, uint64_t *ret_moved, int *ret_err)
{
	struct uffdio_move mv = { .dst = dst, .src = src, .len = npages * PAGE_SIZE_4K };
	long res;
	int r;

	*ret_moved = 0;
	*ret_err = 0;
	r = target_write(space_tid(sp), sp->scratch, &mv, sizeof(mv));
	if (r < 0)
		return r;
	r = inject_syscall(in, SYS_ioctl, &res, sp->target_fd, UFFDIO_MOVE, sp->scratch, 0, 0, 0);
	if (r < 0)
		return r;
	if (res == 0) {
		*ret_moved = npages;
		return 0;
	}
	return move_failed(sp, sp->scratch, npages, res, ret_moved, ret_err);
}

/* Forget page j of the batch: it was not moved. Its entry goes if it is still the one we
 * made; a copy elsewhere (a fork child, a remapped range) becomes stale. Lock held. */
static void cancel(struct pager *p, struct space *sp, struct batch *b, uint64_t j)
{
	struct slot *s = b->slots[j], *c = b->clean[j];
	bool ours;

	if (!s)
		return;
	ours = pmap_get(&sp->map, b->addrs[j]) == s;
	if (ours) {
		pmap_set(&sp->map, b->addrs[j], NULL);
		slot_unref(p, s);
	}
	if (c) {
		/* A page never moved is still in place and still write-protected (its write
		 * faults waited for this batch): it stays clean. A page moved back is not. */
		if (!(ours && !b->moved[j] && pmap_set(&sp->clean, b->addrs[j], c) == 0))
			slot_unref(p, c);
		b->clean[j] = NULL;
	}
	s->state = SLOT_CANCELLED;
	slot_unref(p, s); /* the batch's */
	b->slots[j] = NULL;
}

/* If page j of the batch is clean, the batch takes its record: once moved, the page's
 * content is its store copy. A record shared with a fork sibling stays theirs, and the page
 * is evicted like a written one. Lock held. */
static void take_clean(struct pager *p, struct space *sp, struct batch *b, uint64_t j)
{
	struct slot *c = pmap_get(&sp->clean, b->addrs[j]);

	if (!c)
		return;
	pmap_set(&sp->clean, b->addrs[j], NULL);
	if (c->refs == 1 && (c->state == SLOT_STORED || c->state == SLOT_FILL))
		b->clean[j] = c;
	else
		slot_unref(p, c);
}

/* Create PENDING entries for the pages of runs [k0,k1), so that a fault on a page moved a
 * moment later waits for its content instead of reading zeros. A page that has an entry
 * already (its copy would be unowned), or is the guard page, ends its run there. So does a
 * page outside the ranges registered with this uffd: the batch was picked from an earlier
 * view of the VMAs, and the workload may have unmapped one since (its UNMAP event forgot the
 * range) and mapped a new VMA there. UFFDIO_MOVE only needs the stash registered: it would
 * take the new VMA's page, and the workload's next access there, with no uffd to fault to,
 * would get a zero page from the kernel. (register_runs would register such a run, but by
 * itself, splitting the new VMA where the program can see it: an mremap over it fails with
 * EFAULT.) Lock held (events are applied under it). */
static void make_pending(struct pager *p, struct space *sp, struct batch *b, size_t k0, size_t k1)
{
	uint64_t now = now_ns();

	for (size_t k = k0; k < k1; k++) {
		struct run *run = &b->runs[k];

		if (quarantined(sp, run->start, run->start + run->npages * PAGE_SIZE_4K, now)) {
			run->npages = 0;
			continue;
		}
		for (uint64_t i = 0; i < run->npages; i++) {
			uint64_t a = run->start + i * PAGE_SIZE_4K, j = run->stash_off + i;
			struct slot *s;

			if (a == b->guard || !entry_free(p, sp, a) ||
			    !space_registered(sp, a, a + PAGE_SIZE_4K) ||
			    !(s = slot_new(SLOT_PENDING))) {
				run->npages = i;
				break;
			}
			if (pmap_set(&sp->map, a, s) < 0) {
				slot_unref(p, s);
				run->npages = i;
				break;
			}
			s->val = j; /* where it goes: a pager that takes over looks there */
			slot_ref(s); /* the batch's own reference */
			b->slots[j] = s;
			b->addrs[j] = a;
			take_clean(p, sp, b, j);
		}
	}
}

/* Register the runs [k0,k1) again, with the thread held, right before they are moved. The
 * record of registered ranges can be wrong in one way events do not reveal: UFFDIO_REGISTER
 * passes over holes, and a VMA that was never registered is unmapped without an UNMAP event;
 * a VMA mapped into such a hole later is unregistered, though the record covers it. A page
 * moved out of an unregistered VMA is lost: its next access does not fault to us, the kernel
 * maps a zero page. Registered now, whatever VMA holds the page faults to us, and what we
 * move is its content. (The workload's other threads may still unmap meanwhile: that raises
 * the UNMAP event, and the MOVE fails with EAGAIN until it is read.) Lock held. */
static void register_runs(struct pager *p, struct space *sp, struct batch *b, size_t k0, size_t k1)
{
	for (size_t k = k0; k < k1; k++) {
		struct run *run = &b->runs[k];
		int r;

		if (!run->npages)
			continue;
		r = space_register(sp, run->start, run->start + run->npages * PAGE_SIZE_4K,
				   p->have_wp);
		if (r == 0)
			continue;
		log_debug_errno(r, "pid %d: cannot register %#lx-%#lx: %m", sp->pid,
				(unsigned long)run->start,
				(unsigned long)(run->start + run->npages * PAGE_SIZE_4K));
		for (uint64_t i = 0; i < run->npages; i++)
			cancel(p, sp, b, run->stash_off + i);
		run->npages = 0;
	}
}

/* MOVE failed with EAGAIN: an mm event is waiting in the uffd. Let the fault thread read
 * it (two passes: the first may have polled without this uffd), then drop the pages whose
 * entries the event changed. */
static void resync(struct pager *p, struct space *sp, struct batch *b)
{
	struct timespec until;
	uint64_t pass;

	/* The fault thread reads an event within microseconds; the thread stays held meanwhile,
	 * so keep the wait short (the batch gives up after MAX_RESYNC tries). */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 2 * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	sp->moving = false;
	pass = p->fault_passes;
	pager_wake_faults(p);
	while (p->fault_passes < pass + 2)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT)
			break;
	for (uint64_t j = 0; j < b->npages; j++)
		if (b->slots[j] && !b->moved[j] && pmap_get(&sp->map, b->addrs[j]) != b->slots[j])
			cancel(p, sp, b, j);
	sp->moving = true;
	pthread_mutex_unlock(&p->lock);
}

/* Consecutive pending pages of the batch that one MOVE takes: stash pages [j, j+n). */
struct seg {
	uint64_t j, n;
};

/* The pages of runs [k0,k1) still to move, as segments; segs has room for each page. */
static size_t plan_segs(const struct batch *b, size_t k0, size_t k1, struct seg *segs)
{
	size_t ns = 0;

	for (size_t k = k0; k < k1; k++) {
		const struct run *run = &b->runs[k];

		for (uint64_t i = 0; i < run->npages;) {
			uint64_t j = run->stash_off + i, n = 0;

			while (i + n < run->npages && b->slots[j + n] && !b->moved[j + n])
				n++;
			if (n)
				segs[ns++] = (struct seg){ j, n };
			i += n ? n : 1;
		}
	}
	return ns;
}

/* How many pages at the start of stash pages [j, j+n) are there (MOVE fills a range in
 * order and stops at the first page it cannot take), from the stash's pagemap. */
static uint64_t stash_filled(const struct space *sp, uint64_t j, uint64_t n)
{
	_cleanup_close_ int fd = pagemap_open(space_tid(sp));
	uint64_t k = 0;

	if (fd < 0)
		return 0;
	/* present, or swapped out by the kernel since: moved either way */
	while (k < n && pagemap_here(fd, sp->stash + (j + k) * PAGE_SIZE_4K))
		k++;
	return k;
}

/* MOVE the segments segs[0..n) in order, up to the first that is not moved whole: all through
 * the runner in one injection (up to the table's size), or one injection each. 0 or -errno
 * (the batch must stop); either way *ret_done segments were moved whole and, if *ret_done <
 * n, *ret_moved pages of the next one, with *ret_err its MOVE's error (0: go on after the
 * pages moved, one injection per MOVE from now on). */
static int move_segs(struct space *sp, struct inject *in, const struct batch *b,
		     const struct seg *segs, size_t n, size_t *ret_done, uint64_t *ret_moved,
		     int *ret_err)
{
	uint8_t tab[SCRATCH_ARGS / RUNNER_ENTRY * RUNNER_ENTRY];
	uint64_t done = 0;
	long res = 0;
	int r;

	*ret_done = 0;
	*ret_moved = 0;
	*ret_err = 0;
	/* space_attach checked the runner (in->runner is 0 if it was replaced) */
	if (!in->runner) {
		if (sp->runner)
			log_warn("pid %d: the runner at %#lx was replaced: one injection per MOVE "
				 "from now on",
				 sp->pid, (unsigned long)sp->runner);
		sp->runner = 0;
		for (; *ret_done < n; ++*ret_done) {
			const struct seg *g = &segs[*ret_done];

			r = move_run(sp, in, b->addrs[g->j], sp->stash + g->j * PAGE_SIZE_4K, g->n,
				     ret_moved, ret_err);
			if (r < 0 || *ret_err)
				return r;
		}
		return 0;
	}
	n = USWAP_MIN(n, sizeof(tab) / RUNNER_ENTRY);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = tab + i * RUNNER_ENTRY;
		uint64_t call[4] = { SYS_ioctl, (uint64_t)sp->target_fd, UFFDIO_MOVE,
				     sp->scratch + i * RUNNER_ENTRY + RUNNER_ARG };
		struct uffdio_move mv = { .dst = sp->stash + segs[i].j * PAGE_SIZE_4K,
					  .src = b->addrs[segs[i].j],
					  .len = segs[i].n * PAGE_SIZE_4K };

		memcpy(e, call, sizeof(call));
		memcpy(e + RUNNER_ARG, &mv, sizeof(mv));
	}
	r = target_write(space_tid(sp), sp->scratch, tab, n * RUNNER_ENTRY);
	if (r < 0)
		return r;
	r = inject_run(in, sp->scratch, n, &done, &res);
	*ret_done = done;
	if (done == n)
		return r;
	if (r < 0) {
		/* The MOVE in flight may or may not have run: the stash tells. */
		*ret_moved = stash_filled(sp, segs[done].j, segs[done].n);
		if (r != -EFAULT)
			return r;
		log_warn("pid %d: the runner at %#lx faulted: one injection per MOVE from now on",
			 sp->pid, (unsigned long)sp->runner);
		sp->runner = 0;
		inject_use_runner(in, 0);
		return 0;
	}
	return move_failed(sp, sp->scratch + done * RUNNER_ENTRY + RUNNER_ARG, segs[done].n, res,
			   ret_moved, ret_err);
}

static void set_moved(struct batch *b, uint64_t j, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		b->moved[j + k] = true;
	b->nmoved += n;
}

/* A MOVE found page j's stash page taken (EEXIST), which nothing but that page's own MOVE
 * should do within a batch: say what pagemap shows of both, for the report. */
static void log_stash_taken(const struct space *sp, const struct batch *b, uint64_t j)
{
	_cleanup_close_ int fd = pagemap_open(space_tid(sp));
	bool src = fd >= 0 && pagemap_here(fd, b->addrs[j]),
	     dst = fd >= 0 && pagemap_here(fd, sp->stash + j * PAGE_SIZE_4K);

	log_warn("pid %d: MOVE at %#lx found its stash page taken (page %s, stash page %s): "
		 "the page is left in place",
		 sp->pid, (unsigned long)b->addrs[j], src ? "present" : "gone",
		 dst ? "present" : "empty");
}

/* Move the still-pending pages of runs [k0,k1) into the stash, in as few MOVEs as possible.
 * Lock not held, sp->moving set. 0, or -errno when the batch must stop. */
static int move_runs(struct pager *p, struct space *sp, struct inject *in, struct batch *b,
		     size_t k0, size_t k1, unsigned *resyncs)
{
	uint64_t pages = 0;
	struct seg *segs;
	size_t ns, i = 0;
	int r = 0;

	for (size_t k = k0; k < k1; k++)
		pages += b->runs[k].npages;
	segs = malloc(USWAP_MAX(pages, 1) * sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	ns = plan_segs(b, k0, k1, segs);
	while (i < ns) {
		size_t done;
		uint64_t moved;
		int err;

		r = move_segs(sp, in, b, segs + i, ns - i, &done, &moved, &err);
		for (size_t d = 0; d < done; d++)
			set_moved(b, segs[i + d].j, segs[i + d].n);
		i += done;
		if (i == ns)
			break;
		struct seg *g = &segs[i];

		set_moved(b, g->j, moved);
		g->j += moved;
		g->n -= moved;
		if (r < 0)
			break;
		if (!g->n) {
			i++;
			continue;
		}
		if (!err)
			continue;
		if (err == -EAGAIN) {
			if (moved)
				continue;
			if (++*resyncs > MAX_RESYNC) {
				r = err;
				break;
			}
			/* The event may have dropped pages of any run: plan again. */
			resync(p, sp, b);
			ns = plan_segs(b, k0, k1, segs);
			i = 0;
			continue;
		}
		pthread_mutex_lock(&p->lock);
		if (err == -EBUSY || err == -ENOENT) {
			/* A shared page, a hole or a zero page: leave it and go on after it. A
			 * shared page means the process forked before we knew it: from now on
			 * batches make their pages exclusive first. */
			if (err == -EBUSY)
				sp->forked = true;
			cancel(p, sp, b, g->j);
			g->j++;
			g->n--;
			i += !g->n;
		} else {
			/* The VMA changed under us (EINVAL: protections, a split): drop the rest. */
			if (err == -EEXIST)
				log_stash_taken(sp, b, g->j);
			else
				log_debug_errno(err, "pid %d: MOVE at %#lx: %m", sp->pid,
						(unsigned long)b->addrs[g->j]);
			for (uint64_t k = 0; k < g->n; k++)
				cancel(p, sp, b, g->j + k);
			i++;
		}
		pthread_mutex_unlock(&p->lock);
		if (err == -EBADF) {
			r = err;
			break;
		}
	}
	free(segs);
	return r;
}

/* Free the first npages of the stash. The stash is unregistered meanwhile: a DONTNEED in a
 * registered range sends a REMOVE event and waits until the fault thread has read it, which
 * held the workload's thread for up to ~20 ms when that thread was busy serving faults. */
static int free_stash(struct pager *p, struct space *sp, struct inject *in, uint64_t npages)
{
	struct range r = { sp->stash, sp->stash + npages * PAGE_SIZE_4K };
	struct uffdio_register reg = { .range = { sp->stash, STASH_SIZE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	bool unregistered = ioctl(sp->uffd, UFFDIO_UNREGISTER, &reg.range) == 0;
	int ret = -1;

	if (p->remote_dontneed) {
		struct iovec iov = { (void *)r.start, r.end - r.start };

		if (syscall(SYS_process_madvise, sp->pidfd, &iov, 1, MADV_DONTNEED, 0) >= 0)
			ret = 0;
	}
	if (ret)
		ret = space_madvise(sp, in, &r, 1, MADV_DONTNEED);
	/* MOVE needs the stash registered with this uffd again. */
	if (unregistered && ioctl(sp->uffd, UFFDIO_REGISTER, &reg) < 0) {
		ret = -errno;
		log_error_errno(ret, "pid %d: cannot register the stash again: %m", sp->pid);
	}
	return ret;
}

/* The seized thread's rseq area: the kernel writes it whenever the thread returns to user
 * mode, and that must not fault while this uffd is left unread. Make it resident (it may
 * have been evicted earlier) and keep it out of the batch. 0 or -errno. */
static int guard_rseq(struct pager *p, struct space *sp, struct inject *in, struct batch *b)
{
	struct {
		uint64_t ptr;
		uint32_t size, sig, flags, pad;
	} conf = { 0 };
	int r = 0;

	b->guard = 0;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, in->tid, sizeof(conf), &conf) <= 0 || !conf.ptr)
		return 0;
	b->guard = conf.ptr & PAGE_MASK_4K;
	pthread_mutex_lock(&p->lock);
	if (!entry_free(p, sp, b->guard))
		r = fault_fill_page(p, sp, b->guard, FILL_WRITE);
	else if (pmap_get(&sp->clean, b->guard))
		r = fault_unprotect(p, sp, b->guard);
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* Runs [k0,*ret_k1) fit one ptrace stop: at most ROUND_RUNS(_RUNNER) MOVEs and ROUND_PAGES
 * pages (fewer after a fork, where MADV_POPULATE_WRITE may copy every page). */
static size_t round_end(const struct space *sp, const struct batch *b, size_t k0)
{
	uint64_t pages = 0, max = sp->forked ? ROUND_PAGES_FORKED : ROUND_PAGES;
	size_t k = k0, runs = sp->runner ? ROUND_RUNS_RUNNER : ROUND_RUNS;

	while (k < b->nruns && k - k0 < runs && (k == k0 || pages + b->runs[k].npages <= max))
		pages += b->runs[k++].npages;
	return k;
}

/* Pages that lost their exclusive mark in a fork take it back without a copy when they are
 * mapped once, and get their own copy when still shared (DESIGN: fork). */
static void make_exclusive(struct space *sp, struct inject *in, struct batch *b, size_t k0,
			   size_t k1)
{
	struct range rg[ROUND_RUNS_RUNNER];
	int r;

	for (size_t k = k0; k < k1; k++)
		rg[k - k0] = (struct range){ b->runs[k].start,
					     b->runs[k].start + b->runs[k].npages * PAGE_SIZE_4K };
	r = space_madvise(sp, in, rg, k1 - k0, MADV_POPULATE_WRITE);
	if (r < 0)
		log_debug_errno(r, "pid %d: MADV_POPULATE_WRITE: %m", sp->pid);
}

/* One ptrace stop: move runs [k0,k1) into the stash. 0 or -errno. */
static int move_round(struct pager *p, struct space *sp, struct batch *b, size_t k0, size_t k1,
		      unsigned *resyncs)
{
	struct inject in;
	int r;

	r = space_attach(sp, &in, 200);
	if (r < 0)
		return r;
	if (sp->stash_dirty) {
		r = free_stash(p, sp, &in, STASH_SIZE / PAGE_SIZE_4K);
		if (r < 0)
			goto out;
		sp->stash_dirty = false;
	}
	r = guard_rseq(p, sp, &in, b);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&p->lock);
	make_pending(p, sp, b, k0, k1);
	register_runs(p, sp, b, k0, k1);
	sp->moving = true;
	pthread_mutex_unlock(&p->lock);
	keeper_crash_point("in-hold");
	r = move_runs(p, sp, &in, b, k0, k1, resyncs);
	pthread_mutex_lock(&p->lock);
	sp->moving = false;
	for (size_t k = k0; k < k1; k++)
		for (uint64_t i = 0; i < b->runs[k].npages; i++)
			if (!b->moved[b->runs[k].stash_off + i])
				cancel(p, sp, b, b->runs[k].stash_off + i);
	pthread_mutex_unlock(&p->lock);
	pager_wake_faults(p);
	if (r == -EEXIST)
		sp->stash_dirty = true;
out:
	inject_detach(&in);
	return r;
}

/* After a fork, make the batch's pages exclusive, in rounds of their own, all before the
 * first MOVE: MADV_POPULATE_WRITE faults on any missing page of its range, and a page moved
 * by an earlier round (PENDING until the whole batch is read out) may have been carried
 * into a later round's range by an mremap; populating it would wait for this very batch. */
static int populate_batch(struct space *sp, struct batch *b)
{
	for (size_t k0 = 0, k1; k0 < b->nruns; k0 = k1) {
		struct inject in;
		int r;

		k1 = round_end(sp, b, k0);
		r = space_attach(sp, &in, 200);
		if (r < 0)
			return r;
		make_exclusive(sp, &in, b, k0, k1);
		inject_detach(&in);
	}
	return 0;
}

/* Move the batch into the stash, one short ptrace stop per round, so that the workload is
 * never held for long. */
static int move_batch(struct pager *p, struct space *sp, struct batch *b)
{
	unsigned resyncs = 0;
	int r = 0;

	if (sp->forked)
		r = populate_batch(sp, b);
	for (size_t k0 = 0, k1; k0 < b->nruns && r == 0; k0 = k1) {
		k1 = round_end(sp, b, k0);
		r = move_round(p, sp, b, k0, k1, &resyncs);
	}
	return r;
}

/* A batch's store write in flight: what finishing it needs. */
struct wjob {
	struct store_wbatch wb;
	struct space *sp;
	uint64_t serial;
	struct store_page *pages;
	uint64_t *idx;
	size_t n;
	struct slot **slots; /* every slot of the batch: the batch's references */
	uint64_t *addrs;
	uint64_t npages;
	int stage;
};

static struct wjob *stage_job[NSTAGES]; /* the write holding each buffer, NULL: free */

static void drop_data(struct slot *s)
{
	if (!s->borrowed)
		arena_free(s->data);
	s->data = NULL;
	s->borrowed = false;
}

/* A free staging buffer for b, waiting for a write to finish if both are taken. */
static int take_stage(struct pager *p, struct batch *b)
{
	for (;;) {
		for (int i = 0; i < NSTAGES; i++) {
			if (stage_job[i])
				continue;
			if (!p->stages[i]) {
				p->stages[i] = arena_calloc(STASH_SIZE);
				if (!p->stages[i])
					return -ENOMEM;
			}
			b->stage = i;
			return 0;
		}
		evict_finish_writes(p, true);
	}
}

static int read_out(struct pager *p, struct space *sp, struct batch *b)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t nl = 0;
	uint8_t *stage;
	int r = take_stage(p, b);

	if (r < 0)
		return r;
	stage = p->stages[b->stage];
	for (uint64_t i = 0; i <= b->npages; i++) {
		struct iovec *last = nl ? &local[nl - 1] : NULL;
		uint8_t *page = stage + i * PAGE_SIZE_4K;

		if (i < b->npages && b->slots[i] && !b->clean[i]) {
			drop_data(b->slots[i]);
			b->slots[i]->data = page;
			b->slots[i]->borrowed = true;
			if (last && (uint8_t *)last->iov_base + last->iov_len == page) {
				last->iov_len += PAGE_SIZE_4K;
				remote[nl - 1].iov_len += PAGE_SIZE_4K;
				continue;
			}
			if (nl < IOV_MAX) {
				local[nl] = (struct iovec){ page, PAGE_SIZE_4K };
				remote[nl++] =
					(struct iovec){ (void *)(sp->stash + i * PAGE_SIZE_4K),
							PAGE_SIZE_4K };
				continue;
			}
		}
		if (nl == IOV_MAX || (i == b->npages && nl)) {
			ssize_t want = 0,
				n = process_vm_readv(space_tid(sp), local, nl, remote, nl, 0);

			for (size_t k = 0; k < nl; k++)
				want += (ssize_t)local[k].iov_len;
			if (n < 0)
				return -errno;
			if (n != want)
				return -EFAULT;
			nl = 0;
			if (i < b->npages && b->slots[i] && !b->clean[i])
				i--; /* the page that found no room: again */
		}
	}
	return 0;
}

/* Slots of the batch that outlive it with their content in memory (a failed store write,
 * an entry moved meanwhile) get their own copy before the staging buffer is reused. Where
 * even that fails, the buffer is left to them and a new one is made for the next batch:
 * never a lost page. Lock held. */
static void unborrow(struct pager *p, struct slot **slots, uint64_t npages, int stage)
{
	bool kept = false;

	for (uint64_t i = 0; i < npages; i++) {
		struct slot *s = slots[i];
		void *own;

		if (!s || !s->borrowed || !s->data || s->refs <= 1)
			continue;
		own = arena_calloc(PAGE_SIZE_4K);
		if (!own) {
			kept = true;
			continue;
		}
		memcpy(own, s->data, PAGE_SIZE_4K);
		s->data = own;
		s->borrowed = false;
	}
	if (kept) {
		log_error("out of memory: the eviction buffer stays with its pages");
		p->stages[stage] = NULL;
	}
}

/* The stash is read: make the slots servable, from memory or, for clean pages, from the
 * store copy they take over. */
static void publish(struct pager *p, struct batch *b)
{
	pthread_mutex_lock(&p->lock);
	for (uint64_t i = 0; i < b->npages; i++) {
		struct slot *s = b->slots[i], *c = b->clean[i];

		if (!s)
			continue;
		if (!c) {
			s->state = SLOT_MEM;
			continue;
		}
		s->val = c->val;
		s->csum = c->csum;
		s->state = c->state;
		c->state = SLOT_CANCELLED; /* its store page, if any, now belongs to s */
		slot_unref(p, c);
		b->clean[i] = NULL;
		p->evictions_clean++;
	}
	pthread_mutex_unlock(&p->lock);
	pager_wake_faults(p);
}

/* Forget every clean record: their store pages become free for the next try of a full store
 * (the pages stay write-protected; a write then only clears that). Lock held. */
static void drop_clean_records(struct pager *p)
{
	for (struct space *sp = p->spaces; sp; sp = sp->next)
		pmap_drop(p, &sp->clean, 0, UINT64_MAX);
}

/* The write of job is over with result r: its pages are stored, or (store full, failing)
 * put back into the workload, so nothing is lost and the pager's heap holds no evicted
 * memory; a page whose entry moved meanwhile stays servable from memory. Eviction pauses
 * (enforce). */
static void finish_job(struct pager *p, struct wjob *j, int r)
{
	struct space *sp = j->sp;
	bool alive;

	pthread_mutex_lock(&p->lock);
	alive = space_listed(p, sp) && sp->serial == j->serial;
	if (r == 0) {
		p->store_writes += j->n;
		for (size_t i = 0; i < j->n; i++) {
			struct slot *s = j->pages[i].cookie;

			drop_data(s);
			s->val = j->pages[i].idx;
			s->state = SLOT_STORED;
		}
	} else {
		for (size_t i = 0; i < j->n && r != -ENOMEM; i++)
			store_release(&p->store, j->idx[i]);
		p->store_full = true;
		drop_clean_records(p);
		for (uint64_t k = 0; k < j->npages && alive; k++)
			if (j->slots[k] && j->slots[k]->state == SLOT_MEM &&
			    pmap_get(&sp->map, j->addrs[k]) == j->slots[k])
				fault_fill_page(p, sp, j->addrs[k], FILL_WRITE);
	}
	unborrow(p, j->slots, j->npages, j->stage);
	for (uint64_t k = 0; k < j->npages; k++)
		if (j->slots[k])
			slot_unref(p, j->slots[k]);
	pthread_mutex_unlock(&p->lock);
	stage_job[j->stage] = NULL;
	store_wbatch_free(&j->wb);
	free(j->pages);
	free(j->idx);
	free(j->slots);
	free(j->addrs);
	free(j);
}

void evict_finish_writes(struct pager *p, bool wait)
{
	bool any = false;

	for (int i = 0; i < NSTAGES; i++)
		any |= stage_job[i] != NULL;
	if (!any)
		return;
	if (p->store.async)
		store_reap(&p->store, wait);
	for (int i = 0; i < NSTAGES; i++)
		if (stage_job[i] && !stage_job[i]->wb.pending)
			finish_job(p, stage_job[i], stage_job[i]->wb.err);
}

void evict_drain_writes(struct pager *p)
{
	for (int i = 0; i < NSTAGES; i++)
		while (stage_job[i])
			evict_finish_writes(p, true);
}

/* Checksum the batch's pages still wanted (same-filled ones need no write) and give them
 * store pages. Lock held. */
static int prepare_job(struct pager *p, struct wjob *j)
{
	j->pages = calloc(j->npages, sizeof(*j->pages));
	j->idx = calloc(j->npages, sizeof(*j->idx));
	if (!j->pages || !j->idx)
		return -ENOMEM;
	for (uint64_t i = 0; i < j->npages; i++) {
		struct slot *s = j->slots[i];
		uint64_t v;

		if (!s || s->refs == 1 || s->state != SLOT_MEM)
			continue; /* faulted back in or discarded already, or clean and stored */
		if (page_is_filled(s->data, &v)) {
			drop_data(s);
			s->val = v;
			s->state = SLOT_FILL;
			continue;
		}
		s->csum = page_checksum(s->data);
		j->pages[j->n].data = s->data;
		j->pages[j->n].cookie = s;
		j->n++;
	}
	if (store_alloc(&p->store, j->idx, j->n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < j->n; i++)
		j->pages[i].idx = j->idx[i];
	return 0;
}

/* Write the batch to the store: queued on io_uring where the store allows it (finished by
 * evict_finish_writes, while the next batch is moved and read out), else at once. The job
 * takes the batch's slots and staging buffer. 0 or -errno. */
static int store_out(struct pager *p, struct space *sp, struct batch *b)
{
	struct wjob *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	*j = (struct wjob){ .sp = sp,
			    .serial = sp->serial,
			    .slots = b->slots,
			    .addrs = b->addrs,
			    .npages = b->npages,
			    .stage = b->stage };
	b->slots = NULL;
	b->addrs = NULL;
	stage_job[j->stage] = j;
	pthread_mutex_lock(&p->lock);
	r = prepare_job(p, j);
	pthread_mutex_unlock(&p->lock);
	if (r == 0 && p->store.async)
		r = store_write_async(&p->store, j->pages, j->n, &j->wb);
	else if (r == 0)
		r = store_write(&p->store, j->pages, j->n);
	if (r < 0 || !p->store.async || !j->wb.pending)
		finish_job(p, j, r);
	return r;
}

/* The stash could not be read although the target lives: put every moved page back where
 * it came from (MOVE works both ways), so nothing is lost, then forget the batch. */
static void move_back(struct pager *p, struct space *sp, struct batch *b)
{
	struct inject in;
	bool attached = space_attach(sp, &in, 1000) == 0;

	pthread_mutex_lock(&p->lock);
	sp->moving = attached;
	pthread_mutex_unlock(&p->lock);
	for (uint64_t j = 0; j < b->npages && attached; j++) {
		uint64_t moved;
		int err;

		if (!b->slots[j])
			continue;
		if (move_run(sp, &in, sp->stash + j * PAGE_SIZE_4K, b->addrs[j], 1, &moved, &err) <
			    0 ||
		    err)
			log_error("pid %d: page %#lx could not be put back from the stash", sp->pid,
				  (unsigned long)b->addrs[j]);
	}
	pthread_mutex_lock(&p->lock);
	sp->moving = false;
	for (uint64_t j = 0; j < b->npages; j++)
		cancel(p, sp, b, j);
	pthread_mutex_unlock(&p->lock);
	pager_wake_faults(p);
	if (attached)
		inject_detach(&in);
}

static void batch_free(struct batch *b)
{
	free(b->slots);
	free(b->clean);
	free(b->addrs);
	free(b->moved);
	free(b);
}

long evict_batch(struct pager *p, struct space *sp, uint64_t want_pages)
{
	struct batch *b = calloc(1, sizeof(*b));
	uint64_t moved = 0;
	int r, r2;

	if (!b)
		return -ENOMEM;
	b->max_pages = USWAP_MIN(want_pages, STASH_SIZE / PAGE_SIZE_4K);
	r = select_pages(p, sp, b);
	if (r < 0 || !b->npages)
		goto out;
	b->slots = calloc(b->npages, sizeof(*b->slots));
	b->clean = calloc(b->npages, sizeof(*b->clean));
	b->addrs = calloc(b->npages, sizeof(*b->addrs));
	b->moved = calloc(b->npages, sizeof(*b->moved));
	if (!b->slots || !b->clean || !b->addrs || !b->moved) {
		r = -ENOMEM;
		goto out;
	}
	r = move_batch(p, sp, b);
	if (r == -EINPROGRESS)
		r = 0; /* a later round's thread needs a page of this batch back first */
	moved = b->nmoved;
	if (!moved)
		goto out;
	keeper_crash_point("stash-moved");
	r2 = read_out(p, sp, b);
	if (r2 < 0 && r2 != -ESRCH)
		r2 = read_out(p, sp, b);
	if (r2 == -ESRCH) {
		/* The target is gone, and its pages with it. */
		pthread_mutex_lock(&p->lock);
		for (uint64_t j = 0; j < b->npages; j++)
			cancel(p, sp, b, j);
		pthread_mutex_unlock(&p->lock);
		r = r2;
		goto out;
	}
	if (r2 < 0) {
		log_error_errno(r2, "pid %d: reading the stash failed: %m", sp->pid);
		move_back(p, sp, b);
		r = r2;
		goto out;
	}
	publish(p, b);
	{
		struct inject in;

		if (space_attach(sp, &in, 200) == 0) {
			if (free_stash(p, sp, &in, b->npages) < 0)
				sp->stash_dirty = true;
			inject_detach(&in);
		} else {
			sp->stash_dirty = true;
		}
	}
	keeper_crash_point("batch-published");
	r2 = store_out(p, sp, b);
	if (r2 < 0)
		r = r2;
	pthread_mutex_lock(&p->lock);
	p->evictions_total += moved;
	sp->evicted_pages_total += moved;
	pthread_mutex_unlock(&p->lock);
out:
	batch_free(b);
	if (r < 0 && r != -EAGAIN)
		return r;
	return (long)moved;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Eviction of one batch (DESIGN "Evict"): cold present pages are moved into the stash with
 * UFFDIO_MOVE injected into the target (the kernel accepts MOVE only from the target's own
 * mm), so from that instant a touch faults to us and no write can be lost; then the stash is
 * read out with process_vm_readv, freed with one injected madvise, and the pages go to the
 * store. Zero and same-filled pages cost no I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "evict.h"
#include "fault.h"
#include "inject.h"
#include "space.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/maps.h"
#include "uswap/util.h"

#define MAX_RUNS 512
#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_PFN_MASK ((1ull << 55) - 1)

struct run {
	uint64_t start;
	uint64_t npages;
	uint64_t stash_off; /* page offset in the stash */
	uint64_t moved;     /* pages moved (a prefix of the run, minus skipped) */
};

struct batch {
	struct run runs[MAX_RUNS];
	size_t nruns;
	uint64_t npages;
	uint64_t max_pages;
	struct slot **slots; /* per stash page; NULL where nothing was moved */
	uint64_t *addrs;
};

static bool quarantined(const struct space *sp, uint64_t start, uint64_t end, uint64_t now)
{
	for (unsigned i = 0; i < sp->nq; i++)
		if (now - sp->q[i].when_ns < QUARANTINE_NS && sp->q[i].start < end &&
		    sp->q[i].end > start)
			return true;
	return false;
}

static bool page_wanted(struct pager *p, struct space *sp, uint64_t pm, uint64_t addr)
{
	uint64_t pfn = pm & PM_PFN_MASK;

	if (!(pm & PM_PRESENT) || (pm & PM_SWAP))
		return false;
	if (pfn && pfn == p->zero_pfn)
		return false;
	/* After a fork a page mapped twice frees nothing when moved, and MOVE refuses it. */
	if (sp->forked && !(pm & PM_EXCLUSIVE))
		return false;
	return true;
}

static void add_page(struct batch *b, uint64_t addr)
{
	struct run *r = b->nruns ? &b->runs[b->nruns - 1] : NULL;

	if (r && r->start + r->npages * PAGE_SIZE_4K == addr && r->npages < CHUNK_PAGES) {
		r->npages++;
	} else {
		r = &b->runs[b->nruns++];
		*r = (struct run){ .start = addr, .npages = 1, .stash_off = b->npages };
	}
	b->npages++;
}

/* Scan [start,end) from pagemap and add wanted pages. Returns false when the batch is full. */
static bool scan_range(struct pager *p, struct space *sp, int pmfd, struct batch *b,
		       uint64_t start, uint64_t end, uint64_t now)
{
	uint64_t pm[512];

	for (uint64_t a = start; a < end;) {
		size_t n = USWAP_MIN((end - a) / PAGE_SIZE_4K, USWAP_ARRAY_SIZE(pm));
		ssize_t got = pread(pmfd, pm, n * 8, (off_t)(a / PAGE_SIZE_4K * 8));

		if (got <= 0)
			return true;
		n = (size_t)got / 8;
		if (quarantined(sp, a, a + n * PAGE_SIZE_4K, now)) {
			a += n * PAGE_SIZE_4K;
			continue;
		}
		for (size_t i = 0; i < n; i++, a += PAGE_SIZE_4K) {
			if (!page_wanted(p, sp, pm[i], a) || pmap_get(&sp->map, a))
				continue;
			if (b->nruns == MAX_RUNS && b->runs[b->nruns - 1].start +
								    b->runs[b->nruns - 1].npages *
									    PAGE_SIZE_4K !=
							    a)
				return false;
			add_page(b, a);
			if (b->npages >= b->max_pages)
				return false;
		}
	}
	return true;
}

static bool vma_skip(const struct space *sp, const struct uswap_vma *v)
{
	if (!uswap_vma_evictable(v))
		return true;
	/* Our own mappings in the target. */
	if (v->start < sp->stash + STASH_SIZE && v->end > sp->stash)
		return true;
	if (v->start < sp->scratch + SCRATCH_SIZE && v->end > sp->scratch)
		return true;
	return false;
}

/* Pick candidate pages starting at the clock hand; register their VMAs. */
static int select_pages(struct pager *p, struct space *sp, struct batch *b)
{
	_cleanup_free_ struct uswap_vma *v = NULL;
	_cleanup_close_ int pmfd = -1;
	char path[64];
	size_t n, first = 0;
	uint64_t now = now_ns();
	int r;

	r = uswap_maps_read(sp->pid, &v, &n);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)sp->pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pmfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
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

		if (k == 0)
			s = USWAP_MAX(s, sp->cursor);
		if (k == n) {
			if (sp->cursor <= v[i].start)
				break;
			e = USWAP_MIN(e, sp->cursor);
		}
		if (s >= e || vma_skip(sp, &v[i]))
			continue;
		if (!space_registered(sp, v[i].start, v[i].end)) {
			pthread_mutex_lock(&p->lock);
			r = space_register(sp, v[i].start, v[i].end);
			pthread_mutex_unlock(&p->lock);
			if (r < 0) {
				log_debug_errno(r, "pid %d: cannot register %#lx-%#lx: %m", sp->pid,
						(unsigned long)v[i].start, (unsigned long)v[i].end);
				continue;
			}
		}
		if (!scan_range(p, sp, pmfd, b, s, e, now))
			break;
	}
	if (b->nruns)
		sp->cursor = b->runs[b->nruns - 1].start + b->runs[b->nruns - 1].npages *
								   PAGE_SIZE_4K;
	else
		sp->cursor = 0;
	return 0;
}

/* Move one run (or what is left of it) into the stash. Lock held. Returns 0, or -errno
 * from the MOVE; *moved is the number of pages moved. */
static int move_run(struct space *sp, struct inject *in, uint64_t src, uint64_t dst,
		    uint64_t npages, uint64_t *moved)
{
	struct uffdio_move mv = { .dst = dst, .src = src, .len = npages * PAGE_SIZE_4K };
	long res;
	int r;

	*moved = 0;
	r = target_write(sp->pid, sp->scratch, &mv, sizeof(mv));
	if (r < 0)
		return r;
	r = inject_syscall(in, SYS_ioctl, &res, sp->target_fd, UFFDIO_MOVE, sp->scratch, 0, 0,
			   0);
	if (r < 0)
		return r;
	if (res == 0) {
		*moved = npages;
		return 0;
	}
	r = target_read(sp->pid, sp->scratch, &mv, sizeof(mv));
	if (r < 0)
		return r;
	if (mv.move > 0)
		*moved = (uint64_t)mv.move / PAGE_SIZE_4K;
	return res < 0 && res > -4096 ? (int)res : -EIO;
}

static void drop_pending(struct pager *p, struct space *sp, struct batch *b, uint64_t i)
{
	struct slot *s = b->slots[i];

	if (!s)
		return;
	pmap_set(&sp->map, b->addrs[i], NULL);
	slot_unref(p, s); /* the map's */
	slot_unref(p, s); /* the batch's */
	b->slots[i] = NULL;
}

/* Create PENDING slots for a run's pages, MOVE them, drop the slots of pages not moved. */
static int move_one(struct pager *p, struct space *sp, struct inject *in, struct batch *b,
		    struct run *run)
{
	uint64_t done = 0;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (quarantined(sp, run->start, run->start + run->npages * PAGE_SIZE_4K, now_ns())) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	for (uint64_t i = 0; i < run->npages; i++) {
		uint64_t a = run->start + i * PAGE_SIZE_4K;
		struct slot *s;

		/* A page with an entry must never be moved (its copy would be unowned). */
		if (pmap_get(&sp->map, a) || !(s = slot_new(SLOT_PENDING))) {
			run->npages = i;
			break;
		}
		b->slots[run->stash_off + i] = s;
		b->addrs[run->stash_off + i] = a;
		slot_ref(s); /* the batch's own reference */
		pmap_set(&sp->map, a, s);
		p->evicted_pages++;
	}
	while (done < run->npages) {
		uint64_t moved;

		r = move_run(sp, in, run->start + done * PAGE_SIZE_4K,
			     sp->stash + (run->stash_off + done) * PAGE_SIZE_4K, run->npages - done,
			     &moved);
		done += moved;
		if (r == 0)
			break;
		/* A partial move reports -EAGAIN with the bytes moved: go on from there. */
		if (r == -EAGAIN && moved) {
			r = 0;
			continue;
		}
		if (r != -EBUSY && r != -ENOENT)
			break;
		/* A shared or vanished page: leave it and go on after it. */
		drop_pending(p, sp, b, run->stash_off + done);
		done++;
		r = 0;
	}
	for (uint64_t i = done; i < run->npages; i++)
		drop_pending(p, sp, b, run->stash_off + i);
	run->moved = done;
	pthread_mutex_unlock(&p->lock);
	return r;
}

static int free_stash(struct pager *p, struct space *sp, struct inject *in, uint64_t npages)
{
	struct range r = { sp->stash, sp->stash + npages * PAGE_SIZE_4K };

	if (p->remote_dontneed) {
		struct iovec iov = { (void *)r.start, r.end - r.start };

		if (syscall(SYS_process_madvise, sp->pidfd, &iov, 1, MADV_DONTNEED, 0) >= 0)
			return 0;
	}
	return space_madvise(sp, in, &r, 1, MADV_DONTNEED);
}

static int move_batch(struct pager *p, struct space *sp, struct batch *b)
{
	struct inject in;
	int r;

	r = inject_attach(&in, sp->pid, sp->syscall_ip, 200);
	if (r < 0)
		return r;
	if (sp->stash_dirty) {
		r = free_stash(p, sp, &in, STASH_SIZE / PAGE_SIZE_4K);
		if (r < 0)
			goto out;
		sp->stash_dirty = false;
	}
	if (sp->forked) {
		/* Pages that lost their exclusive mark in a fork take it back without a copy
		 * when they are mapped once (DESIGN: fork). */
		struct range rg[MAX_RUNS];

		for (size_t i = 0; i < b->nruns; i++)
			rg[i] = (struct range){ b->runs[i].start,
						b->runs[i].start + b->runs[i].npages * PAGE_SIZE_4K };
		r = space_madvise(sp, &in, rg, b->nruns, MADV_POPULATE_WRITE);
		if (r < 0)
			log_debug_errno(r, "pid %d: MADV_POPULATE_WRITE: %m", sp->pid);
	}
	for (size_t i = 0; i < b->nruns; i++) {
		r = move_one(p, sp, &in, b, &b->runs[i]);
		if (r < 0)
			break;
	}
	if (r == -EEXIST)
		sp->stash_dirty = true;
out:
	inject_detach(&in);
	return r;
}

static int read_out(struct space *sp, struct batch *b)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t nl = 0;

	for (uint64_t i = 0; i <= b->npages; i++) {
		if (i < b->npages && b->slots[i]) {
			void *page = aligned_alloc(PAGE_SIZE_4K, PAGE_SIZE_4K);

			if (!page)
				return -ENOMEM;
			b->slots[i]->data = page;
			local[nl].iov_base = page;
			local[nl].iov_len = PAGE_SIZE_4K;
			remote[nl].iov_base = (void *)(sp->stash + i * PAGE_SIZE_4K);
			remote[nl].iov_len = PAGE_SIZE_4K;
			nl++;
		}
		if (nl == IOV_MAX || (i == b->npages && nl)) {
			ssize_t n = process_vm_readv(sp->pid, local, nl, remote, nl, 0);

			if (n < 0)
				return -errno;
			if ((size_t)n != nl * PAGE_SIZE_4K)
				return -EFAULT;
			nl = 0;
		}
	}
	return 0;
}

/* The stash is read: make the slots servable from memory, free the stash. */
static void publish(struct pager *p, struct batch *b)
{
	pthread_mutex_lock(&p->lock);
	for (uint64_t i = 0; i < b->npages; i++)
		if (b->slots[i])
			b->slots[i]->state = SLOT_MEM;
	pthread_mutex_unlock(&p->lock);
	pager_wake_faults(p);
}

static int store_out(struct pager *p, struct space *sp, struct batch *b)
{
	_cleanup_free_ struct store_page *pages = calloc(b->npages, sizeof(*pages));
	_cleanup_free_ uint64_t *idx = calloc(b->npages, sizeof(*idx));
	size_t n = 0;
	int r;

	if (!pages || !idx)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	for (uint64_t i = 0; i < b->npages; i++) {
		struct slot *s = b->slots[i];
		uint64_t v;

		if (!s || s->refs == 1)
			continue; /* faulted back in already: nothing to keep */
		if (page_is_filled(s->data, &v)) {
			free(s->data);
			s->data = NULL;
			s->val = v;
			s->state = SLOT_FILL;
			continue;
		}
		s->csum = page_checksum(s->data);
		pages[n].data = s->data;
		pages[n].cookie = s;
		n++;
	}
	store_alloc(&p->store, idx, n);
	for (size_t i = 0; i < n; i++)
		pages[i].idx = idx[i];
	pthread_mutex_unlock(&p->lock);
	r = store_write(&p->store, pages, n);
	pthread_mutex_lock(&p->lock);
	if (r < 0) {
		/* Keep the pages in memory (SLOT_MEM): nothing is lost, eviction pauses. */
		for (size_t i = 0; i < n; i++)
			store_release(&p->store, idx[i]);
		p->store_full = true;
	} else {
		for (size_t i = 0; i < n; i++) {
			struct slot *s = pages[i].cookie;

			free(s->data);
			s->data = NULL;
			s->val = pages[i].idx;
			s->state = SLOT_STORED;
		}
	}
	for (uint64_t i = 0; i < b->npages; i++)
		if (b->slots[i])
			slot_unref(p, b->slots[i]);
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* The stash could not be read: put every moved page back where it came from (MOVE is
 * symmetric), so nothing is lost, then forget the batch. */
static void move_back(struct pager *p, struct space *sp, struct batch *b)
{
	struct inject in;
	bool attached = inject_attach(&in, sp->pid, sp->syscall_ip, 1000) == 0;

	pthread_mutex_lock(&p->lock);
	for (size_t k = 0; k < b->nruns; k++) {
		struct run *run = &b->runs[k];

		for (uint64_t i = 0; i < run->moved; i++) {
			uint64_t j = run->stash_off + i, moved;

			if (!b->slots[j])
				continue;
			if (attached &&
			    move_run(sp, &in, sp->stash + j * PAGE_SIZE_4K, b->addrs[j], 1, &moved) < 0)
				log_error("pid %d: page %#lx stuck in the stash", sp->pid,
					  (unsigned long)b->addrs[j]);
			drop_pending(p, sp, b, j);
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (attached)
		inject_detach(&in);
}

long evict_batch(struct pager *p, struct space *sp, uint64_t want_pages)
{
	struct batch *b = calloc(1, sizeof(*b));
	uint64_t moved = 0;
	int r;

	if (!b)
		return -ENOMEM;
	b->max_pages = USWAP_MIN(want_pages, STASH_SIZE / PAGE_SIZE_4K);
	r = select_pages(p, sp, b);
	if (r < 0 || !b->npages)
		goto out;
	b->slots = calloc(b->npages, sizeof(*b->slots));
	b->addrs = calloc(b->npages, sizeof(*b->addrs));
	if (!b->slots || !b->addrs) {
		r = -ENOMEM;
		goto out;
	}
	r = move_batch(p, sp, b);
	for (size_t i = 0; i < b->nruns; i++)
		moved += b->runs[i].moved;
	if (moved) {
		int r2 = read_out(sp, b);

		if (r2 < 0) {
			/* Target gone between MOVE and read: its pages died with it. */
			log_debug_errno(r2, "pid %d: stash read failed: %m", sp->pid);
			r = r2;
		}
		if (r2 == 0) {
			struct inject in;

			publish(p, b);
			if (inject_attach(&in, sp->pid, sp->syscall_ip, 200) == 0) {
				if (free_stash(p, sp, &in, b->npages) < 0)
					sp->stash_dirty = true;
				inject_detach(&in);
			} else {
				sp->stash_dirty = true;
			}
			r2 = store_out(p, sp, b);
			if (r2 < 0)
				r = r2;
		} else {
			move_back(p, sp, b);
		}
		pthread_mutex_lock(&p->lock);
		p->evictions_total += moved;
		sp->evicted_pages_total += moved;
		pthread_mutex_unlock(&p->lock);
	}
out:
	free(b->slots);
	free(b->addrs);
	free(b);
	if (r < 0 && r != -EAGAIN)
		return r;
	return (long)moved;
}

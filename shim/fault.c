/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fault.h"
#include "fill.h"
#include "inject.h"
#include "keeper.h"
#include "space.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/util.h"

#define MAX_DEFERRED 4096
#define ZERO_AHEAD 31

struct deferred {
	struct space *sp;
	uint64_t addr;
	uint64_t flags;
	uint64_t t0;
};

static pthread_t fault_tid;
static volatile bool fault_quit;
static struct deferred deferred[MAX_DEFERRED];
static unsigned ndeferred;
static _Alignas(4096) uint8_t zero_page[4096];
/* Per thread: the manager (restore, rseq guard) and the fault thread both fill pages, and
 * store reads run without the lock. */
static _Thread_local _Alignas(4096) uint8_t io_page[4096];

void pager_wake_faults(struct pager *p)
{
	uint64_t one = 1;

	if (write(p->wake_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the thread is awake anyway. */
	}
}

bool space_listed(struct pager *p, struct space *sp)
{
	for (struct space *s = p->spaces; s; s = s->next)
		if (s == sp)
			return true;
	return false;
}

void fault_record_latency(struct pager *p, uint64_t t0)
{
	uint64_t d = now_ns() - t0;
	unsigned b = d ? 63 - (unsigned)__builtin_clzll(d) : 0;

	p->fstats.ring[p->fstats.faults % LAT_RING] = (uint32_t)USWAP_MIN(d / 100, UINT32_MAX);
	p->fstats.faults++;
	p->fstats.hist[b]++;
}

int fault_copy(int uffd, uint64_t dst, const void *src, uint64_t npages, bool wp,
	       uint64_t *ret_copied)
{
	struct uffdio_copy cp = { .dst = dst,
				  .src = (uint64_t)src,
				  .len = npages * PAGE_SIZE_4K,
				  .mode = wp ? UFFDIO_COPY_MODE_WP : 0 };
	int r;

	if (ioctl(uffd, UFFDIO_COPY, &cp) == 0) {
		*ret_copied = npages;
		return 1 + wp;
	}
	r = -errno;
	*ret_copied = cp.copy > 0 ? (uint64_t)cp.copy / PAGE_SIZE_4K : 0;
	if (cp.copy == -EEXIST || r == -EEXIST)
		return -EEXIST;
	if (wp && r == -EINVAL && !*ret_copied)
		return fault_copy(uffd, dst, src, npages, false, ret_copied);
	return r;
}

/* COPY one page; write-protected if wp (a VMA registered without WP mode refuses that with
 * EINVAL: then it is mapped writable). 1 mapped writable, 2 write-protected, or -errno. */
static int uffd_copy(int uffd, uint64_t dst, const void *src, bool wp)
{
	uint64_t n;

	return fault_copy(uffd, dst, src, 1, wp, &n);
}

static int uffd_zero(int uffd, uint64_t dst)
{
	struct uffdio_zeropage zp = { .range = { dst, PAGE_SIZE_4K } };

	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp) == 0)
		return 0;
	return -errno;
}

int fault_wake(int uffd, uint64_t dst)
{
	struct uffdio_range r = { dst, PAGE_SIZE_4K };

	return ioctl(uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

void fault_poison(struct pager *p, struct space *sp, uint64_t page)
{
	struct uffdio_poison po = { .range = { page, PAGE_SIZE_4K } };

	if (!p->have_poison || ioctl(sp->uffd, UFFDIO_POISON, &po) < 0)
		log_error("pid %d: page %#lx cannot be poisoned; its thread stays blocked", sp->pid,
			  (unsigned long)page);
}

/* Read the stored copy of page without holding the lock: a store read takes ~50-100 us, and
 * the evictor must never wait that long for the lock while it holds a workload thread. The
 * slot is pinned meanwhile. Lock held on entry and exit. 0 with the verified content in buf,
 * -ESTALE if the entry changed meanwhile (look again), -EBADMSG on a checksum mismatch. */
static int read_stored(struct pager *p, struct space *sp, uint64_t page, struct slot *s, void *buf)
{
	uint64_t idx = s->val;
	uint32_t csum = s->csum;
	bool same;
	int r;

	slot_ref(s);
	pthread_mutex_unlock(&p->lock);
	r = store_read(&p->store, idx, buf);
	pthread_mutex_lock(&p->lock);
	same = space_listed(p, sp) && pmap_get(&sp->map, page) == s && s->state == SLOT_STORED &&
	       s->val == idx;
	slot_unref(p, s);
	if (!same)
		return -ESTALE;
	if (r < 0)
		return r;
	return page_checksum(buf) == csum ? 0 : -EBADMSG;
}

/* The content to put at page for slot s (lock held, may be dropped for a store read).
 * 0 with *ret_src, 1 when the zero page is to be mapped, or -errno. */
static int page_source(struct pager *p, struct space *sp, uint64_t page, struct slot *s, bool write,
		       const void **ret_src)
{
	int r;

	switch (s->state) {
	case SLOT_PENDING:
		return -EINPROGRESS;
	case SLOT_MEM:
		*ret_src = s->data;
		return 0;
	case SLOT_FILL:
		if (s->val == 0 && !write)
			return 1;
		for (size_t i = 0; i < PAGE_SIZE_4K / 8; i++)
			((uint64_t *)io_page)[i] = s->val;
		*ret_src = io_page;
		return 0;
	case SLOT_STORED:
		r = read_stored(p, sp, page, s, io_page);
		if (r == -EBADMSG) {
			p->checksum_errors++;
			log_error("pid %d: checksum mismatch for page %#lx: poisoning it rather "
				  "than returning wrong data",
				  sp->pid, (unsigned long)page);
			fault_poison(p, sp, page);
		} else if (r < 0 && r != -ESTALE) {
			log_error_errno(r, "pid %d: store read of page %#lx failed: %m", sp->pid,
					(unsigned long)page);
		}
		*ret_src = io_page;
		return r;
	default:
		return -EINVAL;
	}
}

/* Page holds the content of slot s again, mapped write-protected if protected: keep s as its
 * clean record (the store copy stays valid until the page is written), or drop it. */
void fault_filled(struct pager *p, struct space *sp, uint64_t page, struct slot *s, bool protected)
{
	pmap_set(&sp->map, page, NULL);
	if (protected && pmap_set(&sp->clean, page, s) == 0)
		return;
	/* Without a record a write-protect fault there is only resolved. */
	slot_unref(p, s);
}

int fault_fill_page(struct pager *p, struct space *sp, uint64_t page, unsigned flags)
{
	bool write = flags & FILL_WRITE;

	for (;;) {
		struct slot *s = pmap_get(&sp->map, page);
		const void *src = zero_page;
		int r;

		if (s && s->state == SLOT_CANCELLED) {
			pmap_set(&sp->map, page, NULL);
			slot_unref(p, s);
			s = NULL;
		}
		if (!s && (s = pmap_get(&sp->clean, page))) {
			/* A clean page that went missing without an event: never expected, but
			 * its last content is known, so that is what it gets. */
			pmap_set(&sp->clean, page, NULL);
			if (pmap_set(&sp->map, page, s) < 0) {
				slot_unref(p, s);
				s = NULL;
			}
		}
		if (!s) {
			r = write ? uffd_copy(sp->uffd, page, zero_page, false) :
				    uffd_zero(sp->uffd, page);
			return r > 0 ? 0 : r;
		}
		r = page_source(p, sp, page, s, write, &src);
		if (r == -ESTALE) {
			if (!space_listed(p, sp))
				return -ENODEV;
			continue;
		}
		if (r < 0)
			return r;
		if (r == 1)
			r = uffd_zero(sp->uffd, page);
		else
			r = uffd_copy(sp->uffd, page, src,
				      (flags & FILL_KEEP) && s->state == SLOT_STORED && p->have_wp);
		if (r >= 0 || r == -EEXIST) {
			fault_filled(p, sp, page, s, r == 2);
			return 0;
		}
		return r;
	}
}

int fault_unprotect(struct pager *p, struct space *sp, uint64_t page)
{
	struct uffdio_writeprotect wp = { .range = { page, PAGE_SIZE_4K }, .mode = 0 };
	struct slot *c = pmap_get(&sp->clean, page);

	/* The record goes first: from the moment the page is writable, its store copy may be
	 * stale. */
	if (c) {
		pmap_set(&sp->clean, page, NULL);
		slot_unref(p, c);
	}
	/* Clearing the protection wakes the thread. On a page evicted meanwhile it only wakes
	 * it, and the retried write faults as missing. */
	if (ioctl(sp->uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return -errno;
	return 0;
}

/* Queue a fault to serve again later. A thread that is interrupted while it waits (a
 * signal) faults again and the kernel sends a new message for the same page: keep one entry
 * per page, since serving it wakes every thread waiting there. */
void fault_defer(struct space *sp, uint64_t addr, uint64_t flags, uint64_t t0)
{
	uint64_t page = addr & PAGE_MASK_4K;

	for (unsigned i = 0; i < ndeferred; i++)
		if (deferred[i].sp == sp && (deferred[i].addr & PAGE_MASK_4K) == page) {
			deferred[i].flags |= flags & UFFD_PAGEFAULT_FLAG_WRITE;
			return;
		}
	if (ndeferred < MAX_DEFERRED)
		deferred[ndeferred++] = (struct deferred){ sp, addr, flags, t0 };
	else
		log_error("fault queue overflow: a thread stays blocked at %#lx",
			  (unsigned long)addr);
}

/* 0 served, 1 deferred, -errno otherwise. Lock held. */
static bool in_own(const struct space *sp, uint64_t a)
{
	return (a >= sp->stash && a < sp->stash + STASH_SIZE) ||
	       (a >= sp->scratch && a < sp->scratch + SCRATCH_SIZE);
}

/* A fault on a page that was never evicted is a first touch: the pages after it, if they
 * have no entry either, are most likely next. Map the zero page there in one ioctl, so a
 * program filling new memory takes one fault to us per ZERO_AHEAD pages and the kernel
 * handles the rest like any first write (a copy-on-write of the zero page). Lock held. */
static void zero_ahead(struct space *sp, uint64_t page)
{
	uint64_t n = 0;

	while (n < ZERO_AHEAD) {
		uint64_t a = page + (n + 1) * PAGE_SIZE_4K;
		struct slot *s = pmap_get(&sp->map, a);

		/* Never into the pager's own mappings: a zero page in the stash would fail the
		 * next MOVE there, one in the scratch the identification of fork children. */
		if ((s && s->state != SLOT_CANCELLED) || in_own(sp, a))
			break;
		n++;
	}
	if (in_own(sp, page))
		n = 0;
	if (n) {
		struct uffdio_zeropage zp = { .range = { page + PAGE_SIZE_4K, n * PAGE_SIZE_4K },
					      .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };

		/* Stops at the first present page (EEXIST) or the end of the VMA: both fine. */
		ioctl(sp->uffd, UFFDIO_ZEROPAGE, &zp);
	}
}

static int serve(struct pager *p, struct space *sp, uint64_t addr, uint64_t flags, uint64_t t0)
{
	uint64_t page = addr & PAGE_MASK_4K;
	struct slot *s = pmap_get(&sp->map, page);
	bool first_touch = !s || s->state == SLOT_CANCELLED;

	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		/* A write to a clean page. While an eviction batch is taking the page (PENDING)
		 * the write must wait: the batch counts on the page being unchanged. */
		if (s && s->state == SLOT_PENDING) {
			fault_defer(sp, addr, flags, t0);
			return 1;
		}
		int r = fault_unprotect(p, sp, page);

		if (r < 0 && r != -ENOENT)
			log_debug_errno(r, "pid %d: unprotecting %#lx: %m", sp->pid,
					(unsigned long)page);
		if (r < 0)
			fault_wake(sp->uffd, page);
		return 0;
	}
	if (!first_touch && sp->inherit_unchecked) {
		/* Possibly a wipe-on-fork page: wait until the child's ranges are known. */
		fault_defer(sp, addr, flags, t0);
		return 1;
	}
	/* A stored page is read with its neighbours, asynchronously. */
	if (s && s->state == SLOT_STORED)
		return fill_fault(p, sp, addr & PAGE_MASK_4K, flags, t0);
	/* A read refills the page write-protected, keeping its store copy for the next
	 * eviction; a write would only fault again at once. */
	int r = fault_fill_page(p, sp, page,
				flags & UFFD_PAGEFAULT_FLAG_WRITE ? FILL_WRITE : FILL_KEEP);

	if (r == -ENODEV)
		return r; /* sp was destroyed while a store read ran: do not touch it */
	if (r == 0 && first_touch)
		zero_ahead(sp, page);

	switch (r) {
	case 0:
		fault_record_latency(p, t0);
		return 0;
	case -EEXIST:
		fault_wake(sp->uffd, page);
		return 0;
	case -EAGAIN:
	case -EINPROGRESS:
		fault_defer(sp, addr, flags, t0);
		return 1;
	case -ESRCH:
	case -ENOSPC:
		log_debug("pid %d: fault at %#lx: the address space is gone (%d)", sp->pid,
			  (unsigned long)addr, r);
		sp->dead = true;
		return r;
	default:
		/* E.g. ENOENT: the range was unmapped meanwhile. The kernel does not wake
		 * threads waiting in a range that goes away: wake them, so they retry the
		 * access (and fault again, or get the SIGSEGV the program asked for). */
		log_debug_errno(r, "pid %d: fault at %#lx not served: %m", sp->pid,
				(unsigned long)addr);
		fault_wake(sp->uffd, page);
		return r;
	}
}

static void quarantine(struct space *sp, uint64_t start, uint64_t end)
{
	uint64_t now = now_ns();
	unsigned w = 0;

	for (unsigned i = 0; i < sp->nq; i++)
		if (now - sp->q[i].when_ns < QUARANTINE_NS)
			sp->q[w++] = sp->q[i];
	sp->nq = w;
	if (sp->nq == QUARANTINE_MAX)
		memmove(sp->q, sp->q + 1, --sp->nq * sizeof(sp->q[0]));
	sp->q[sp->nq++] = (struct quarantine_entry){ start, end, now };
}

static bool in_stash(struct space *sp, uint64_t start, uint64_t end)
{
	return start >= sp->stash && end <= sp->stash + STASH_SIZE;
}

struct remap_ctx {
	struct pager *p;
	struct space *sp;
	uint64_t from, to;
	unsigned long n;
};

/* Move one entry to its new address: set there first, cleared here after, so that a pager
 * that dies in between leaves it at both addresses, never at neither. The next pager counted
 * it twice and finishes the move (fault_replay_events): it finds the entry already there and
 * drops the second reference. */
static void move_one(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	struct remap_ctx *c = arg;
	uint64_t dst = addr - c->from + c->to;
	struct slot *s = *pp, *there = pmap_get(m, dst);

	if (there == s) {
		/* Left at both by a pager that died here: the takeover counted it twice. */
		*pp = NULL;
		slot_unref(c->p, s);
		return;
	}
	if (pmap_set(m, dst, s) < 0) {
		log_error("pid %d: out of memory moving page state", c->sp->pid);
		*pp = NULL;
		slot_unref(c->p, s);
		return;
	}
	if (there)
		slot_unref(c->p, there);
	/* tests: the pager dies with one entry at both addresses */
	if (++c->n == 64)
		keeper_crash_point("remap-mid");
	*pp = NULL;
}

/* Apply an mremap. finish: the pager that died had begun moving its entries. */
static void remap(struct pager *p, struct space *sp, uint64_t from, uint64_t to, uint64_t len,
		  bool finish)
{
	struct remap_ctx c = { p, sp, from, to, 0 };

	/* The destination holds nothing of ours (its unmap came first); a pager that had begun
	 * moving left moved entries there, which stay. */
	if (!finish)
		space_drop_range(p, sp, to, to + len);
	__atomic_store_n(&p->ev_moving, true, __ATOMIC_SEQ_CST);
	/* mremap moves the ptes with their write-protect bits: clean records follow too. */
	pmap_for_range(&sp->map, from, from + len, move_one, &c);
	pmap_for_range(&sp->clean, from, from + len, move_one, &c);
	space_move_regs(sp, from, to, len);
	/* ev_moving stays set: a pager that dies before the event is marked done must not
	 * clear the destination again (apply_event clears it for the next event). */
	keeper_crash_point("remap-done");
	log_debug("pid %d: remap %#lx -> %#lx (%lu bytes)", sp->pid, (unsigned long)from,
		  (unsigned long)to, (unsigned long)len);
}

/* finish: an mremap whose entries a pager that died had begun to move. */
static void handle_event(struct pager *p, struct space *sp, const struct uffd_msg *m, bool finish)
{
	switch (m->event) {
	case UFFD_EVENT_FORK: {
		struct space *child = space_new_forked(p, sp, (int)m->arg.fork.ufd);

		if (!child) {
			log_error("pid %d: out of memory for a forked child", sp->pid);
			close((int)m->arg.fork.ufd);
		}
		log_debug("pid %d: fork event, child uffd %d", sp->pid, (int)m->arg.fork.ufd);
		break;
	}
	case UFFD_EVENT_REMAP:
		sp->vma_seq++;
		remap(p, sp, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len, finish);
		break;
	case UFFD_EVENT_REMOVE:
		if (in_stash(sp, m->arg.remove.start, m->arg.remove.end))
			break;
		/* tests: the pager dies before applying the program's own */
		if (m->arg.remove.start < sp->scratch ||
		    m->arg.remove.end > sp->scratch + SCRATCH_SIZE)
			keeper_crash_point("event-read");
		space_drop_range(p, sp, m->arg.remove.start, m->arg.remove.end);
		quarantine(sp, m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_UNMAP:
		sp->vma_seq++;
		space_drop_range(p, sp, m->arg.remove.start, m->arg.remove.end);
		space_forget_regs(sp, m->arg.remove.start, m->arg.remove.end);
		if (m->arg.remove.start < sp->stash + STASH_SIZE && m->arg.remove.end > sp->stash &&
		    !sp->stash_gone) {
			/* Dropping the space would lose the pages it has evicted: keep serving
			 * them, evict no more. */
			log_warn(
				"pid %d: the program unmapped the pager's stash: its evicted pages "
				"are still served, no more are evicted from it",
				sp->pid);
			sp->stash_gone = true;
		}
		break;
	default:
		log_warn("pid %d: unknown uffd event %u", sp->pid, m->event);
	}
}

/* Apply message i of evbuf, marked in progress meanwhile and done after, for a pager that
 * takes over (fault_replay_events). finish: as for handle_event. */
static void apply_event(struct pager *p, struct space *sp, unsigned i, bool finish)
{
	struct uffd_msg m = p->evbuf[i];

	if (!finish)
		__atomic_store_n(&p->ev_moving, false, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->ev_applying, i + 1, __ATOMIC_SEQ_CST);
	handle_event(p, sp, &m, finish);
	__atomic_store_n(&p->evbuf[i].event, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->ev_applying, 0, __ATOMIC_SEQ_CST);
}

/* Read and handle sp's messages until its uffd is empty. Events and faults that need no
 * I/O are handled in order; faults on stored pages are served after the whole read batch,
 * because their store read drops the lock, and every event already read must be applied
 * before the evictor may look at the page map again (a MOVE relies on it). The messages are
 * read into the pager's evbuf, and each event's is zeroed once applied, so that a pager that
 * dies in between leaves it to the next one. Lock held. */
static void drain(struct pager *p, struct space *sp)
{
	struct uffd_msg *msgs = p->evbuf, stored[EV_BATCH];

	while (!sp->moving) {
		ssize_t n;
		uint64_t t0;
		size_t nio = 0;

		p->ev_serial = sp->serial;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		n = read(sp->uffd, msgs, sizeof(p->evbuf));
		t0 = now_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("pid %d: uffd read: %m", sp->pid);
			return;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++) {
			struct uffd_msg m = msgs[i];
			struct slot *s;

			if (m.event != UFFD_EVENT_PAGEFAULT) {
				apply_event(p, sp, (unsigned)i, false);
				continue;
			}
			/* A fault a new pager need not know of: it wakes every waiter. */
			msgs[i].event = 0;
			s = pmap_get(&sp->map, m.arg.pagefault.address & PAGE_MASK_4K);
			if (s && s->state == SLOT_STORED) {
				keeper_crash_point("fault-read");
				stored[nio++] = m;
			} else
				serve(p, sp, m.arg.pagefault.address, m.arg.pagefault.flags, t0);
		}
		for (size_t i = 0; i < nio; i++)
			if (serve(p, sp, stored[i].arg.pagefault.address,
				  stored[i].arg.pagefault.flags, t0) == -ENODEV)
				return;
		if ((size_t)n < sizeof(p->evbuf))
			return;
	}
}

void fault_replay_events(struct pager *p)
{
	struct space *sp = NULL;
	unsigned applying = p->ev_applying;
	bool moving = p->ev_moving;

	for (struct space *s = p->spaces; s; s = s->next)
		if (s->serial == p->ev_serial)
			sp = s;
	for (unsigned i = 0; i < EV_BATCH; i++) {
		struct uffd_msg m = p->evbuf[i];
		bool begun = applying == i + 1;

		if (!m.event)
			continue;
		if (m.event == UFFD_EVENT_PAGEFAULT) {
			/* Every waiter is woken after the takeover. */
			p->evbuf[i].event = 0;
			continue;
		}
		if (!sp) {
			p->evbuf[i].event = 0;
			log_info("an event the pager that died had read (%u) belongs to a process "
				 "that is gone",
				 m.event);
			continue;
		}
		switch (m.event) {
		case UFFD_EVENT_REMOVE:
		case UFFD_EVENT_UNMAP:
			/* Dropping a range's entries twice is the same as once. */
			apply_event(p, sp, i, false);
			log_info("pid %d: applied the %s of %#lx-%#lx the pager that died had read",
				 sp->pid, m.event == UFFD_EVENT_REMOVE ? "MADV_DONTNEED" : "unmap",
				 (unsigned long)m.arg.remove.start,
				 (unsigned long)m.arg.remove.end);
			break;
		case UFFD_EVENT_REMAP:
			/* Begun and not yet moving: it died clearing the destination, which it does
			 * again. Moving: each entry is at its old address, its new one, or both. */
			apply_event(p, sp, i, begun && moving);
			log_info("pid %d: %s the mremap %#lx -> %#lx the pager that died had read",
				 sp->pid, begun && moving ? "finished" : "applied",
				 (unsigned long)m.arg.remap.from, (unsigned long)m.arg.remap.to);
			break;
		case UFFD_EVENT_FORK:
			/* Its uffd was an fd of the dead pager's, closed with it. */
			p->evbuf[i].event = 0;
			if (begun)
				log_warn(
					"pid %d: the pager died while it took on a fork child: if "
					"the child is not paged now, its evicted pages read as zeros",
					sp->pid);
			else
				log_error(
					"pid %d: a fork the pager that died had read is lost: the "
					"child's evicted pages read as zeros",
					sp->pid);
			break;
		default:
			p->evbuf[i].event = 0;
			break;
		}
	}
	p->ev_applying = 0;
}

static void retry_deferred(struct pager *p)
{
	unsigned n = ndeferred;
	struct deferred copy[MAX_DEFERRED];

	if (!n)
		return;
	memcpy(copy, deferred, n * sizeof(copy[0]));
	ndeferred = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!space_listed(p, copy[i].sp) || copy[i].sp->dead)
			continue;
		serve(p, copy[i].sp, copy[i].addr, copy[i].flags, copy[i].t0);
	}
}

/* Room for the wake and ring fds and every space's uffd: a container may hold thousands of
 * processes, each its own space (a fixed array of 1024 left the oldest spaces unpolled, and
 * a fork in one of them then waited for ever for its event to be read). */
static bool poll_room(struct pollfd **pfd, struct space ***sps, size_t *cap, size_t need)
{
	struct pollfd *np;
	struct space **ns;
	size_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	np = realloc(*pfd, c * sizeof(**pfd));
	if (np)
		*pfd = np;
	ns = realloc(*sps, c * sizeof(**sps));
	if (ns)
		*sps = ns;
	if (!np || !ns)
		return false;
	*cap = c;
	return true;
}

static void *fault_main(void *arg)
{
	struct pager *p = arg;
	struct pollfd *pfd = NULL;
	struct space **sps = NULL;
	size_t cap = 0;

	fill_init(p);
	while (!fault_quit) {
		unsigned n = 2;
		bool room = poll_room(&pfd, &sps, &cap, 2);
		int timeout;

		pthread_mutex_lock(&p->lock);
		for (struct space *sp = p->spaces; sp && room; sp = sp->next) {
			if (sp->dead || sp->uffd < 0 || sp->moving)
				continue;
			room = poll_room(&pfd, &sps, &cap, n + 1);
			if (!room)
				break;
			sps[n] = sp;
			pfd[n++] = (struct pollfd){ .fd = sp->uffd, .events = POLLIN };
		}
		if (!room) {
			pthread_mutex_unlock(&p->lock);
			log_error("fault thread: out of memory for %u spaces; retrying", n);
			sleep(1);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = p->wake_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = fill_poll_fd(), .events = POLLIN };
		/* Deferred faults wait for an eviction batch or an mm change: retry soon. */
		timeout = ndeferred ? 1 : 100;
		pthread_mutex_unlock(&p->lock);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			log_error("fault thread poll: %m");
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(p->wake_fd, &v, sizeof(v)) < 0) {
				/* Spurious wakeup. */
			}
		}
		pthread_mutex_lock(&p->lock);
		fill_reap(p, pfd[1].revents & POLLIN);
		for (unsigned i = 2; i < n; i++)
			if ((pfd[i].revents & POLLIN) && space_listed(p, sps[i]) && !sps[i]->dead &&
			    !sps[i]->moving)
				drain(p, sps[i]);
		retry_deferred(p);
		fill_submit();
		p->fault_passes++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	fill_exit(p);
	free(pfd);
	free(sps);
	return NULL;
}

int fault_thread_start(struct pager *p)
{
	int r;

	fault_quit = false;
	r = pthread_create(&fault_tid, NULL, fault_main, p);
	if (r)
		return -r;
	/* Told apart from the manager in ps -L, top -H and a debugger. */
	pthread_setname_np(fault_tid, "uswap-fault");
	return 0;
}

void fault_thread_stop(struct pager *p)
{
	fault_quit = true;
	pager_wake_faults(p);
	pthread_join(fault_tid, NULL);
}

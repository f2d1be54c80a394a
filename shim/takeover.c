/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Taking over from a pager that died. Its state is in the arena, as it was at the instant it
 * died: maybe in the middle of an update. So nothing derived is trusted: slot references are
 * counted again from the page maps, the store's used pages marked again from the slots that
 * point there, and the arena's free lists started afresh (arena_takeover). Pages the dead
 * pager had in flight are settled: a page it had moved into the stash but not yet read out is
 * read from the stash, pages held in memory (read out, store write not finished) are written
 * to the store. Every thread the dead pager left waiting on a fault is woken: it faults
 * again, and this pager serves it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "fault.h"
#include "inject.h"
#include "keeper.h"
#include "space.h"
#include "takeover.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/util.h"

struct settle {
	struct pager *p;
	struct space *sp;
	int pmfd;
	void *buf;
	uint64_t stored, from_stash, dropped, kept;
};

static void zero_refs(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	(*pp)->refs = 0;
	(*pp)->reading = false;
}

static void count_ref(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	(*pp)->refs++;
}

static void mark_used(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	struct pager *p = arg;

	if ((*pp)->state == SLOT_STORED)
		store_mark_used(&p->store, (*pp)->val);
}

static void each_map(struct pager *p, pmap_fn fn, void *arg)
{
	for (struct space *sp = p->spaces; sp; sp = sp->next) {
		pmap_for_range(&sp->map, 0, UINT64_MAX, fn, arg);
		pmap_for_range(&sp->clean, 0, UINT64_MAX, fn, arg);
	}
}

/* Give s the content data (4 KiB-aligned): no I/O for a same-filled page, else a store
 * page. 0 or -errno. */
static int store_one(struct pager *p, struct slot *s, const void *data)
{
	struct store_page pg = { .data = data };
	uint64_t v;
	int r;

	if (page_is_filled(data, &v)) {
		s->val = v;
		s->state = SLOT_FILL;
		return 0;
	}
	if (store_alloc(&p->store, &pg.idx, 1) < 0)
		return -ENOMEM;
	r = store_write(&p->store, &pg, 1);
	if (r < 0) {
		store_release(&p->store, pg.idx);
		return r;
	}
	s->csum = page_checksum(data);
	s->val = pg.idx;
	s->state = SLOT_STORED;
	return 0;
}

/* Keep s in memory, in a page of its own (the staging buffer it points into is reused). */
static void keep_in_memory(struct slot *s, const void *data)
{
	void *own = s->borrowed || !s->data ? arena_calloc(PAGE_SIZE_4K) : s->data;

	if (!own)
		return; /* still servable from the staging buffer, until it is reused */
	if (own != data)
		memcpy(own, data, PAGE_SIZE_4K);
	s->data = own;
	s->borrowed = false;
	s->csum = page_checksum(own);
	s->state = SLOT_MEM;
}

static void settle_one(struct pmap *m, uint64_t addr, struct slot **pp, void *arg)
{
	struct settle *t = arg;
	struct slot *s = *pp;

	if (s->state == SLOT_MEM && s->data) {
		void *d = s->data;

		if (store_one(t->p, s, d) == 0) {
			if (!s->borrowed)
				arena_free(d);
			s->data = NULL;
			s->borrowed = false;
			t->stored++;
		} else {
			keep_in_memory(s, d);
			t->kept++;
		}
		return;
	}
	if (s->state != SLOT_PENDING || t->pmfd < 0)
		return;
	/* Its MOVE was done if the page left addr for the stash: then the stash has it.
	 * Otherwise it is still where it was, and the entry goes. */
	uint64_t in_stash = t->sp->stash + s->val * PAGE_SIZE_4K;

	if (!pagemap_here(t->pmfd, addr) && s->val < STASH_SIZE / PAGE_SIZE_4K &&
	    pagemap_here(t->pmfd, in_stash) &&
	    target_read(space_tid(t->sp), in_stash, t->buf, PAGE_SIZE_4K) == 0) {
		if (store_one(t->p, s, t->buf) < 0)
			keep_in_memory(s, t->buf);
		t->from_stash++;
		return;
	}
	s->state = SLOT_CANCELLED;
	*pp = NULL;
	slot_unref(t->p, s);
	t->dropped++;
}

/* Make sp servable by this pager: its uffd (the keeper's copy, else the target's own), its
 * pidfd, and nothing cached that pointed into the dead pager's memory. false: it cannot be
 * served (its process is gone, or its uffd is lost). */
static bool adopt(struct pager *p, struct space *sp)
{
	sp->pidfd = -1;
	sp->uffd = keeper_fd(sp->serial);
	sp->moving = false;
	sp->lranges = NULL;
	sp->nlranges = 0;
	sp->locked_key = 0;
	sp->stash_dirty = true;
	if (sp->pid > 0) {
		sp->pidfd = pidfd_open_(sp->pid);
		if (sp->pidfd < 0)
			return false;
		if (sp->uffd < 0 && sp->target_fd >= 0) {
			sp->uffd = pidfd_getfd_(sp->pidfd, sp->target_fd);
			if (sp->uffd >= 0)
				keeper_hold(sp->serial, sp->uffd);
		}
	}
	if (sp->uffd < 0) {
		log_error("pid %d: its userfaultfd was lost with the pager that died: its "
			  "%lu evicted pages cannot be served",
			  sp->pid, (unsigned long)sp->map.npages);
		return false;
	}
	/* The pid may name another process by now: the probe through the uffd fails once its
	 * mm is gone (an exec, an exit). A closed fd in the target is handed back later. */
	enum space_health h = space_check(p, sp);

	return h == SPACE_OK || h == SPACE_FD_LOST;
}

/* Wake every thread waiting on a fault of sp: the dead pager read their faults, so this one
 * would never hear of them. They fault again. */
static void wake_all(struct space *sp)
{
	struct uffdio_range all = { .start = 1ull << 16, .len = 0x7ffffffff000ull - (1ull << 16) };

	if (ioctl(sp->uffd, UFFDIO_WAKE, &all) == 0)
		return;
	for (size_t i = 0; i < sp->nregs; i++) {
		struct uffdio_range r = { .start = sp->regs[i].start,
					  .len = sp->regs[i].end - sp->regs[i].start };

		ioctl(sp->uffd, UFFDIO_WAKE, &r);
	}
}

/* The thread the dead pager held has its signals blocked still, and our registers if it was
 * in the runner: give it back its own, stopping a round it may still be running. */
static void resume_held(struct pager *p)
{
	struct inject_hold held = p->hold;
	int r;

	if (held.tid <= 0)
		return;
	/* Cleared only once done: a pager that dies meanwhile leaves it to the next one. */
	r = inject_resume(&held);
	p->hold.tid = 0;
	if (r == 1)
		log_info("tid %d: held by the pager that died, in the runner: its registers and "
			 "signal mask are its own again",
			 held.tid);
	else if (r == 0)
		log_info("tid %d: held by the pager that died: its signal mask is its own again",
			 held.tid);
	else if (r != -ESRCH)
		log_error_errno(r,
				"tid %d: held by the pager that died; its registers and signal "
				"mask could not be given back (%m): it blocks every signal",
				held.tid);
}

int pager_takeover(struct pager *p)
{
	struct settle t = { .p = p, .pmfd = -1 };
	uint64_t max_serial = 0, npages = 0;
	unsigned n = 0;

	arena_takeover();
	p->takeovers++;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->stopping = false;
	p->headroom = INT64_MAX;
	/* First the thread the dead pager held, if any: it may still be running a round of
	 * MOVEs, and what the stash holds is settled below. */
	resume_held(p);
	store_takeover(&p->store);
	each_map(p, zero_refs, NULL);
	each_map(p, count_ref, NULL);
	each_map(p, mark_used, p);
	for (struct space *sp = p->spaces, *next; sp; sp = next) {
		next = sp->next;
		max_serial = USWAP_MAX(max_serial, sp->serial);
		if (!adopt(p, sp))
			space_destroy(p, sp);
	}
	keeper_drop_unclaimed();
	space_serials_from(max_serial + 1);
	fault_replay_events(p);
	t.buf = arena_calloc(PAGE_SIZE_4K);
	if (!t.buf)
		return -ENOMEM;
	for (struct space *sp = p->spaces; sp; sp = sp->next) {
		t.sp = sp;
		t.pmfd = sp->pid > 0 ? pagemap_open(space_tid(sp)) : -1;
		pmap_for_range(&sp->map, 0, UINT64_MAX, settle_one, &t);
		if (t.pmfd >= 0)
			close(t.pmfd);
		npages += sp->map.npages;
		n++;
	}
	arena_free(t.buf);
	for (struct space *sp = p->spaces; sp; sp = sp->next)
		wake_all(sp);
	log_info("took over %u address spaces with %lu evicted pages (%lu written out from memory, "
		 "%lu read from a stash, %lu moves found undone, %lu kept in memory)",
		 n, (unsigned long)npages, (unsigned long)t.stored, (unsigned long)t.from_stash,
		 (unsigned long)t.dropped, (unsigned long)t.kept);
	return 0;
}

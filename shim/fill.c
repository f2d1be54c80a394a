/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "fill.h"
#include "uswap/compat.h"
#include "uswap/log.h"
#include "uswap/util.h"

#define MAX_REQS 32 /* reads in flight: at most 8 MiB of buffers */

struct req {
	struct space *sp;
	uint64_t serial;
	uint64_t addr; /* first page */
	uint64_t idx; /* store page of the first stored page; the other stored ones follow */
	unsigned n; /* pages from addr: stored ones and same-filled ones between them */
	unsigned nread; /* of these, stored (read) */
	bool keep; /* map write-protected and keep the store copies (a read stream) */
	bool fault; /* a thread waits at addr (else a read-ahead) */
	uint64_t flags, t0;
	struct slot *slots[FILL_MAX_PAGES]; /* pinned while the read is in flight */
	uint8_t state[FILL_MAX_PAGES]; /* slot state and value when the read started */
	uint64_t val[FILL_MAX_PAGES];
	struct iovec iov[FILL_MAX_PAGES]; /* stored pages, each at its own place in buf */
	unsigned niov;
	uint8_t *buf; /* page k at k * 4 KiB */
	struct req *next_free;
};

/* Fault thread only. */
static struct io_uring ring;
static bool have_ring;
static int ring_efd = -1;
static unsigned queued, inflight;
static struct req reqs[MAX_REQS];
static struct req *free_reqs;

int fill_init(struct pager *p)
{
	int r;

	free_reqs = NULL;
	for (int i = MAX_REQS - 1; i >= 0; i--) {
		reqs[i].next_free = free_reqs;
		free_reqs = &reqs[i];
	}
	have_ring = false;
	if (p->no_uring)
		return 0;
	r = io_uring_queue_init(MAX_REQS * 2, &ring, 0);
	if (r < 0) {
		log_warn("io_uring unavailable (%s): store reads are synchronous", strerror(-r));
		return 0;
	}
	ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ring_efd < 0 || io_uring_register_eventfd(&ring, ring_efd) < 0) {
		log_warn("io_uring eventfd: %m; store reads are synchronous");
		if (ring_efd >= 0)
			close(ring_efd);
		ring_efd = -1;
		io_uring_queue_exit(&ring);
		return 0;
	}
	have_ring = true;
	return 0;
}

int fill_poll_fd(void)
{
	return have_ring ? ring_efd : -1;
}

static struct req *req_get(void)
{
	struct req *q = free_reqs;

	if (!q)
		return NULL;
	if (!q->buf) {
		q->buf = aligned_alloc(PAGE_SIZE_4K, FILL_MAX_PAGES * PAGE_SIZE_4K);
		if (!q->buf)
			return NULL;
	}
	free_reqs = q->next_free;
	return q;
}

static void req_put(struct pager *p, struct req *q)
{
	for (unsigned k = 0; k < q->n; k++) {
		q->slots[k]->reading = false;
		slot_unref(p, q->slots[k]);
	}
	q->n = 0;
	q->sp = NULL;
	q->next_free = free_reqs;
	free_reqs = q;
}

/* Is page k of q still what was read: the same slot, stored at the same place? */
static bool still_wanted(const struct req *q, unsigned k)
{
	const struct slot *s = q->slots[k];

	return pmap_get(&q->sp->map, q->addr + k * PAGE_SIZE_4K) == s && s->state == q->state[k] &&
	       s->val == q->val[k];
}

static bool space_alive(struct pager *p, const struct req *q)
{
	return space_listed(p, q->sp) && q->sp->serial == q->serial && !q->sp->dead;
}

/* n pages mapped: less room before the target's slack; wake the manager when it is gone. */
static void use_headroom(struct pager *p, uint64_t n)
{
	int64_t left = __atomic_sub_fetch(&p->headroom, (int64_t)n, __ATOMIC_RELAXED);
	uint64_t one = 1;

	if (left <= 0 && left + (int64_t)n > 0 && write(p->evict_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the manager is being woken anyway. */
	}
}

/* Copy pages [k0, k1) of q into the space in one UFFDIO_COPY; each copied page's slot becomes
 * its clean record or goes. Returns the UFFDIO_COPY result for page k0 (0 when copied). */
static int map_run(struct pager *p, struct req *q, unsigned k0, unsigned k1)
{
	struct space *sp = q->sp;

	while (k0 < k1) {
		uint64_t done = 0;
		int r = fault_copy(sp->uffd, q->addr + k0 * PAGE_SIZE_4K,
				   q->buf + k0 * PAGE_SIZE_4K, k1 - k0, q->keep && p->have_wp,
				   &done);

		for (uint64_t i = 0; i < done; i++)
			fault_filled(p, sp, q->addr + (k0 + i) * PAGE_SIZE_4K, q->slots[k0 + i],
				     r == 2);
		use_headroom(p, done);
		k0 += (unsigned)done;
		if (r > 0)
			return 0;
		if (r != -EEXIST)
			return done ? 0 : r;
		/* Mapped already: its entry is stale (the old code path did the same). */
		fault_filled(p, sp, q->addr + k0 * PAGE_SIZE_4K, q->slots[k0], false);
		k0++;
	}
	return 0;
}

/* Which pages of q can be mapped: read, still wanted, checksum right. A page whose copy
 * is damaged is poisoned (its threads get SIGBUS, never wrong data). */
static void check_pages(struct pager *p, struct req *q, unsigned got, bool *ok)
{
	for (unsigned k = 0, nth = 0; k < q->n; k++) {
		uint64_t a = q->addr + k * PAGE_SIZE_4K;
		uint8_t *page = q->buf + k * PAGE_SIZE_4K;

		if (q->state[k] == SLOT_FILL) {
			ok[k] = still_wanted(q, k);
			for (size_t w = 0; w < PAGE_SIZE_4K / 8; w++)
				((uint64_t *)page)[w] = q->val[k];
			continue;
		}
		ok[k] = nth++ < got && still_wanted(q, k);
		if (!ok[k] || page_checksum(page) == q->slots[k]->csum)
			continue;
		ok[k] = false;
		p->checksum_errors++;
		log_error("pid %d: checksum mismatch for page %#lx: poisoning it rather than "
			  "returning wrong data",
			  q->sp->pid, (unsigned long)a);
		fault_poison(p, q->sp, a);
	}
}

/* The faulting page first (its thread wakes), then the runs of valid neighbours. */
static void complete(struct pager *p, struct req *q, int res)
{
	unsigned got = res > 0 ? (unsigned)res / PAGE_SIZE_4K : 0;
	bool ok[FILL_MAX_PAGES];
	int r;

	if (!space_alive(p, q)) {
		req_put(p, q);
		return;
	}
	if (got < q->nread)
		log_error("pid %d: store read of %u pages at %#lx: %s", q->sp->pid, q->n,
			  (unsigned long)q->addr, res < 0 ? strerror(-res) : "short read");
	check_pages(p, q, got, ok);
	if (q->fault) {
		if (ok[0]) {
			r = map_run(p, q, 0, 1);
		} else if (!got && q->nread && still_wanted(q, 0)) {
			/* The store cannot give this page back: say so loudly, once. */
			fault_poison(p, q->sp, q->addr);
			r = 0;
		} else {
			r = -ESTALE; /* poisoned, or the entry changed */
		}
		if (r == 0 && ok[0])
			fault_record_latency(p, q->t0);
		else if (r == -ESRCH || r == -ENOSPC) {
			log_debug("pid %d: refill at %#lx: the address space is gone (%d)",
				  q->sp->pid, (unsigned long)q->addr, r);
			q->sp->dead = true;
		} else if (r < 0)
			/* An event came first, an mm change is in flight: serve the fault again
			 * from whatever its entry says then (a poisoned page faults no more). */
			fault_defer(q->sp, q->addr, q->flags, q->t0);
		ok[0] = false;
	}
	for (unsigned k = 0; k < q->n && !q->sp->dead;) {
		unsigned e = k;

		while (e < q->n && ok[e])
			e++;
		if (e > k)
			map_run(p, q, k, e);
		k = e + 1;
	}
	req_put(p, q);
}

/* Read q: queued on the ring, or at once with the lock dropped (the slots are pinned and
 * complete() checks them again). */
static void issue(struct pager *p, struct req *q)
{
	struct io_uring_sqe *sqe;
	ssize_t n;

	if (!q->nread) {
		complete(p, q, 0);
		return;
	}
	/* Only now: an SQE taken is submitted, prepared or not. */
	sqe = have_ring ? io_uring_get_sqe(&ring) : NULL;
	if (sqe) {
		io_uring_prep_readv(sqe, p->store.fd, q->iov, q->niov, q->idx * PAGE_SIZE_4K);
		io_uring_sqe_set_data(sqe, q);
		queued++;
		inflight++;
		return;
	}
	pthread_mutex_unlock(&p->lock);
	n = preadv(p->store.fd, q->iov, (int)q->niov, (off_t)(q->idx * PAGE_SIZE_4K));
	pthread_mutex_lock(&p->lock);
	complete(p, q, n < 0 ? -errno : (int)n);
}

void fill_submit(void)
{
	if (queued) {
		io_uring_submit(&ring);
		queued = 0;
	}
}

/* Can the page with slot s join q: same-filled, or stored right after q's last stored page. */
static bool joins(const struct req *q, const struct slot *s)
{
	if (!s || s->reading)
		return false;
	if (s->state == SLOT_FILL)
		return true;
	return s->state == SLOT_STORED && (!q->nread || s->val == q->idx + q->nread);
}

/* Pin page k (slot s) into q; a stored one gets its place in the read. */
static void add(struct req *q, struct slot *s)
{
	unsigned k = q->n++;

	s->reading = true;
	slot_ref(s);
	q->slots[k] = s;
	q->state[k] = s->state;
	q->val[k] = s->val;
	if (s->state != SLOT_STORED)
		return;
	if (!q->nread++)
		q->idx = s->val;
	struct iovec *last = q->niov ? &q->iov[q->niov - 1] : NULL;

	if (last && (uint8_t *)last->iov_base + last->iov_len == q->buf + k * PAGE_SIZE_4K)
		last->iov_len += PAGE_SIZE_4K;
	else
		q->iov[q->niov++] = (struct iovec){ q->buf + k * PAGE_SIZE_4K, PAGE_SIZE_4K };
}

/* Start a read at addr for up to win pages: addr and the pages after it that were evicted
 * with it (stored in the pages of the store file that follow, or same-filled). The first
 * page must be evicted and not being read. 0 with *ret_end the address after the last page,
 * or -errno (-EBUSY: no request free). */
static int start(struct pager *p, struct space *sp, uint64_t addr, unsigned win, bool keep,
		 bool fault, uint64_t flags, uint64_t t0, uint64_t *ret_end)
{
	struct req *q, probe = { 0 };

	if (!joins(&probe, pmap_get(&sp->map, addr)))
		return -EALREADY;
	q = req_get();
	if (!q)
		return -EBUSY;
	*q = (struct req){ .sp = sp,
			   .serial = sp->serial,
			   .addr = addr,
			   .keep = keep,
			   .fault = fault,
			   .flags = flags,
			   .t0 = t0,
			   .buf = q->buf };
	for (unsigned k = 0; k < win; k++) {
		struct slot *s = pmap_get(&sp->map, addr + k * PAGE_SIZE_4K);

		if (!joins(q, s))
			break;
		add(q, s);
	}
	*ret_end = addr + q->n * PAGE_SIZE_4K;
	issue(p, q);
	return 0;
}

/* A stride stream's faults are at most this far apart, and it reads at most this many pages
 * ahead (one request each: they are stored wherever they were evicted). */
#define STRIDE_MAX (4ll << 20)
#define STRIDE_WIN 16u

enum stream_kind {
	STREAM_NEW,
	STREAM_SEQ,
	STREAM_STRIDE
};

/* Is page on st's stride, past lo and no further than win strides past next? */
static bool on_stride(const struct fill_stream *st, uint64_t page)
{
	int64_t d = (int64_t)(page - st->lo), k, ahead = (int64_t)(st->next - st->lo) / st->stride;

	if (d % st->stride)
		return false;
	k = d / st->stride;
	return k > 0 && k <= USWAP_MAX(ahead, 0) + (int64_t)st->win;
}

/* The stream page continues (sequential or stride), repeats (the same fault again,
 * ret_again: a deferred fault retried, or a thread that faulted twice), or, reset, the least
 * recently used one (STREAM_NEW). A new stream remembers how far its fault is from the one
 * before; a third fault that far again makes it a stride stream. */
static struct fill_stream *stream_of(struct space *sp, uint64_t page, enum stream_kind *ret_kind,
				     bool *ret_again)
{
	struct fill_stream *lru = &sp->streams[0], *last = NULL;
	int64_t delta = 0;

	*ret_again = false;
	for (unsigned i = 0; i < FILL_STREAMS; i++) {
		struct fill_stream *st = &sp->streams[i];

		if (st->win) {
			*ret_kind = st->stride ? STREAM_STRIDE : STREAM_SEQ;
			if (page == st->lo) {
				*ret_again = true;
				return st;
			}
			if (!st->stride && page > st->lo && page <= st->next)
				return st;
			if (st->stride && on_stride(st, page))
				return st;
			if (st->delta && page == st->lo + (uint64_t)st->delta) {
				st->stride = st->delta;
				st->next = page;
				st->win = 1;
				*ret_kind = STREAM_STRIDE;
				return st;
			}
			if (!last || st->used_ns > last->used_ns)
				last = st;
		}
		if (st->used_ns < lru->used_ns)
			lru = st;
	}
	if (last) {
		delta = (int64_t)(page - last->lo);
		if (delta > STRIDE_MAX || delta < -STRIDE_MAX)
			delta = 0;
	}
	*ret_kind = STREAM_NEW;
	*lru = (struct fill_stream){ .delta = delta };
	return lru;
}

/* Start the read of a faulting page and up to win - 1 pages after it. 0 under way (or done),
 * 1 deferred (its read is in flight, or too many are), -ENODEV sp was destroyed while the
 * lock was dropped (without io_uring), or -errno. */
static int start_fault(struct pager *p, struct space *sp, uint64_t page, unsigned win, bool keep,
		       uint64_t flags, uint64_t t0, uint64_t *ret_end)
{
	uint64_t serial = sp->serial;
	int r = start(p, sp, page, win, keep, true, flags, t0, ret_end);

	if (!have_ring && !(space_listed(p, sp) && sp->serial == serial))
		return -ENODEV;
	if (r == -EALREADY || r == -EBUSY) {
		/* The copy that ends its read wakes the thread; or retried later. */
		fault_defer(sp, page, flags, t0);
		return 1;
	}
	return r;
}

/* The faulting page of a stride stream alone, then the next win strides not read yet (with
 * io_uring only: the caller sees to that). */
static int stride_fault(struct pager *p, struct space *sp, struct fill_stream *st, uint64_t page,
			bool again, bool tight, uint64_t flags, uint64_t t0)
{
	bool keep = !(flags & UFFD_PAGEFAULT_FLAG_WRITE);
	unsigned win = again ? st->win : USWAP_MIN(st->win * 2, STRIDE_WIN);
	uint64_t end, a = page + (uint64_t)st->stride;
	int r = start_fault(p, sp, page, 1, keep, flags, t0, &end);

	if (r < 0)
		return r;
	if ((int64_t)(st->next - page) / st->stride > 0)
		a = st->next;
	/* The same fault again (deferred, retried) made no progress: read no further ahead. */
	for (unsigned k = 0; k < win && !again && !tight; k++, a += (uint64_t)st->stride)
		if (start(p, sp, a, 1, keep, false, 0, 0, &end) == -EBUSY)
			break;
	st->lo = page;
	st->next = a;
	st->win = win;
	st->delta = 0;
	st->used_ns = t0;
	return r;
}

/* A random fault reads its page alone unless its chunk (2 MiB) took at least DENSE_MIN of the
 * space's last FILL_RECENT faults: then a region evicted together is being faulted back
 * together (the hot part of a working set that the clock's hand passed over, or that the
 * program's own fill pushed out), and the fault reads the aligned cluster of CLUSTER_PAGES
 * around it, the neighbours stored with it, in one request from the page on and one before it
 * (the kernel's swap read-ahead, here only where faults are dense). Uniform random faults over
 * 256 MiB or more rarely crowd a chunk that much; over a smaller set they do, and a cluster's
 * pages are then as likely to be touched as the resident pages they displace. */
#define DENSE_MIN 8
#define CLUSTER_PAGES 16

/* Records a fault at page: was its chunk dense before it? */
static bool dense_chunk(struct space *sp, uint64_t page)
{
	uint32_t c = (uint32_t)(page / CHUNK_SIZE);
	unsigned n = 0;

	for (unsigned i = 0; i < FILL_RECENT; i++)
		n += sp->recent_chunks[i] == c;
	sp->recent_chunks[sp->recent_pos] = c;
	sp->recent_pos = (sp->recent_pos + 1) % FILL_RECENT;
	return n >= DENSE_MIN;
}

/* Read ahead the evicted pages of page's cluster below it (io_uring only): one request for
 * each run of them stored together. */
static void read_before(struct pager *p, struct space *sp, uint64_t page, bool keep)
{
	uint64_t a = page & ~(CLUSTER_PAGES * PAGE_SIZE_4K - 1), end;

	while (a < page) {
		int r = start(p, sp, a, (unsigned)((page - a) / PAGE_SIZE_4K), keep, false, 0, 0,
			      &end);

		if (r == -EBUSY)
			break;
		a = r == 0 ? end : a + PAGE_SIZE_4K;
	}
}

int fill_fault(struct pager *p, struct space *sp, uint64_t page, uint64_t flags, uint64_t t0)
{
	enum stream_kind kind;
	bool again, keep = !(flags & UFFD_PAGEFAULT_FLAG_WRITE);
	struct fill_stream *st = stream_of(sp, page, &kind, &again);
	bool seq = kind == STREAM_SEQ && !again;
	bool dense = !again && dense_chunk(sp, page);
	uint64_t end = page + PAGE_SIZE_4K, ahead;
	unsigned win = seq ? USWAP_MIN(st->win * 2, FILL_MAX_PAGES) : 1;
	/* Over the target by its slack: only the page asked for, until the manager has
	 * evicted (reading ahead then would only be evicted again unread). */
	bool tight = __atomic_load_n(&p->headroom, __ATOMIC_RELAXED) <= 0;
	bool cluster = dense && kind == STREAM_NEW && !tight && have_ring;
	int r;

	if (kind == STREAM_STRIDE && have_ring)
		return stride_fault(p, sp, st, page, again, tight, flags, t0);
	if (kind == STREAM_STRIDE)
		*st = (struct fill_stream){ 0 }; /* no read-ahead without io_uring */
	if (tight)
		win = 1;
	else if (again)
		win = st->win; /* no progress: neither grow nor read further ahead */
	st->used_ns = t0;
	r = start_fault(p, sp, page,
			cluster ? CLUSTER_PAGES - (unsigned)(page / PAGE_SIZE_4K % CLUSTER_PAGES) :
				  win,
			keep, flags, t0, &end);
	if (r < 0)
		return r;
	if (cluster)
		read_before(p, sp, page, keep);
	/* A stream reads its next cluster ahead, so its thread finds it mapped. */
	ahead = USWAP_MAX(end, st->next);
	if (seq && !tight && have_ring && start(p, sp, ahead, win, keep, false, 0, 0, &ahead) == 0)
		end = ahead;
	if (!seq && !again)
		st->next = 0;
	if (seq)
		st->delta = 0;
	st->lo = page;
	st->next = USWAP_MAX(st->next, USWAP_MAX(end, page + PAGE_SIZE_4K));
	st->win = win;
	return r;
}

void fill_reap(struct pager *p, bool signalled)
{
	struct io_uring_cqe *cqe;
	uint64_t v;

	if (!have_ring)
		return;
	/* Only a signalled eventfd needs its count read: a wake for a fault saves the call. */
	if (signalled && read(ring_efd, &v, sizeof(v)) < 0) {
		/* Read by now: the completion queue may still hold some. */
	}
	while (io_uring_peek_cqe(&ring, &cqe) == 0) {
		struct req *q = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&ring, cqe);
		inflight--;
		complete(p, q, res);
	}
}

void fill_exit(struct pager *p)
{
	if (have_ring) {
		struct io_uring_cqe *cqe;

		/* Wait for the reads in flight: their buffers are about to go. */
		pthread_mutex_lock(&p->lock);
		fill_submit();
		for (; inflight && io_uring_wait_cqe(&ring, &cqe) == 0; inflight--) {
			struct req *q = io_uring_cqe_get_data(cqe);

			io_uring_cqe_seen(&ring, cqe);
			req_put(p, q);
		}
		pthread_mutex_unlock(&p->lock);
		io_uring_queue_exit(&ring);
		close(ring_efd);
		ring_efd = -1;
		have_ring = false;
	}
	for (int i = 0; i < MAX_REQS; i++) {
		free(reqs[i].buf);
		reqs[i].buf = NULL;
	}
}

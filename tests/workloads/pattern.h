/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seeded page patterns shared by the test workloads, in the spirit of CRIU's zdtm
 * datagen/datachk, plus the few helpers every workload needs.
 *
 * A page's content is a pure function of (seed, generation, page id), so a verifier needs
 * only the expected generation of each page, never a second copy of the data:
 *  - generation 0 means "must read zero" (fresh mapping, MADV_DONTNEED);
 *  - otherwise one page in 16 is all zero and one in 16 is filled with a single repeated
 *    byte, because the pager stores those without I/O; which pages they are moves with the
 *    generation, so a rewrite turns zero pages into data pages and back;
 *  - every other page holds a different 64-bit word at every offset, so stale pages (an older
 *    generation), misplaced pages (another id) and shifted words are all told apart.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAT_PAGE 4096UL
#define PAT_WORDS (PAT_PAGE / sizeof(uint64_t))

enum pat_kind {
	PAT_ZERO,
	PAT_SAME,
	PAT_DATA,
};

static inline const char *pat_kind_name(enum pat_kind k)
{
	return k == PAT_ZERO ? "zero" : k == PAT_SAME ? "same-filled" : "data";
}

/* splitmix64 finalizer: cheap, and every input bit reaches every output bit. */
static inline uint64_t pat_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t pat_key(uint64_t seed, uint32_t gen, uint64_t id)
{
	return pat_mix(seed ^ pat_mix(((uint64_t)gen << 40) ^ id ^ 0x5a5a5a5a00000000ULL));
}

static inline enum pat_kind pat_kind_of(uint32_t gen, uint64_t id)
{
	if (gen == 0)
		return PAT_ZERO;
	switch ((id + gen) % 16) {
	case 0:
		return PAT_ZERO;
	case 1:
		return PAT_SAME;
	default:
		return PAT_DATA;
	}
}

static inline uint64_t pat_word(uint64_t key, enum pat_kind kind, size_t w)
{
	switch (kind) {
	case PAT_ZERO:
		return 0;
	case PAT_SAME:
		/* never 0: a same-filled page must not look like a zero page */
		return ((key >> 56) | 1) * 0x0101010101010101ULL;
	default:
		return key ^ ((w + 1) * 0x9e3779b97f4a7c15ULL);
	}
}

static inline void pat_fill(void *page, uint64_t seed, uint32_t gen, uint64_t id)
{
	enum pat_kind kind = pat_kind_of(gen, id);
	uint64_t key = pat_key(seed, gen, id);
	volatile uint64_t *p = page;

	for (size_t w = 0; w < PAT_WORDS; w++)
		p[w] = pat_word(key, kind, w);
}

/* Index of the first word of page that differs from the expected pattern, or -1. */
static inline long pat_check(const void *page, uint64_t seed, uint32_t gen, uint64_t id)
{
	enum pat_kind kind = pat_kind_of(gen, id);
	uint64_t key = pat_key(seed, gen, id);
	const volatile uint64_t *p = page;

	for (size_t w = 0; w < PAT_WORDS; w++)
		if (p[w] != pat_word(key, kind, w))
			return (long)w;
	return -1;
}

/*
 * Report the first bad page, with a guess at what it holds: all zeros (an evicted page lost,
 * e.g. the uffd went away), an older generation (a stale copy read back), or garbage.
 */
static inline void pat_report(const char *prog, const char *when, const void *page, uint64_t seed,
			      uint32_t gen, uint64_t id, long word, size_t nbad)
{
	const volatile uint64_t *p = page;
	uint64_t exp = pat_word(pat_key(seed, gen, id), pat_kind_of(gen, id), (size_t)word);
	char guess[96] = "unknown content";
	size_t nz = 0;

	for (size_t w = 0; w < PAT_WORDS; w++)
		nz += p[w] != 0;
	if (nz == 0) {
		snprintf(guess, sizeof(guess), "page reads all zero");
	} else {
		for (uint32_t g = gen > 8 ? gen - 8 : 0; g <= gen + 2; g++) {
			if (g != gen && pat_check(page, seed, g, id) < 0) {
				snprintf(guess, sizeof(guess), "page holds generation %u (stale)",
					 g);
				break;
			}
		}
	}
	fprintf(stderr,
		"%s: MISMATCH %s: pid %d page %p (id %llu, %s, gen %u) word %ld: expected "
		"0x%016llx got 0x%016llx; %s; %zu bad page(s)\n",
		prog, when, (int)getpid(), page, (unsigned long long)id,
		pat_kind_name(pat_kind_of(gen, id)), gen, word, (unsigned long long)exp,
		(unsigned long long)p[word], guess, nbad);
}

/* Write text to path through path.tmp + rename, so a poller never sees a partial file. */
static inline int wl_write_atomic(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text);
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n != (ssize_t)len || close(fd) < 0) {
		int r = n < 0 ? -errno : -EIO;

		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

/* The workload's --result file, if any: wl_finish writes the exit status there first. */
static const char *wl_result __attribute__((unused));

__attribute__((noreturn)) static inline void wl_finish(int code)
{
	char buf[16];

	if (wl_result) {
		snprintf(buf, sizeof(buf), "%d\n", code);
		wl_write_atomic(wl_result, buf);
	}
	exit(code);
}

/* "PROG: ERROR: message" on stderr, then wl_finish(1). */
__attribute__((format(printf, 2, 3), noreturn)) static inline void wl_die(const char *prog,
									  const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ERROR: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	wl_finish(1);
}

/* Print "PROG: PREFIX" and the message on stderr, then exit with code (2: bad arguments). */
__attribute__((format(printf, 4, 5), noreturn)) static inline void
wl_exit(int code, const char *prog, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s", prog, prefix);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static inline double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void wl_sleep(double secs)
{
	struct timespec ts = { .tv_sec = (time_t)secs,
			       .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parse a decimal (or 0x) unsigned number in [min, max]; 0 or -EINVAL. */
static inline int wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

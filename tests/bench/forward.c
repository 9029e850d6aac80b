/*
 * forward.c - the floor under any LD_PRELOAD recorder, for the tracer
 * benchmark: malloc, calloc, realloc and free interposed and forwarded to
 * glibc, and with FORWARD_STORE=1 also the least a recorder does per
 * call: read the coarse clock and store time, address and size into a
 * per-thread ring of memory that is never read.  Only for glibc programs
 * that use these four calls (tests/bench/churn).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);

#define RING (1u << 16) /* entries: 1.5 MiB a thread */

static bool store;
static __thread struct entry {
	uint64_t time, addr, size;
} ring[RING];
static __thread unsigned head;

__attribute__((constructor)) static void init(void)
{
	const char *s = getenv("FORWARD_STORE");
	store = s && *s == '1';
}

static inline void note(const void *p, size_t n)
{
	if (!store)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	struct entry *e = &ring[head++ & (RING - 1)];
	e->time = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	e->addr = (uintptr_t)p;
	e->size = n;
}

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	note(p, n);
	return p;
}

void *calloc(size_t a, size_t b)
{
	void *p = __libc_calloc(a, b);
	note(p, a * b);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = __libc_realloc(old, n);
	note(p, n);
	return p;
}

void free(void *p)
{
	note(p, 0);
	__libc_free(p);
}

/*
 * ustacks.c - allocations whose call stacks repeat, and stacks that look
 * alike where a stack cache could be fooled (tests/e2e/test_stack_cache.sh):
 *
 *  - one allocating function reached from two callers at the same depth,
 *    so that its return address and stack pointer are the same and only
 *    the frame above differs;
 *  - a caller with a frame pointer and an alloca of varying size (its
 *    frames move while the allocating frame may not);
 *  - a realigned frame (a 64-byte-aligned local) entered at stack depths
 *    16 bytes apart;
 *  - two callers whose allocas add up to the same size, and a realigned
 *    frame with an alloca (moved(), below);
 *  - recursion to varying depths, and a longjmp out of a deep one;
 *  - more call sites in turn than a thread keeps stacks for;
 *  - all of it again on four threads at once (ustacks N: on N threads);
 *  - (ustacks come-and-go) threads that start, allocate and end, 2000 of
 *    them, and the process's size after;
 *  - (ustacks deep) allocations under 48 and under 120 frames: deeper than
 *    a stack the cache kept at first, and deeper than the tracer records;
 *  - (ustacks alternate) the two callers of the first item in turn, one
 *    call each: two stacks of one key, as an interpreter's allocator has.
 * Prints the number of allocations it made.
 */
#include <alloca.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 100

static __thread unsigned long allocs;
static unsigned long total;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;

/* through a volatile, so that the compiler keeps every malloc and free */
static __thread void *volatile sink;
static void *keep(void *p)
{
	allocs++;
	sink = p;
	return sink;
}

__attribute__((noinline)) static void leaf(size_t n)
{
	free(keep(malloc(n)));
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void via_f(size_t n)
{
	leaf(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void via_g(size_t n)
{
	leaf(n + 1);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void with_alloca(size_t pad)
{
	volatile char *buf = alloca(pad);
	buf[0] = 1;
	leaf(pad);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void realigned(int i)
{
	_Alignas(64) char local[64];
	local[0] = (char)i;
	__asm__ volatile("" : : "r"(local) : "memory");
	free(keep(calloc(1, 24 + (size_t)(i & 7))));
	__asm__ volatile("" : : "r"(local) : "memory");
}

__attribute__((noinline)) static void shift16(int i)
{
	char pad[16];
	pad[0] = 0;
	__asm__ volatile("" : : "r"(pad) : "memory");
	realigned(i);
	__asm__ volatile("" : : "r"(pad) : "memory");
}

__attribute__((noinline)) static void recurse(int depth, size_t n)
{
	if (depth > 0)
		recurse(depth - 1, n);
	else
		leaf(n);
	__asm__ volatile("" ::: "memory");
}

/* the length of a run of one stack; volatile, so no loop is unrolled */
static volatile int reps = 200;

static __thread jmp_buf out;
static volatile int jump_now = 1;

__attribute__((noinline)) static void recurse_jump(int depth)
{
	if (depth == 0) {
		leaf(40);
		if (jump_now)
			longjmp(out, 1);
		return;
	}
	recurse_jump(depth - 1);
	leaf(41);
}

__attribute__((noinline)) static void jump_from(int depth)
{
	if (!setjmp(out))
		recurse_jump(depth);
}

/* Two callers that differ only in which function they are: called from
 * one place, with allocas that add up to the same size, so that the
 * allocating frame's stack pointer and return address are the same and
 * only its frame pointer (and where the caller's return address is) moves. */
__attribute__((noipa)) static void alloca_direct(size_t b)
{
	char *v = alloca(b);
	v[0] = 1;
	__asm__ volatile("" : : "r"(v) : "memory");
	free(keep(malloc(24)));
	__asm__ volatile("" ::: "memory");
}

#define OUTER(name, mark)                                                                   \
	__attribute__((noipa)) static void name(size_t a, size_t b)                         \
	{                                                                                   \
		char *v = alloca(a);                                                        \
		v[0] = mark;                                                                \
		__asm__ volatile("" : : "r"(v) : "memory");                                 \
		alloca_direct(b);                                                           \
		__asm__ volatile("" ::: "memory");                                          \
	}
OUTER(outer_x, 1)
OUTER(outer_y, 2)

static void (*volatile outers[2])(size_t, size_t) = {outer_x, outer_y};

/* A realigned frame with an alloca (gcc's DRAP: its CFA is read from the
 * word under its rbp), entered from two callers whose frames differ by 16
 * bytes: within one 64-byte window, its rbp and stack pointer are the same
 * and only that word says where its caller's return address is. */
__attribute__((noipa)) static void drap_alloc(size_t n)
{
	_Alignas(64) char local[64];
	char *v = alloca(n);
	local[0] = v[0] = 1;
	__asm__ volatile("" : : "r"(local), "r"(v) : "memory");
	free(keep(malloc(40)));
	__asm__ volatile("" : : "r"(local) : "memory");
}

__attribute__((noipa)) static void drap_a(void)
{
	drap_alloc(32);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) static void drap_b(void)
{
	char pad[16];
	__asm__ volatile("" : : "r"(pad) : "memory");
	drap_alloc(32);
	__asm__ volatile("" : : "r"(pad) : "memory");
}

static void (*volatile draps[2])(void) = {drap_a, drap_b};


/* the two above from four stack depths 16 bytes apart */
__attribute__((noipa)) static void moved(unsigned k)
{
	char *v = alloca(16 * (k % 4) + 1);
	v[0] = 1;
	__asm__ volatile("" : : "r"(v) : "memory");
	/* one call site each: a run of the first function, then the second */
	for (int j = 0; j <= reps; j++)
		outers[j == reps](j < reps ? 16 : 48, j < reps ? 80 : 48);
	for (int j = 0; j <= reps; j++)
		draps[j == reps]();
	__asm__ volatile("" ::: "memory");
}

#define SITE(k)                                                                             \
	__attribute__((noinline)) static void site##k(void)                                 \
	{                                                                                   \
		free(keep(malloc(8 * (k + 1))));                                            \
		__asm__ volatile("" ::: "memory");                                          \
	}
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
static void (*const sites[])(void) = {site0, site1, site2, site3, site4, site5, site6, site7};

static void *work(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int r = 0; r < ROUNDS; r++) {
		seed = seed * 1103515245u + 12345u;
		unsigned x = seed >> 16, y = x >> 4;
		/* each: a run of one stack (long enough for the tracer to learn
		 * it and reuse it), then one that differs */
		for (int j = 0; j <= reps; j++)
			(j < reps ? via_f : via_g)(16 + (x & 63));
		for (int j = 0; j <= reps; j++)
			with_alloca(16 + 16 * ((j < reps ? x : y) % 9));
		for (int j = 0; j <= reps; j++)
			(j < reps) == (x & 1) ? shift16(r) : realigned(r);
		for (int j = 0; j <= reps; j++)
			recurse((int)((j < reps ? x : y) % 5), 32);
		for (int j = 0; j <= reps; j++)
			jump_from((int)((j < reps ? x : y) % 4));
		for (int j = 0; j <= reps; j++)
			sites[(r + (j == reps)) % 8]();
		moved((unsigned)r);
	}
	pthread_mutex_lock(&total_lock);
	total += allocs;
	pthread_mutex_unlock(&total_lock);
	return NULL;
}

/* ustacks come-and-go: 2000 threads one after another, each allocating
 * from one stack long enough for it to be kept; prints the process's
 * virtual size at the end (a thread's kept stacks must go with it). */
static void *short_lived(void *arg)
{
	(void)arg;
	for (int j = 0; j < 64; j++)
		leaf(48);
	return NULL;
}

/* ustacks deep: runs of allocations at the bottom of a recursion, 48
 * frames deep (as a Python 3.8-3.10 interpreter's stacks are under a dozen
 * Python calls), then 120 (more than the 64 frames the tracer records by
 * default: the stack is cut). */
__attribute__((noinline)) static void dig(int depth, int reps_at_bottom)
{
	if (depth > 0)
		dig(depth - 1, reps_at_bottom);
	else
		for (int j = 0; j < reps_at_bottom; j++)
			leaf(32);
	__asm__ volatile("" ::: "memory");
}

static void deep(void)
{
	for (int r = 0; r < 50; r++) {
		dig(48, 400);
		dig(120, 400);
	}
	printf("%lu allocations\n", allocs);
}

/* ustacks alternate: via_f and via_g in turn from one call site, so that
 * the allocating frame's key is the same for both and each comes every
 * other call. */
static void (*volatile vias[2])(size_t) = {via_f, via_g};

static void alternate(void)
{
	for (int j = 0; j < 40000; j++)
		vias[j & 1](24);
	printf("%lu allocations\n", allocs);
}

/* the process's virtual size, in KiB (VmSize) */
static long vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmSize:", 7))
			kb = atol(line + 7);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "come-and-go")) {
		for (int i = 0; i < 2000; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, short_lived, NULL) || pthread_join(t, NULL))
				return 1;
		}
		printf("%ld KiB\n", vm_size());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "deep")) {
		deep();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "alternate")) {
		alternate();
		return 0;
	}
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	work((void *)1);
	pthread_t t[16];
	for (int i = 0; i < threads && i < 16; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(uintptr_t)(i + 2)))
			return 1;
	for (int i = 0; i < threads && i < 16; i++)
		pthread_join(t[i], NULL);
	printf("%lu allocations\n", total);
	return 0;
}

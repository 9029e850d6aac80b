/*
 * xthreads.c - the threaded workload of the tracer benchmarks: 8 threads
 * share 4096 slots; each step a thread allocates a block and swaps it into
 * a random slot (an atomic exchange, no lock), freeing the block it takes
 * out, which another thread allocated most of the time.  So every thread
 * allocates and frees at once, and most frees are of other threads' blocks.
 * usage: xthreads [ALLOCS_PER_THREAD]   (default 200,000: 3.2 M events)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define SLOTS 4096

static void *slot[SLOTS];
static long per_thread = 200000;

static void *worker(void *arg)
{
	uint64_t rng = 88172645463325252ull ^ (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull;
	for (long i = 0; i < per_thread; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		size_t n = 16 + (size_t)(rng >> 40) % 496;
		void *p = malloc(n);
		memset(p, 1, 16);
		free(__atomic_exchange_n(&slot[rng % SLOTS], p, __ATOMIC_ACQ_REL));
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		per_thread = atol(argv[1]);
	pthread_t th[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
	puts("done");
	return 0;
}

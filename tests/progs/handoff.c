/*
 * handoff.c - 4 pairs of threads: in each, one thread only allocates and
 * hands its blocks over a ring to the other, which only frees them.  So
 * every block is freed by another thread than the one that allocated it,
 * and, the freeing thread's cache being full, glibc gives the address to
 * the allocating thread again, while the other still frees: a trace of it
 * is right only if the tracer's order across threads is exact (a free
 * recorded after the allocation that reuses its address shows as an
 * allocation over a live block).
 * usage: handoff [BLOCKS_PER_PAIR]
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPAIRS 4
#define RING 256 /* a power of two */

static struct pair {
	void *ring[RING];
	unsigned head, tail; /* atomic: the producer writes head, the consumer tail */
} pairs[NPAIRS];
static long per_pair = 40000;

static void *producer(void *arg)
{
	struct pair *q = arg;
	for (long i = 0; i < per_pair; i++) {
		void *p = malloc(16 + 16 * (size_t)(i % 7));
		memset(p, 1, 16);
		unsigned h = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
		while (h - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == RING)
			sched_yield();
		q->ring[h % RING] = p;
		__atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *q = arg;
	for (long i = 0; i < per_pair; i++) {
		unsigned t = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
		while (__atomic_load_n(&q->head, __ATOMIC_ACQUIRE) == t)
			sched_yield();
		free(q->ring[t % RING]);
		__atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		per_pair = atol(argv[1]);
	pthread_t th[2 * NPAIRS];
	for (int i = 0; i < NPAIRS; i++) {
		pthread_create(&th[2 * i], NULL, producer, &pairs[i]);
		pthread_create(&th[2 * i + 1], NULL, consumer, &pairs[i]);
	}
	for (int i = 0; i < 2 * NPAIRS; i++)
		pthread_join(th[i], NULL);
	puts("done");
	return 0;
}

/*
 * threads.c - 8 threads allocate blocks and hand them to each other, so
 * most blocks are freed by another thread than the one that allocated
 * them.  Each thread names itself "worker-K".  A mark "go" separates the
 * start-up from the work (arenatrace_mark, found with dlsym when traced).
 * usage: threads [BLOCKS_PER_THREAD]
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define QCAP 1024

static struct {
	pthread_mutex_t mu;
	void *q[QCAP];
	int n;
} box = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static long per_thread = 20000;

static void *worker(void *arg)
{
	long id = (long)arg;
	char name[16];
	snprintf(name, sizeof(name), "worker-%ld", id);
	pthread_setname_np(pthread_self(), name);
	unsigned seed = (unsigned)id * 7919u + 1;
	for (long i = 0; i < per_thread; i++) {
		void *p = malloc(16 + rand_r(&seed) % 200);
		memset(p, (int)id, 16);
		void *victim = NULL;
		pthread_mutex_lock(&box.mu);
		if (box.n == QCAP || (box.n && rand_r(&seed) % 2))
			victim = box.q[--box.n];
		box.q[box.n++] = p;
		pthread_mutex_unlock(&box.mu);
		free(victim); /* most likely another thread's block */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		per_thread = atol(argv[1]);
	void (*mark)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "arenatrace_mark");
	pthread_t th[NTHREADS];
	if (mark)
		mark("go");
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	while (box.n)
		free(box.q[--box.n]);
	puts("done");
	return 0;
}

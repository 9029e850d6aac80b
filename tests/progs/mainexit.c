/*
 * mainexit.c - the main thread leaves with pthread_exit while a worker
 * still runs (about 0.1 s of allocating); the process ends when that last
 * thread returns, with status 0.  Prints "mainexit ok" from the worker.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		char *volatile p = malloc(100 + (size_t)i);
		p[0] = 1;
		free(p);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	puts("mainexit ok");
	fflush(stdout);
	return NULL;
}

int main(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		return 2;
	pthread_exit(NULL);
}

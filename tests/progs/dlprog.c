/*
 * dlprog.c - loads the object named by argv[1], allocates through it,
 * unloads it: all within a millisecond or so, faster than the tracer polls
 * the module map.  With a count N in argv[2], does that N times while four
 * threads allocate and free, and dlclose races with their recording.
 * With "kill" in argv[2]: loads the object, allocates through it for
 * 300 ms and kills itself (SIGKILL), so only the tracer's periodic look at
 * the module map can have recorded the object.
 * Prints "dlprog ok" on success.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int done;

static void *churn(void *arg)
{
	(void)arg;
	void *keep[64] = {0};
	for (unsigned i = 0; !done; i++) {
		free(keep[i % 64]);
		keep[i % 64] = malloc(16 + i % 200);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static int load_fill_unload(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlprog: %s\n", dlerror());
		return 1;
	}
	void *(*fill)(int) = (void *(*)(int))dlsym(h, "plugin_fill");
	if (!fill || !fill(100) || dlclose(h) != 0)
		return 1;
	return 0;
}

static int load_and_die(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	void *(*fill)(int) = h ? (void *(*)(int))dlsym(h, "plugin_fill") : NULL;
	if (!fill)
		return 1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		free(fill(0)); /* an allocation inside the object, nothing kept */
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
	puts("dlprog ok");
	fflush(stdout);
	raise(SIGKILL);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (argc > 2 && !strcmp(argv[2], "kill"))
		return load_and_die(argv[1]);
	int n = argc > 2 ? atoi(argv[2]) : 1, rc = 0;
	pthread_t t[4];
	int threads = n > 1 ? 4 : 0;
	for (int k = 0; k < threads; k++)
		if (pthread_create(&t[k], NULL, churn, NULL))
			return 1;
	for (int i = 0; i < n && !rc; i++)
		rc = load_fill_unload(argv[1]);
	done = 1;
	for (int k = 0; k < threads; k++)
		pthread_join(t[k], NULL);
	if (!rc)
		puts("dlprog ok");
	return rc;
}

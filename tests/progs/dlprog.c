/*
 * dlprog.c - loads the object named by argv[1], allocates through it,
 * unloads it: all within a millisecond or so, faster than the tracer polls
 * the module map.  With a count N in argv[2], does that N times while four
 * threads allocate and free, and dlclose races with their recording.
 * Prints "dlprog ok" on success.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
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

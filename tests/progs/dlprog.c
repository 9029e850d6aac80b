/*
 * dlprog.c - loads the object named by argv[1], allocates through it,
 * unloads it and exits, all within a millisecond or so: faster than the
 * tracer polls the module map.  Prints "dlprog ok" on success.
 */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlprog: %s\n", dlerror());
		return 1;
	}
	void *(*fill)(int) = (void *(*)(int))dlsym(h, "plugin_fill");
	if (!fill || !fill(100) || dlclose(h) != 0)
		return 1;
	puts("dlprog ok");
	return 0;
}

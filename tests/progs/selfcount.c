/*
 * selfcount.c - calls every interposed allocation function a known number
 * of times and prints those numbers as JSON, so a test can compare them
 * with `arenatrace info --json` of its trace (minus a run with N = 0: the
 * start-up calls of libc).  Also checks that return values and errno reach
 * the program unchanged under the tracer.
 * usage: selfcount N
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(int ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "selfcount: %s\n", what);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10;
	int bad = 0;
	volatile size_t huge = SIZE_MAX / 2;
	void *volatile null_ptr = NULL; /* free(NULL) literally would be optimised away */
	for (long i = 0; i < n; i++) {
		char *p = malloc(16);
		strcpy(p, "abc");
		p = realloc(p, 64);
		bad |= check(!strcmp(p, "abc"), "realloc lost the contents");
		p = reallocarray(p, 4, 32);
		free(p);
		free(calloc(3, 8));
		void *r = NULL;
		bad |= check(posix_memalign(&r, 64, 100) == 0 && ((uintptr_t)r & 63) == 0,
			     "posix_memalign");
		free(r);
		void *q = (void *)1;
		bad |= check(posix_memalign(&q, 3, 10) == EINVAL && q == (void *)1,
			     "posix_memalign(3) must return EINVAL and leave the pointer");
		free(aligned_alloc(64, 128));
		free(memalign(32, 50));
		free(valloc(10));
		free(pvalloc(10));
		free(null_ptr);
		errno = 0;
		bad |= check(malloc(huge) == NULL && errno == ENOMEM, "malloc(huge) and errno");
		errno = 1234;
		free(null_ptr);
		bad |= check(errno == 1234, "free changed errno");
	}
	printf("{\"malloc\": %ld, \"calloc\": %ld, \"realloc\": %ld, \"reallocarray\": %ld, "
	       "\"free\": %ld, \"posix_memalign\": %ld, \"aligned_alloc\": %ld, \"memalign\": %ld, "
	       "\"valloc\": %ld, \"pvalloc\": %ld, \"failed_malloc\": %ld, "
	       "\"failed_posix_memalign\": %ld}\n",
	       2 * n, n, n, n, 9 * n, 2 * n, n, n, n, n, n, n);
	return bad;
}

/*
 * early.c - libearly.so, a library whose constructor calls the malloc
 * family before the tracer has started: preloaded after the tracer
 * (`LD_PRELOAD=libearly.so arenatrace record ...` makes it
 * libarenatrace.so:libearly.so), it is initialised before it, while its
 * calls already reach the tracer's wrappers.  The trace cannot hold them;
 * its end record counts them as dropped: exactly 10 calls.
 */
#include <stdlib.h>

static void *volatile keep[4]; /* volatile: no call is optimised away */

__attribute__((constructor)) static void early(void)
{
	for (int i = 0; i < 4; i++)
		keep[i] = malloc(32 + (size_t)i); /* 4 */
	keep[3] = calloc(2, 16);                  /* 5: keep[3]'s first block stays */
	keep[3] = realloc(keep[3], 64);           /* 6 */
	for (int i = 0; i < 4; i++)
		free(keep[i]); /* 10 */
}

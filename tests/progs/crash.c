/*
 * crash.c - dies by SIGSEGV a few milliseconds after it starts, after
 * 1,000 mallocs (kept live): "crash raise" raises the signal, "crash null"
 * writes through a null pointer.  Its trace must still hold the mallocs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static char *keep[1000];
	for (int i = 0; i < 1000; i++) {
		keep[i] = malloc(32 + (size_t)(i % 200));
		keep[i][0] = (char)i;
	}
	if (argc > 1 && !strcmp(argv[1], "null")) {
		volatile int *volatile null_ptr = NULL; /* the store itself volatile, or it is dropped */
		*null_ptr = 1;
	} else {
		raise(SIGSEGV);
	}
	puts("crash: still alive");
	return 1;
}

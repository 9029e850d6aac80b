/*
 * ticks.c - 8 rounds, 100 ms apart: in each, a burst of 1,000 allocations
 * and frees (sizes 1000..1999 say which round: 1000 + round * 125 + k/8),
 * then a sleep.  The test checks that the first request of a burst shows
 * 100 ms after the last one of the burst before, give or take the coarse
 * clock's tick: a tracer that gave requests an earlier clock read's time
 * would show them too early.
 * usage: ticks
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
	for (int round = 0; round < 8; round++) {
		for (int k = 0; k < 1000; k++) {
			char *p = malloc(1000 + (size_t)round * 125 + (size_t)k / 8);
			memset(p, 1, 8);
			__asm__ volatile("" : : "r"(p) : "memory"); /* kept: not optimised away */
			free(p);
		}
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	puts("done");
	return 0;
}

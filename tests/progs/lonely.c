/*
 * lonely.c - a single-threaded program that allocates for a while (about
 * 0.2 s, longer than the tracer's flush period) and then prints the
 * "Threads:" line of its /proc/self/status, which must say 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
	for (int i = 0; i < 200; i++) {
		char *volatile p = malloc(64 + (size_t)i);
		p[0] = 1;
		free(p);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Threads:", 8))
			fputs(line, stdout);
	if (f)
		fclose(f);
	return 0;
}

/*
 * killme.c - allocates forever, printing its progress and leaving a mark
 * "i" every millisecond, so a test can SIGKILL it and see how close to the
 * kill its trace reaches.  Writes its pid to the file named by argv[1].
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	void (*mark)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "arenatrace_mark");
	if (argc > 1) {
		FILE *f = fopen(argv[1], "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	for (long i = 0;; i++) {
		char label[32];
		snprintf(label, sizeof(label), "%ld", i);
		if (mark)
			mark(label);
		free(malloc(100 + (size_t)(i % 1000)));
		printf("%ld\n", i);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

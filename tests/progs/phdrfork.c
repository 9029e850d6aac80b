/*
 * phdrfork.c - fork beside a thread that walks the loaded objects: one
 * thread calls dl_iterate_phdr in a loop while the main thread forks N
 * times (default 200); every other child allocates a little, and each
 * child leaves with _exit.  Prints "phdrfork ok" when every child exited 0.
 */
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;

static int count(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	++*(long *)arg;
	return 0;
}

static void *walker(void *arg)
{
	long n = 0;
	(void)arg;
	while (!stop)
		dl_iterate_phdr(count, &n);
	return (void *)n;
}

int main(int argc, char **argv)
{
	int forks = argc > 1 ? atoi(argv[1]) : 200;
	pthread_t th;
	if (pthread_create(&th, NULL, walker, NULL) != 0)
		return 2;
	int ok = 1;
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			ok = 0;
			break;
		}
		if (pid == 0) {
			if (i % 2) {
				char *p = malloc(64 + (size_t)i);
				memset(p, i, 64);
				free(p);
			}
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	stop = 1;
	void *walks;
	pthread_join(th, &walks);
	puts(ok && walks ? "phdrfork ok" : "phdrfork FAILED");
	return !ok;
}

/*
 * sigchld.c - counts the SIGCHLD signals a process and its forked child
 * receive: the parent one (its child's exit), the child none.  A tracer
 * that starts helper processes must not add to either count.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_chld(int sig)
{
	(void)sig;
	got++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char *volatile p = malloc(100); /* the child's first record */
		free(p);
		usleep(100000);
		printf("child: %d SIGCHLD\n", (int)got);
		fflush(stdout);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	usleep(50000);
	printf("parent: %d SIGCHLD\n", (int)got);
	return 0;
}

/*
 * forker.c - the process shapes the tracer must follow: fork (the child
 * allocates and exits), fork + exec (the child allocates first, or execs
 * at once), system() and posix_spawn.  Each process writes a trace of its
 * own, but a forked child that only execs: its program's trace is enough.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int wait_ok(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	int ok = 1;
	char *volatile keep = malloc(100); /* volatile: the pair must not be optimised away */
	keep[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		free(keep); /* allocated by the parent before the fork */
		char *c = strdup("child");
		free(c);
		exit(0);
	}
	ok &= wait_ok(pid);
	pid = fork();
	if (pid == 0) {
		char *volatile p = malloc(10);
		free(p);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	ok &= wait_ok(pid);
	pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	ok &= wait_ok(pid);
	ok &= system("exit 0") == 0;
	char *args[] = {"echo", "spawned", NULL};
	if (posix_spawn(&pid, "/bin/echo", NULL, NULL, args, environ) != 0)
		ok = 0;
	else
		ok &= wait_ok(pid);
	free(keep);
	puts(ok ? "forker ok" : "forker FAILED");
	return !ok;
}

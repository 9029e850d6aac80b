/*
 * chdirfork.c - changes directory (to argv[1]), then forks a child that
 * allocates and exits, and forks a child that executes "true": the traces
 * of all three processes belong where the tracing started.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_ok(pid_t pid)
{
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0)
		return 2;
	char *volatile keep = malloc(100);
	keep[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		char *c = strdup("child");
		free(c);
		exit(0);
	}
	int ok = wait_ok(pid);
	pid = fork();
	if (pid == 0) {
		execlp("true", "true", (char *)NULL);
		_exit(127);
	}
	ok &= wait_ok(pid);
	free(keep);
	puts(ok ? "chdirfork ok" : "chdirfork FAILED");
	return !ok;
}

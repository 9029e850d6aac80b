/*
 * daemon.c - a daemon's start: fork, close every inherited descriptor
 * (closefrom(3)), open six log files of its own, write to them, and exec
 * the service (this program again, "serve"), which writes through the
 * descriptors it inherited.  Run: daemon DIR; the logs are DIR/log0..5.
 * Exit status 3 if a write fails, 4 if log i does not get descriptor 3 + i.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NLOGS 6

static void say(int fd, const char *who, int i, int n)
{
	char *line = malloc(128);
	int len = snprintf(line, 128, "%s: log %d line %d\n", who, i, n);
	if (write(fd, line, (size_t)len) != len)
		exit(3);
	free(line);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve")) {
		for (int n = 0; n < 200; n++)
			for (int i = 0; i < NLOGS; i++)
				say(3 + i, "serve", i, n);
		return 0;
	}
	if (argc != 2)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		closefrom(3);
		for (int i = 0; i < NLOGS; i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/log%d", argv[1], i);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd != 3 + i)
				_exit(4);
		}
		for (int n = 0; n < 50; n++)
			for (int i = 0; i < NLOGS; i++)
				say(3 + i, "start", i, n);
		execl("/proc/self/exe", argv[0], "serve", argv[1], (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}

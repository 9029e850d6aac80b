/*
 * tr_record.c - `arenatrace record`: runs a command with libarenatrace.so
 * preloaded and reports the trace files it wrote.
 *
 * The library is looked for next to the arenatrace binary (the build
 * tree) and in ../lib/arenatrace/ (an installed tree).  Options reach it
 * through ARENATRACE_* variables (tracer/README.md).  The command's stdin,
 * stdout and stderr are left alone; record exits with the command's status,
 * or 128+N if a signal N killed it.
 */
#include "tr_record.h"
#include "rp_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char record_usage[] =
    "usage: arenatrace record [-o FILE] [--no-stacks] [--depth N] [--no-follow-fork]\n"
    "                         [--python auto|off] -- CMD [ARG...]\n"
    "  Runs CMD with the tracer preloaded; every allocation is recorded.\n"
    "  -o FILE            trace file (default arenatrace.<prog>.<pid>.atr here);\n"
    "                     never overwritten; children get FILE-stem.<pid>.atr\n"
    "  --no-stacks        no call stacks (least overhead)\n"
    "  --depth N          frames per call stack (default 64, at most 256)\n"
    "  --no-follow-fork   trace only CMD's process: not its children (fork,\n"
    "                     posix_spawn, system) nor programs it executes\n"
    "  --python auto|off  record CPython's allocator domains, arenas and GC\n"
    "                     (auto: when the program is CPython 3.8+)\n"
    "  Exit status: CMD's, or 128+N if signal N killed it; 2 for bad usage.\n";

static bool find_library(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = 0;
	static const char *const rel[] = {"/libarenatrace.so", "/../lib/arenatrace/libarenatrace.so"};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (strlen(exe) + strlen(rel[i]) >= cap)
			continue;
		strcpy(out, exe);
		strcat(out, rel[i]);
		char *real = realpath(out, NULL);
		if (real && access(real, R_OK) == 0) {
			snprintf(out, cap, "%s", real);
			free(real);
			return true;
		}
		free(real);
	}
	return false;
}

typedef struct opts {
	const char *output;
	bool no_stacks, no_follow_fork;
	const char *depth, *python;
	char **cmd;
} opts;

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof(*o));
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		if (a[0] != '-')
			break; /* the command, without "--" */
		if (!strcmp(a, "--no-stacks"))
			o->no_stacks = true;
		else if (!strcmp(a, "--no-follow-fork"))
			o->no_follow_fork = true;
		else if ((!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--depth") ||
			  !strcmp(a, "--python")) && i + 1 < argc) {
			const char *v = argv[++i];
			if (a[1] == 'o' || a[2] == 'o')
				o->output = v;
			else if (a[2] == 'd') {
				char *end;
				long d = strtol(v, &end, 10);
				if (*end || d < 1 || d > 256) {
					rp_error("record: --depth needs a number from 1 to 256");
					return -1;
				}
				o->depth = v;
			} else if (!strcmp(v, "auto") || !strcmp(v, "off"))
				o->python = v;
			else {
				rp_error("record: --python takes auto or off");
				return -1;
			}
		} else {
			rp_error("record: unknown option '%s' (see arenatrace record --help)", a);
			return -1;
		}
	}
	if (i >= argc) {
		rp_error("record: no command given (arenatrace record [OPTIONS] -- CMD [ARG...])");
		return -1;
	}
	o->cmd = argv + i;
	return 0;
}

/* Sets the child's environment: the library first in LD_PRELOAD, keeping
 * what the user preloads, and the options. */
static void child_environment(const opts *o, const char *lib, const char *registry)
{
	const char *old = getenv("LD_PRELOAD");
	char pre[PATH_MAX * 2];
	snprintf(pre, sizeof(pre), "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	char out[PATH_MAX];
	if (o->output) {
		snprintf(out, sizeof(out), "%s", o->output);
	} else {
		const char *prog = strrchr(o->cmd[0], '/') ? strrchr(o->cmd[0], '/') + 1 : o->cmd[0];
		snprintf(out, sizeof(out), "arenatrace.%s.%d.atr", prog, (int)getpid());
	}
	setenv("ARENATRACE_OUTPUT", out, 1);
	setenv("ARENATRACE_REGISTRY", registry, 1);
	setenv("ARENATRACE_STACKS", o->no_stacks ? "0" : "1", 1);
	setenv("ARENATRACE_FOLLOW_FORK", o->no_follow_fork ? "0" : "1", 1);
	setenv("ARENATRACE_PYTHON", o->python ? o->python : "auto", 1);
	if (o->depth)
		setenv("ARENATRACE_DEPTH", o->depth, 1);
}

static void report_traces(const char *registry)
{
	FILE *f = fopen(registry, "r");
	char line[PATH_MAX + 2];
	int n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		rp_error("trace written to %s", line);
		n++;
	}
	if (f)
		fclose(f);
	if (!n)
		rp_error("no trace was written");
}

int tr_cmd_record(int argc, char **argv)
{
	opts o;
	int rc = parse(argc, argv, &o);
	if (rc > 0)
		fputs(record_usage, stdout);
	if (rc)
		return rc > 0 ? 0 : 2; /* the error was one line */
	char lib[PATH_MAX];
	if (!find_library(lib, sizeof(lib))) {
		rp_error("record: libarenatrace.so not found next to the arenatrace binary or in "
			 "../lib/arenatrace/");
		return 2;
	}
	struct stat sb;
	if (o.output && stat(o.output, &sb) == 0) {
		rp_error("record: %s exists; not overwriting it", o.output);
		return 2;
	}
	const char *tmpdir = getenv("TMPDIR");
	char regpath[PATH_MAX];
	snprintf(regpath, sizeof(regpath), "%s/arenatrace-registry-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	int rfd = mkstemp(regpath);
	if (rfd < 0) {
		rp_error("record: cannot create %s: %s", regpath, strerror(errno));
		return 2;
	}
	close(rfd);
	/* like time(1): the terminal's signals go to the command, we wait */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid_t pid = fork();
	if (pid < 0) {
		rp_error("record: fork: %s", strerror(errno));
		unlink(regpath);
		return 2;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		child_environment(&o, lib, regpath);
		execvp(o.cmd[0], o.cmd);
		rp_error("record: cannot run %s: %s", o.cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	report_traces(regpath);
	unlink(regpath);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * cli_record.c - `arenatrace record`: runs a command with libarenatrace.so
 * preloaded and reports the trace files it wrote.
 *
 * The library is looked for next to the arenatrace binary (the build
 * tree) and in ../lib/arenatrace/ (an installed tree).  Options reach it
 * through ARENATRACE_* variables (tracer/README.md); the output name is
 * made absolute, so every process of the run writes into the directory
 * record was started in, whatever directory it changes to.  The command's
 * stdin, stdout and stderr are left alone.  Like time(1), record ignores
 * the terminal's SIGINT and SIGQUIT (they reach the command by its process
 * group) and passes SIGTERM and SIGHUP on to the command; either way it
 * waits for it, then for the drain processes to finish the traces, and
 * ends with a table of the traces written (read from the registry the
 * drains append to, tracer/tr_shm.h).  It exits with the command's status,
 * or 128+N if a signal N killed it.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char record_usage[] =
    "usage: arenatrace record [-o FILE] [--no-stacks] [--depth N] [--no-follow-fork]\n"
    "                         [--python auto|off] [--native-stacks on|off]\n"
    "                         [--python-stacks on|off] -- CMD [ARG...]\n"
    "  Runs CMD with the tracer preloaded; every allocation is recorded.\n"
    "  -o FILE            trace file (default arenatrace.<prog>.<pid>.atr here);\n"
    "                     refused if it exists; other processes of the run get\n"
    "                     FILE-stem.<pid>.atr beside it\n"
    "  --no-stacks        no call stacks (least overhead)\n"
    "  --depth N          frames per call stack (default 64, at most 256)\n"
    "  --no-follow-fork   trace only CMD's process: not its children (fork,\n"
    "                     posix_spawn, system) nor programs it executes\n"
    "  --python auto|off  record CPython's allocator domains, arenas and GC\n"
    "                     (auto: when the program is CPython 3.8+)\n"
    "  --python-stacks on|off  Python frames in the stacks of CPython 3.8-3.13\n"
    "                     (default on)\n"
    "  --native-stacks on|off  native frames in the stacks (default on); off\n"
    "                     keeps the Python frames only: less overhead\n"
    "  Ends with a table of the traces written; * marks the command's own\n"
    "  process as it ended (after any exec).  Past 20 traces, the table shows\n"
    "  the command's and the largest, and FILE-stem.traces lists them all.\n"
    "  Exit status: CMD's, or 128+N if signal N killed it; 2 for bad usage.\n";

#define MAX_ROWS 20 /* the table shows at most this many traces */

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
	const char *depth, *python, *native_stacks, *python_stacks;
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
		else if ((!strcmp(a, "--native-stacks") || !strcmp(a, "--python-stacks")) &&
			 i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "on") && strcmp(v, "off")) {
				cli_error("record: %s takes on or off", a);
				return -1;
			}
			*(a[2] == 'n' ? &o->native_stacks : &o->python_stacks) = v;
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--depth") ||
			  !strcmp(a, "--python")) && i + 1 < argc) {
			const char *v = argv[++i];
			if (a[1] == 'o' || a[2] == 'o')
				o->output = v;
			else if (a[2] == 'd') {
				char *end;
				long d = strtol(v, &end, 10);
				if (*end || d < 1 || d > 256) {
					cli_error("record: --depth needs a number from 1 to 256");
					return -1;
				}
				o->depth = v;
			} else if (!strcmp(v, "auto") || !strcmp(v, "off"))
				o->python = v;
			else {
				cli_error("record: --python takes auto or off");
				return -1;
			}
		} else {
			cli_error("record: unknown option '%s' (see arenatrace record --help)", a);
			return -1;
		}
	}
	if (i >= argc) {
		cli_error("record: no command given (arenatrace record [OPTIONS] -- CMD [ARG...])");
		return -1;
	}
	o->cmd = argv + i;
	return 0;
}

/* path made absolute against the current directory. */
static bool absolute(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	int n = path[0] == '/' || !getcwd(cwd, sizeof(cwd))
		    ? snprintf(out, cap, "%s", path)
		    : snprintf(out, cap, "%s/%s", strcmp(cwd, "/") ? cwd : "", path);
	return n > 0 && (size_t)n < cap;
}

/* Sets the child's environment: the library first in LD_PRELOAD, keeping
 * what the user preloads, and the options. */
static void child_environment(const opts *o, const char *out, const char *lib,
			      const char *registry)
{
	const char *old = getenv("LD_PRELOAD");
	char pre[PATH_MAX * 2];
	snprintf(pre, sizeof(pre), "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	setenv("ARENATRACE_OUTPUT", out, 1);
	setenv("ARENATRACE_REGISTRY", registry, 1);
	setenv("ARENATRACE_STACKS", o->no_stacks ? "0" : "1", 1);
	setenv("ARENATRACE_FOLLOW_FORK", o->no_follow_fork ? "0" : "1", 1);
	setenv("ARENATRACE_PYTHON", o->python ? o->python : "auto", 1);
	setenv("ARENATRACE_NATIVE_STACKS", o->native_stacks ? o->native_stacks : "on", 1);
	setenv("ARENATRACE_PYTHON_STACKS", o->python_stacks ? o->python_stacks : "on", 1);
	unsetenv("ARENATRACE_EXEC_FROM");
	if (o->depth)
		setenv("ARENATRACE_DEPTH", o->depth, 1);
}

/* ---- the registry: what the drains wrote ---- */

typedef struct trace_row {
	long pid, drain;
	char path[PATH_MAX];
	char exe[PATH_MAX];
	char how[256];
	long long events; /* -1: not known */
	double cpu;       /* the drain's CPU seconds */
	bool ended;       /* its E line was read */
} trace_row;

typedef struct rows {
	trace_row *v;
	size_t n, cap;
} rows;

/* Undoes the registry's %xx escapes in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		unsigned v;
		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* Splits line at tabs into at most max fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; n < max;) {
		f[n++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = 0;
		p = t + 1;
	}
	return n;
}

static trace_row *row_of(rows *r, long pid, const char *path)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].pid == pid && !strcmp(r->v[i].path, path))
			return &r->v[i];
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		trace_row *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		r->v = v, r->cap = cap;
	}
	trace_row *t = &r->v[r->n++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->events = -1;
	snprintf(t->path, sizeof(t->path), "%s", path);
	return t;
}

static void read_registry(const char *path, rows *r)
{
	r->n = 0;
	FILE *f = fopen(path, "r");
	static char line[PATH_MAX * 8];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *fl[7];
		int n = split(line, fl, 7);
		for (int i = 0; i < n; i++)
			unescape(fl[i]);
		trace_row *t = NULL;
		if (!strcmp(fl[0], "B") && n == 4 && (t = row_of(r, atol(fl[1]), fl[3])))
			t->drain = atol(fl[2]);
		else if (!strcmp(fl[0], "E") && n == 7 && (t = row_of(r, atol(fl[1]), fl[5]))) {
			t->ended = true;
			snprintf(t->how, sizeof(t->how), "%s", fl[2]);
			t->events = strcmp(fl[3], "-") ? atoll(fl[3]) : -1;
			t->cpu = atof(fl[4]);
			snprintf(t->exe, sizeof(t->exe), "%s", fl[6]);
		}
	}
	if (f)
		fclose(f);
}

/* Whether process pid has ended (gone, or a zombie nobody reaped yet). */
static bool ended(long pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *paren = strrchr(buf, ')');
	return !paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X';
}

/* Waits until every drain whose process has ended has finished its trace
 * (they write the rest of it within milliseconds); processes that still
 * run (daemons the command left behind) are not waited for. */
static void wait_for_drains(const char *registry, rows *r)
{
	struct timespec tick = {0, 5 * 1000 * 1000};
	for (unsigned waited_ms = 0;; waited_ms += 5) {
		read_registry(registry, r);
		bool pending = false;
		for (size_t i = 0; i < r->n && !pending; i++) {
			trace_row *t = &r->v[i];
			pending = !t->ended && ended(t->pid) && t->drain > 0 &&
				  !(kill((pid_t)t->drain, 0) < 0 && errno == ESRCH);
		}
		if (!pending || waited_ms >= 60000)
			return;
		nanosleep(&tick, NULL);
	}
}

/* path as the user would type it from here. */
static const char *shown(const char *path, const char *cwd)
{
	size_t n = strlen(cwd);
	if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/')
		return path + n + 1;
	return path;
}

static void events_text(long long ev, char *out, size_t cap)
{
	if (ev < 0)
		snprintf(out, cap, "?");
	else if (ev < 100000)
		snprintf(out, cap, "%lld", ev);
	else if (ev < 100000000)
		snprintf(out, cap, "%.1fM", (double)ev / 1e6);
	else
		snprintf(out, cap, "%.0fM", (double)ev / 1e6);
}

/* Rows are shown by process: a process's traces together, in exec order
 * (the order their drains started), processes with the most events first;
 * the command's own process leads. */
typedef struct group {
	long pid;
	long long events; /* the most of any of its traces */
	size_t first;     /* index of its first row */
} group;

static int by_events(const void *a, const void *b)
{
	const group *x = a, *y = b;
	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static void print_row(const trace_row *t, bool main_row, const char *cwd)
{
	char ev[32];
	events_text(t->events, ev, sizeof(ev));
	const char *how = !t->ended ? "running" : !strncmp(t->how, "error", 5) ? "error" : t->how;
	const char *prog = strrchr(t->exe, '/') ? strrchr(t->exe, '/') + 1 : t->exe;
	fprintf(stderr, "arenatrace: %c %7ld %8s  %-8s %-16s %s\n", main_row ? '*' : ' ', t->pid,
		ev, how, prog[0] ? prog : "?", shown(t->path, cwd));
}

/* Every trace, one tab-separated line each (as the table's columns, the
 * path absolute), into a new file: list, or list.N when list is taken.
 * The name written, or NULL. */
static const char *write_list(const char *list, const trace_row *const *order, size_t n,
			      char *name, size_t cap)
{
	FILE *f = NULL;
	for (int i = 0; i < 100 && !f; i++) {
		int k = i ? snprintf(name, cap, "%s.%d", list, i) : snprintf(name, cap, "%s", list);
		if (k < 0 || (size_t)k >= cap)
			return NULL;
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return NULL;
		if (fd >= 0 && !(f = fdopen(fd, "w")))
			close(fd);
	}
	if (!f)
		return NULL;
	fprintf(f, "pid\tevents\tended\tprogram\ttrace\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%ld\t%lld\t%s\t%s\t%s\n", order[i]->pid, order[i]->events,
			!order[i]->ended ? "running" : order[i]->how, order[i]->exe, order[i]->path);
	return fclose(f) == 0 ? name : NULL;
}

/* The table: every trace, at most MAX_ROWS of them (all of them, when
 * there are more, in the file list). */
static void report_traces(const rows *r, long child, const char *list)
{
	char cwd[PATH_MAX] = "";
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	if (!r->n) {
		cli_error("no trace was written");
		return;
	}
	group *g = malloc(r->n * sizeof(*g));
	const trace_row **order = malloc(r->n * sizeof(*order));
	if (!g || !order) {
		free(g);
		free(order);
		return;
	}
	size_t ng = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t k = 0;
		while (k < ng && g[k].pid != r->v[i].pid)
			k++;
		if (k == ng)
			g[ng++] = (group){r->v[i].pid, -1, i};
		long long ev = r->v[i].events;
		if (ev > g[k].events)
			g[k].events = ev;
	}
	for (size_t k = 0; k < ng; k++)
		if (g[k].pid == child)
			g[k].events = LLONG_MAX; /* first */
	qsort(g, ng, sizeof(*g), by_events);
	size_t n = 0, last_main = SIZE_MAX;
	for (size_t k = 0; k < ng; k++)
		for (size_t i = g[k].first; i < r->n; i++)
			if (r->v[i].pid == g[k].pid) {
				if (r->v[i].pid == child)
					last_main = n;
				order[n++] = &r->v[i];
			}
	double cpu = 0;
	for (size_t i = 0; i < r->n; i++)
		cpu += r->v[i].cpu;
	cli_error("%zu trace%s written (their drain processes used %.2f s of CPU):",
		 r->n, r->n == 1 ? "" : "s", cpu);
	fprintf(stderr, "arenatrace:       pid   events  ended    %-16s trace\n", "program");
	size_t shown_rows = n < MAX_ROWS ? n : MAX_ROWS;
	long long rest_events = 0;
	for (size_t i = 0; i < n; i++) {
		if (i < shown_rows)
			print_row(order[i], i == last_main, cwd);
		else if (order[i]->events > 0)
			rest_events += order[i]->events;
	}
	char lname[PATH_MAX + 16];
	const char *written = n > shown_rows ? write_list(list, order, n, lname, sizeof(lname)) : NULL;
	if (n > shown_rows)
		cli_error("  ... and %zu more traces of other processes, %lld events in all%s%s%s",
			 n - shown_rows, rest_events, written ? " (all of them in " : "",
			 written ? shown(written, cwd) : "", written ? ")" : "");
	for (size_t i = 0; i < n; i++) {
		const trace_row *t = order[i];
		if (!t->ended)
			cli_error("pid %ld is still running: its trace %s is written when it ends",
				 t->pid, shown(t->path, cwd));
		else if (!strncmp(t->how, "error", 5))
			cli_error("trace %s: %s", shown(t->path, cwd), t->how + 7);
	}
	free(order);
	free(g);
}

/* ---- signals ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

int cli_cmd_record(int argc, char **argv)
{
	opts o;
	int rc = parse(argc, argv, &o);
	if (rc > 0)
		fputs(record_usage, stdout);
	if (rc)
		return rc > 0 ? 0 : 2; /* the error was one line */
	char lib[PATH_MAX];
	if (!find_library(lib, sizeof(lib))) {
		cli_error("record: libarenatrace.so not found next to the arenatrace binary or in "
			 "../lib/arenatrace/");
		return 2;
	}
	char out[PATH_MAX], def[PATH_MAX];
	if (!o.output) {
		const char *prog = strrchr(o.cmd[0], '/') ? strrchr(o.cmd[0], '/') + 1 : o.cmd[0];
		snprintf(def, sizeof(def), "arenatrace.%s.%d.atr", prog, (int)getpid());
	}
	if (!absolute(o.output ? o.output : def, out, sizeof(out))) {
		cli_error("record: output name too long");
		return 2;
	}
	struct stat sb;
	if (stat(out, &sb) == 0) {
		cli_error("record: %s exists; not overwriting it (remove it or choose another -o)",
			 o.output ? o.output : def);
		return 2;
	}
	const char *tmpdir = getenv("TMPDIR");
	char regpath[PATH_MAX];
	snprintf(regpath, sizeof(regpath), "%s/arenatrace-registry-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	int rfd = mkstemp(regpath);
	if (rfd < 0) {
		cli_error("record: cannot create %s: %s", regpath, strerror(errno));
		return 2;
	}
	close(rfd);
	struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward};
	struct sigaction old_int, old_quit, old_term, old_hup;
	sigemptyset(&fwd.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, &old_term);
	sigaction(SIGHUP, &fwd, &old_hup);
	sigset_t fwdset, oldset; /* a SIGTERM before child_pid is known waits for it */
	sigemptyset(&fwdset);
	sigaddset(&fwdset, SIGTERM);
	sigaddset(&fwdset, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwdset, &oldset);
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("record: fork: %s", strerror(errno));
		unlink(regpath);
		return 2;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		sigprocmask(SIG_SETMASK, &oldset, NULL);
		child_environment(&o, out, lib, regpath);
		execvp(o.cmd[0], o.cmd);
		cli_error("record: cannot run %s: %s", o.cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	rows r = {0};
	wait_for_drains(regpath, &r);
	char list[PATH_MAX];
	size_t olen = strlen(out);
	snprintf(list, sizeof(list), "%.*s.traces",
		 (int)(olen > 4 && !strcmp(out + olen - 4, ".atr") ? olen - 4 : olen), out);
	report_traces(&r, pid, list);
	free(r.v);
	unlink(regpath);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

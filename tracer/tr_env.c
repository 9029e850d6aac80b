/*
 * tr_env.c - what the tracer reads from and changes in the environment of
 * the process, and the names of its trace files.
 *
 * The environment is read and changed in environ itself, never with
 * getenv/setenv/unsetenv: a program may define those (bash does, for its
 * own variable tables, and they misbehave before its main), and the
 * library's calls would reach the program's.  environ is changed only at
 * start and in a forked child, when no other thread runs; an exec'd
 * program is given a copy (tr_exec_env_make), never environ changed.
 *
 * Names: a trace goes to ARENATRACE_OUTPUT, or by default to
 * arenatrace.<prog>.<pid>.atr in the current directory, made absolute at
 * start (and put back in the environment) so that every process of a run
 * writes into the same directory whatever directory it changes to.  An
 * existing file is never overwritten: if the name is taken,
 * <stem>.<pid>.atr is tried, then <stem>.<pid>.<n>.atr.  A forked child
 * writes <stem>.<childpid>.atr (same rule); an exec'd program starts again
 * from ARENATRACE_OUTPUT, which is taken, so it also gets
 * <stem>.<pid>[.n].atr, and its header names the trace it continues
 * (ARENATRACE_EXEC_FROM, set for the exec and removed at start).  Files are
 * created mode 0600: they hold addresses.
 */
#include "tr_env.h"
#include "tr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char lib_name[] = "libarenatrace.so"; /* how LD_PRELOAD names the library */
#define LIB_LEN (sizeof(lib_name) - 1)
static const char preload_var[] = "LD_PRELOAD=";
#define PRELOAD_MAX 4096  /* LD_PRELOAD kept without the library, at most */
static const char trace_ext[] = ".atr";
#define NAME_TRIES 1000   /* want, <stem>.<pid>.atr, then <stem>.<pid>.<n>.atr up to n = 998 */
#define TRACE_MODE 0600   /* traces hold addresses */

/* ---- environ ---- */

extern char **environ;

static char **env_slot(const char *name)
{
	size_t n = strlen(name);
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return e;
	return NULL;
}

const char *tr_env_get(const char *name)
{
	char **e = env_slot(name);
	return e ? *e + strlen(name) + 1 : NULL;
}

void tr_env_replace(const char *name, const char *value, char *entry, size_t cap)
{
	char **e = env_slot(name);
	int n = snprintf(entry, cap, "%s=%s", name, value);
	if (e && n > 0 && (size_t)n < cap)
		*e = entry;
}

void tr_env_remove(const char *name)
{
	char **e = env_slot(name);
	if (e)
		for (; *e; e++)
			e[0] = e[1];
}

/* ---- configuration ---- */

static bool env_flag(const char *name, bool dflt)
{
	const char *v = tr_env_get(name);
	if (!v || !*v)
		return dflt;
	return !(v[0] == '0' || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"));
}

void tr_config_from_env(tr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->stacks = env_flag("ARENATRACE_STACKS", true);
	c->native_stacks = env_flag("ARENATRACE_NATIVE_STACKS", true);
	c->python_stacks = env_flag("ARENATRACE_PYTHON_STACKS", true);
	c->follow_fork = env_flag("ARENATRACE_FOLLOW_FORK", true);
	const char *py = tr_env_get("ARENATRACE_PYTHON");
	c->python = !(py && !strcmp(py, "off"));
	const char *clk = tr_env_get("ARENATRACE_CLOCK");
	c->fine_clock = clk && !strcmp(clk, "fine");
	c->depth = TR_DEFAULT_DEPTH;
	const char *d = tr_env_get("ARENATRACE_DEPTH");
	if (d && *d) {
		long v = strtol(d, NULL, 10);
		c->depth = v < 1 ? 1 : v > TR_MAX_DEPTH ? TR_MAX_DEPTH : (unsigned)v;
	}
	const char *o = tr_env_get("ARENATRACE_OUTPUT");
	if (o)
		snprintf(c->output, sizeof(c->output), "%s", o);
	const char *r = tr_env_get("ARENATRACE_REGISTRY");
	if (r)
		snprintf(c->registry, sizeof(c->registry), "%s", r);
	const char *dr = tr_env_get("ARENATRACE_DRAIN");
	if (dr)
		snprintf(c->drain, sizeof(c->drain), "%s", dr);
}

/* ---- what executed programs get ---- */

void tr_env_untrace(void)
{
	static char entry[sizeof(preload_var) + PRELOAD_MAX];
	const char *pre = tr_env_get("LD_PRELOAD");
	if (pre) {
		char keep[PRELOAD_MAX] = "";
		const char *p = pre;
		while (*p) {
			size_t n = strcspn(p, ": ");
			if (n && !(n >= LIB_LEN && !memcmp(p + n - LIB_LEN, lib_name, LIB_LEN))) {
				size_t k = strlen(keep);
				if (k + n + 2 < sizeof(keep))
					snprintf(keep + k, sizeof(keep) - k, "%s%.*s", k ? ":" : "",
						 (int)n, p);
			}
			p += n + (p[n] != 0);
		}
		if (keep[0])
			tr_env_replace("LD_PRELOAD", keep, entry, sizeof(entry));
		else
			tr_env_remove("LD_PRELOAD");
	}
}

/* Whether the exec'd program is traced: its LD_PRELOAD names the library. */
static bool traced_env(char *const envp[])
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], preload_var, sizeof(preload_var) - 1) &&
		    strstr(envp[i], lib_name))
			return true;
	return false;
}

/* ARENATRACE_EXEC_FROM is removed at start: the program sees the
 * environment it was given. */
char *const *tr_exec_env_make(char *const envp[], const char *from, tr_exec_env *mem)
{
	static const char var[] = "ARENATRACE_EXEC_FROM=";
	mem->envp = NULL;
	if (!from || !traced_env(envp))
		return envp;
	size_t n = 0;
	while (envp[n])
		n++;
	size_t len = strlen(from);
	mem->size = (n + 2) * sizeof(char *) + sizeof(var) + len;
	mem->envp = tr_mmap_alloc(NULL, mem->size);
	if (!mem->envp)
		return envp;
	char *value = (char *)(mem->envp + n + 2);
	memcpy(value, var, sizeof(var) - 1);
	memcpy(value + sizeof(var) - 1, from, len + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], var, sizeof(var) - 1))
			mem->envp[k++] = envp[i];
	mem->envp[k++] = value;
	mem->envp[k] = NULL;
	return mem->envp;
}

void tr_exec_env_free(tr_exec_env *mem)
{
	if (mem->envp) {
		int e = errno;
		tr_mmap_free(NULL, mem->envp);
		errno = e;
	}
}

/* ---- trace file names ---- */

size_t tr_read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t k;
	if (fd < 0)
		return 0;
	while (n < cap && ((k = read(fd, buf + n, cap - n)) > 0 || (k < 0 && errno == EINTR)))
		if (k > 0)
			n += (size_t)k;
	close(fd);
	return n;
}

/* snprintf for paths: false if the result did not fit. */
static bool fmt_path(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fmt_path(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

/* The stem of a trace path: without a trailing ".atr". */
static void stem_of(const char *path, char *stem, size_t cap)
{
	snprintf(stem, cap, "%s", path);
	size_t n = strlen(stem);
	size_t k = sizeof(trace_ext) - 1;
	if (n > k && !strcmp(stem + n - k, trace_ext))
		stem[n - k] = 0;
}

int tr_open_trace(const char *want, pid_t pid, char *path, size_t cap)
{
	char stem[PATH_MAX];
	stem_of(want, stem, sizeof(stem));
	for (int attempt = 0; attempt < NAME_TRIES; attempt++) {
		bool fits = attempt == 0   ? fmt_path(path, cap, "%s", want)
			    : attempt == 1 ? fmt_path(path, cap, "%s.%d.atr", stem, (int)pid)
					   : fmt_path(path, cap, "%s.%d.%d.atr", stem, (int)pid,
						      attempt - 1);
		if (!fits) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, TRACE_MODE);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

void tr_default_output(char *out, size_t cap, pid_t pid)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	const char *prog = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	if (!fmt_path(out, cap, "arenatrace.%s.%d.atr", *prog ? prog : "prog", (int)pid))
		fmt_path(out, cap, "arenatrace.%d.atr", (int)pid);
}

bool tr_absolute_path(const char *want, char *out, size_t cap)
{
	if (want[0] == '/')
		return fmt_path(out, cap, "%s", want);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return fmt_path(out, cap, "%s", want);
	return fmt_path(out, cap, "%s/%s", strcmp(cwd, "/") ? cwd : "", want);
}


bool tr_child_trace_name(const char *trace, pid_t child, char *out, size_t cap)
{
	char stem[PATH_MAX];
	stem_of(trace, stem, sizeof(stem));
	return fmt_path(out, cap, "%s.%d.atr", stem, (int)child);
}

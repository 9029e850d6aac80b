/*
 * tr_env.h - the process's environment, as the tracer reads and changes it,
 * and the names of trace files (tr_env.c).  Private to the library.
 */
#ifndef ARENATRACE_TR_ENV_H
#define ARENATRACE_TR_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- environ itself (never getenv/setenv: see tr_env.c) ---- */

/* name's value, or NULL. */
const char *tr_env_get(const char *name);
/* name=value in place of name's entry, when there is one; entry is a
 * buffer of the caller's that outlives the entry. */
void tr_env_replace(const char *name, const char *value, char *entry, size_t cap);
void tr_env_remove(const char *name);
/* Strips the library from LD_PRELOAD: what this process executes (and its
 * children, --no-follow-fork) runs untraced. */
void tr_env_untrace(void);

/* The environment an exec'd program gets: envp, or when that program is
 * traced (its LD_PRELOAD names the library) and from is not NULL, a copy
 * with ARENATRACE_EXEC_FROM=from, so its header names the trace it
 * continues.  The copy is mmap'd; tr_exec_env_free releases it. */
typedef struct tr_exec_env {
	char **envp; /* the copy, or NULL */
	size_t size;
} tr_exec_env;
char *const *tr_exec_env_make(char *const envp[], const char *from, tr_exec_env *mem);
void tr_exec_env_free(tr_exec_env *mem);

/* ---- trace file names (tracer/README.md, Files) ---- */

/* arenatrace.<prog>.<pid>.atr, the default trace name. */
void tr_default_output(char *out, size_t cap, pid_t pid);
/* want made absolute against the current directory; false if too long. */
bool tr_absolute_path(const char *want, char *out, size_t cap);
/* Creates a new trace file, mode 0600: want, else <stem>.<pid>.atr, else
 * <stem>.<pid>.<n>.atr; never overwrites.  The name taken is in path.
 * The descriptor, or -1 with errno set. */
int tr_open_trace(const char *want, pid_t pid, char *path, size_t cap);
/* The trace a forked child writes: <stem>.<child>.atr beside trace. */
bool tr_child_trace_name(const char *trace, pid_t child, char *out, size_t cap);
/* Reads a whole small file (/proc/self/cmdline) into buf; its length. */
size_t tr_read_small_file(const char *path, char *buf, size_t cap);

#endif

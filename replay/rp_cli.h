/*
 * rp_cli.h - the `arenatrace` command line: one function per subcommand,
 * each taking (argc, argv) after the subcommand name and returning the
 * process exit status (0 ok, 1 a check failed, 2 bad usage or input).
 */
#ifndef ARENATRACE_RP_CLI_H
#define ARENATRACE_RP_CLI_H

#include <stdio.h>
#include <stddef.h>

#define RP_EXIT_OK 0
#define RP_EXIT_CHECK 1
#define RP_EXIT_USAGE 2

int rp_cmd_info(int argc, char **argv);
int rp_cmd_dump(int argc, char **argv);
int rp_cmd_replay(int argc, char **argv);
int rp_cmd_report(int argc, char **argv);

/* One-line error on stderr, "arenatrace: ...". */
void rp_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The trace to read for path: path itself or, when its process exec'd a
 * traced program, that program's trace (following the exec links of
 * FORMAT.md §1.2, said in one line on stderr; kept in buf). */
const char *rp_follow_exec(const char *path, char *buf, size_t cap, const char *cmd);

/* Writes s[0..len) as a quoted JSON string. */
void rp_json_str(FILE *out, const char *s, size_t len);
/* Writes s[0..len) quoted with C escapes, for dump lines. */
void rp_c_str(FILE *out, const char *s, size_t len);

/* Whether pymalloc served CPython's OBJ domain, by the trace's
 * python_allocator name: pymalloc or pymalloc_debug, or "" (no such
 * record: an older writer, whose traces are pymalloc's).  Only then can a
 * pymalloc model's addresses be compared with the interpreter's. */
int rp_pymalloc_served(const char *python_allocator);

#endif

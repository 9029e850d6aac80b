/*
 * cli.h - the `arenatrace` command line: one function per subcommand,
 * each taking (argc, argv) from the subcommand name on and returning the
 * process exit status (0 ok, 1 a check failed, 2 bad usage or input).
 * Only the command line prints errors and chooses exit statuses; the
 * libraries below it (reports/, replay/, allocator/, traces/) return
 * negative codes and messages.
 */
#ifndef ARENATRACE_CLI_H
#define ARENATRACE_CLI_H

#include <stdio.h>
#include <stddef.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_CHECK 1
#define CLI_EXIT_USAGE 2

int cli_cmd_info(int argc, char **argv);
int cli_cmd_dump(int argc, char **argv);
int cli_cmd_replay(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_simulate(int argc, char **argv);
/* `record`: the launcher (cli_record.c) */
int cli_cmd_record(int argc, char **argv);

/* One-line error on stderr, "arenatrace: ...". */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The index of an option's value v among words (NULL-terminated), or -1. */
int cli_choice(const char *v, const char *const *words);

/* The trace to read for path: path itself or, when its process exec'd a
 * traced program, that program's trace (following the exec links of
 * FORMAT.md §1.2, said in one line on stderr; kept in buf). */
const char *cli_follow_exec(const char *path, char *buf, size_t cap, const char *cmd);

/* A forked child's trace and the traces its state comes from: path[0 ..
 * n-2] its ancestors', the oldest first, each with the events it had
 * before the next one forked (until[i]); path[n-1] the trace asked for. */
#define CLI_CHAIN_MAX 16
typedef struct cli_chain {
	int n;
	char path[CLI_CHAIN_MAX][4097];
	unsigned long long until[CLI_CHAIN_MAX];
} cli_chain;

/* The chain for path (follow: through the headers' fork_from; else path
 * alone), said in one line on stderr when it is longer than path alone or
 * when a parent's trace is missing.  A parent's trace is looked for where
 * its child's header names it, then beside the child's (traces moved
 * together); one whose process is not the child's parent is not taken. */
void cli_fork_chain(const char *path, int follow, cli_chain *ch, const char *cmd);

/* The symbolizer's warnings, one line each, "arenatrace: symbols: ...". */
struct rep_sym;
void cli_symbol_warnings(const struct rep_sym *s);

#endif

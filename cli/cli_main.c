/*
 * cli_main.c - `arenatrace` entry point: dispatches subcommands.
 */
#include "cli.h"
#include "rp_system.h"
#include "rp_workload.h"

#include <string.h>

#ifndef ARENATRACE_VERSION
#define ARENATRACE_VERSION "0.1.0"
#endif

static const char usage[] =
    "usage: arenatrace COMMAND [OPTIONS] ...\n"
    "\n"
    "commands:\n"
    "  record [OPTIONS] -- CMD    run CMD with the tracer, writing a trace file\n"
    "  info [--json] TRACE        header facts, counts per record kind and function,\n"
    "                             threads, stacks, modules, time span, sizes\n"
    "  dump [--limit N] [--symbolize] TRACE\n"
    "                             one line per record\n"
    "  replay [--model P[,P...]] [--gc off] [--json] TRACE\n"
    "                             the requests through pymalloc models: fragmentation,\n"
    "                             arenas, what pins them, GC attribution\n"
    "  report [-o DIR] [--model P[,P...]] TRACE\n"
    "                             the replay as DIR/report.html and CSV files\n"
    "  simulate [--profile P] [--threshold T0,T1,T2] [--gc off] [-o TRACE] WORKLOAD\n"
    "                             an object-graph workload through the refcount/GC\n"
    "                             and pymalloc models (--emit-python: as Python)\n"
    "\n"
    "Run 'arenatrace COMMAND --help' for a command's options.\n"
    "Exit status: 0 success, 1 a check failed, 2 bad usage or unreadable input.\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"record", cli_cmd_record}, {"info", cli_cmd_info}, {"dump", cli_cmd_dump},
		    {"replay", cli_cmd_replay}, {"report", cli_cmd_report},
		    {"simulate", cli_cmd_simulate}};
	if (argc < 2) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("arenatrace " ARENATRACE_VERSION);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	/* not for users: the allocator's process of replay --system (rp_system.h) */
	if (!strcmp(argv[1], "__system")) {
		char msg[128];
		if (rp_sys_serve(msg, sizeof(msg)) == 0)
			return 0;
		if (msg[0])
			cli_error("%s", msg);
		return 1;
	}
	cli_error("unknown command '%s' (run 'arenatrace --help')", argv[1]);
	return CLI_EXIT_USAGE;
}

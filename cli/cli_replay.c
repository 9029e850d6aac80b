/*
 * cli_cmd_replay.c - the `replay` and `report` commands: options, the
 * symbolizer fed from the trace's modules, and (report) the CSV and HTML
 * sinks of reports/ over the replay's result.
 */
#include "rep.h"
#include "rep_stacks.h"
#include "cli.h"
#include "rp_replay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char replay_usage[] =
    "usage: arenatrace replay [--model PROFILE[,PROFILE...]] [--layer auto|python|malloc]\n"
    "                         [--gc on|off] [--system] [--stats] [--check-snapshots]\n"
    "                         [--json] [--debug-dir DIR]... [--no-follow-exec] TRACE\n"
    "  Replays the trace's allocator requests through pymalloc models, in one pass.\n"
    "  A trace whose process exec'd a traced program is followed to that program's\n"
    "  trace (said on stderr); --no-follow-exec reads TRACE itself.\n"
    "  --model P[,P...]    cpython-3.8 ... cpython-3.13, or custom parameters:\n"
    "                      custom:arena=SIZE,pool=SIZE,align=N,threshold=N,keep-empty=0|1,\n"
    "                      radix=0|48|64 (sizes with K or M, powers of two; keys left\n"
    "                      out keep cpython-3.13's values). Default: the interpreter\n"
    "                      version recorded in the trace, else cpython-3.13.\n"
    "  --layer L           python: the CPython MEM/OBJ domain requests (addresses\n"
    "                      checked against the interpreter's); malloc: the malloc\n"
    "                      family, as if pymalloc served the program; auto (default):\n"
    "                      python for CPython traces, else malloc\n"
    "  --stats             print each model's final state in the layout of\n"
    "                      sys._debugmallocstats() (its pymalloc part)\n"
    "  --check-snapshots   at every snapshot record, compare the first model's\n"
    "                      statistics with the real allocator's text; print each\n"
    "                      differing line; end with 'snapshots: N checked, M mismatched'\n"
    "  --gc off            also run every model as if the cyclic collector were\n"
    "                      disabled: frees recorded inside GC passes are withheld\n"
    "                      (those blocks stay live to the end); each model's twin\n"
    "                      is shown as 'PROFILE gc-off' next to it (at most 4 models)\n"
    "  --system            also replay the requests through this process's own\n"
    "                      malloc/free/realloc (glibc, or whatever LD_PRELOAD puts\n"
    "                      first: jemalloc, mimalloc, tcmalloc), touching the memory,\n"
    "                      in a process that holds nothing else, and report time per\n"
    "                      call and the memory the allocator holds for the blocks\n"
    "  --json              one JSON object (keys in cli/CLI.md) instead of the summary\n"
    "  --debug-dir DIR     also look for separate debug info in DIR (DIR/.build-id/xx/\n"
    "                      yyyy.debug, or by debug-link name), before /usr/lib/debug;\n"
    "                      repeatable. The summary's stacks are symbolized from the\n"
    "                      modules the trace recorded, read where they were recorded\n"
    "                      (a file missing or rebuilt since: module+offset, and a\n"
    "                      warning on stderr)\n"
    "  Exit status: 0, 1 if a snapshot mismatched or none was checked, 2 bad input.\n";

static bool no_follow_exec; /* --no-follow-exec */

/* The options of replay, or of report when outdir is not NULL (-o DIR,
 * --force, and none of the outputs replay chooses between). */
static int parse_args(int argc, char **argv, rp_replay_opts *o, rep_sym_opts *so,
		      const char **path, const char **outdir, bool *force)
{
	const char *cmd = outdir ? "report" : "replay";
	for (int i = 1; i < argc; i++) {
		if (outdir && !strcmp(argv[i], "-o") && i + 1 < argc) {
			*outdir = argv[++i];
		} else if (outdir && !strcmp(argv[i], "--force")) {
			*force = true;
		} else if (outdir && (!strcmp(argv[i], "--stats") || !strcmp(argv[i], "--json") ||
				      !strcmp(argv[i], "--check-snapshots"))) {
			cli_error("report: '%s' is replay's (arenatrace report --help)", argv[i]);
			return -1;
		} else if (!strcmp(argv[i], "--debug-dir") && i + 1 < argc) {
			if (so->ndebug_dirs == REP_SYM_MAX_DIRS) {
				cli_error("replay: at most %d --debug-dir", REP_SYM_MAX_DIRS);
				return -1;
			}
			so->debug_dirs[so->ndebug_dirs++] = argv[++i];
		} else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
			o->model = argv[++i];
		} else if (!strcmp(argv[i], "--layer") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "auto"))
				o->layer = RP_LAYER_AUTO;
			else if (!strcmp(v, "python"))
				o->layer = RP_LAYER_PYTHON;
			else if (!strcmp(v, "malloc"))
				o->layer = RP_LAYER_MALLOC;
			else {
				cli_error("replay: --layer takes auto, python or malloc");
				return -1;
			}
		} else if (!strcmp(argv[i], "--stats")) {
			o->stats = true;
		} else if (!strcmp(argv[i], "--check-snapshots")) {
			o->check = true;
		} else if (!strcmp(argv[i], "--json")) {
			o->json = true;
		} else if (!strcmp(argv[i], "--system")) {
			o->system = true;
		} else if (!strcmp(argv[i], "--gc") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "on") && strcmp(v, "off")) {
				cli_error("replay: --gc takes on or off");
				return -1;
			}
			o->gc_off = !strcmp(v, "off");
		} else if (!strcmp(argv[i], "--no-follow-exec")) {
			no_follow_exec = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			return 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_error("%s: unknown option '%s'", cmd, argv[i]);
			return -1;
		} else if (*path) {
			cli_error("%s: one trace at a time", cmd);
			return -1;
		} else {
			*path = argv[i];
		}
	}
	if (!*path) {
		cli_error("%s: no trace given (arenatrace %s --help)", cmd, cmd);
		return -1;
	}
	return 0;
}

int cli_cmd_replay(int argc, char **argv)
{
	rp_replay_opts o = {.out = stdout};
	rep_sym_opts so = {0};
	const char *path = NULL;
	int rc = parse_args(argc, argv, &o, &so, &path, NULL, NULL);
	if (rc) {
		if (rc > 0)
			fputs(replay_usage, stdout);
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	/* the summary unless another output was asked for */
	o.summary = !o.stats && !o.check && !o.json;
	char pbuf[TF_LINK_MAX + 1];
	if (!no_follow_exec)
		path = cli_follow_exec(path, pbuf, sizeof(pbuf), "replay");
	tf_reader *rd;
	char err[512];
	if (tf_reader_open_file(&rd, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && sb.st_size > 0)
		o.progress_bytes = (uint64_t)sb.st_size;
	/* the summary's and the JSON's stacks symbolized from the trace's modules */
	rep_namer *namer = (o.summary || o.json) ? calloc(1, sizeof(*namer)) : NULL;
	rep_sym *sym = NULL;
	if (namer && rep_sym_create(&sym, &so) == REP_OK) {
		namer->sym = sym;
		o.on_module = rep_stacks_on_module;
		o.print_stack = rep_stacks_print;
		o.sym_ctx = sym;
		o.name_frame = rep_stacks_namer;
		o.namer_ctx = namer;
	}
	int status = rp_replay_run(rd, &o, path, NULL);
	if (sym)
		rep_stacks_warnings(sym);
	rep_sym_free(sym);
	free(namer);
	tf_reader_free(rd);
	return status;
}

/* ---- report ---- */

static const char report_usage[] =
    "usage: arenatrace report [-o DIR] [--force] [--model PROFILE[,PROFILE...]]\n"
    "                         [--layer auto|python|malloc] [--gc on|off] [--system]\n"
    "                         [--debug-dir DIR]... [--no-follow-exec] TRACE\n"
    "  Replays the trace as `arenatrace replay` does (same options), prints its\n"
    "  summary, and writes DIR/report.html (one self-contained page: memory by\n"
    "  layer over time, arena lifelines, what pins the arenas, size classes, call\n"
    "  sites, GC passes, models side by side) and CSV files: timeline.csv,\n"
    "  sizeclasses.csv, arenas.csv, callsites.csv, gc.csv (GC passes recorded),\n"
    "  compare.csv (several models), system.csv (--system), and report.manifest\n"
    "  (the files it wrote).\n"
    "  Columns: reports/README.md.\n"
    "  -o DIR              where; default: the trace's file name without .atr, plus\n"
    "                      .report, in the current directory.  DIR is made when\n"
    "                      missing; an existing one must be empty or hold an earlier\n"
    "                      report (its report.manifest and the files it lists)\n"
    "  --force             write into DIR all the same, over files of the report's\n"
    "                      names; a file the report did not write is never removed\n"
    "  Exit status: 0, 2 bad input, a directory that is not the report's, or a file\n"
    "  that could not be written.\n";

typedef struct report_job {
	rep_dir *dir;
	const char *trace;
	rep_namer *namer; /* NULL: frames as addresses */
	int rc;
	char failed[700];
} report_job;

/* The replay's inspect callback: every sink, while the result lives. */
static void write_report(const rp_replay_result *res, void *ctx)
{
	report_job *job = ctx;
	rep_input in = {res, job->trace, job->namer ? rep_stacks_namer : NULL, job->namer};
	job->rc = rep_dir_write(job->dir, &in, job->failed, sizeof(job->failed));
}

/* DIR for a trace: "dir/name.atr" -> "name.report". */
static void default_dir(const char *trace, char *buf, size_t cap)
{
	const char *base = strrchr(trace, '/');
	base = base ? base + 1 : trace;
	size_t n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".atr"))
		n -= 4;
	snprintf(buf, cap, "%.*s.report", (int)n, base);
}

int cli_cmd_report(int argc, char **argv)
{
	rp_replay_opts o = {.out = stdout, .summary = true};
	rep_sym_opts so = {0};
	const char *path = NULL, *dirname = NULL;
	bool force = false;
	int rc = parse_args(argc, argv, &o, &so, &path, &dirname, &force);
	if (rc) {
		if (rc > 0)
			fputs(report_usage, stdout);
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	char dbuf[1024];
	if (!dirname) {
		default_dir(path, dbuf, sizeof(dbuf));
		dirname = dbuf;
	}
	char pbuf[TF_LINK_MAX + 1];
	if (!no_follow_exec)
		path = cli_follow_exec(path, pbuf, sizeof(pbuf), "report");
	tf_reader *rd;
	char err[700];
	if (tf_reader_open_file(&rd, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	/* the directory is checked before the replay, which may take long */
	report_job job = {.trace = path};
	if (rep_dir_open(&job.dir, dirname, force, err, sizeof(err)) < 0) {
		cli_error("report: %s", err);
		tf_reader_free(rd);
		return CLI_EXIT_USAGE;
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && sb.st_size > 0)
		o.progress_bytes = (uint64_t)sb.st_size;
	rep_namer *namer = calloc(1, sizeof(*namer));
	if (namer && rep_sym_create(&namer->sym, &so) == REP_OK) {
		o.on_module = rep_stacks_on_module;
		o.print_stack = rep_stacks_print;
		o.sym_ctx = namer->sym;
	} else {
		free(namer);
		namer = NULL;
	}
	job.namer = namer;
	o.inspect = write_report;
	o.inspect_ctx = &job;
	int status = rp_replay_run(rd, &o, path, NULL);
	if (namer) {
		rep_stacks_warnings(namer->sym);
		rep_sym_free(namer->sym);
		free(namer);
	}
	tf_reader_free(rd);
	rep_dir_free(job.dir);
	if (job.rc < 0) {
		cli_error("report: %s", job.failed);
		return CLI_EXIT_USAGE;
	}
	if (status == CLI_EXIT_OK)
		printf("report: %s/report.html (and the CSV files beside it)\n", dirname);
	return status;
}

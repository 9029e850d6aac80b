/*
 * cli_cmd_replay.c - the `replay` and `report` commands: options, the
 * symbolizer fed from the trace's modules, and (report) the CSV and HTML
 * sinks of reports/ over the replay's result.
 */
#include "cli.h"
#include "cli_moments.h"
#include "rep.h"
#include "rep_stacks.h"
#include "rep_view.h"
#include "rep_text.h"
#include "rp_replay.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char replay_usage[] =
    "usage: arenatrace replay [--model PROFILE[,PROFILE...]] [--layer auto|python|malloc]\n"
    "                         [--gc on|off] [--system] [--stats] [--check-snapshots]\n"
    "                         [--json] [--at WHEN]... [--stacks python|hybrid|native]\n"
    "                         [--debug-dir DIR]... [--no-follow-exec] [--no-follow-fork]\n"
    "                         TRACE\n"
    "  Replays the trace's allocator requests through pymalloc models, in one pass\n"
    "  (when the peak or the worst moment is analysed, a second replay on another\n"
    "  thread finds it; the defaults of a trace with more than 20 marks replay it\n"
    "  twice).\n"
    "  A trace whose process exec'd a traced program is followed to that program's\n"
    "  trace (said on stderr); --no-follow-exec reads TRACE itself.\n"
    "  A forked child's trace is replayed from its parent's state: the parent's\n"
    "  trace (and its parent's ...) up to the fork first, then the child's (said on\n"
    "  stderr); --no-follow-fork replays the child alone.\n"
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
    "  --at WHEN           analyse this moment in full (held, live, the waste split,\n"
    "                      arenas by use, the stacks pinning the nearly empty ones,\n"
    "                      and at exit and end the live blocks by stack); repeatable.\n"
    "                      WHEN: peak (where held bytes peak), worst (where held minus\n"
    "                      live is largest), exit (a Python program's own end, before\n"
    "                      the interpreter's teardown), end, a time (1.5s, 250ms), or\n"
    "                      a mark's label (every one; LABEL#N the N-th; mark:LABEL\n"
    "                      for a label like a keyword).  Default: peak, worst, exit\n"
    "                      (else end) and the marks (the 20 with the most waste when\n"
    "                      there are more)\n"
    "  --stacks MODE       how stacks with Python frames are shown: python (default\n"
    "                      when the trace has them): the Python frames, innermost\n"
    "                      first, as file:line in function, the native ones left out,\n"
    "                      and the stacks of the same Python lines one row; hybrid:\n"
    "                      every frame in call order; native: the native frames only\n"
    "  --debug-dir DIR     also look for separate debug info in DIR (DIR/.build-id/xx/\n"
    "                      yyyy.debug, or by debug-link name), before /usr/lib/debug;\n"
    "                      repeatable. The summary's stacks are symbolized from the\n"
    "                      modules the trace recorded, read where they were recorded\n"
    "                      (a file missing or rebuilt since: module+offset, and a\n"
    "                      warning on stderr)\n"
    "  Exit status: 0, 1 if a snapshot mismatched or none was checked, 2 bad input.\n";

/* The options besides the engine's: which outputs replay prints, and
 * the moments asked for. */
#define MAX_AT RP_MOMENTS_MAX
typedef struct outputs {
	bool stats, json, no_follow_exec, no_follow_fork;
	int stacks; /* --stacks: REP_STACKS_* */
	const char *at[MAX_AT]; /* --at, as given */
	int nat;
	/* report: the leading replay feeds a symbolizer of these options of its
	 * own and, once done, prepares the call sites with it (rep_csv_prepare) */
	const rep_sym_opts *prepare;
} outputs;

/* The options of replay, or of report when outdir is not NULL (-o DIR,
 * --force, and none of the outputs replay chooses between). */
static int parse_args(int argc, char **argv, rp_config *o, outputs *out, rep_sym_opts *so,
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
			static const char *const words[] = {"auto", "python", "malloc", NULL};
			static const int layers[] = {RP_LAYER_AUTO, RP_LAYER_PYTHON, RP_LAYER_MALLOC};
			const int c = cli_choice(argv[++i], words);
			if (c < 0) {
				cli_error("replay: --layer takes auto, python or malloc");
				return -1;
			}
			o->layer = layers[c];
		} else if (!strcmp(argv[i], "--stats")) {
			o->stats = out->stats = true;
		} else if (!strcmp(argv[i], "--check-snapshots")) {
			o->check = true;
		} else if (!strcmp(argv[i], "--json")) {
			out->json = true;
		} else if (!strcmp(argv[i], "--system")) {
			o->system = true;
		} else if (!strcmp(argv[i], "--gc") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "on") && strcmp(v, "off")) {
				cli_error("replay: --gc takes on or off");
				return -1;
			}
			o->gc_off = !strcmp(v, "off");
		} else if (!strcmp(argv[i], "--at") && i + 1 < argc) {
			if (out->nat == MAX_AT) {
				cli_error("%s: at most %d --at", cmd, MAX_AT);
				return -1;
			}
			out->at[out->nat++] = argv[++i];
		} else if (!strcmp(argv[i], "--stacks") && i + 1 < argc) {
			static const char *const words[] = {"python", "hybrid", "native", NULL};
			static const int modes[] = {REP_STACKS_PYTHON, REP_STACKS_HYBRID, REP_STACKS_NATIVE};
			const int c = cli_choice(argv[++i], words);
			if (c < 0) {
				cli_error("%s: --stacks takes hybrid, python or native", cmd);
				return -1;
			}
			out->stacks = modes[c];
		} else if (!strcmp(argv[i], "--no-follow-exec")) {
			out->no_follow_exec = true;
		} else if (!strcmp(argv[i], "--no-follow-fork")) {
			out->no_follow_fork = true;
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
	return cli_moments_check(out->at, out->nat);
}

/* ---- the replay, as both commands run it ---- */

/* What the commands show while the engine runs (its observer). */
typedef struct watch {
	rep_sym *sym;            /* fed the trace's modules and code records; NULL: none */
	uint64_t file_bytes;     /* the traces' size, for the progress line; 0: no line */
	const tf_reader *cur;    /* the one being read, of a forked child's chain */
	uint64_t done, cur_bytes; /* bytes of the chain's traces read before it, of it */
	struct timespec start;
	bool shown;              /* a progress line is on the terminal */
	/* a replay run again (the fallback to two) says nothing twice: the
	 * observer's calls of this run, and how many of them were said */
	uint64_t addr_calls, addr_said, snap_calls, snap_said;
} watch;

static void watch_module(void *ctx, const tf_record *rec, uint64_t nodes)
{
	watch *w = ctx;
	if (w->sym)
		rep_stacks_on_module(rec, nodes, w->sym);
}

static void watch_py_code(void *ctx, const tf_record *rec)
{
	watch *w = ctx;
	if (w->sym)
		rep_stacks_on_py_code(rec, w->sym);
}

static void watch_address(void *ctx, const char *profile, uint64_t model, uint64_t real)
{
	watch *w = ctx;
	if (++w->addr_calls <= w->addr_said)
		return;
	w->addr_said = w->addr_calls;
	cli_error("replay: %s returned 0x%" PRIx64 " where the interpreter got 0x%" PRIx64, profile,
		  model, real);
}

static void watch_snapshot(void *ctx, const tf_bytes *label, bool first, const char *want,
			   size_t want_len, const char *got, size_t got_len)
{
	watch *w = ctx;
	if (++w->snap_calls <= w->snap_said)
		return;
	w->snap_said = w->snap_calls;
	if (first)
		printf("snapshot %.*s:\n", (int)label->len, label->ptr);
	printf("  expected: %.*s\n  model:    %.*s\n", (int)want_len, want, (int)got_len, got);
}

/* A progress line on a terminal, once the replay runs longer than a second. */
static void watch_progress(void *ctx, const tf_reader *rd, uint64_t events)
{
	watch *w = ctx;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!w->file_bytes || now.tv_sec - w->start.tv_sec < 1)
		return;
	tf_reader_status st;
	tf_reader_get_status(rd, &st);
	if (rd != w->cur) { /* the next trace of a forked child's chain */
		w->done += w->cur_bytes;
		w->cur = rd;
	}
	w->cur_bytes = st.bytes_compressed;
	fprintf(stderr, "\rreplay: %3.0f%%, %.1f M events",
		100.0 * (double)(w->done + w->cur_bytes) / (double)w->file_bytes,
		(double)events / 1e6);
	w->shown = true;
}

static int run_chain(tf_reader *const *rds, const uint64_t *until, const cli_chain *ch,
		     const rp_config *cfg, watch *w, const char *path, int flags, rp_engine **out);
#define SHORT_PARENT (-1) /* run_chain: a parent's trace ends before its fork */
#define MARK_READ (-2)    /* run_chain: cfg->marks_stop, and a mark was read */
enum { ONCE_QUIET = 1,    /* say nothing (a leading replay) */
       ONCE_NO_RETRY = 2  /* a parent's trace that ends short: SHORT_PARENT, unsaid */
};

/* One replay of rd (the last trace of ch) into a new engine (*out, NULL when
 * the replay failed), after ch's other traces up to their forks (when one
 * of them ends before its fork, rd alone, and ch is then rd alone);
 * CLI_EXIT_USAGE after saying why it failed; MARK_READ or (ONCE_NO_RETRY)
 * SHORT_PARENT, unsaid. */
static int run_once(tf_reader *rd, cli_chain *ch, const rp_config *cfg, watch *w,
		    const char *path, int flags, rp_engine **out)
{
	*out = NULL;
	tf_reader *rds[CLI_CHAIN_MAX];
	uint64_t until[CLI_CHAIN_MAX];
	char err[700];
	for (int i = 0; i < ch->n - 1; i++) {
		until[i] = ch->until[i];
		if (tf_reader_open_file(&rds[i], ch->path[i], err, sizeof(err)) < 0) {
			if (!(flags & ONCE_QUIET))
				cli_error("%s", err);
			while (i--)
				tf_reader_free(rds[i]);
			return CLI_EXIT_USAGE;
		}
	}
	rds[ch->n - 1] = rd;
	int status = run_chain(rds, until, ch, cfg, w, path, flags, out);
	for (int i = 0; i < ch->n - 1; i++)
		tf_reader_free(rds[i]);
	if (status == SHORT_PARENT && !(flags & ONCE_NO_RETRY)) { /* rd was not read yet */
		ch->n = 1;
		status = run_chain(&rd, until, ch, cfg, w, path, flags, out);
	}
	return status;
}

/* run_once with the readers open. */
static int run_chain(tf_reader *const *rds, const uint64_t *until, const cli_chain *ch,
		     const rp_config *cfg, watch *w, const char *path, int flags, rp_engine **out)
{
	/* a leading replay says nothing: its errors are the follower's too */
#define SAY(...)                                                                          \
	do {                                                                              \
		if (!(flags & ONCE_QUIET))                                                \
			cli_error(__VA_ARGS__);                                           \
	} while (0)
	w->addr_calls = w->snap_calls = 0;
	rp_engine *e;
	int rc = rp_engine_create(&e, cfg);
	if (rc == RP_E_MODEL) {
		SAY("replay: unknown or invalid model '%s' (arenatrace replay --help)", cfg->model);
		return CLI_EXIT_USAGE;
	} else if (rc == RP_E_MODELS && cfg->nat > RP_MOMENTS_MAX) {
		SAY("replay: at most %d moments", RP_MOMENTS_MAX);
		return CLI_EXIT_USAGE;
	} else if (rc == RP_E_MODELS) {
		SAY("replay: --gc off runs every model twice: at most %d models", RP_MAX_MODELS / 2);
		return CLI_EXIT_USAGE;
	} else if (rc < 0) {
		SAY("replay: %s", rp_strerror(rc));
		return CLI_EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	w->cur = NULL;
	w->done = w->cur_bytes = 0;
	rc = rp_engine_run_chain(e, rds, until, ch->n);
	if (w->shown)
		fputs("\r\033[K", stderr); /* clear the progress line */
	w->shown = false;
	if (rc == 0)
		rc = rp_engine_finish(e);
	if (rc == RP_E_SHORT || rc == RP_E_MARKS) {
		if (rc == RP_E_SHORT && !(flags & ONCE_NO_RETRY))
			SAY("replay: %s: replaying the child alone", rp_engine_error(e));
		rp_engine_free(e);
		return rc == RP_E_SHORT ? SHORT_PARENT : MARK_READ;
	}
	int status = CLI_EXIT_OK;
	if (rc == RP_E_READ)
		SAY("%s: %s", ch->n > 1 ? ch->path[rp_engine_segment(e)] : path, rp_engine_error(e));
	else if (rc == RP_E_SYSTEM)
		SAY("replay: --system: %s", rp_engine_error(e));
	else if (rc < 0)
		SAY("replay: %s", rp_engine_error(e));
	if (rc < 0)
		status = CLI_EXIT_USAGE;
	if (!rp_engine_result(e)) { /* a replay that failed has no result */
		rp_engine_free(e);
		return status;
	}
	*out = e;
	return status;
}
#undef SAY

/* A replay's outcome: the engine whose result is shown, and when a second
 * replay analysed the moments, its result with the first one's --system
 * figures (the allocator's process runs once). */
typedef struct outcome {
	rp_engine *e;
	rp_replay_result *merged; /* the shown result, when there were two */
	/* outputs.prepare, from the leading replay: its namer's symbolizer (fed the
	 * same records as the follower's, and warm), the grouping of its call
	 * sites, and its count of stack nodes (what its stamps count): both
	 * are the shown result's only when that has as many */
	rep_namer *namer; /* its symbolizer, and the lines it formatted */
	rep_view_memo memo;
	rep_prepared *prepared;
	uint64_t nnodes;
} outcome;

static const rp_replay_result *shown(const outcome *oc)
{
	return oc->merged ? oc->merged : rp_engine_result(oc->e);
}

/* A namer made for a replay, with its symbolizer. */
static void namer_free(rep_namer *nm)
{
	if (!nm)
		return;
	rep_namer_clear(nm);
	rep_sym_free(nm->sym);
	free(nm);
}

static void outcome_free(outcome *oc)
{
	rp_engine_free(oc->e);
	free(oc->merged);
	namer_free(oc->namer);
	rep_view_memo_free(&oc->memo);
	rep_prepared_free(oc->prepared);
}

/* What the leading replay prepared of its call sites, for the shown
 * result res when it has as many stack nodes: the grouping moved into
 * *memo, its rows dropped (their figures are the leader's; rep_view_sites
 * sums res's own, and groups anew unless res's call sites are the same
 * stacks), and the rows' texts (the sinks take them for the same stacks
 * only). */
static rep_prepared *prepared_for(outcome *oc, const rp_replay_result *res, rep_view_memo *memo)
{
	if (oc->nnodes != res->nnodes)
		return NULL;
	if (oc->memo.group) {
		*memo = oc->memo;
		oc->memo = (rep_view_memo){0};
		rep_view_memo_forget_rows(memo);
	}
	return oc->prepared;
}

/* The leading replay of one_pass, on its own thread, silent: the same
 * trace, models and layer as the follower's, without moments. */
typedef struct leader {
	pthread_t thread;
	rp_lead *lead;
	tf_reader *rd;
	cli_chain ch;
	rp_config cfg;
	watch w;
	const char *path;
	bool ok; /* it replayed the trace to its end */
	/* outputs.prepare: w.sym is its own symbolizer (namer's); stacks the
	 * mode; what it prepared goes to the outcome (outcome.namer ...) */
	rep_namer *namer;
	int stacks;
	rep_view_memo memo;
	rep_prepared *prepared;
	uint64_t nnodes;
} leader;

static bool lead_stopped(void *ctx)
{
	return rp_lead_stopped(ctx);
}

/* The leading replay is done and the follower still runs: the call-site
 * rows and their frames, which the report would otherwise work out only
 * after the follower, are worked out now, until the follower is done. */
static void leader_prepare(leader *l, const rp_replay_result *res)
{
	rep_input in = {res, l->path, rep_stacks_namer, l->namer, rep_stacks_describe, l->stacks,
			&l->memo, NULL};
	/* out of memory: nothing prepared */
	(void)rep_csv_prepare(&in, lead_stopped, l->lead, &l->prepared);
}

static void *leader_main(void *arg)
{
	leader *l = arg;
	rp_engine *e = NULL;
	char err[700];
	if (tf_reader_open_file(&l->rd, l->path, err, sizeof(err)) == 0)
		l->ok = run_once(l->rd, &l->ch, &l->cfg, &l->w, l->path, ONCE_QUIET | ONCE_NO_RETRY,
				 &e) == CLI_EXIT_OK &&
			e;
	rp_lead_done(l->lead, l->ok ? rp_engine_result(e) : NULL);
	if (l->ok)
		l->nnodes = rp_engine_result(e)->nnodes;
	if (l->ok && l->namer && !rp_lead_stopped(l->lead)) {
		rp_engine_trim(e); /* the follower is at its largest: the memory goes first */
		leader_prepare(l, rp_engine_result(e));
	}
	rp_engine_free(e); /* its memory goes as soon as it is done */
	return NULL;
}

/* What the leader made for outputs.prepare, freed, or moved into oc. */
static void leader_hand_over(leader *l, outcome *oc)
{
	if (!oc) {
		namer_free(l->namer);
		rep_view_memo_free(&l->memo);
		rep_prepared_free(l->prepared);
		return;
	}
	oc->namer = l->namer;
	oc->memo = l->memo;
	oc->prepared = l->prepared;
	oc->nnodes = l->nnodes;
}

#define TWO_PASSES 1 /* one_pass: the moments need a first replay */
static int two_passes(tf_reader *rd, cli_chain *ch, rp_config *cfg, watch *w, const char *path,
		      const char *cmd, const outputs *out, bool moments, outcome *oc);

/* The leading replay of one_pass, started on its own thread; NULL when it
 * cannot be. */
static leader *start_leader(const cli_chain *ch, const rp_config *cfg, watch *w,
			    const char *path, const outputs *out)
{
	const char *lag = getenv("ARENATRACE_FOLLOW_LAG");
	leader *l = calloc(1, sizeof(*l));
	if (!l || !(l->lead = rp_lead_create(lag ? strtoull(lag, NULL, 10) : 0))) {
		free(l);
		return NULL;
	}
	l->ch = *ch;
	l->path = path;
	l->cfg = *cfg;
	l->cfg.at = NULL;
	l->cfg.nat = 0;
	l->cfg.obs = (rp_observer){0};
	l->cfg.system = l->cfg.stats = l->cfg.check = false;
	l->cfg.lead = l->lead;
	/* created here: rep_sym_create changes the environment */
	if (out->prepare && w->sym && (l->namer = calloc(1, sizeof(*l->namer))) &&
	    rep_sym_create(&l->namer->sym, out->prepare) == REP_OK) {
		l->w.sym = l->namer->sym;
		l->cfg.obs = (rp_observer){.ctx = &l->w, .on_module = watch_module,
					   .on_py_code = watch_py_code};
		l->stacks = out->stacks;
		l->cfg.lead_stacks = true;
	} else {
		namer_free(l->namer);
		l->namer = NULL;
	}
	if (pthread_create(&l->thread, NULL, leader_main, l)) {
		leader_hand_over(l, NULL);
		rp_lead_free(l->lead);
		free(l);
		return NULL;
	}
	return l;
}

/* The leader stopped and gone, what it made handed to oc (when it replayed
 * the whole trace and oc has a result).  Whether it replayed the whole
 * trace. */
static bool end_leader(leader *l, outcome *oc)
{
	rp_lead_stop(l->lead); /* the leader is done, or its work is of no use */
	pthread_join(l->thread, NULL);
	const bool led = l->ok;
	/* the leader's symbolizer was fed the trace to its end, as the follower's */
	leader_hand_over(l, led && oc->e ? oc : NULL);
	tf_reader_free(l->rd);
	rp_lead_free(l->lead);
	free(l);
	return led;
}

/* Replays rd once, finding and analysing the moments at the same time
 * (rp_replay.h): a leading replay of the trace, opened again, runs on a
 * second thread, where a moment follows it (peak, worst) or the report
 * prepares its call sites with it; moments at the exit, the end, a mark,
 * a request or a time need none.  TWO_PASSES when that cannot be: too
 * many or malformed moments, marks to rank (defaults), a parent's trace
 * that ends before its fork, no thread; else as run. */
static int one_pass(tf_reader *rd, cli_chain *ch, const rp_config *cfg, watch *w,
		    const char *path, const char *cmd, const outputs *out, outcome *oc)
{
	rp_at at[RP_MOMENTS_MAX];
	int nat;
	uint32_t marks_stop;
	if (cli_moments_online(out->at, out->nat, at, &nat, &marks_stop) < 0)
		return TWO_PASSES;
	bool follows = false;
	for (int i = 0; i < nat; i++)
		follows |= at[i].follow;
	leader *l = NULL;
	if ((follows || (out->prepare && w->sym)) && !(l = start_leader(ch, cfg, w, path, out)))
		return TWO_PASSES;
	rp_config b = *cfg;
	b.at = at;
	b.nat = nat;
	b.follow = l ? l->lead : NULL;
	b.marks_stop = marks_stop;
	b.obs = (rp_observer){w, watch_module, watch_address, watch_snapshot, watch_progress,
			      watch_py_code};
	int status = run_once(rd, ch, &b, w, path, ONCE_NO_RETRY, &oc->e);
	const bool led = l ? end_leader(l, oc) : true;
	if (status == MARK_READ || status == SHORT_PARENT || (oc->e && !led)) {
		/* without a lead to its end the moments may be wrong */
		outcome_free(oc);
		*oc = (outcome){0};
		/* the replays to come feed the symbolizer from the start; those of
		 * the child alone (SHORT_PARENT) meet other records, and say what
		 * they meet */
		rep_sym_forget_records(w->sym);
		if (status == SHORT_PARENT)
			w->addr_said = w->snap_said = 0;
		return TWO_PASSES;
	}
	if (!oc->e)
		return status;
	/* what the moments asked for must be in the trace, as with two replays */
	const rp_replay_result *res = rp_engine_result(oc->e);
	rp_at check[RP_MOMENTS_MAX];
	int ncheck;
	if (res->nmodels && cli_moments_resolve(out->at, out->nat, res, cmd, check, &ncheck) < 0) {
		outcome_free(oc);
		*oc = (outcome){0};
		return CLI_EXIT_USAGE;
	}
	return status;
}

/* Replays rd (path) with cfg; with moments, in one pass that finds and
 * analyses them (one_pass), or where that cannot be (and with
 * ARENATRACE_TWO_PASSES set), a first replay finds them and a second, of
 * the trace opened again, analyses them.  The lines replay prints while it
 * runs go to stderr (addresses unlike the interpreter's, snapshot
 * differences), each once.  CLI_EXIT_USAGE when it failed; oc->e is NULL
 * then. */
static int run(tf_reader *rd, cli_chain *ch, rp_config *cfg, watch *w, const char *path,
	       const char *cmd, const outputs *out, bool moments, outcome *oc)
{
	*oc = (outcome){0};
	struct stat sb;
	for (int i = 0; isatty(2) && i < ch->n; i++)
		if (stat(ch->path[i], &sb) == 0 && sb.st_size > 0)
			w->file_bytes += (uint64_t)sb.st_size;
	tf_reader *own = NULL; /* rd, read anew after one_pass read some of it */
	if (moments && !getenv("ARENATRACE_TWO_PASSES")) {
		int status = one_pass(rd, ch, cfg, w, path, cmd, out, oc);
		if (status != TWO_PASSES)
			return status;
		char err[700];
		if (tf_reader_open_file(&own, path, err, sizeof(err)) < 0) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		rd = own;
	}
	int status = two_passes(rd, ch, cfg, w, path, cmd, out, moments, oc);
	tf_reader_free(own);
	return status;
}

/* run's replays, a first to find the moments and a second to analyse them. */
static int two_passes(tf_reader *rd, cli_chain *ch, rp_config *cfg, watch *w, const char *path,
		      const char *cmd, const outputs *out, bool moments, outcome *oc)
{
	cfg->obs = (rp_observer){w,
				 moments ? NULL : watch_module,
				 watch_address,
				 watch_snapshot,
				 watch_progress,
				 moments ? NULL : watch_py_code};
	int status = run_once(rd, ch, cfg, w, path, 0, &oc->e);
	if (!oc->e || !moments)
		return status;
	rp_at at[RP_MOMENTS_MAX];
	int nat;
	const rp_replay_result *first = rp_engine_result(oc->e);
	if (!first->nmodels)
		return status; /* no header: nothing to analyse */
	if (cli_moments_resolve(out->at, out->nat, first, cmd, at, &nat) < 0) {
		outcome_free(oc);
		*oc = (outcome){0};
		return CLI_EXIT_USAGE;
	}
	/* the first replay's memory goes before the second's comes */
	const bool has_system = first->has_system;
	const rp_system sys = first->system;
	rp_engine_free(oc->e);
	oc->e = NULL;
	tf_reader *again;
	char err[700];
	if (tf_reader_open_file(&again, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		outcome_free(oc);
		*oc = (outcome){0};
		return CLI_EXIT_USAGE;
	}
	rp_config second = *cfg;
	second.at = at;
	second.nat = nat;
	second.system = false;
	second.obs = (rp_observer){w, watch_module, NULL, NULL, watch_progress, watch_py_code};
	int status2 = run_once(again, ch, &second, w, path, 0, &oc->e);
	tf_reader_free(again);
	if (!oc->e) {
		outcome_free(oc);
		*oc = (outcome){0};
		return status2;
	}
	if ((oc->merged = malloc(sizeof(*oc->merged)))) {
		*oc->merged = *rp_engine_result(oc->e);
		oc->merged->has_system = has_system;
		oc->merged->system = sys;
	}
	return status != CLI_EXIT_OK ? status : status2;
}

/* What the replay set aside of isolated subinterpreters' heaps, for the
 * line below: empty when there were none. */
static void other_heaps_note(const rp_replay_result *res, char *buf, size_t cap)
{
	const rp_facts *x = &res->facts;
	if (x->other_heaps)
		snprintf(buf, cap,
			 "; and %" PRIu64 " requests of %" PRIu64
			 " subinterpreters' own heaps, each through models of its own",
			 x->other_heap_requests, x->other_heaps);
}

/* The line on stderr after the result: how the first model's addresses
 * and arenas compared with the interpreter's, or why they were not. */
static void addresses_line(const rp_replay_result *res)
{
	const rp_model_result *m = &res->models[0];
	const uint64_t anomalies =
	    res->free_unknown + res->realloc_unknown + res->alloc_over_live + m->errors;
	char why[128], dropped[192] = "";
	if (res->malloc_layer || !res->nmodels)
		return;
	if (res->facts.dropped)
		snprintf(dropped, sizeof(dropped), ", %" PRIu64 " events dropped by the tracer",
			 res->facts.dropped);
	other_heaps_note(res, dropped + strlen(dropped), sizeof(dropped) - strlen(dropped));
	if (rp_not_compared(res, m, why, sizeof(why)))
		fprintf(stderr,
			"replay: model %s, %" PRIu64 " requests, addresses not compared: %s, %" PRIu64
			" anomalies%s\n",
			m->profile, res->requests, why, anomalies, dropped);
	else
		fprintf(stderr,
			"replay: model %s, %" PRIu64 " requests, %" PRIu64
			" addresses unlike the interpreter's, %" PRIu64 " arena mismatches, %" PRIu64
			" anomalies%s\n",
			m->profile, res->requests, m->addr_mismatch, m->arena_mismatch, anomalies,
			dropped);
}

/* --check-snapshots' last line; CLI_EXIT_CHECK when none was checked or one
 * differed. */
static int snapshots_line(const rp_replay_result *res)
{
	if (!res->nmodels)
		return CLI_EXIT_OK;
	printf("snapshots: %" PRIu64 " checked, %" PRIu64 " mismatched", res->snapshots,
	       res->snapshots_mismatched);
	char why[128];
	if (res->snapshots_unchecked && res->facts.parent_missing)
		printf("; %" PRIu64 " not checked: a forked child replayed without its parent's trace",
		       res->snapshots_unchecked);
	else if (res->snapshots_unchecked && rp_reinit_why(&res->facts, why, sizeof(why)))
		printf("; %" PRIu64 " not checked: %s", res->snapshots_unchecked, why);
	else if (res->snapshots_unchecked)
		printf("; %" PRIu64 " not checked: %s served the interpreter", res->snapshots_unchecked,
		       res->facts.python_allocator);
	if (res->snapshots_elsewhere)
		printf("; %" PRIu64 " not checked: taken on a subinterpreter's own heap",
		       res->snapshots_elsewhere);
	putchar('\n');
	return !res->snapshots || res->snapshots_mismatched ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}

int cli_cmd_replay(int argc, char **argv)
{
	rp_config cfg = {0};
	outputs out = {0};
	rep_sym_opts so = {0};
	const char *path = NULL;
	int rc = parse_args(argc, argv, &cfg, &out, &so, &path, NULL, NULL);
	if (rc) {
		if (rc > 0)
			fputs(replay_usage, stdout);
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	/* the summary unless another output was asked for */
	const bool summary = !out.stats && !cfg.check && !out.json;
	char pbuf[TF_LINK_MAX + 1];
	if (!out.no_follow_exec)
		path = cli_follow_exec(path, pbuf, sizeof(pbuf), "replay");
	static cli_chain chain;
	cli_fork_chain(path, !out.no_follow_fork, &chain, "replay");
	tf_reader *rd;
	char err[512];
	if (tf_reader_open_file(&rd, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	/* the summary's and the JSON's stacks symbolized from the trace's modules */
	rep_namer *namer = (summary || out.json) ? calloc(1, sizeof(*namer)) : NULL;
	watch w = {0};
	if (namer && rep_sym_create(&w.sym, &so) == REP_OK)
		namer->sym = w.sym;
	outcome oc;
	int status = run(rd, &chain, &cfg, &w, path, "replay", &out, summary || out.json, &oc);
	const rp_replay_result *res = oc.e ? shown(&oc) : NULL;
	if (res) {
		if (out.stats)
			rep_stats_write(stdout, res);
		rep_input in = {res, path, w.sym ? rep_stacks_namer : NULL, namer,
				w.sym ? rep_stacks_describe : NULL, out.stacks, NULL, NULL};
		if (out.json)
			rep_json_write(stdout, &in);
		else if (summary)
			rep_summary_write(stdout, &in, w.sym ? rep_stacks_print : NULL, w.sym);
		addresses_line(res);
		if (cfg.check && snapshots_line(res) != CLI_EXIT_OK)
			status = CLI_EXIT_CHECK;
	}
	outcome_free(&oc);
	if (w.sym)
		cli_symbol_warnings(w.sym);
	rep_sym_free(w.sym);
	rep_namer_clear(namer);
	free(namer);
	tf_reader_free(rd);
	return status;
}

/* ---- report ---- */

static const char report_usage[] =
    "usage: arenatrace report [-o DIR] [--force] [--model PROFILE[,PROFILE...]]\n"
    "                         [--layer auto|python|malloc] [--gc on|off] [--system]\n"
    "                         [--at WHEN]... [--stacks python|hybrid|native]\n"
    "                         [--debug-dir DIR]... [--no-follow-exec] [--no-follow-fork]\n"
    "                         TRACE\n"
    "  Replays the trace as `arenatrace replay` does (same options), prints its\n"
    "  summary, and writes DIR/report.html (one self-contained page: memory by\n"
    "  layer over time, arena lifelines, what pins the arenas, size classes, call\n"
    "  sites, GC passes, models side by side) and CSV files: timeline.csv,\n"
    "  sizeclasses.csv, arenas.csv, callsites.csv, stacks.csv (their frames),\n"
    "  gc.csv (GC passes recorded),\n"
    "  compare.csv (several models), system.csv (--system), and report.manifest\n"
    "  (the files it wrote).\n"
    "  Columns: reports/README.md.\n"
    "  -o DIR              where; default: the trace's file name without .atr, plus\n"
    "                      .report, in the current directory.  DIR is made when\n"
    "                      missing; an existing one must be empty or hold an earlier\n"
    "                      report (its report.manifest and the files it lists)\n"
    "  --force             write into DIR all the same, over files of the report's\n"
    "                      names; a file the report did not write is never removed\n"
    "  --stacks MODE       python, hybrid or native, as for replay; in python mode the\n"
    "                      page folds each stack's native frames under its Python ones\n"
    "  Exit status: 0, 2 bad input, a directory that is not the report's, or a file\n"
    "  that could not be written.\n";

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

/* report's progress line while it writes its files (a terminal's stderr only) */
static void writing_file(void *ctx, const char *name)
{
	bool *shown = ctx;
	fprintf(stderr, "\rreport: writing %s\033[K", name);
	*shown = true;
}

int cli_cmd_report(int argc, char **argv)
{
	rp_config cfg = {0};
	outputs out = {0};
	rep_sym_opts so = {0};
	const char *path = NULL, *dirname = NULL;
	bool force = false;
	int rc = parse_args(argc, argv, &cfg, &out, &so, &path, &dirname, &force);
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
	if (!out.no_follow_exec)
		path = cli_follow_exec(path, pbuf, sizeof(pbuf), "report");
	static cli_chain chain;
	cli_fork_chain(path, !out.no_follow_fork, &chain, "report");
	tf_reader *rd;
	char err[700];
	if (tf_reader_open_file(&rd, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	/* the directory is checked before the replay, which may take long */
	rep_dir *dir;
	if (rep_dir_open(&dir, dirname, force, err, sizeof(err)) < 0) {
		cli_error("report: %s", err);
		tf_reader_free(rd);
		return CLI_EXIT_USAGE;
	}
	rep_namer *namer = calloc(1, sizeof(*namer));
	watch w = {0};
	if (namer && rep_sym_create(&namer->sym, &so) == REP_OK) {
		w.sym = namer->sym;
	} else {
		free(namer);
		namer = NULL;
	}
	outcome oc;
	out.prepare = &so;
	int status = run(rd, &chain, &cfg, &w, path, "report", &out, true, &oc);
	const rp_replay_result *res = oc.e ? shown(&oc) : NULL;
	bool led = false; /* the leader's symbolizer and what it prepared with it */
	if (oc.namer && namer && res && oc.nnodes == res->nnodes) {
		/* the leader's: fed the same records at the same stamps, and warm */
		namer_free(namer);
		namer = oc.namer;
		oc.namer = NULL;
		w.sym = namer->sym;
		led = true;
	}
	int wrote = 0;
	char failed[700];
	if (res) {
		/* every sink, while the result lives */
		rep_view_memo memo = {0}; /* the call-site rows, for the CSV and the page */
		rep_prepared *pp = led ? prepared_for(&oc, res, &memo) : NULL;
		rep_input in = {res, path, namer ? rep_stacks_namer : NULL, namer,
				namer ? rep_stacks_describe : NULL, out.stacks, &memo, pp};
		rep_summary_write(stdout, &in, w.sym ? rep_stacks_print : NULL, w.sym);
		addresses_line(res);
		bool shown = false;
		if (isatty(STDERR_FILENO)) {
			fflush(stdout); /* the summary first, where they share a terminal */
			rep_dir_on_file(dir, writing_file, &shown);
		}
		wrote = res->nmodels ? rep_dir_write(dir, &in, failed, sizeof(failed)) : 0;
		if (shown)
			fputs("\r\033[K", stderr); /* clear the progress line */
		rep_view_memo_free(&memo);
	}
	outcome_free(&oc);
	if (namer) {
		cli_symbol_warnings(namer->sym);
		namer_free(namer);
	}
	tf_reader_free(rd);
	rep_dir_free(dir);
	if (wrote < 0) {
		cli_error("report: %s", failed);
		return CLI_EXIT_USAGE;
	}
	if (status == CLI_EXIT_OK)
		printf("report: %s/report.html (and the CSV files beside it)\n", dirname);
	return status;
}

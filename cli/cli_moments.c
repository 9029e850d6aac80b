/*
 * cli_moments.c - `--at WHEN` of replay and report: the moments asked
 * for, or the defaults, made into the engine's triggers (rp_at) from what
 * a first replay of the trace found (marks, the peak and the worst
 * request of every model, whether the interpreter's exit was recorded).
 *
 *   WHEN   peak | worst | exit | end | TIME (1.5s, 250ms, 2000us) |
 *          LABEL (every mark of that label) | LABEL#N (its N-th) | mark:LABEL[#N]
 *
 * Defaults: peak and worst; exit for a trace that recorded it (the
 * moment a Python program's own code is done, before the interpreter
 * frees everything), else end; every mark when there are at most
 * CLI_MARKS_ALL, else the CLI_MARKS_ALL with the most waste.
 */
#include "cli_moments.h"
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MARKS_ALL 20

/* "1.5s", "250ms", "2000us", "7ns": 1 and *ns, else 0. */
static int parse_time(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return 0;
	double unit = !strcmp(end, "s") ? 1e9 : !strcmp(end, "ms") ? 1e6 : !strcmp(end, "us") ? 1e3
		    : !strcmp(end, "ns")                                  ? 1
									  : 0;
	if (!unit || v * unit >= 1.8e19)
		return 0;
	*ns = (uint64_t)(v * unit + 0.5);
	return 1;
}

/* A mark's label and occurrence from "LABEL" or "LABEL#N". */
static int parse_mark(const char *s, rp_at *at)
{
	const char *hash = strrchr(s, '#');
	char *end;
	size_t len = strlen(s);
	at->kind = RP_AT_MARK;
	at->occurrence = 0;
	if (hash && hash[1] && (at->occurrence = strtoull(hash + 1, &end, 10)) && !*end)
		len = (size_t)(hash - s);
	else
		at->occurrence = 0;
	if (!len || len >= sizeof(at->label))
		return 0;
	memcpy(at->label, s, len);
	at->label[len] = '\0';
	return 1;
}

/* One WHEN as a trigger, before any replay: peak and worst for every
 * model, following a lead (a first replay's result makes them per model,
 * at its requests); 0 when a mark's label is too long or empty. */
static int parse_spec(const char *s, rp_at *at)
{
	*at = (rp_at){0};
	if (!strcmp(s, "peak") || !strcmp(s, "worst")) {
		*at = (rp_at){.kind = !strcmp(s, "peak") ? RP_AT_PEAK : RP_AT_WORST,
			      .model = -1,
			      .follow = true};
	} else if (!strcmp(s, "exit")) {
		at->kind = RP_AT_EXIT;
	} else if (!strcmp(s, "end")) {
		at->kind = RP_AT_END;
	} else if (parse_time(s, &at->time_ns)) {
		at->kind = RP_AT_TIME;
		snprintf(at->label, sizeof(at->label), "%s", s);
	} else {
		return parse_mark(!strncmp(s, "mark:", 5) ? s + 5 : s, at);
	}
	return 1;
}

int cli_moments_check(const char *const *specs, int n)
{
	for (int i = 0; i < n; i++) {
		rp_at at;
		if (!parse_spec(specs[i], &at)) {
			cli_error("--at '%s': a mark's label is 1 to %d bytes", specs[i],
				  RP_MOMENT_LABEL - 1);
			return -1;
		}
	}
	return 0;
}

static bool add(rp_at *out, int *n, const rp_at *at)
{
	if (*n == RP_MOMENTS_MAX)
		return false;
	out[(*n)++] = *at;
	return true;
}

/* peak or worst: one trigger per model, at its own request. */
static void per_model(const rp_replay_result *res, int kind, rp_at *out, int *n)
{
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		uint64_t req = kind == RP_AT_PEAK ? m->peak_request : m->worst_request;
		if (!req)
			continue; /* nothing was ever held */
		rp_at at = {.kind = kind, .request = req, .model = i};
		add(out, n, &at);
	}
}

/* How many marks of label the first replay read. */
static uint64_t marks_of(const rp_replay_result *res, const char *label)
{
	uint64_t count = 0;
	for (uint32_t i = 0; i < res->nmarks_kept; i++)
		count += !strcmp(res->marks[i].label, label);
	return count;
}

static int mark_waste_cmp(const void *a, const void *b)
{
	const rp_mark *x = a, *y = b;
	if (x->waste != y->waste)
		return x->waste < y->waste ? 1 : -1;
	return x->request < y->request ? -1 : x->request > y->request;
}

static void default_marks(const rp_replay_result *res, rp_at *out, int *n)
{
	rp_mark *m = malloc((res->nmarks_kept + 1) * sizeof(*m));
	if (!m)
		return;
	if (res->nmarks_kept) /* marks is NULL when there are none */
		memcpy(m, res->marks, res->nmarks_kept * sizeof(*m));
	uint32_t k = res->nmarks_kept;
	if (k > CLI_MARKS_ALL) {
		qsort(m, k, sizeof(*m), mark_waste_cmp);
		k = CLI_MARKS_ALL;
	}
	for (uint32_t i = 0; i < k; i++) {
		/* a label the trace has once is named as it is; others LABEL#N */
		rp_at at = {.kind = RP_AT_MARK,
			    .occurrence = marks_of(res, m[i].label) > 1 ? m[i].occurrence : 0};
		snprintf(at.label, sizeof(at.label), "%s", m[i].label);
		add(out, n, &at);
	}
	free(m);
}

int cli_moments_resolve(const char *const *specs, int nspecs, const rp_replay_result *res,
			const char *cmd, rp_at *out, int *n)
{
	*n = 0;
	if (!nspecs) {
		per_model(res, RP_AT_PEAK, out, n);
		per_model(res, RP_AT_WORST, out, n);
		rp_at last = {.kind = res->has_exit ? RP_AT_EXIT : RP_AT_END};
		add(out, n, &last);
		default_marks(res, out, n);
		return 0;
	}
	for (int i = 0; i < nspecs; i++) {
		const char *s = specs[i];
		rp_at at;
		parse_spec(s, &at); /* well formed: cli_moments_check said so */
		if (at.kind == RP_AT_PEAK || at.kind == RP_AT_WORST) {
			per_model(res, at.kind, out, n);
			continue;
		}
		if (at.kind == RP_AT_EXIT && !res->has_exit) {
			cli_error("%s: --at exit: the trace did not record the interpreter's "
				  "exit (not a CPython process, or one that did not finalise)",
				  cmd);
			return -1;
		} else if (at.kind == RP_AT_TIME && at.time_ns > res->facts.span_ns) {
			cli_error("%s: --at %s: past the trace's end at %.3f s", cmd, s,
				  (double)res->facts.span_ns / 1e9);
			return -1;
		} else if (at.kind == RP_AT_MARK) {
			uint64_t have = marks_of(res, at.label);
			if (!have) {
				cli_error("%s: --at '%s': the trace has no mark of that label", cmd,
					  at.label);
				return -1;
			}
			if (at.occurrence > have) {
				cli_error("%s: --at '%s': the trace has %" PRIu64 " mark%s of that label",
					  cmd, s, have, have == 1 ? "" : "s");
				return -1;
			}
		}
		if (!add(out, n, &at)) {
			cli_error("%s: at most %d moments", cmd, RP_MOMENTS_MAX);
			return -1;
		}
	}
	return 0;
}

int cli_moments_online(const char *const *specs, int nspecs, rp_at *out, int *n,
		       uint32_t *marks_stop)
{
	*n = 0;
	*marks_stop = nspecs ? 0 : CLI_MARKS_ALL;
	if (!nspecs) { /* every mark while there are at most CLI_MARKS_ALL */
		const rp_at d[] = {{.kind = RP_AT_PEAK, .model = -1, .follow = true},
				   {.kind = RP_AT_WORST, .model = -1, .follow = true},
				   {.kind = RP_AT_EXIT},
				   {.kind = RP_AT_END, .unless_exit = true},
				   {.kind = RP_AT_MARK, .any_mark = true}};
		for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
			add(out, n, &d[i]);
		return 0;
	}
	for (int i = 0; i < nspecs; i++) {
		rp_at at;
		if (!parse_spec(specs[i], &at) || !add(out, n, &at))
			return -1;
	}
	return 0;
}

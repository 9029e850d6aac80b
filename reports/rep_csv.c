/*
 * rep_csv.c - the CSV sink: timeline.csv, sizeclasses.csv, arenas.csv,
 * callsites.csv and stacks.csv (the frames of its stacks, each distinct
 * path of frames once: rep_paths.h), moments.csv (when moments were
 * analysed), gc.csv (when
 * the trace has GC passes), compare.csv (when several models ran) and
 * system.csv (replay --system).  RFC 4180:
 * a header line, comma-separated fields, CRLF line ends, fields quoted
 * when they must be; every row has its header's number of fields.
 * Columns: reports/README.md.  Stacks are shown as rep_view.h says; a
 * result without Python frames writes what it always has.
 */
#include "rep.h"
#include "rep_paths.h"
#include "rep_view.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_LINES 16 /* lines of a stack's frames joined into one field */
#define USE_FULL 255.0 /* an arena's use (rp_arena.peak_use) of its whole size */

static void eol(FILE *f)
{
	fputs("\r\n", f);
}

static void field(FILE *f, const char *s)
{
	rep_csv_field(f, s, strlen(s));
}

static void model_field(FILE *f, const rp_model_result *m)
{
	char buf[48];
	field(f, rp_model_label(m, buf, sizeof(buf)));
}

/* A stack's frames as one field, " < " between them, leaf first. */
typedef struct joined {
	char buf[4096]; /* the field is cut there */
	size_t len;
} joined;

static void join_frame(void *ctx, const char *line)
{
	joined *j = ctx;
	int n = snprintf(j->buf + j->len, sizeof(j->buf) - j->len, "%s%s", j->len ? " < " : "",
			 line);
	if (n > 0)
		j->len += (size_t)n < sizeof(j->buf) - j->len ? (size_t)n : sizeof(j->buf) - 1 - j->len;
}

static void frames_field(FILE *f, const rep_input *in, uint64_t stack)
{
	joined j = {.len = 0};
	j.buf[0] = 0;
	rep_stack_frames(in, stack, FRAME_LINES, join_frame, &j);
	rep_csv_field(f, j.buf, j.len);
}

/* The labels of the model's moments after point p-1's time and up to
 * point p's, "; " between them (the last point takes the rest). */
static void moments_field(FILE *f, const rp_model_result *m, uint32_t p)
{
	const rp_series *s = m->series;
	char buf[1024];
	size_t len = 0;
	buf[0] = 0;
	for (int k = 0; k < m->nmoments; k++) {
		const uint64_t t = m->moments[k].time_ns;
		if ((p && t <= s->time[p - 1]) || (p + 1 < s->n && t > s->time[p]))
			continue;
		int n = snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "; " : "",
				 m->moments[k].label);
		if (n > 0)
			len += (size_t)n < sizeof(buf) - len ? (size_t)n : sizeof(buf) - 1 - len;
	}
	rep_csv_field(f, buf, len);
}

static void timeline(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("model,point,time_ns", f);
	for (int k = 0; k < RP_NSERIES; k++)
		fprintf(f, ",%s", rp_series_names[k]);
	fputs(",moments", f);
	eol(f);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_series *s = res->models[i].series;
		for (uint32_t p = 0; s && p < s->n; p++) {
			model_field(f, &res->models[i]);
			fprintf(f, ",%" PRIu32 ",%" PRIu64, p, s->time[p]);
			for (int k = 0; k < RP_NSERIES; k++)
				fprintf(f, ",%" PRIu64, s->v[k][p]);
			fputc(',', f);
			moments_field(f, &res->models[i], p);
			eol(f);
		}
	}
}

/* Every model's moments: one row each, every figure after its request;
 * the first pinning stack and, at exit and end, the first leak. */
static void moments(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("model,kind,label,request,time_ns,held_bytes,live_bytes,requested,internal,"
	      "free_blocks,empty_pools,empty_arenas,large,arenas_held,arenas_under_25,"
	      "arenas_under_50,arenas_under_75,arenas_over_75,arenas_low,top_pinning_stack,"
	      "top_pinning_frames,leaks_blocks,leaks_bytes,top_leak_stack,top_leak_frames,"
	      "top_leak_blocks,top_leak_bytes",
	      f);
	eol(f);
	for (int i = 0; i < res->nmodels; i++)
		for (int k = 0; k < res->models[i].nmoments; k++) {
			const rp_moment *mo = &res->models[i].moments[k];
			const rp_waste *w = &mo->waste;
			const uint64_t *u = mo->arenas_by_use;
			model_field(f, &res->models[i]);
			fprintf(f, ",%s,", rp_moment_kind(mo->kind));
			field(f, mo->label);
			fprintf(f,
				",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
				",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
				",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",",
				mo->request, mo->time_ns, mo->held, mo->live, w->requested, w->internal,
				w->free_blocks, w->empty_pools, w->empty_arenas, w->large, mo->arenas_held,
				u[0], u[1], u[2], u[3], mo->pinning.arenas_low);
			rep_pin_row pins[RP_PIN_STACKS];
			if (mo->pinning.nstacks) { /* the first row of its pinning table */
				const uint64_t top = rep_view_python(in)
							 ? (rep_view_pins(in, &mo->pinning, pins), pins[0].pin.stack)
							 : mo->pinning.stacks[0].stack;
				fprintf(f, "%" PRIu64 ",", top);
				frames_field(f, in, top);
			} else {
				fputc(',', f);
			}
			const bool leaks = rp_moment_has_leaks(mo->kind);
			if (leaks)
				fprintf(f, ",%" PRIu64 ",%" PRIu64 ",", mo->leak_blocks, mo->leak_bytes);
			else
				fputs(",,,", f);
			rep_leak_row lrows[RP_LEAK_STACKS];
			if (leaks && mo->nleaks) {
				const rp_leak *l = rep_view_python(in)
						       ? (rep_view_leaks(in, mo, lrows), &lrows[0].leak)
						       : &mo->leaks[0];
				fprintf(f, "%" PRIu64 ",", l->stack);
				frames_field(f, in, l->stack);
				fprintf(f, ",%" PRIu64 ",%" PRIu64, l->blocks, l->bytes);
			} else {
				fputs(",,,", f);
			}
			eol(f);
		}
}

static void sizeclasses(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("model,class,block_size,pools_end,blocks_end,free_blocks_end,use_end,"
	      "pools_peak,blocks_peak,free_blocks_peak",
	      f);
	eol(f);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_classes *e = &res->models[i].classes_end, *p = &res->models[i].classes_peak;
		for (uint32_t c = 0; c < e->n; c++) {
			uint64_t cap = e->blocks[c] + e->avail[c];
			model_field(f, &res->models[i]);
			fprintf(f,
				",%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%" PRIu64
				",%" PRIu64 ",%" PRIu64,
				c, (uint64_t)(c + 1) * e->align, e->pools[c], e->blocks[c], e->avail[c],
				cap ? (double)e->blocks[c] / (double)cap : 0.0,
				c < p->n ? p->pools[c] : 0, c < p->n ? p->blocks[c] : 0,
				c < p->n ? p->avail[c] : 0);
			eol(f);
		}
	}
}

static void arenas(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("model,id,base,allocated_ns,released_ns,peak_use,live_blocks_end,live_bytes_end,"
	      "top_stack,top_stack_bytes,top_stack_frames",
	      f);
	eol(f);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_arenas *A = res->models[i].arenas;
		for (uint32_t k = 0; A && k < A->n; k++) {
			const rp_arena *a = &A->a[k];
			model_field(f, &res->models[i]);
			fprintf(f, ",%" PRIu64 ",0x%" PRIx64 ",%" PRIu64 ",", a->id, a->base,
				a->allocated_ns);
			if (a->released)
				fprintf(f, "%" PRIu64, a->released_ns);
			fprintf(f, ",%.3f,%" PRIu64 ",%" PRIu64 ",", a->peak_use / USE_FULL,
				a->live_blocks_end, a->live_bytes_end);
			if (a->top_stack_bytes)
				fprintf(f, "%" PRIu64 ",%" PRIu64 ",", a->top_stack, a->top_stack_bytes);
			else
				fputs(",,", f);
			if (a->top_stack_bytes)
				frames_field(f, in, a->top_stack);
			eol(f);
		}
	}
}

/* Where the innermost Python frame of a stack is, and its innermost
 * frame in the program's own files: two fields, empty when there is none. */
static void python_fields(FILE *f, const rep_input *in, uint64_t stack)
{
	rep_pyframe pf;
	fputc(',', f);
	if (rep_view_pyframes(in, stack, NULL, &pf, 1))
		field(f, rep_origin_name(pf.origin));
	fputc(',', f);
	char text[REP_FRAME_MAX];
	if (rep_view_program_frame(in, stack, text, sizeof(text)))
		field(f, text);
}

/* A stack's frame lines, leaf first (at most FRAME_LINES, each cut at
 * REP_FRAME_MAX bytes). */
typedef struct lines {
	char text[FRAME_LINES][REP_FRAME_MAX];
	size_t len[FRAME_LINES];
	int n;
} lines;

static void keep_line(void *ctx, const char *line)
{
	lines *l = ctx;
	if (l->n == FRAME_LINES)
		return;
	size_t n = strlen(line);
	n = n < REP_FRAME_MAX - 1 ? n : REP_FRAME_MAX - 1;
	memcpy(l->text[l->n], line, n);
	l->text[l->n][n] = 0;
	l->len[l->n++] = n;
}

/* One row a call site; with Python frames shown, one row per group of
 * call sites (python mode: the same Python frames) and three columns more:
 * how many call sites the row sums, and python_fields.  Its frames are the
 * path `path` of stacks.csv (paths: added to), and its innermost one. */
static void callsites(FILE *f, const rep_input *in, rep_paths *paths)
{
	const bool py = rep_view_python(in);
	fputs("stack,path,frame,allocations,bytes,live_peak_bytes,live_end_bytes,live_end_blocks,"
	      "arenas_pinned",
	      f);
	if (py)
		fputs(",stacks,python_origin,program_frame", f);
	eol(f);
	rep_site_row *rows;
	uint64_t n;
	lines *l = malloc(sizeof(*l));
	if (!l || rep_view_sites(in, &rows, &n) < 0) {
		free(l);
		return; /* out of memory: the header alone */
	}
	for (uint64_t k = 0; k < n; k++) {
		const rp_callsite *c = &rows[k].c;
		l->n = 0;
		rep_stack_frames(in, c->stack, FRAME_LINES, keep_line, l);
		uint32_t id = 0; /* the outermost line first */
		for (int i = l->n - 1; i >= 0 && paths; i--)
			if (!(id = rep_paths_add(paths, id, l->text[i], l->len[i])))
				break; /* out of memory: no path */
		fprintf(f, "%" PRIu64 ",%" PRIu32 ",", c->stack, id);
		if (l->n)
			rep_csv_field(f, l->text[0], l->len[0]);
		fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
			c->allocs, c->bytes, c->live_peak, c->live_end, c->blocks_end, c->arenas);
		if (py) {
			fprintf(f, ",%" PRIu64, rows[k].nstacks);
			python_fields(f, in, c->stack);
		}
		eol(f);
	}
	free(rows);
	free(l);
}

static void discard_line(void *ctx, const char *line)
{
	(void)ctx, (void)line;
}

int rep_csv_prepare(const rep_input *in, bool (*stop)(void *ctx), void *ctx)
{
	rep_site_row *rows;
	uint64_t n;
	if (rep_view_sites(in, &rows, &n) < 0)
		return REP_E_NOMEM;
	for (uint64_t k = 0; k < n && !(stop && stop(ctx)); k++)
		rep_stack_frames(in, rows[k].c.stack, FRAME_LINES, discard_line, NULL);
	free(rows);
	return REP_OK;
}

/* The paths of callsites.csv: a row a frame line, its parent the line
 * that called it (0: the outermost). */
static void stacks(FILE *f, const rep_paths *paths)
{
	fputs("id,parent,frame", f);
	eol(f);
	const uint32_t n = paths ? rep_paths_count(paths) : 0;
	for (uint32_t id = 1; id <= n; id++) {
		size_t len;
		const char *line = rep_paths_line(paths, id, &len);
		fprintf(f, "%" PRIu32 ",%" PRIu32 ",", id, rep_paths_parent(paths, id));
		rep_csv_field(f, line, len);
		eol(f);
	}
}

static void gc(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("pass,generation,start_ns,stop_ns,collected,uncollectable,freed_blocks,freed_bytes,"
	      "arenas_released",
	      f);
	eol(f);
	for (uint32_t k = 0; k < res->npasses; k++) {
		const rp_gc_pass *p = &res->passes[k];
		fprintf(f,
			"%" PRIu32 ",%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64,
			k + 1, p->generation, p->start, p->stop, p->collected, p->uncollectable,
			p->freed.objects, p->freed.bytes, p->arenas_released);
		eol(f);
	}
}

static void compare(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	fputs("metric", f);
	for (int i = 0; i < res->nmodels; i++) {
		fputc(',', f);
		model_field(f, &res->models[i]);
	}
	eol(f);
#define ROW(key, label, kind, value)                                          \
	fputs(#key, f);                                                       \
	for (int i = 0; i < res->nmodels; i++) {                              \
		const rp_model_result *m = &res->models[i];                   \
		if ((kind) == 'f')                                            \
			fprintf(f, ",%.4f", (double)(value));                 \
		else                                                          \
			fprintf(f, ",%" PRIu64, (uint64_t)(value));           \
	}                                                                     \
	eol(f);
	RP_MODEL_METRICS(ROW)
#undef ROW
}

/* --system: the real allocator's figures, one row. */
static void system_csv(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	const rp_system *y = &res->system;
	fputs("allocator,ops,ns_per_op,heap_peak_bytes,heap_end_bytes,live_peak_bytes,"
	      "live_end_bytes,rss_start_bytes,rss_peak_bytes,rss_end_bytes,trace_threads",
	      f);
	eol(f);
	field(f, y->allocator);
	fprintf(f,
		",%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		y->ops, y->ns_per_op, y->heap_peak, y->heap_end, res->peak_live, res->live_end,
		y->rss_start, y->rss_peak, y->rss_end, y->threads);
	eol(f);
}

static int write_one(rep_out *out, const char *name, const rep_input *in,
		     void (*body)(FILE *, const rep_input *))
{
	FILE *f = rep_open(out, name);
	if (!f)
		return REP_E_IO;
	body(f, in);
	return rep_close(out, f, name);
}

static const char *const csv_files[] = {"timeline.csv", "sizeclasses.csv", "arenas.csv",
					"callsites.csv", "stacks.csv",	    "moments.csv",
					"gc.csv",	 "compare.csv",	    "system.csv",
					NULL};

/* callsites.csv, then stacks.csv with the paths it named. */
static int sites_and_stacks(rep_out *out, const rep_input *in)
{
	rep_paths *paths = rep_paths_new(); /* out of memory: no paths, rows still */
	FILE *f = rep_open(out, "callsites.csv");
	int rc = REP_E_IO;
	if (f) {
		callsites(f, in, paths);
		rc = rep_close(out, f, "callsites.csv");
	}
	if (rc == REP_OK && (f = rep_open(out, "stacks.csv"))) {
		stacks(f, paths);
		rc = rep_close(out, f, "stacks.csv");
	} else if (rc == REP_OK) {
		rc = REP_E_IO;
	}
	rep_paths_free(paths);
	return rc;
}

/* The files, in csv_files' order; gc.csv, compare.csv and system.csv only
 * when they have something to say (rep_dir removes an earlier report's). */
static int csv_write(const rep_input *in, rep_out *out)
{
	const rp_replay_result *res = in->res;
	const bool has_gc = res->gc_passes[0] + res->gc_passes[1] + res->gc_passes[2] > 0;
	bool has_moments = false;
	for (int i = 0; i < res->nmodels; i++)
		has_moments |= res->models[i].nmoments > 0;
	const struct {
		void (*body)(FILE *, const rep_input *);
		bool want;
	} files[] = {
	    {timeline, true},  {sizeclasses, true},	      {arenas, true},
	    {NULL, true},      {NULL, false},		      {moments, has_moments},
	    {gc, has_gc},      {compare, res->nmodels > 1}, {system_csv, res->has_system},
	};
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		if (!files[k].want)
			continue;
		int rc = files[k].body ? write_one(out, csv_files[k], in, files[k].body)
				       : sites_and_stacks(out, in);
		if (rc < 0)
			return rc;
	}
	return REP_OK;
}

const rep_sink rep_csv_sink = {"csv", csv_files, csv_write};

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

/* Text kept one string after another (offsets stay valid as it grows). */
typedef struct pool {
	char *p;
	size_t used, cap;
} pool;

#define NONE SIZE_MAX /* no text */

/* Appends s (len bytes); its offset, or NONE out of memory. */
static size_t pool_add(pool *t, const char *s, size_t len)
{
	if (t->used + len > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		while (cap < t->used + len)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q)
			return NONE;
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->used, s, len);
	t->used += len;
	return t->used - len;
}

/* What a row of callsites.csv shows of its stack: its path in stacks.csv,
 * its innermost frame line and, with Python frames shown, where the
 * innermost Python frame is and the innermost frame in the program's own
 * files; texts in a pool, NONE when there is none. */
typedef struct row_text {
	uint64_t stack;
	uint32_t path;
	int origin; /* rep_origin of the innermost Python frame; -1: no Python frame */
	size_t frame, frame_len, prog, prog_len;
} row_text;

/* The row_text of stack, its texts into t, its lines added to paths
 * (NULL: no path).  false out of memory in the pool. */
static bool row_text_of(const rep_input *in, uint64_t stack, bool py, rep_paths *paths, lines *l,
			pool *t, row_text *out)
{
	*out = (row_text){.stack = stack, .origin = -1, .frame = NONE, .prog = NONE};
	l->n = 0;
	rep_stack_frames(in, stack, FRAME_LINES, keep_line, l);
	uint32_t id = 0; /* the outermost line first */
	for (int i = l->n - 1; i >= 0 && paths; i--)
		if (!(id = rep_paths_add(paths, id, l->text[i], l->len[i])))
			break; /* out of memory: no path */
	out->path = id;
	if (l->n && (out->frame = pool_add(t, l->text[0], l->len[0])) == NONE)
		return false;
	out->frame_len = l->n ? l->len[0] : 0;
	if (!py)
		return true;
	rep_pyframe pf;
	if (rep_view_pyframes(in, stack, NULL, &pf, 1))
		out->origin = (int)pf.origin;
	char text[REP_FRAME_MAX];
	if (rep_view_program_frame(in, stack, text, sizeof(text))) {
		out->prog_len = strlen(text);
		if ((out->prog = pool_add(t, text, out->prog_len)) == NONE)
			return false;
	}
	return true;
}

/* One row of callsites.csv: r's figures and its stack's texts (t, in
 * p); with Python frames, the call sites it sums and where its Python
 * frames are: two fields, empty when there is none. */
static void site_row(FILE *f, const rep_site_row *r, bool py, const row_text *t, const char *p)
{
	const rp_callsite *c = &r->c;
	fprintf(f, "%" PRIu64 ",%" PRIu32 ",", c->stack, t->path);
	if (t->frame != NONE)
		rep_csv_field(f, p + t->frame, t->frame_len);
	fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		c->allocs, c->bytes, c->live_peak, c->live_end, c->blocks_end, c->arenas);
	if (py) {
		fprintf(f, ",%" PRIu64 ",", r->nstacks);
		if (t->origin >= 0)
			field(f, rep_origin_name((rep_origin)t->origin));
		fputc(',', f);
		if (t->prog != NONE)
			rep_csv_field(f, p + t->prog, t->prog_len);
	}
	eol(f);
}

/* The rows' texts worked out ahead (rep_csv_prepare): the first n rows',
 * in order, and the paths of their stacks, added in that order. */
struct rep_prepared {
	rep_paths *paths;
	row_text *rows;
	uint64_t n;
	pool text;
};

void rep_prepared_free(rep_prepared *pp)
{
	if (!pp)
		return;
	rep_paths_free(pp->paths);
	free(pp->rows);
	free(pp->text.p);
	free(pp);
}

int rep_csv_prepare(const rep_input *in, bool (*stop)(void *ctx), void *ctx, rep_prepared **out)
{
	*out = NULL;
	rep_site_row *rows;
	uint64_t n;
	if (rep_view_sites(in, &rows, &n) < 0)
		return REP_E_NOMEM;
	rep_prepared *pp = calloc(1, sizeof(*pp));
	lines *l = malloc(sizeof(*l));
	if (!pp || !l || !(pp->paths = rep_paths_new()) ||
	    (n && !(pp->rows = malloc((size_t)n * sizeof(*pp->rows))))) {
		free(rows), free(l);
		rep_prepared_free(pp);
		return REP_E_NOMEM;
	}
	const bool py = rep_view_python(in);
	while (pp->n < n && !(stop && stop(ctx)) &&
	       row_text_of(in, rows[pp->n].c.stack, py, pp->paths, l, &pp->text, &pp->rows[pp->n]))
		pp->n++;
	free(rows), free(l);
	*out = pp;
	return REP_OK;
}

/* One row a call site; with Python frames shown, one row per group of
 * call sites (python mode: the same Python frames) and three columns more:
 * how many call sites the row sums, and where its Python frames are.  Its
 * frames are the path `path` of stacks.csv (paths: added to), and its
 * innermost one.  The first pp_rows rows are in->prepared's. */
static void callsites(FILE *f, const rep_input *in, const rep_site_row *rows, uint64_t n,
		      rep_paths *paths, uint64_t pp_rows)
{
	const bool py = rep_view_python(in);
	fputs("stack,path,frame,allocations,bytes,live_peak_bytes,live_end_bytes,live_end_blocks,"
	      "arenas_pinned",
	      f);
	if (py)
		fputs(",stacks,python_origin,program_frame", f);
	eol(f);
	for (uint64_t k = 0; k < pp_rows; k++)
		site_row(f, &rows[k], py, &in->prepared->rows[k], in->prepared->text.p);
	lines *l = malloc(sizeof(*l));
	pool t = {0};
	row_text rt;
	for (uint64_t k = pp_rows; k < n && l; k++) {
		t.used = 0;
		if (!row_text_of(in, rows[k].c.stack, py, paths, l, &t, &rt))
			break; /* out of memory: the rows so far */
		site_row(f, &rows[k], py, &rt, t.p);
	}
	free(t.p);
	free(l);
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
/* How many of in->prepared's rows are the first of rows (the same stacks
 * in the same order): all of its, or 0. */
static uint64_t prepared_rows(const rep_input *in, const rep_site_row *rows, uint64_t n)
{
	const rep_prepared *pp = in->prepared;
	if (!pp || pp->n > n)
		return 0;
	for (uint64_t k = 0; k < pp->n; k++)
		if (pp->rows[k].stack != rows[k].c.stack)
			return 0;
	return pp->n;
}

static int sites_and_stacks(rep_out *out, const rep_input *in)
{
	rep_site_row *rows = NULL;
	uint64_t n = 0;
	if (rep_view_sites(in, &rows, &n) < 0)
		n = 0; /* out of memory: the header alone */
	/* the prepared rows' paths, the other rows' added after theirs as a
	 * pass over every row would have */
	const uint64_t pp_rows = prepared_rows(in, rows, n);
	rep_paths *own = pp_rows ? NULL : rep_paths_new(); /* out of memory: no paths, rows still */
	rep_paths *paths = pp_rows ? in->prepared->paths : own;
	FILE *f = rep_open(out, "callsites.csv");
	int rc = REP_E_IO;
	if (f) {
		callsites(f, in, rows, n, paths, pp_rows);
		rc = rep_close(out, f, "callsites.csv");
	}
	free(rows);
	if (rc == REP_OK && (f = rep_open(out, "stacks.csv"))) {
		stacks(f, paths);
		rc = rep_close(out, f, "stacks.csv");
	} else if (rc == REP_OK) {
		rc = REP_E_IO;
	}
	rep_paths_free(own);
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

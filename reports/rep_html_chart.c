/*
 * rep_html_chart.c - the SVG charts of report.html, drawn here as text:
 * held memory by layer over time, arena lifelines, size classes, and the
 * models side by side.
 *
 * A chart is one <svg> with a viewBox of its own size; its plot area is
 * an `axes`, its labels in the margins around it.  In the charts over
 * time x runs from the trace's start to its span (or, for a trace without
 * times, over the series points); y, where it is a value, runs up from 0
 * to the largest value drawn, so every value falls inside the plot area.
 * The size is bounded whatever the trace: a series has at most
 * RP_SERIES_MAX points, the lifelines at most HTML_LIFELINE_ROWS rows of
 * at most RP_ARENA_TICKS cells (runs of one shade merged), GC marks at
 * most one per pixel column.  Colours are fixed, so the legends match the
 * charts.
 */
#include "rep_html_internal.h"

#include <inttypes.h>
#include <string.h>
#include <math.h>

/* Geometry, in px (the units of each chart's viewBox). */
#define CHART_W 900          /* a chart across the page */
#define HALF_W (CHART_W / 2) /* a size-class chart: two side by side */
#define PLOT_LEFT 70         /* left of the plot area: room for the value labels */
#define PLOT_RIGHT 20        /* right of it: room for the last time label */
#define PLOT_TOP 10          /* above it: room for the top value label */
#define TIME_PLOT_H 220      /* plot height of the charts over time */
#define MEMORY_H 270         /* the memory chart: plot, time labels, GC marks */
#define COMPARE_H 260        /* the comparison chart: plot and time labels */
#define CLASSES_PLOT_H 160   /* plot height of a size-class chart */
#define CLASSES_H 200        /* a size-class chart: plot and its axis caption */
#define VALUE_LABEL_GAP 4    /* from the y axis to its labels' right end */
#define VALUE_LABEL_SHIFT 4  /* a value label's baseline below its grid line */
#define TIME_LABEL_DROP 14   /* the time labels' baseline below the x axis */
#define GC_MARK_DROP 18      /* the memory chart's GC marks: below the x axis */
#define GC_MARK_H 6          /* and their length */
#define VALUE_TICKS 4        /* intervals of the value axis (5 labels) */
#define TIME_TICKS 5         /* intervals of the time axis (6 labels) */
#define BAR_GAP 1            /* between two size classes' bars */
#define MIN_W 0.5            /* a bar or lifeline never thinner, to stay visible */

/* Lifelines: a row per arena; many rows are drawn thinner, and only some
 * labelled. */
#define ROW_H 9
#define ROW_GAP 2
#define DENSE_ROWS 60 /* more rows than this: thinner ones */
#define DENSE_ROW_H 5
#define DENSE_ROW_GAP 1
#define LIFELINE_BOTTOM 30 /* below the rows: the time labels */
#define LABEL_ALL_ROWS 40  /* up to this many rows each has its id, beyond */
#define LABEL_EVERY 10     /* every tenth */
#define RELEASE_OVERHANG 1 /* a release tick passes its row by this, above and below */
#define NSHADES 8          /* shades of use, empty to full */

/* The layers' names and colours, bottom up. */
const char *const html_layer_name[NLAYERS] = {
    "requested",   "internal waste",	 "free blocks in used pools",
    "empty pools", "empty arenas kept", "large objects"};
static const char *const layer_colour[NLAYERS] = {"#3b6fb6", "#8fb3e0", "#f2b134",
						  "#e07b39", "#c0392b", "#7f8c8d"};

static void layers_at(const rp_series *s, uint32_t p, uint64_t out[NLAYERS])
{
	const uint64_t req = s->v[RP_S_POOL_LIVE][p], blocks = s->v[RP_S_BLOCKS][p];
	const uint64_t pools = s->v[RP_S_POOLS][p], arenas = s->v[RP_S_ARENA_BYTES][p];
	const uint64_t empty = s->v[RP_S_EMPTY_ARENAS][p];
	out[L_REQ] = req;
	out[L_INTERNAL] = html_sub0(blocks, req);
	out[L_FREE] = html_sub0(pools, blocks);
	out[L_EMPTY_POOLS] = html_sub0(arenas, pools + empty);
	out[L_EMPTY_ARENAS] = empty;
	out[L_LARGE] = s->v[RP_S_LARGE][p];
}

typedef struct axes {
	double x0, y0, w, h;    /* plot area */
	uint64_t tmax, vmax;
	bool by_index;          /* the trace has no times: x is the series point */
} axes;

/* Where point p of a series goes across. */
static uint64_t point_x(const axes *a, const rp_series *s, uint32_t p)
{
	return a->by_index ? p : s->time[p];
}

/* Series without times (every time 0) are drawn by point. */
static void by_index_if_timeless(axes *a, uint32_t points)
{
	if (!a->tmax && points > 1) {
		a->by_index = true;
		a->tmax = points - 1;
	}
}

static double ax_x(const axes *a, uint64_t t)
{
	return a->x0 + (a->tmax ? a->w * (double)t / (double)a->tmax : 0);
}

static double ax_y(const axes *a, uint64_t v)
{
	return a->y0 + a->h - (a->vmax ? a->h * (double)v / (double)a->vmax : 0);
}

/* Axes with a few labelled ticks: bytes up, seconds across. */
static void draw_axes(FILE *f, const axes *a, bool bytes)
{
	char buf[32];
	fprintf(f, "<g class=\"axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", a->x0,
		a->y0 + a->h, a->x0 + a->w, a->y0 + a->h);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", a->x0, a->y0, a->x0,
		a->y0 + a->h);
	for (int k = 0; k <= VALUE_TICKS && bytes; k++) {
		uint64_t v = a->vmax / VALUE_TICKS * (uint64_t)k;
		double y = ax_y(a, v);
		fprintf(f,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
			a->x0, y, a->x0 + a->w, y, a->x0 - VALUE_LABEL_GAP, y + VALUE_LABEL_SHIFT,
			html_bytes_str(buf, sizeof(buf), v));
	}
	/* time ticks where there is time: not on the size classes' axis, nor
	 * for a trace of one instant (they would all be "0.000 s", piled up) */
	for (int k = 0; k <= TIME_TICKS && !a->by_index && a->tmax; k++) {
		uint64_t t = a->tmax / TIME_TICKS * (uint64_t)k;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
			ax_x(a, t), a->y0 + a->h + TIME_LABEL_DROP, html_secs_str(buf, sizeof(buf), t));
	}
	if (a->by_index)
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">requests, in order (the "
			"trace has no times)</text>",
			a->x0 + a->w / 2, a->y0 + a->h + TIME_LABEL_DROP);
	fputs("</g>", f);
}

/* GC passes as marks under the time axis (one per pixel column at most). */
static void gc_marks(FILE *f, const rp_replay_result *res, const axes *a, double y, double h)
{
	if (!res->npasses)
		return;
	fputs("<g class=\"gc\"><title>GC passes</title>", f);
	int last = -1;
	for (uint32_t k = 0; k < res->npasses; k++) {
		double x = ax_x(a, res->passes[k].start);
		if ((int)x == last)
			continue;
		last = (int)x;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y, x, y + h);
	}
	fputs("</g>", f);
}

/* The model's analysed moments on the chart: a line at each, a link to
 * its section (#moment-K) with its label as the title.  Not for a series
 * drawn by point (no times to place them by). */
static void moment_marks(FILE *f, const rp_model_result *m, const axes *a)
{
	if (a->by_index || !m->nmoments)
		return;
	fputs("<g class=\"moments\">", f);
	for (int k = 0; k < m->nmoments; k++) {
		const rp_moment *mo = &m->moments[k];
		double x = ax_x(a, mo->time_ns);
		fprintf(f, "<a href=\"#moment-%d\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			   "y2=\"%.1f\"/><title>",
			k, x, a->y0, x, a->y0 + a->h);
		rep_html_text(f, mo->label, strlen(mo->label));
		fputs("</title></a>", f);
	}
	fputs("</g>", f);
}

static void legend(FILE *f, const char *const *names, const char *const *colours, int n)
{
	fputs("<ul class=\"legend\">", f);
	for (int k = 0; k < n; k++)
		fprintf(f, "<li><span style=\"background:%s\"></span>%s</li>", colours[k], names[k]);
	fputs("</ul>", f);
}

/* Held memory by layer over time, stacked. */
void html_memory_chart(FILE *f, const rp_replay_result *res, const rp_model_result *m)
{
	const rp_series *s = m->series;
	if (!s || !s->n) {
		fputs("<p>No requests were replayed.</p>", f);
		return;
	}
	axes a = {PLOT_LEFT, PLOT_TOP, CHART_W - PLOT_LEFT - PLOT_RIGHT, TIME_PLOT_H,
		  res->facts.span_ns, 1, false};
	for (uint32_t p = 0; p < s->n; p++) {
		uint64_t l[NLAYERS], sum = 0;
		layers_at(s, p, l);
		for (int k = 0; k < NLAYERS; k++)
			sum += l[k];
		if (sum > a.vmax)
			a.vmax = sum;
		if (s->time[p] > a.tmax)
			a.tmax = s->time[p];
	}
	by_index_if_timeless(&a, s->n);
	fprintf(f,
		"<svg class=\"chart\" id=\"memory-chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"memory by layer over time\">",
		CHART_W, MEMORY_H, CHART_W, MEMORY_H);
	draw_axes(f, &a, true);
	/* cumulative layers from the top one down, each painted over the last */
	for (int top = NLAYERS - 1; top >= 0; top--) {
		fprintf(f, "<path fill=\"%s\" d=\"M%.1f %.1f", layer_colour[top], ax_x(&a, point_x(&a, s, 0)),
			a.y0 + a.h);
		for (uint32_t p = 0; p < s->n; p++) {
			uint64_t l[NLAYERS], sum = 0;
			layers_at(s, p, l);
			for (int k = 0; k <= top; k++)
				sum += l[k];
			fprintf(f, "L%.1f %.1f", ax_x(&a, point_x(&a, s, p)), ax_y(&a, sum));
		}
		fprintf(f, "L%.1f %.1fZ\"><title>%s</title></path>", ax_x(&a, point_x(&a, s, s->n - 1)),
			a.y0 + a.h, html_layer_name[top]);
	}
	gc_marks(f, res, &a, a.y0 + a.h + GC_MARK_DROP, GC_MARK_H);
	moment_marks(f, m, &a);
	fputs("</svg>", f);
	legend(f, html_layer_name, layer_colour, NLAYERS);
}

/* The shades of use, light to dark. */
static const char *const shade[NSHADES] = {"#f1f5fb", "#d6e2f3", "#b3c9e8", "#8eaedb",
				     "#6a93cd", "#4977bd", "#2e5c9f", "#1b3f73"};

/* 0 for an empty arena, 1..NSHADES - 1 for the rest: HTML_USE_FULL is
 * the darkest. */
static int shade_of(uint8_t use)
{
	return use ? 1 + (use - 1) * (NSHADES - 1) / HTML_USE_FULL : 0;
}

/* The arenas drawn: all held at the end (up to the limit), then released
 * ones spread evenly over the rest; in id order. */
static uint32_t pick_rows(const rp_arenas *A, uint32_t *rows)
{
	uint32_t n = 0, held = 0;
	for (uint32_t k = 0; k < A->n; k++)
		held += !A->a[k].released;
	uint32_t room_released = held < HTML_LIFELINE_ROWS ? HTML_LIFELINE_ROWS - held : 0;
	uint32_t released = A->n - held, every = 1;
	if (room_released && released > room_released)
		every = (released + room_released - 1) / room_released;
	uint32_t seen = 0;
	for (uint32_t k = 0; k < A->n && n < HTML_LIFELINE_ROWS; k++) {
		if (!A->a[k].released)
			rows[n++] = k;
		else if (room_released && seen++ % every == 0)
			rows[n++] = k;
	}
	return n;
}

static void lifeline_row(FILE *f, const rp_arenas *A, const rp_arena *r, const axes *a, double y,
			 double h, uint64_t end)
{
	char b1[32], b2[32];
	uint64_t stop = r->released ? r->released_ns : end;
	fprintf(f,
		"<g><title>arena %" PRIu64 " at 0x%" PRIx64 ": allocated at %s, %s%s, peak use "
		"%.0f%%</title>",
		r->id, r->base, html_secs_str(b1, sizeof(b1), r->allocated_ns),
		r->released ? "released at " : "held at the end",
		r->released ? html_secs_str(b2, sizeof(b2), r->released_ns) : "",
		HTML_USE_PERCENT(r->peak_use));
	fprintf(f, "<rect class=\"life\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
		ax_x(a, r->allocated_ns), y, fmax(ax_x(a, stop) - ax_x(a, r->allocated_ns), MIN_W),
		h);
	if (r->first_tick != UINT32_MAX) {
		/* cells: tick t covers (tick t-1, tick t], clipped to the lifetime;
		 * runs of one shade become one rect */
		double run_x = -1;
		int run_shade = -1;
		for (uint32_t t = r->first_tick; t <= r->last_tick + 1; t++) {
			int sh = t <= r->last_tick ? shade_of(r->use[t]) : -2;
			uint64_t from = t == r->first_tick ? r->allocated_ns : A->tick_ns[t - 1];
			if (from < r->allocated_ns)
				from = r->allocated_ns;
			double x = ax_x(a, t <= r->last_tick ? from : A->tick_ns[r->last_tick]);
			if (sh == run_shade)
				continue;
			if (run_shade >= 0 && x > run_x)
				fprintf(f,
					"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
					"fill=\"%s\"/>",
					run_x, y, x - run_x, h, shade[run_shade]);
			run_x = x;
			run_shade = sh;
		}
	}
	if (r->released)
		fprintf(f, "<line class=\"release\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			ax_x(a, stop), y - RELEASE_OVERHANG, ax_x(a, stop), y + h + RELEASE_OVERHANG);
	fputs("</g>", f);
}

/* One row per arena from allocation to release, shaded by its use. */
void html_lifelines(FILE *f, const rp_replay_result *res, const rp_model_result *m)
{
	const rp_arenas *A = m->arenas;
	if (!A || !A->n) {
		fputs("<p>The model allocated no arenas.</p>", f);
		return;
	}
	uint32_t rows[HTML_LIFELINE_ROWS];
	uint32_t n = pick_rows(A, rows);
	const double rh = n > DENSE_ROWS ? DENSE_ROW_H : ROW_H;
	const double gap = n > DENSE_ROWS ? DENSE_ROW_GAP : ROW_GAP;
	const double height = PLOT_TOP + n * (rh + gap) + LIFELINE_BOTTOM;
	axes a = {PLOT_LEFT, PLOT_TOP, CHART_W - PLOT_LEFT - PLOT_RIGHT, n * (rh + gap),
		  res->facts.span_ns, 1, false};
	fprintf(f, "<p>%" PRIu32 " of the %" PRIu64 " arenas the model allocated", n,
		m->arenas_total);
	if (n < m->arenas_total)
		fputs(" (every arena held at the end first, then released ones spread over the run)",
		      f);
	fprintf(f,
		". Darker is fuller: the share of the arena in blocks in use, sampled at most %d "
		"times over the run; a black tick marks a release; red lines mark GC passes.</p>",
		RP_ARENA_TICKS);
	fprintf(f,
		"<svg class=\"chart\" id=\"lifeline-chart\" viewBox=\"0 0 %d %.0f\" width=\"%d\" "
		"height=\"%.0f\" role=\"img\" aria-label=\"arena lifelines\">",
		CHART_W, height, CHART_W, height);
	draw_axes(f, &a, false);
	for (uint32_t k = 0; k < n; k++) {
		const rp_arena *r = &A->a[rows[k]];
		double y = a.y0 + k * (rh + gap);
		if (n <= LABEL_ALL_ROWS || k % LABEL_EVERY == 0)
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">#%" PRIu64 "</text>",
				a.x0 - VALUE_LABEL_GAP, y + rh, r->id);
		lifeline_row(f, A, r, &a, y, rh, res->facts.span_ns);
	}
	gc_marks(f, res, &a, a.y0, a.h);
	fputs("</svg>", f);
	static const char *const names[NSHADES] = {"empty", "", "", "", "", "", "", "full"};
	legend(f, names, shade, NSHADES);
}

/* Size classes: bytes in used blocks and in free blocks of used pools. */
void html_classes_chart(FILE *f, const rp_classes *c, const char *id, const char *caption)
{
	uint64_t vmax = 1;
	for (uint32_t k = 0; k < c->n; k++) {
		uint64_t size = (uint64_t)(k + 1) * c->align;
		if ((c->blocks[k] + c->avail[k]) * size > vmax)
			vmax = (c->blocks[k] + c->avail[k]) * size;
	}
	axes a = {PLOT_LEFT, PLOT_TOP, HALF_W - PLOT_LEFT - PLOT_RIGHT, CLASSES_PLOT_H, 0, vmax, false};
	fprintf(f,
		"<figure><svg class=\"chart\" id=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"%s\">",
		id, HALF_W, CLASSES_H, HALF_W, CLASSES_H, caption);
	draw_axes(f, &a, true);
	double bw = c->n ? a.w / c->n : 0;
	for (uint32_t k = 0; k < c->n; k++) {
		uint64_t size = (uint64_t)(k + 1) * c->align;
		uint64_t used = c->blocks[k] * size, all = (c->blocks[k] + c->avail[k]) * size;
		if (!all)
			continue;
		double x = a.x0 + k * bw;
		fprintf(f,
			"<g><title>%" PRIu64 "-byte blocks: %" PRIu64 " in use, %" PRIu64
			" free in %" PRIu64 " pools</title>"
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f2b134\"/>"
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6fb6\"/></g>",
			size, c->blocks[k], c->avail[k], c->pools[k], x, ax_y(&a, all),
			fmax(bw - BAR_GAP, MIN_W), ax_y(&a, 0) - ax_y(&a, all), x, ax_y(&a, used),
			fmax(bw - BAR_GAP, MIN_W), ax_y(&a, 0) - ax_y(&a, used));
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">block size %u to %" PRIu64
		" bytes</text></svg><figcaption>%s</figcaption></figure>",
		a.x0 + a.w / 2, a.y0 + a.h + TIME_LABEL_DROP, c->align, (uint64_t)c->n * c->align,
		caption);
}

/* Held bytes (arenas and large objects) of every model, one line each. */
void html_compare_chart(FILE *f, const rp_replay_result *res)
{
	static const char *const colour[RP_MAX_MODELS] = {
	    "#3b6fb6", "#c0392b", "#27ae60", "#8e44ad", "#f39c12", "#16a085", "#7f8c8d", "#d35400"};
	axes a = {PLOT_LEFT, PLOT_TOP, CHART_W - PLOT_LEFT - PLOT_RIGHT, TIME_PLOT_H,
		  res->facts.span_ns, 1, false};
	for (int i = 0; i < res->nmodels; i++) {
		const rp_series *s = res->models[i].series;
		for (uint32_t p = 0; s && p < s->n; p++) {
			uint64_t held = s->v[RP_S_ARENA_BYTES][p] + s->v[RP_S_LARGE][p];
			if (held > a.vmax)
				a.vmax = held;
			if (s->time[p] > a.tmax)
				a.tmax = s->time[p];
		}
	}
	uint32_t most = 0;
	for (int i = 0; i < res->nmodels; i++)
		if (res->models[i].series && res->models[i].series->n > most)
			most = res->models[i].series->n;
	by_index_if_timeless(&a, most);
	fprintf(f,
		"<svg class=\"chart\" id=\"compare-chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"held bytes per model\">",
		CHART_W, COMPARE_H, CHART_W, COMPARE_H);
	draw_axes(f, &a, true);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_series *s = res->models[i].series;
		if (!s || !s->n)
			continue;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
			colour[i]);
		for (uint32_t p = 0; p < s->n; p++)
			fprintf(f, "%s%.1f,%.1f", p ? " " : "", ax_x(&a, point_x(&a, s, p)),
				ax_y(&a, s->v[RP_S_ARENA_BYTES][p] + s->v[RP_S_LARGE][p]));
		fputs("\"/>", f);
	}
	fputs("</svg><ul class=\"legend\">", f);
	for (int i = 0; i < res->nmodels; i++) {
		fprintf(f, "<li><span style=\"background:%s\"></span>", colour[i]);
		html_model_name(f, &res->models[i]);
		fputs("</li>", f);
	}
	fputs("</ul>", f);
}

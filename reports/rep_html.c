/*
 * rep_html.c - the HTML sink: report.html, one self-contained page (no
 * network: styles, charts and script inline; the charts are SVG drawn by
 * rep_html_chart.c), and its sections.
 * It reads without JavaScript; the script only sorts tables and opens or
 * closes every stack at once.  Every string from the trace (paths, argv,
 * symbols) goes through rep_html_text.
 *
 * Size is bounded whatever the trace: the charts as rep_html_chart.c
 * says, tables at most TABLE_ROWS rows (GC_ROWS for the GC passes).
 *
 * Stacks are shown as rep_view.h says: a result without Python frames as
 * it always was; with them, the Python frames marked by where their files
 * are (and the style for it added), the native frames folded in a
 * <details> of their own in python mode, rows of the same Python frames
 * summed.
 */
#include "rep_html_internal.h"
#include "rep_view.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ARENATRACE_VERSION /* the Makefile defines it */
#define ARENATRACE_VERSION "?"
#endif

#define TABLE_ROWS 100  /* rows of a table at most (the CSV files have them all) */
#define GC_ROWS 200     /* rows of the GC passes' table */
#define FRAMES_SHOWN 24 /* lines of an opened stack */

/* ---- formatting ---- */

const char *html_bytes_str(char *buf, size_t cap, uint64_t b)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	const int last = (int)(sizeof(unit) / sizeof(unit[0])) - 1;
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < last)
		v /= 1024, u++;
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

const char *html_secs_str(char *buf, size_t cap, uint64_t ns)
{
	snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
	return buf;
}

static void text(FILE *f, const char *s)
{
	rep_html_text(f, s, strlen(s));
}

/* A table cell with a number: sorted by its value, shown as bytes. */
static void td_bytes(FILE *f, uint64_t b)
{
	char buf[32];
	fprintf(f, "<td data-v=\"%" PRIu64 "\" title=\"%" PRIu64 " bytes\">%s</td>", b, b,
		html_bytes_str(buf, sizeof(buf), b));
}

static void td_count(FILE *f, uint64_t n)
{
	fprintf(f, "<td data-v=\"%" PRIu64 "\">%" PRIu64 "</td>", n, n);
}

void html_model_name(FILE *f, const rp_model_result *m)
{
	char buf[48];
	text(f, rp_model_label(m, buf, sizeof(buf)));
}

/* ---- stacks ---- */

typedef struct frames_out {
	FILE *f;
	int n;
} frames_out;

static void frame_li(void *ctx, const char *line)
{
	frames_out *o = ctx;
	fputs("<li>", o->f);
	rep_html_text(o->f, line, strnlen(line, REP_FRAME_MAX));
	fputs("</li>", o->f);
	o->n++;
}

static void first_frame(void *ctx, const char *line)
{
	frames_out *o = ctx;
	if (o->n++ == 0)
		rep_html_text(o->f, line, strnlen(line, REP_FRAME_MAX));
}

/* A line of a stack with Python frames shown: the program's own Python
 * frames marked "own", a library's "lib" with a tag naming it. */
static void mark_line(FILE *f, const rep_vline *l)
{
	rep_html_text(f, l->text, strnlen(l->text, REP_FRAME_MAX));
	if (l->origin == REP_ORIGIN_STDLIB || l->origin == REP_ORIGIN_SITE)
		fprintf(f, "<span class=\"tag\">%s</span>", rep_origin_name(l->origin));
}

static const char *line_class(const rep_vline *l)
{
	if (!l->python)
		return "";
	return l->origin == REP_ORIGIN_PROGRAM				      ? " class=\"own\""
	       : l->origin == REP_ORIGIN_STDLIB || l->origin == REP_ORIGIN_SITE ? " class=\"lib\""
										: " class=\"py\"";
}

/* The lines of a stack cell with Python frames: the shown ones in the
 * stack's list, then the folded ones in a list of their own, closed. */
typedef struct view_out {
	FILE *f;
	int n, folded; /* lines written; native frames folded (python mode) */
	bool in_folded;
} view_out;

static void view_li(void *ctx, const rep_vline *l)
{
	view_out *o = ctx;
	if (l->folded && !o->in_folded) {
		fprintf(o->f, "</ol><details class=\"native\"><summary>%d native frame%s</summary><ol>",
			o->folded, o->folded == 1 ? "" : "s");
		o->in_folded = true;
	}
	fprintf(o->f, "<li%s>", line_class(l));
	mark_line(o->f, l);
	fputs("</li>", o->f);
	o->n++;
}

static void view_first(void *ctx, const rep_vline *l)
{
	view_out *o = ctx;
	if (o->n++)
		return;
	fprintf(o->f, "<span%s>", line_class(l));
	mark_line(o->f, l);
	fputs("</span>", o->f);
}

/* A stack: its leaf frame, and every frame when opened; with Python
 * frames shown (rep_view.h), the Python ones marked by origin and, in
 * python mode, the native ones folded under them.  nstacks: the stacks
 * its row sums. */
static void stack_cell_of(FILE *f, const rep_input *in, uint64_t stack, uint64_t nstacks)
{
	if (!stack) {
		fputs("<td class=\"stack\">(no stack)</td>", f);
		return;
	}
	fprintf(f, "<td class=\"stack\"><details><summary>#%" PRIu64 " ", stack);
	if (!rep_view_python(in)) {
		frames_out o = {f, 0};
		rep_stack_frames(in, stack, 1, first_frame, &o);
		fputs("</summary><ol>", f);
		o.n = 0;
		rep_stack_frames(in, stack, FRAMES_SHOWN, frame_li, &o);
		fputs("</ol></details></td>", f);
		return;
	}
	if (nstacks > 1)
		fprintf(f, "(and %" PRIu64 " more stacks of these Python lines) ", nstacks - 1);
	view_out o = {f, 0, 0, false};
	rep_view_lines(in, stack, 1, 0, view_first, &o);
	fputs("</summary><ol>", f);
	o = (view_out){f, 0, rep_view_folded(in, stack), false};
	rep_view_lines(in, stack, FRAMES_SHOWN, FRAMES_SHOWN, view_li, &o);
	fputs(o.in_folded ? "</ol></details></details></td>" : "</ol></details></td>", f);
}

static void stack_cell(FILE *f, const rep_input *in, uint64_t stack)
{
	stack_cell_of(f, in, stack, 1);
}

/* ---- sections ---- */

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:0 16px;"
    "color:#1d2430}h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccd;"
    "padding-bottom:4px;margin-top:32px}nav a{margin-right:12px}"
    "table{border-collapse:collapse;margin:8px 0}th,td{padding:2px 8px;text-align:right;"
    "border-bottom:1px solid #e4e7ee;vertical-align:top}th{background:#f3f5f9;cursor:default}"
    "th.sortable{cursor:pointer}td.l,th.l,td.stack{text-align:left}"
    "td.stack{font-family:ui-monospace,monospace;font-size:12px;max-width:560px;"
    "word-break:break-all}details ol{margin:4px 0;padding-left:22px}"
    ".chart{display:block;max-width:100%;height:auto}.chart text{font-size:10px;fill:#445}"
    ".axis line{stroke:#889}.axis line.grid{stroke:#e4e7ee}.gc line{stroke:#d0312d;"
    "stroke-width:1;opacity:.45}rect.life{fill:#f4f4f6;stroke:#c9ccd6;stroke-width:.5}"
    "line.release{stroke:#000;stroke-width:1.5}.moments line{stroke:#c2410c;stroke-width:2;"
    "stroke-dasharray:4 2}.moments a:hover line{stroke-width:4}.moment{margin-left:8px}"
    ".legend{list-style:none;padding:0;margin:4px 0 12px}.legend li{display:inline-block;"
    "margin-right:14px;font-size:12px}.legend span{display:inline-block;width:11px;height:11px;"
    "margin-right:4px;vertical-align:-1px;border:1px solid #999}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #dde;border-radius:6px;"
    "padding:6px 12px;min-width:130px}.card b{display:block;font-size:18px}"
    "figure{display:inline-block;margin:0}figcaption{font-size:12px;text-align:center}"
    ".note{color:#556;font-size:12px}";

/* With Python frames shown: the program's own frames, a library's, a
 * library's tag, and the folded native frames. */
static const char py_style[] =
    ".own{font-weight:600;color:#166534}li.own::marker{color:#166534}.lib{color:#6b7280}"
    ".tag{font:10px system-ui,sans-serif;border:1px solid #cbd5e1;border-radius:3px;"
    "padding:0 3px;margin-left:6px;color:#475569}details.native{margin-left:22px}"
    "details.native>summary{color:#6b7280;font-style:italic;cursor:pointer}";

/* Sorting by a column (numbers by data-v), opening every stack; errors are
 * left on the page for the browser test. */
static const char script[] =
    "window.addEventListener('error',function(e){document.body.setAttribute('data-errors',"
    "String(e.message))});"
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(th,i){th.classList.add('sortable');"
    "th.title='sort';th.addEventListener('click',function(){"
    "var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),"
    "up=th.getAttribute('data-dir')!=='desc';th.setAttribute('data-dir',up?'desc':'asc');"
    "rows.sort(function(x,y){var p=x.cells[i],q=y.cells[i];if(!p||!q)return 0;"
    "var u=p.getAttribute('data-v'),v=q.getAttribute('data-v');"
    "var c=(u!==null&&v!==null)?Number(u)-Number(v):p.textContent.localeCompare(q.textContent);"
    "return up?-c:c});rows.forEach(function(r){b.appendChild(r)})})})});"
    "var btn=document.getElementById('expand');if(btn){btn.hidden=false;"
    "btn.addEventListener('click',function(){var d=document.querySelectorAll('details'),"
    "open=btn.getAttribute('data-open')!=='1';d.forEach(function(x){x.open=open});"
    "btn.setAttribute('data-open',open?'1':'0');btn.textContent=open?'close every stack':"
    "'open every stack'})}"
    "document.body.setAttribute('data-ready','1');";

static void facts_section(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	const rp_facts *x = &res->facts;
	char buf[64];
	fputs("<section id=\"facts\"><h2>Trace and models</h2><table><tbody>", f);
	fputs("<tr><th class=\"l\">trace</th><td class=\"l\">", f);
	text(f, in->trace);
	fputs("</td></tr><tr><th class=\"l\">program</th><td class=\"l\">", f);
	text(f, x->exe);
	fputs("</td></tr><tr><th class=\"l\">arguments</th><td class=\"l\">", f);
	text(f, x->argv);
	fprintf(f, "</td></tr><tr><th class=\"l\">process</th><td class=\"l\">pid %" PRIu64
		   ", parent %" PRIu64 "</td></tr>",
		x->pid, x->ppid);
	if (x->python[0]) {
		fputs("<tr><th class=\"l\">CPython</th><td class=\"l\">", f);
		text(f, x->python);
		fputs("</td></tr>", f);
	}
	time_t t = (time_t)(x->start_real_ns / 1000000000u);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	else
		snprintf(buf, sizeof(buf), "?");
	fprintf(f, "<tr><th class=\"l\">started</th><td class=\"l\">%s</td></tr>", buf);
	fprintf(f, "<tr><th class=\"l\">span</th><td class=\"l\">%s</td></tr>",
		html_secs_str(buf, sizeof(buf), x->span_ns));
	fprintf(f,
		"<tr><th class=\"l\">events</th><td class=\"l\">%" PRIu64 "; %" PRIu64
		" requests of the %s layer replayed</td></tr>",
		res->events, res->requests, res->malloc_layer ? "malloc" : "Python");
	fprintf(f,
		"<tr><th class=\"l\">threads, stacks, modules</th><td class=\"l\">%" PRIu64
		" threads, %" PRIu64 " stack nodes, %" PRIu64 " modules</td></tr>",
		x->threads, x->stack_nodes, x->modules);
	fprintf(f, "<tr><th class=\"l\">end</th><td class=\"l\">");
	if (!x->complete)
		fputs("no end record: the trace was cut short", f);
	else
		fprintf(f, "%s, exit status %" PRId64,
			x->end_kind == TF_END_EXIT ? "exit" : x->end_kind == TF_END_EXEC ? "exec" : "other",
			x->exit_status);
	fputs("</td></tr>", f);
	fprintf(f,
		"<tr><th class=\"l\">anomalies</th><td class=\"l\">%" PRIu64
		" frees of unknown blocks, %" PRIu64 " reallocs of unknown blocks, %" PRIu64
		" allocations over a live block</td></tr>",
		res->free_unknown, res->realloc_unknown, res->alloc_over_live);
	char forked[REP_FORK_TEXT];
	if (rep_fork_text(res, forked, sizeof(forked))) { /* from whose state it was replayed */
		fputs("<tr><th class=\"l\">forked</th><td class=\"l\">", f);
		text(f, forked);
		fputs("</td></tr>", f);
	}
	fputs("</tbody></table><table><thead><tr><th class=\"l\">model</th><th>arena</th>"
	      "<th>pool</th><th>alignment</th><th>small-request threshold</th>"
	      "<th>keeps an empty arena</th><th>collector</th></tr></thead><tbody>",
	      f);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fputs("<tr><td class=\"l\">", f);
		html_model_name(f, m);
		fputs("</td>", f);
		td_bytes(f, m->arena_size);
		td_bytes(f, m->pool_size);
		td_count(f, m->align);
		td_count(f, m->threshold);
		fprintf(f, "<td>%s</td><td>%s</td></tr>", m->keep_empty_arena ? "yes" : "no",
			m->gc_off ? "off (GC frees withheld)" : "as recorded");
	}
	fputs("</tbody></table></section>", f);
}

static void card(FILE *f, const char *label, const char *value)
{
	fprintf(f, "<div class=\"card\"><b>%s</b>%s</div>", value, label);
}

static void summary_section(FILE *f, const rp_replay_result *res, const rp_model_result *m)
{
	char b[48];
	fputs("<section id=\"summary\"><h2>Summary: ", f);
	html_model_name(f, m);
	fputs("</h2><div class=\"cards\">", f);
	card(f, "peak live", html_bytes_str(b, sizeof(b), m->peak_live));
	card(f, "peak held", html_bytes_str(b, sizeof(b), m->peak_held));
	card(f, "held at the end", html_bytes_str(b, sizeof(b), m->held_end));
	snprintf(b, sizeof(b), "%.2f", m->jw4);
	card(f, "peak held / peak live (jw4)", b);
	snprintf(b, sizeof(b), "%" PRIu64 " / %" PRIu64, m->arenas_total,
		 m->arenas_total - m->arenas_current);
	card(f, "arenas allocated / released", b);
	snprintf(b, sizeof(b), "%" PRIu64 " / %" PRIu64, m->arenas_highwater, m->arenas_current);
	card(f, "arenas at most / at the end", b);
	fputs("</div><table><thead><tr><th class=\"l\">where the held bytes go</th>", f);
	for (int k = 0; k < NLAYERS; k++)
		fprintf(f, "<th>%s</th>", html_layer_name[k]);
	fputs("</tr></thead><tbody>", f);
	const rp_waste *w[2] = {&m->waste_peak, &m->waste_end};
	for (int k = 0; k < 2; k++) {
		fprintf(f, "<tr><td class=\"l\">%s</td>", k ? "at the end" : "at peak held");
		td_bytes(f, w[k]->requested);
		td_bytes(f, w[k]->internal);
		td_bytes(f, w[k]->free_blocks);
		td_bytes(f, w[k]->empty_pools);
		td_bytes(f, w[k]->empty_arenas);
		td_bytes(f, w[k]->large);
		fputs("</tr>", f);
	}
	fprintf(f,
		"</tbody></table><p class=\"note\">Johnstone&ndash;Wilson measures: held/live over "
		"time %.2f, at peak live %.2f, at peak held %.2f, peak held over peak live %.2f. "
		"Live bytes peaked at %" PRIu64 " over the whole trace.</p></section>",
		m->jw1, m->jw2, m->jw3, m->jw4, res->peak_live);
}

static void pin_table(FILE *f, const rep_input *in, const rp_pinning *pn, const char *when)
{
	fprintf(f, "<h3>%s: %" PRIu64 " arenas held, %" PRIu64 " used less than a quarter</h3>",
		when, pn->arenas_held, pn->arenas_low);
	if (!pn->nstacks) {
		fputs("<p>No live block keeps a little-used arena.</p>", f);
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr><th>arenas</th><th>blocks</th><th>bytes</th>"
	      "<th title=\"when the oldest and the newest of these blocks were allocated\">"
	      "allocated</th><th class=\"l\">stack (leaf first)</th></tr></thead><tbody>",
	      f);
	rep_pin_row rows[RP_PIN_STACKS];
	const int n = rep_view_pins(in, pn, rows);
	for (int k = 0; k < n; k++) {
		const rp_pin *p = &rows[k].pin;
		char t0[32], t1[32];
		fputs("<tr>", f);
		td_count(f, p->arenas);
		td_count(f, p->blocks);
		td_bytes(f, p->bytes);
		fprintf(f, "<td data-v=\"%" PRIu64 "\">%s &ndash; %s</td>", p->first_ns,
			html_secs_str(t0, sizeof(t0), p->first_ns), html_secs_str(t1, sizeof(t1), p->last_ns));
		stack_cell_of(f, in, p->stack, (uint64_t)rows[k].nstacks);
		fputs("</tr>", f);
	}
	fputs("</tbody></table>", f);
}

static void pinning_section(FILE *f, const rep_input *in, const rp_model_result *m)
{
	fputs("<section id=\"pinning\"><h2>What keeps the arenas</h2><p>Arenas used less than a "
	      "quarter (by the requested bytes of their live blocks) and the call stacks whose "
	      "blocks keep them: an arena shared by several stacks counts for each.</p>",
	      f);
	if (m->pinning_peak.arenas_held)
		pin_table(f, in, &m->pinning_peak, "At the peak");
	pin_table(f, in, &m->pinning, "At the end");
	fputs("</section>", f);
}

/* The stacks whose blocks are live at a moment (exit, end): the leaks. */
static void leak_table(FILE *f, const rep_input *in, const rp_moment *mo)
{
	char b[32];
	fprintf(f, "<h4>Live at %s: %" PRIu64 " blocks, %s</h4>", mo->kind == RP_AT_EXIT ? "exit" : "the end",
		mo->leak_blocks, html_bytes_str(b, sizeof(b), mo->leak_bytes));
	if (!mo->nleaks)
		return;
	fputs("<table class=\"sortable\"><thead><tr><th>blocks</th><th>bytes</th>"
	      "<th title=\"arenas holding at least one of them\">arenas</th>"
	      "<th class=\"l\">stack (leaf first)</th></tr></thead><tbody>",
	      f);
	rep_leak_row rows[RP_LEAK_STACKS];
	const int n = rep_view_leaks(in, mo, rows);
	for (int k = 0; k < n; k++) {
		const rp_leak *l = &rows[k].leak;
		fputs("<tr>", f);
		td_count(f, l->blocks);
		td_bytes(f, l->bytes);
		td_count(f, l->arenas);
		stack_cell_of(f, in, l->stack, (uint64_t)rows[k].nstacks);
		fputs("</tr>", f);
	}
	fputs("</tbody></table>", f);
}

/* Each analysed moment of the model, in the trace's order: its figures,
 * what pins its arenas, and at exit and end what is still live. */
static void moments_section(FILE *f, const rep_input *in, const rp_model_result *m)
{
	if (!m->nmoments)
		return;
	fputs("<section id=\"moments\"><h2>Moments</h2><p>Each moment analysed in full, every "
	      "figure after the same request (<code>--at</code>; the marks on the memory chart "
	      "link here).</p>",
	      f);
	for (int k = 0; k < m->nmoments; k++) {
		const rp_moment *mo = &m->moments[k];
		const rp_waste *w = &mo->waste;
		char t[32];
		fprintf(f, "<div class=\"moment\" id=\"moment-%d\"><h3>At ", k);
		text(f, mo->label);
		fprintf(f, " (request %" PRIu64 ", %s)</h3><table><tbody>", mo->request,
			html_secs_str(t, sizeof(t), mo->time_ns));
		static const char *const what[] = {"held", "live", "requested", "internal waste",
						   "free blocks in used pools", "empty pools",
						   "empty arenas kept", "large objects"};
		const uint64_t v[] = {mo->held, mo->live, w->requested, w->internal, w->free_blocks,
				      w->empty_pools, w->empty_arenas, w->large};
		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			fprintf(f, "<tr><th class=\"l\">%s</th>", what[i]);
			td_bytes(f, v[i]);
			fputs("</tr>", f);
		}
		const uint64_t *u = mo->arenas_by_use;
		fprintf(f, "<tr><th class=\"l\">arenas held</th><td>%" PRIu64 ": %" PRIu64
			   " under 25%% used, %" PRIu64 " under 50%%, %" PRIu64 " under 75%%, %" PRIu64
			   " more</td></tr></tbody></table>",
			mo->arenas_held, u[0], u[1], u[2], u[3]);
		pin_table(f, in, &mo->pinning, "What keeps its arenas");
		if (rp_moment_has_leaks(mo->kind))
			leak_table(f, in, mo);
		fputs("</div>", f);
	}
	fputs("</section>", f);
}

/* The order of the held arenas' table: emptiest first (fewest live bytes
 * at the end), then by id. */
static bool emptier(const rp_arena *x, const rp_arena *y)
{
	if (x->live_bytes_end != y->live_bytes_end)
		return x->live_bytes_end < y->live_bytes_end;
	return x->id < y->id;
}

/* qsort's view of emptier: the table holds rp_arena pointers. */
static int held_cmp(const void *a, const void *b)
{
	const rp_arena *x = *(const rp_arena *const *)a, *y = *(const rp_arena *const *)b;
	return emptier(x, y) ? -1 : emptier(y, x);
}

static void arenas_section(FILE *f, const rep_input *in, const rp_model_result *m)
{
	fputs("<section id=\"arenas\"><h2>Arena lifelines</h2>", f);
	html_lifelines(f, in->res, m);
	const rp_arenas *A = m->arenas;
	const rp_arena *held[TABLE_ROWS];
	uint32_t n = 0, total = 0;
	for (uint32_t k = 0; A && k < A->n; k++) {
		const rp_arena *a = &A->a[k];
		if (a->released)
			continue;
		total++;
		if (n < TABLE_ROWS) {
			held[n++] = a;
			continue;
		}
		/* the table is full: a emptier than its fullest takes its row */
		uint32_t fullest = 0;
		for (uint32_t j = 1; j < n; j++)
			if (emptier(held[fullest], held[j]))
				fullest = j;
		if (emptier(a, held[fullest]))
			held[fullest] = a;
	}
	if (n)
		qsort(held, n, sizeof(held[0]), held_cmp);
	fprintf(f, "<h3>Arenas held at the end, emptiest first (%" PRIu32 " of %" PRIu32 ")</h3>", n,
		total);
	if (!n) {
		fputs("<p>None.</p></section>", f);
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr><th>arena</th><th class=\"l\">base</th>"
	      "<th>allocated at</th><th>peak use</th><th>live blocks</th><th>live bytes</th>"
	      "<th class=\"l\">top stack</th></tr></thead><tbody>",
	      f);
	for (uint32_t k = 0; k < n; k++) {
		const rp_arena *a = held[k];
		char b[32];
		fputs("<tr>", f);
		td_count(f, a->id);
		fprintf(f, "<td class=\"l\">0x%" PRIx64 "</td>", a->base);
		fprintf(f, "<td data-v=\"%" PRIu64 "\">%s</td>", a->allocated_ns,
			html_secs_str(b, sizeof(b), a->allocated_ns));
		fprintf(f, "<td data-v=\"%u\">%.0f%%</td>", a->peak_use, HTML_USE_PERCENT(a->peak_use));
		td_count(f, a->live_blocks_end);
		td_bytes(f, a->live_bytes_end);
		stack_cell(f, in, a->top_stack_bytes ? a->top_stack : 0);
		fputs("</tr>", f);
	}
	fputs("</tbody></table></section>", f);
}

static void classes_table(FILE *f, const rp_classes *e, const rp_classes *p)
{
	fputs("<table class=\"sortable\"><thead><tr><th>class</th><th>block size</th>"
	      "<th>pools at peak</th><th>blocks at peak</th><th>pools at end</th>"
	      "<th>blocks at end</th><th>free blocks at end</th><th>use at end</th></tr></thead>"
	      "<tbody>",
	      f);
	for (uint32_t k = 0; k < e->n; k++) {
		uint64_t pp = k < p->n ? p->pools[k] : 0, pb = k < p->n ? p->blocks[k] : 0;
		if (!e->pools[k] && !pp)
			continue;
		uint64_t cap = e->blocks[k] + e->avail[k];
		fputs("<tr>", f);
		td_count(f, k);
		td_count(f, (uint64_t)(k + 1) * e->align);
		td_count(f, pp);
		td_count(f, pb);
		td_count(f, e->pools[k]);
		td_count(f, e->blocks[k]);
		td_count(f, e->avail[k]);
		fprintf(f, "<td data-v=\"%.4f\">%.0f%%</td></tr>",
			cap ? (double)e->blocks[k] / (double)cap : 0.0,
			cap ? 100.0 * (double)e->blocks[k] / (double)cap : 0.0);
	}
	fputs("</tbody></table>", f);
}

static void classes_section(FILE *f, const rp_model_result *m)
{
	fputs("<section id=\"classes\"><h2>Size classes</h2><p>Bytes of the blocks in use (blue) and "
	      "of the free blocks of pools in use (amber), per size class.</p>",
	      f);
	html_classes_chart(f, &m->classes_peak, "classes-peak-chart", "at the peak");
	html_classes_chart(f, &m->classes_end, "classes-end-chart", "at the end");
	classes_table(f, &m->classes_end, &m->classes_peak);
	fputs("</section>", f);
}

static void callsites_section(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	rep_site_row *rows = NULL;
	uint64_t nrows = 0;
	if (rep_view_sites(in, &rows, &nrows) < 0)
		nrows = 0; /* out of memory: the section says there is nothing */
	uint64_t n = nrows < TABLE_ROWS ? nrows : TABLE_ROWS;
	if (rep_view_mode(in) == REP_STACKS_PYTHON)
		fprintf(f,
			"<section id=\"callsites\"><h2>Call sites</h2><p>The %" PRIu64 " of %" PRIu64
			" rows that allocated the most bytes (all of them in callsites.csv): the %" PRIu64
			" call sites, those of the same Python frames (the same code and line in each) "
			"summed in one row; live bytes at the peak held and at the end, and the "
			"little-used arenas their blocks keep (in a row of several, the most any of them "
			"keeps), are the first model's.</p>",
			n, nrows, res->ncallsites);
	else
		fprintf(f,
			"<section id=\"callsites\"><h2>Call sites</h2><p>The %" PRIu64 " of %" PRIu64
			" call sites that allocated the most bytes (all of them in callsites.csv); live "
			"bytes at the peak held and at the end, and the little-used arenas their blocks "
			"keep, are the first model's.</p>",
			n, res->ncallsites);
	if (!n) {
		free(rows);
		fputs("<p>No allocation was replayed.</p></section>", f);
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr><th>allocations</th><th>bytes</th>"
	      "<th>live near peak</th><th>live at end</th><th>blocks at end</th>"
	      "<th>arenas kept</th><th class=\"l\">stack (leaf first)</th></tr></thead><tbody>",
	      f);
	for (uint64_t k = 0; k < n; k++) {
		const rp_callsite *c = &rows[k].c;
		fputs("<tr>", f);
		td_count(f, c->allocs);
		td_bytes(f, c->bytes);
		td_bytes(f, c->live_peak);
		td_bytes(f, c->live_end);
		td_count(f, c->blocks_end);
		td_count(f, c->arenas);
		stack_cell_of(f, in, c->stack, rows[k].nstacks);
		fputs("</tr>", f);
	}
	free(rows);
	fputs("</tbody></table></section>", f);
}

static void gc_section(FILE *f, const rp_replay_result *res)
{
	const uint64_t *gp = res->gc_passes;
	if (!(gp[0] + gp[1] + gp[2] + res->gc_unfinished))
		return;
	fprintf(f,
		"<section id=\"gc\"><h2>Cyclic garbage collector</h2><p>%" PRIu64
		" passes: %" PRIu64 " of generation 0, %" PRIu64 " of generation 1, %" PRIu64
		" of generation 2 (marked on the charts' time axes).</p>",
		gp[0] + gp[1] + gp[2], gp[0], gp[1], gp[2]);
	fputs("<table><thead><tr><th class=\"l\">model</th><th>freed by the collector</th>"
	      "<th>bytes</th><th>freed by reference counting</th><th>bytes</th>"
	      "<th>withheld (gc off)</th><th>arenas released in passes</th><th>outside</th>"
	      "</tr></thead><tbody>",
	      f);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_gc *g = &res->models[i].gc;
		fputs("<tr><td class=\"l\">", f);
		html_model_name(f, &res->models[i]);
		fputs("</td>", f);
		td_count(f, g->by_gc.objects);
		td_bytes(f, g->by_gc.bytes);
		td_count(f, g->by_refcount.objects);
		td_bytes(f, g->by_refcount.bytes);
		td_bytes(f, g->withheld.bytes);
		td_count(f, g->arenas_released_in_gc);
		td_count(f, g->arenas_released_outside);
		fputs("</tr>", f);
	}
	fputs("</tbody></table>", f);
	uint32_t n = res->npasses < GC_ROWS ? res->npasses : GC_ROWS;
	fprintf(f, "<h3>Passes (the first %" PRIu32 " of %" PRIu64 "; all in gc.csv)</h3>", n,
		gp[0] + gp[1] + gp[2]);
	fputs("<table class=\"sortable\"><thead><tr><th>pass</th><th>generation</th><th>start</th>"
	      "<th>duration</th><th>collected</th><th>uncollectable</th><th>blocks freed</th>"
	      "<th>bytes freed</th><th>arenas released</th></tr></thead><tbody>",
	      f);
	for (uint32_t k = 0; k < n; k++) {
		const rp_gc_pass *p = &res->passes[k];
		char b[32];
		fputs("<tr>", f);
		td_count(f, k + 1);
		td_count(f, p->generation);
		fprintf(f, "<td data-v=\"%" PRIu64 "\">%s</td>", p->start,
			html_secs_str(b, sizeof(b), p->start));
		fprintf(f, "<td data-v=\"%" PRIu64 "\">%.3f ms</td>", html_sub0(p->stop, p->start),
			(double)html_sub0(p->stop, p->start) / 1e6);
		td_count(f, p->collected);
		td_count(f, p->uncollectable);
		td_count(f, p->freed.objects);
		td_bytes(f, p->freed.bytes);
		td_count(f, p->arenas_released);
		fputs("</tr>", f);
	}
	fputs("</tbody></table></section>", f);
}

static void compare_section(FILE *f, const rp_replay_result *res)
{
	if (res->nmodels < 2)
		return;
	fputs("<section id=\"compare\"><h2>Models side by side</h2>", f);
	html_compare_chart(f, res);
	fputs("<table><thead><tr><th class=\"l\">held bytes: arenas and large objects</th>", f);
	for (int i = 0; i < res->nmodels; i++) {
		fputs("<th>", f);
		html_model_name(f, &res->models[i]);
		fputs("</th>", f);
	}
	fputs("</tr></thead><tbody>", f);
#define ROW(key, label, kind, value)                                                  \
	fputs("<tr><td class=\"l\">" label "</td>", f);                               \
	for (int i = 0; i < res->nmodels; i++) {                                      \
		const rp_model_result *m = &res->models[i];                           \
		if ((kind) == 'f')                                                    \
			fprintf(f, "<td>%.2f</td>", (double)(value));                 \
		else                                                                  \
			fprintf(f, "<td>%" PRIu64 "</td>", (uint64_t)(value));        \
	}                                                                             \
	fputs("</tr>", f);
	RP_MODEL_METRICS(ROW)
#undef ROW
	fputs("</tbody></table></section>", f);
}

/* --system: what the real allocator held for the same blocks, beside
 * the models. */
static void system_section(FILE *f, const rp_replay_result *res)
{
	if (!res->has_system)
		return;
	const rp_system *y = &res->system;
	char b[48];
	fputs("<section id=\"system\"><h2>Real allocator: ", f);
	text(f, y->allocator);
	fprintf(f,
		"</h2><p>The same requests through the replaying process&rsquo;s malloc, realloc "
		"and free, in a process of their own that holds nothing else (its block table "
		"is not on the allocator), one byte written per page of every block: %" PRIu64
		" calls, %.1f ns each%s. Held: the allocator&rsquo;s resident memory for the "
		"blocks, its own metadata included; the peak is sampled every 4096 calls and "
		"where the live bytes peak.</p>",
		y->ops, y->ns_per_op,
		y->threads > 1 ? "; the trace&rsquo;s threads were replayed in their global order on one"
			       : "");
	fputs("<table><thead><tr><th class=\"l\">allocator</th><th>held at the peak</th>"
	      "<th>held at the end</th><th>peak held / peak live</th></tr></thead><tbody>"
	      "<tr><td class=\"l\">",
	      f);
	text(f, y->allocator);
	fputs("</td>", f);
	td_bytes(f, y->heap_peak);
	td_bytes(f, y->heap_end);
	snprintf(b, sizeof(b), "%.2f", res->peak_live ? (double)y->heap_peak / (double)res->peak_live
						      : 0.0);
	fprintf(f, "<td>%s</td></tr>", b);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fputs("<tr><td class=\"l\">model ", f);
		html_model_name(f, m);
		fputs("</td>", f);
		td_bytes(f, m->peak_held);
		td_bytes(f, m->held_end);
		fprintf(f, "<td>%.2f</td></tr>", m->jw4);
	}
	fprintf(f, "</tbody></table><p class=\"note\">Live bytes peaked at %s.</p></section>",
		html_bytes_str(b, sizeof(b), res->peak_live));
}

static void page(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	const rp_model_result *m = &res->models[0];
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<title>arenatrace: ",
	      f);
	text(f, res->facts.exe[0] ? res->facts.exe : in->trace);
	const bool py = rep_view_python(in);
	fprintf(f, "</title><style>%s%s</style></head><body>", style, py ? py_style : "");
	fputs("<header><h1>arenatrace report: ", f);
	text(f, res->facts.argv[0] ? res->facts.argv : res->facts.exe);
	fputs("</h1><nav><a href=\"#summary\">summary</a><a href=\"#memory\">memory</a>"
	      "<a href=\"#moments\">moments</a><a href=\"#arenas\">arenas</a>"
	      "<a href=\"#pinning\">pinning</a>"
	      "<a href=\"#classes\">size classes</a><a href=\"#callsites\">call sites</a>",
	      f);
	if (res->npasses)
		fputs("<a href=\"#gc\">GC</a>", f);
	if (res->nmodels > 1)
		fputs("<a href=\"#compare\">models</a>", f);
	if (res->has_system)
		fputs("<a href=\"#system\">real allocator</a>", f);
	fputs("<a href=\"#facts\">trace</a> <button id=\"expand\" hidden>open every stack</button>"
	      "</nav>",
	      f);
	if (py)
		fprintf(f, "<p class=\"note\">Stacks lead with their Python frames%s: the program's "
			   "own files <span class=\"own\">in bold green</span>, the standard "
			   "library's and installed packages' <span class=\"lib\">in grey, "
			   "tagged</span><span class=\"tag\">stdlib</span>.</p>",
			rep_view_mode(in) == REP_STACKS_PYTHON
			    ? ", innermost first, each stack's native frames folded under them"
			    : ", among the native ones in call order");
	fputs("</header><main>", f);
	summary_section(f, res, m);
	fputs("<section id=\"memory\"><h2>Memory by layer over time</h2>", f);
	html_memory_chart(f, res, m);
	fputs("</section>", f);
	moments_section(f, in, m);
	arenas_section(f, in, m);
	pinning_section(f, in, m);
	classes_section(f, m);
	callsites_section(f, in);
	gc_section(f, res);
	compare_section(f, res);
	system_section(f, res);
	facts_section(f, in);
	fprintf(f, "</main><footer class=\"note\">arenatrace %s</footer><script>%s</script>"
		   "</body></html>\n",
		ARENATRACE_VERSION, script);
}

static int html_write(const rep_input *in, rep_out *out)
{
	if (!in->res->nmodels)
		return REP_OK;
	FILE *f = rep_open(out, "report.html");
	if (!f)
		return REP_E_IO;
	page(f, in);
	return rep_close(out, f, "report.html");
}

static const char *const html_files[] = {"report.html", NULL};
const rep_sink rep_html_sink = {"html", html_files, html_write};

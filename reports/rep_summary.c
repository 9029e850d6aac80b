/*
 * rep_summary.c - the replay's result as text on a terminal: the summary
 * that `replay` and `report` print (the trace, the layer and its anomalies,
 * one line per model, where the held bytes go at the peak, what the
 * collector did, --system's allocator, what pins the arenas), and
 * --stats' statistics.
 *
 * A result without Python frames prints its stacks through the
 * rep_stack_printer, as it always has; one with Python frames through
 * rep_view.h, in the mode of rep_input.stacks: python mode sums the rows
 * of the same Python frames, and a library's Python frames are tagged
 * [stdlib] or [site-packages] so the program's own lines stand out.
 */
#include "rep_text.h"
#include "rep_view.h"

#include <inttypes.h>
#include <string.h>

/* Stacks a moment shows of its pinning and of its leaks (--json and the
 * report have RP_PIN_STACKS and RP_LEAK_STACKS). */
#define MOMENT_STACKS 5
/* Lines of a stack's frames in a result with Python frames (the others
 * print what rep_stack_printer prints: rep_stacks.h's REP_STACKS_LINES). */
#define REP_SUMMARY_LINES 12

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static double growth(uint64_t a, uint64_t b)
{
	return b ? 100.0 * ((double)a - (double)b) / (double)b : 0.0;
}

/* What the collector did, per model; with --gc off, what its absence costs. */
static void summary_gc(FILE *f, const rp_replay_result *res)
{
	const uint64_t *gp = res->gc_passes;
	if (gp[0] + gp[1] + gp[2] + res->gc_unfinished)
		fprintf(f, "gc: %" PRIu64 " passes: %" PRIu64 " of generation 0, %" PRIu64
			   " of generation 1, %" PRIu64 " of generation 2\n",
			gp[0] + gp[1] + gp[2], gp[0], gp[1], gp[2]);
	else if (!res->models[0].gc_off && !res->models[res->nmodels - 1].gc_off)
		return;
	char label[48];
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		const rp_model_gc *g = &m->gc;
		rp_model_label(m, label, sizeof(label));
		if (!m->gc_off) {
			fprintf(f,
				"%s: the collector freed %" PRIu64 " blocks (%" PRIu64
				" bytes), reference counting %" PRIu64 " (%" PRIu64
				" bytes); arenas released inside GC passes %" PRIu64 ", outside %" PRIu64 "\n",
				label, g->by_gc.objects, g->by_gc.bytes, g->by_refcount.objects,
				g->by_refcount.bytes, g->arenas_released_in_gc, g->arenas_released_outside);
			continue;
		}
		const rp_model_result *on = &res->models[i - 1]; /* its twin with the collector */
		fprintf(f,
			"%s: %" PRIu64 " blocks (%" PRIu64 " bytes) the collector freed stay live;"
			" peak held %" PRIu64 " bytes (%+.1f%%), arenas at most %" PRIu64 " (%+" PRId64
			"), held at the end %" PRIu64 " (%+" PRId64 ")\n",
			label, g->withheld.objects, g->withheld.bytes, m->peak_held,
			growth(m->peak_held, on->peak_held), m->arenas_highwater,
			(int64_t)(m->arenas_highwater - on->arenas_highwater), m->arenas_current,
			(int64_t)(m->arenas_current - on->arenas_current));
	}
}

/* How each model compared with the interpreter: its addresses and arenas,
 * or why they were not compared (one line for all models when the trace
 * says why). */
static void summary_exactness(FILE *f, const rp_replay_result *res)
{
	char label[48], why[128];
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		rp_model_label(m, label, sizeof(label));
		if (rp_not_compared(res, m, why, sizeof(why))) {
			const bool all = m->compared == RP_NC_MALLOC_LAYER ||
					 m->compared == RP_NC_NOT_PYMALLOC;
			if (all && i)
				continue;
			fprintf(f, "exactness: %s%snot compared: %s\n", all ? "" : label, all ? "" : ": ",
				why);
			continue;
		}
		fprintf(f, "exactness: %s: %" PRIu64 " addresses unlike the interpreter's, %" PRIu64
			   " arena mismatches",
			label, m->addr_mismatch, m->arena_mismatch);
		const rp_arena_mismatch *a = &m->arena_parts;
		if (m->arena_mismatch)
			fprintf(f, ": %" PRIu64 " freed by the interpreter, not by the model with it; %" PRIu64
				   " released by the model, not by the interpreter with it; %" PRIu64
				   " recorded, never the model's; %" PRIu64 " placed by the model, unrecorded",
				a->freed_held, a->released_kept, a->recorded_unused, a->unrecorded);
		fputc('\n', f);
	}
}

/* A stack's frames after its line: symbolized, or its first three
 * return addresses. */
static void frames(FILE *f, uint64_t stack, const uint64_t *ips, rep_stack_printer print, void *ctx)
{
	if (print) { /* symbolized, one frame a line */
		rp_pin pin = {.stack = stack};
		memcpy(pin.frames, ips, sizeof(pin.frames));
		fputc('\n', f);
		print(f, &pin, ctx);
		return;
	}
	for (int fr = 0; fr < 3 && ips[fr]; fr++)
		fprintf(f, "%s0x%" PRIx64, fr ? " < " : " at ", ips[fr]);
	fputc('\n', f);
}

/* A result with Python frames: a stack's lines as the mode shows them,
 * one a line, a library's Python frames tagged with where they are. */
typedef struct lines_out {
	FILE *f;
	int n;
} lines_out;

static void print_line(void *ctx, const rep_vline *l)
{
	lines_out *o = ctx;
	if (o->n++ == REP_SUMMARY_LINES) {
		fputs("        ...\n", o->f);
		return;
	}
	const bool lib = l->origin == REP_ORIGIN_STDLIB || l->origin == REP_ORIGIN_SITE;
	fprintf(o->f, "        %s%s%s%s\n", l->text, lib ? " [" : "", lib ? rep_origin_name(l->origin) : "",
		lib ? "]" : "");
}

/* The rest of a row's line (the other stacks it sums) and its frames. */
static void view_frames(FILE *f, const rep_input *in, uint64_t stack, int nstacks)
{
	if (nstacks > 1)
		fprintf(f, " and %d more", nstacks - 1);
	fputc('\n', f);
	lines_out o = {f, 0};
	rep_view_lines(in, stack, REP_SUMMARY_LINES + 1, 0, print_line, &o);
}

/* The stacks whose blocks keep the little-used arenas (at most max), after
 * a line that counts them. */
static void pins(FILE *f, const rep_input *in, const rp_pinning *pn, int max,
		 rep_stack_printer print, void *ctx)
{
	fprintf(f, pn->nstacks ? "; the stacks whose blocks keep them:\n" : "\n");
	rep_pin_row rows[RP_PIN_STACKS];
	const bool view = in->res->facts.py_nodes > 0;
	const int n = view ? rep_view_pins(in, pn, rows) : pn->nstacks;
	for (int k = 0; k < n && k < max; k++) {
		const rp_pin *pp = view ? &rows[k].pin : &pn->stacks[k];
		fprintf(f, "  %3" PRIu64 " arenas, %8" PRIu64 " blocks, %10" PRIu64
			   " bytes, allocated %.3f-%.3f s  stack %" PRIu64,
			pp->arenas, pp->blocks, pp->bytes, pp->first_ns / 1e9, pp->last_ns / 1e9,
			pp->stack);
		if (view)
			view_frames(f, in, pp->stack, rows[k].nstacks);
		else
			frames(f, pp->stack, pp->frames, print, ctx);
	}
}

/* One moment of one model: its figures, what pins its arenas, and (exit,
 * end) the live blocks by stack. */
static void moment(FILE *f, const rep_input *in, const char *model, const rp_moment *m,
		   rep_stack_printer print, void *ctx)
{
	const uint64_t *u = m->arenas_by_use;
	fprintf(f, "%s at %s (request %" PRIu64 ", %.3f s): held %" PRIu64 " bytes, live %" PRIu64
		   "; %" PRIu64 " arenas held, by use: %" PRIu64 " under 25%%, %" PRIu64
		   " under 50%%, %" PRIu64 " under 75%%, %" PRIu64 " more\n",
		model, m->label, m->request, (double)m->time_ns / 1e9, m->held, m->live,
		m->arenas_held, u[0], u[1], u[2], u[3]);
	const rp_waste *w = &m->waste;
	fprintf(f, "  held: requested %" PRIu64 ", internal %" PRIu64 ", free blocks %" PRIu64
		   ", empty pools %" PRIu64 ", empty arenas %" PRIu64 ", large %" PRIu64 "\n",
		w->requested, w->internal, w->free_blocks, w->empty_pools, w->empty_arenas,
		w->large);
	fprintf(f, "  %" PRIu64 " arenas less than a quarter used", m->pinning.arenas_low);
	pins(f, in, &m->pinning, MOMENT_STACKS, print, ctx);
	if (!rp_moment_has_leaks(m->kind))
		return;
	fprintf(f, "  live at %s: %" PRIu64 " blocks, %" PRIu64 " bytes%s\n", m->label,
		m->leak_blocks, m->leak_bytes, m->nleaks ? "; the stacks that hold the most:" : "");
	rep_leak_row rows[RP_LEAK_STACKS];
	const bool view = in->res->facts.py_nodes > 0;
	const int n = view ? rep_view_leaks(in, m, rows) : m->nleaks;
	for (int k = 0; k < n && k < MOMENT_STACKS; k++) {
		const rp_leak *l = view ? &rows[k].leak : &m->leaks[k];
		fprintf(f, "  %8" PRIu64 " blocks, %10" PRIu64 " bytes, in %3" PRIu64
			   " arenas  stack %" PRIu64,
			l->blocks, l->bytes, l->arenas, l->stack);
		if (view)
			view_frames(f, in, l->stack, rows[k].nstacks);
		else
			frames(f, l->stack, l->frames, print, ctx);
	}
}

/* A forked child: whose state it was replayed from, or that it was not. */
static void summary_fork(FILE *f, const rp_replay_result *res)
{
	char line[REP_FORK_TEXT];
	if (rep_fork_text(res, line, sizeof(line)))
		fprintf(f, "forked: %s\n", line);
}

void rep_summary_write(FILE *f, const rep_input *in, rep_stack_printer print, void *ctx)
{
	const rp_replay_result *res = in->res;
	if (!res->nmodels)
		return;
	char label[48];
	const rp_facts *x = &res->facts;
	fprintf(f, "trace: %s (pid %" PRIu64 ")%s%s%s%s; %.3f s, %" PRIu64 " events, %" PRIu64
		   " threads%s\n",
		x->argv[0] ? x->argv : x->exe, x->pid, x->python[0] ? ", CPython " : "", x->python,
		x->python_allocator[0] ? " with " : "", x->python_allocator,
		(double)x->span_ns / 1e9, res->events, x->threads,
		x->complete ? "" : "; no end record: cut short");
	fprintf(f, "replay: %s layer, %" PRIu64 " requests; live blocks peak %" PRIu64
		   " bytes, %" PRIu64 " at the end\n",
		res->malloc_layer ? "malloc" : "python", res->requests, res->peak_live,
		res->live_end);
	static const char *const what[RP_ANOMALY_KINDS] = {"frees of unknown blocks", "reallocs of unknown blocks",
					   "allocations over a live block"};
	const uint64_t count[] = {res->free_unknown, res->realloc_unknown, res->alloc_over_live};
	for (int k = 0; k < RP_ANOMALY_KINDS; k++)
		if (count[k])
			fprintf(f, "anomalies: %" PRIu64 " %s (the first at 0x%" PRIx64 ")\n", count[k],
				what[k], res->examples[k]);
	if (x->dropped)
		fprintf(f, "dropped: %" PRIu64 " events the tracer could not record, which the replay "
			   "lacks\n",
			x->dropped);
	if (x->other_heaps)
		fprintf(f,
			"subinterpreters: %" PRIu64 " obmalloc states of their own, %" PRIu64
			" requests and %" PRIu64 " arenas, replayed through models of their own: "
			"in the exactness line, not in the measures (the main interpreter's heap)\n",
			x->other_heaps, x->other_heap_requests, x->other_heap_arenas);
	summary_fork(f, res);
	summary_exactness(f, res);
	fprintf(f, "%-19s %8s %8s %8s %8s %14s %6s %6s %6s %6s\n", "model", "arenas", "released",
		"highest", "now", "peak held", "jw1", "jw2", "jw3", "jw4");
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fprintf(f,
			"%-19s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %14" PRIu64
			" %6.2f %6.2f %6.2f %6.2f\n",
			rp_model_label(m, label, sizeof(label)), m->arenas_total,
			m->arenas_total - m->arenas_current,
			m->arenas_highwater, m->arenas_current, m->peak_held, m->jw1, m->jw2, m->jw3,
			m->jw4);
	}
	fprintf(f, "%-19s %14s %14s %14s %14s %14s\n", "held at peak", "requested", "internal",
		"free blocks", "empty pools", "empty arenas");
	for (int i = 0; i < res->nmodels; i++) {
		const rp_waste *w = &res->models[i].waste_peak;
		fprintf(f, "%-19s %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n",
			rp_model_label(&res->models[i], label, sizeof(label)), w->requested, w->internal, w->free_blocks,
			w->empty_pools, w->empty_arenas);
	}
	summary_gc(f, res);
	if (res->has_system) {
		const rp_system *y = &res->system;
		fprintf(f,
			"system allocator %s: %" PRIu64 " calls, %.1f ns each; it holds %" PRIu64
			" bytes for the blocks at the peak (%.2f times the live bytes' peak), %" PRIu64
			" at the end\n",
			y->allocator, y->ops, y->ns_per_op, y->heap_peak,
			ratio(y->heap_peak, res->peak_live), y->heap_end);
		if (y->threads > 1)
			fprintf(f, "  (the trace's %" PRIu64 " threads were replayed in their global "
				   "order on one thread)\n",
				y->threads);
	}
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		rp_model_label(m, label, sizeof(label));
		if (!m->nmoments) { /* no moment analysed: what pins the arenas at the end */
			fprintf(f, "%s at the end: %" PRIu64 " arenas held, %" PRIu64
				   " less than a quarter used",
				label, m->pinning.arenas_held, m->pinning.arenas_low);
			pins(f, in, &m->pinning, RP_PIN_STACKS, print, ctx);
		}
		for (int k = 0; k < m->nmoments; k++)
			moment(f, in, label, &m->moments[k], print, ctx);
	}
}

void rep_stats_write(FILE *f, const rp_replay_result *res)
{
	for (int i = 0; i < res->nmodels; i++) {
		const char *text = res->models[i].stats;
		if (!text)
			continue;
		if (res->nmodels > 1)
			fprintf(f, "== %s\n", res->models[i].profile);
		fputs(text, f);
	}
}

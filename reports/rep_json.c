/*
 * rep_json.c - `replay --json`: the replay's result as one JSON object
 * (keys in cli/CLI.md), and the quoting of strings that the command
 * line's JSON and dump outputs share.
 *
 * A result without Python frames writes its stacks as it always has; one
 * with them through rep_view.h (the mode of rep_input.stacks), with the
 * Python frames described apart ("python") and, in python mode, the
 * stacks a row sums ("merged_stacks").
 */
#include "rep_text.h"
#include "rep_view.h"

#include <inttypes.h>
#include <string.h>

#define JSON_VIEW_LINES 64 /* lines of "symbols", frames of "python", of a stack with Python frames */

/* JSON keeps valid UTF-8 and writes U+FFFD for other bytes; C style
 * writes \xNN for every byte outside printable ASCII. */
static void put_escaped(FILE *out, const char *s, size_t len, bool json)
{
	const unsigned char *u = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		size_t n;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, out);
		else if (!json)
			fprintf(out, "\\x%02x", c);
		else if (c >= 0x80 && (n = tf_utf8_len(u + i, len - i))) {
			fwrite(u + i, 1, n, out);
			i += n - 1;
		} else if (c >= 0x80)
			fputs("\\ufffd", out);
		else
			fprintf(out, "\\u%04x", c);
	}
	fputc('"', out);
}

void rep_json_str(FILE *out, const char *s, size_t len)
{
	put_escaped(out, s, len, true);
}

void rep_c_str(FILE *out, const char *s, size_t len)
{
	put_escaped(out, s, len, false);
}

static void json_frames(FILE *f, uint64_t stack, const uint64_t *ips, rep_frame_namer namer,
			void *ctx)
{
	fputs("\"frames\": [", f);
	for (int fr = 0; fr < RP_PIN_FRAMES && ips[fr]; fr++)
		fprintf(f, "%s\"0x%" PRIx64 "\"", fr ? ", " : "", ips[fr]);
	fputc(']', f);
	if (!namer)
		return;
	fputs(", \"symbols\": [", f);
	const char *lines[RP_SYMBOL_LINES];
	bool first = true;
	for (int fr = 0; fr < RP_PIN_FRAMES && ips[fr]; fr++) {
		int n = namer(ctx, ips[fr], stack, lines, RP_SYMBOL_LINES);
		for (int i = 0; i < n; i++, first = false) {
			fputs(first ? "" : ", ", f);
			rep_json_str(f, lines[i], strlen(lines[i]));
		}
	}
	fputc(']', f);
}

/* s as a JSON string, null for NULL. */
static void str_or_null(FILE *f, const char *s)
{
	if (s)
		rep_json_str(f, s, strlen(s));
	else
		fputs("null", f);
}

typedef struct json_lines {
	FILE *f;
	int n;
} json_lines;

static void json_line(void *ctx, const rep_vline *l)
{
	json_lines *o = ctx;
	fputs(o->n++ ? ", " : "", o->f);
	rep_json_str(o->f, l->text, strlen(l->text));
}

/* A stack of a result with Python frames: "frames", the native ones among
 * its first frames; "symbols", its lines as the mode shows them; and when
 * they are shown, "python": its Python frames, innermost first; rows of
 * several stacks list them in "merged_stacks" (the first `shown`, as many
 * as the row keeps) and their number in "merged_count". */
static void json_view_frames(FILE *f, const rep_input *in, uint64_t stack, const uint64_t *ips,
			     const uint64_t *stacks, int nstacks, int shown)
{
	fputs("\"frames\": [", f);
	for (int fr = 0, n = 0; fr < RP_PIN_FRAMES && ips[fr]; fr++)
		if (!tf_is_py_frame(ips[fr]))
			fprintf(f, "%s\"0x%" PRIx64 "\"", n++ ? ", " : "", ips[fr]);
	fputc(']', f);
	if (in->namer) {
		fputs(", \"symbols\": [", f);
		json_lines o = {f, 0};
		rep_view_lines(in, stack, JSON_VIEW_LINES, 0, json_line, &o);
		fputc(']', f);
	}
	if (!rep_view_python(in))
		return;
	rep_pyframe pf[JSON_VIEW_LINES];
	const int n = rep_view_pyframes(in, stack, NULL, pf, JSON_VIEW_LINES);
	fputs(", \"python\": [", f);
	for (int k = 0; k < n; k++) {
		fputs(k ? ", {\"file\": " : "{\"file\": ", f);
		str_or_null(f, pf[k].file);
		if (pf[k].line)
			fprintf(f, ", \"line\": %u", pf[k].line);
		else
			fputs(", \"line\": null", f);
		fputs(", \"function\": ", f);
		str_or_null(f, pf[k].function);
		fprintf(f, ", \"origin\": \"%s\"}", rep_origin_name(pf[k].origin));
	}
	fputc(']', f);
	if (rep_view_mode(in) != REP_STACKS_PYTHON)
		return;
	fprintf(f, ", \"merged_count\": %d, \"merged_stacks\": [", nstacks);
	for (int k = 0; k < nstacks && k < shown; k++)
		fprintf(f, "%s%" PRIu64, k ? ", " : "", stacks[k]);
	fputc(']', f);
}

static void json_pinning(FILE *f, const rep_input *in, const rp_pinning *pn)
{
	fprintf(f, "{\"arenas_held\": %" PRIu64 ", \"arenas_low\": %" PRIu64 ", \"stacks\": [",
		pn->arenas_held, pn->arenas_low);
	rep_pin_row rows[RP_PIN_STACKS];
	const bool view = in->res->facts.py_nodes > 0;
	const int n = view ? rep_view_pins(in, pn, rows) : pn->nstacks;
	for (int k = 0; k < n; k++) {
		const rp_pin *pp = view ? &rows[k].pin : &pn->stacks[k];
		fprintf(f, "%s{\"stack\": %" PRIu64 ", ", k ? ", " : "", pp->stack);
		if (view)
			json_view_frames(f, in, pp->stack, pp->frames, rows[k].stacks, rows[k].nstacks,
					 RP_PIN_STACKS);
		else
			json_frames(f, pp->stack, pp->frames, in->namer, in->namer_ctx);
		fprintf(f,
			", \"arenas\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"first_alloc_ns\": %" PRIu64 ", \"last_alloc_ns\": %" PRIu64 "}",
			pp->arenas, pp->blocks, pp->bytes, pp->first_ns, pp->last_ns);
	}
	fputs("]}", f);
}

static void json_freed(FILE *f, const char *key, const rp_freed *x)
{
	fprintf(f, ", \"%s\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", key, x->objects,
		x->bytes);
}

static void json_gc(FILE *f, const rp_replay_result *res, const rp_model_result *m)
{
	fprintf(f,
		", \"collector\": \"%s\", \"gc\": {\"passes\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64
		"]",
		m->gc_off ? "off" : "on", res->gc_passes[0], res->gc_passes[1], res->gc_passes[2]);
	json_freed(f, "freed_by_gc", &m->gc.by_gc);
	json_freed(f, "freed_by_refcount", &m->gc.by_refcount);
	json_freed(f, "withheld", &m->gc.withheld);
	fprintf(f,
		", \"arenas_released_in_gc\": %" PRIu64 ", \"arenas_released_outside_gc\": %" PRIu64
		"}",
		m->gc.arenas_released_in_gc, m->gc.arenas_released_outside);
}

/* Where the held bytes go, as one object. */
static void json_waste(FILE *f, const rp_waste *w)
{
	fprintf(f,
		"{\"requested\": %" PRIu64 ", \"internal\": %" PRIu64 ", \"free_blocks\": %" PRIu64
		", \"empty_pools\": %" PRIu64 ", \"empty_arenas\": %" PRIu64 ", \"large\": %" PRIu64 "}",
		w->requested, w->internal, w->free_blocks, w->empty_pools, w->empty_arenas, w->large);
}

/* One moment of a model: every figure taken after the same request. */
static void json_moment(FILE *f, const char *sep, const rp_moment *m, const rep_input *in)
{
	const uint64_t *u = m->arenas_by_use;
	fprintf(f, "%s{\"kind\": \"%s\", \"label\": ", sep,
		rp_moment_kind(m->kind));
	rep_json_str(f, m->label, strlen(m->label));
	fprintf(f,
		", \"request\": %" PRIu64 ", \"time_ns\": %" PRIu64 ", \"held_bytes\": %" PRIu64
		", \"live_bytes\": %" PRIu64 ", \"waste\": ",
		m->request, m->time_ns, m->held, m->live);
	json_waste(f, &m->waste);
	fprintf(f,
		", \"arenas_held\": %" PRIu64 ", \"arenas_by_use\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64
		", %" PRIu64 "], \"pinning\": ",
		m->arenas_held, u[0], u[1], u[2], u[3]);
	json_pinning(f, in, &m->pinning);
	if (rp_moment_has_leaks(m->kind)) {
		fprintf(f, ", \"leaks\": {\"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"stacks\": [",
			m->leak_blocks, m->leak_bytes);
		rep_leak_row rows[RP_LEAK_STACKS];
		const bool view = in->res->facts.py_nodes > 0;
		const int n = view ? rep_view_leaks(in, m, rows) : m->nleaks;
		for (int k = 0; k < n; k++) {
			const rp_leak *l = view ? &rows[k].leak : &m->leaks[k];
			fprintf(f, "%s{\"stack\": %" PRIu64 ", ", k ? ", " : "", l->stack);
			if (view)
				json_view_frames(f, in, l->stack, l->frames, rows[k].stacks,
						 rows[k].nstacks, RP_LEAK_STACKS);
			else
				json_frames(f, l->stack, l->frames, in->namer, in->namer_ctx);
			fprintf(f, ", \"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"arenas\": %" PRIu64 "}",
				l->blocks, l->bytes, l->arenas);
		}
		fputs("]}", f);
	}
	fputc('}', f);
}

/* "fork": a forked child's parent and how it was replayed; null when the
 * trace is not a forked child's. */
static void json_fork(FILE *f, const rp_replay_result *res)
{
	const rp_facts *x = &res->facts;
	fputs(", \"fork\": ", f);
	if (!x->fork_from[0]) {
		fputs("null", f);
		return;
	}
	fputs("{\"from\": ", f);
	rep_json_str(f, x->fork_from, strlen(x->fork_from));
	fprintf(f,
		", \"at_event\": %" PRIu64 ", \"ancestors_replayed\": %u, \"inherited_events\": %" PRIu64
		", \"parent_missing\": %s, \"inherited_unknown\": %" PRIu64 "}",
		x->fork_at, (unsigned)x->ancestors, x->inherited_events,
		x->parent_missing ? "true" : "false", res->inherited_unknown);
}

void rep_json_write(FILE *f, const rep_input *in)
{
	const rp_replay_result *res = in->res;
	if (!res->nmodels)
		return;
	fprintf(f,
		"{\"events\": %" PRIu64 ", \"layer\": \"%s\", \"requests\": %" PRIu64
		", \"anomalies\": {\"free_unknown\": %" PRIu64 ", \"realloc_unknown\": %" PRIu64
		", \"alloc_over_live\": %" PRIu64 "}, \"dropped\": ",
		res->events, res->malloc_layer ? "malloc" : "python", res->requests,
		res->free_unknown, res->realloc_unknown, res->alloc_over_live);
	if (res->facts.complete) /* the end record's count; null without one */
		fprintf(f, "%" PRIu64, res->facts.dropped);
	else
		fputs("null", f);
	fprintf(f,
		", \"other_heaps\": {\"states\": %" PRIu64 ", \"requests\": %" PRIu64
		", \"arenas\": %" PRIu64 ", \"arenas_freed\": %" PRIu64 ", \"lost\": %" PRIu64 "}",
		res->facts.other_heaps, res->facts.other_heap_requests, res->facts.other_heap_arenas,
		res->facts.other_heap_arenas_freed, res->facts.other_heap_lost);
	json_fork(f, res);
	fprintf(f, ", \"live\": {\"peak_bytes\": %" PRIu64 ", \"end_bytes\": %" PRIu64
		   "}, \"models\": [",
		res->peak_live, res->live_end);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fprintf(f,
			"%s{\"profile\": \"%s\", \"arenas\": {\"allocated_total\": %" PRIu64
			", \"released\": %" PRIu64 ", \"highwater\": %" PRIu64
			", \"current\": %" PRIu64 "}, \"peak\": {\"live_bytes\": %" PRIu64
			", \"arena_bytes\": %" PRIu64
			", \"held_bytes\": %" PRIu64 "}, \"end\": {\"held_bytes\": %" PRIu64
			", \"arena_bytes\": %" PRIu64
			"}, \"fragmentation\": {\"jw1\": %.4f, \"jw2\": %.4f, \"jw3\": %.4f, "
			"\"jw4\": %.4f}, \"addresses_unlike_interpreter\": ",
			i ? ", " : "", m->profile, m->arenas_total,
			m->arenas_total - m->arenas_current, m->arenas_highwater, m->arenas_current,
			m->peak_live, m->arenas_highwater * m->arena_size, m->peak_held, m->held_end,
			m->arenas_current * m->arena_size, m->jw1, m->jw2, m->jw3, m->jw4);
		/* null: not compared (rp_not_compared says why) */
		char why[128];
		const rp_arena_mismatch *am = &m->arena_parts;
		if (!rp_not_compared(res, m, why, sizeof(why)))
			fprintf(f,
				"%" PRIu64 ", \"arena_mismatches\": %" PRIu64
				", \"arena_mismatch_parts\": {\"freed_held\": %" PRIu64
				", \"released_kept\": %" PRIu64 ", \"recorded_unused\": %" PRIu64
				", \"unrecorded\": %" PRIu64 "}, \"not_compared\": null, \"waste\": {",
				m->addr_mismatch, m->arena_mismatch, am->freed_held, am->released_kept,
				am->recorded_unused, am->unrecorded);
		else {
			fputs("null, \"arena_mismatches\": null, \"arena_mismatch_parts\": null, "
			      "\"not_compared\": ", f);
			rep_json_str(f, why, strlen(why));
			fputs(", \"waste\": {", f);
		}
		fputs("\"at_peak\": ", f);
		json_waste(f, &m->waste_peak);
		fputs(", \"end\": ", f);
		json_waste(f, &m->waste_end);
		fputc('}', f);
		json_gc(f, res, m);
		const rp_series *se = m->series;
		if (se) {
			fprintf(f, ", \"series\": {\"points\": %u, \"requests_per_point\": %u, "
				   "\"time_ns\": [",
				se->n, se->step);
			for (uint32_t j = 0; j < se->n; j++)
				fprintf(f, "%s%" PRIu64, j ? ", " : "", se->time[j]);
			fputc(']', f);
			for (int k = 0; k < RP_NSERIES; k++) {
				fprintf(f, ", \"%s\": [", rp_series_names[k]);
				for (uint32_t j = 0; j < se->n; j++)
					fprintf(f, "%s%" PRIu64, j ? ", " : "", se->v[k][j]);
				fputc(']', f);
			}
			fputc('}', f);
		}
		fputs(", \"pinning\": {\"low_use_below\": 0.25, \"end\": ", f);
		json_pinning(f, in, &m->pinning);
		if (m->pinning_peak.arenas_held) {
			fputs(", \"at_peak\": ", f);
			json_pinning(f, in, &m->pinning_peak);
		}
		fprintf(f,
			"}, \"peak_request\": %" PRIu64 ", \"peak_time_ns\": %" PRIu64
			", \"worst\": {\"request\": %" PRIu64 ", \"time_ns\": %" PRIu64
			", \"held_minus_live_bytes\": %" PRIu64 "}, \"moments\": [",
			m->peak_request, m->peak_time, m->worst_request, m->worst_time, m->worst_waste);
		for (int k = 0; k < m->nmoments; k++)
			json_moment(f, k ? ", " : "", &m->moments[k], in);
		fputs("]}", f);
	}
	fputc(']', f);
	fprintf(f, ", \"marks\": %" PRIu64, res->nmarks);
	if (res->has_exit)
		fprintf(f, ", \"exit\": {\"request\": %" PRIu64 ", \"time_ns\": %" PRIu64 "}",
			res->exit_request, res->exit_time);
	fprintf(f,
		", \"gc\": {\"passes\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64 "], \"unfinished\": %" PRIu64
		"}",
		res->gc_passes[0], res->gc_passes[1], res->gc_passes[2], res->gc_unfinished);
	if (res->has_system) {
		const rp_system *y = &res->system;
		fprintf(f,
			", \"system\": {\"allocator\": \"%s\", \"ops\": %" PRIu64
			", \"ns_per_op\": %.1f, \"heap_peak_bytes\": %" PRIu64
			", \"heap_end_bytes\": %" PRIu64 ", \"rss_start_bytes\": %" PRIu64
			", \"rss_peak_bytes\": %" PRIu64 ", \"rss_end_bytes\": %" PRIu64
			", \"trace_threads\": %" PRIu64 "}",
			y->allocator, y->ops, y->ns_per_op, y->heap_peak, y->heap_end, y->rss_start,
			y->rss_peak, y->rss_end, y->threads);
	}
	fprintf(f, "}\n");
}


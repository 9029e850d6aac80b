/*
 * rep_html_internal.h - what the HTML sink's files share (private to
 * reports/rep_html*.c; the sink itself is rep_html_sink in rep.h):
 *
 *   rep_html.c        the page: its sections and tables, style and script,
 *                     and the formatting of numbers both files use
 *   rep_html_chart.c  the page's SVG charts
 *
 * Every function here writes HTML into f and escapes every string that
 * comes from the trace (through rep_html_text); numbers are written as
 * the C locale writes them.
 */
#ifndef ARENATRACE_REP_HTML_INTERNAL_H
#define ARENATRACE_REP_HTML_INTERNAL_H

#include "rep.h"

#include <stdint.h>
#include <stdio.h>

/* ---- formatting (rep_html.c) ---- */

/* b as "12 B", "1.5 KiB", ... "3.0 TiB"; writes buf and returns it. */
const char *html_bytes_str(char *buf, size_t cap, uint64_t b);
/* ns as seconds, "1.234 s"; writes buf and returns it. */
const char *html_secs_str(char *buf, size_t cap, uint64_t ns);
/* A model's name (rp_model_label) as HTML text. */
void html_model_name(FILE *f, const rp_model_result *m);

/* An arena's use (rp_arena.use, peak_use) runs from 0 to HTML_USE_FULL,
 * its whole size in blocks in use; as a percentage: */
#define HTML_USE_FULL 255
#define HTML_USE_PERCENT(use) ((use) / 2.55)

static inline uint64_t html_sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* ---- charts (rep_html_chart.c) ---- */

/* The layers of held memory, bottom up (the memory chart's bands, the
 * summary's columns). */
enum { L_REQ, L_INTERNAL, L_FREE, L_EMPTY_POOLS, L_EMPTY_ARENAS, L_LARGE, NLAYERS };
extern const char *const html_layer_name[NLAYERS];

/* Held memory of m by layer over time, stacked, GC passes marked. */
void html_memory_chart(FILE *f, const rp_replay_result *res, const rp_model_result *m);
/* One row per arena of m (at most HTML_LIFELINE_ROWS) from allocation to
 * release, shaded by its use, with the paragraph that says which. */
void html_lifelines(FILE *f, const rp_replay_result *res, const rp_model_result *m);
/* Bytes in used and in free blocks per size class, as a <figure>. */
void html_classes_chart(FILE *f, const rp_classes *c, const char *id, const char *caption);
/* Held bytes of every model over time, one line each. */
void html_compare_chart(FILE *f, const rp_replay_result *res);

#define HTML_LIFELINE_ROWS 120 /* arenas drawn in the lifeline chart */

#endif

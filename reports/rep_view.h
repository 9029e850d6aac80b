/*
 * rep_view.h - stacks as the reports show them (rep.h's REP_STACKS_*
 * modes, `--stacks`): which frames of a stack, in which order, which are
 * folded away, and the rows that stacks with the same Python frames make
 * together.  For the sinks of reports/ (rep_view.c); they see the
 * result's stack tree and the namer and describer of rep_input only.
 *
 * A result without Python frames is shown as it always was: every mode is
 * native there, each stack its own row.
 */
#ifndef ARENATRACE_REP_VIEW_H
#define ARENATRACE_REP_VIEW_H

#include "rep.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The mode in effect: in->stacks, AUTO as python; native for a result
 * without Python frames. */
int rep_view_mode(const rep_input *in);

/* Whether the stacks show Python frames (the result has some and the mode
 * is not native): the sinks then name them, mark their origin, and (python
 * mode) group the rows. */
static inline bool rep_view_python(const rep_input *in)
{
	return rep_view_mode(in) != REP_STACKS_NATIVE;
}

/* One line of a stack as shown. */
typedef struct rep_vline {
	const char *text;  /* valid during the call only */
	uint64_t frame;    /* the frame it names (a return address or tf_py_frame) */
	bool python;       /* a Python frame */
	bool folded;       /* python mode: a native frame under the Python ones */
	rep_origin origin; /* a Python frame's file (REP_ORIGIN_NONE when unknown) */
} rep_vline;

/* The lines of the stack whose leaf node is `leaf`, in the mode's order:
 * the shown ones (at most max lines), then the folded ones (at most
 * max_folded; 0: none). */
void rep_view_lines(const rep_input *in, uint64_t leaf, int max, int max_folded,
		    void (*fn)(void *ctx, const rep_vline *line), void *ctx);

/* How many native frames python mode folds under the stack's Python
 * frames (0 in the other modes, and for a stack without Python frames). */
int rep_view_folded(const rep_input *in, uint64_t leaf);

/* The stack's Python frames, innermost first, at most max: their values
 * in frames[] (may be NULL) and what the describer says of them in out[]
 * (zero when unknown).  Returns their count. */
int rep_view_pyframes(const rep_input *in, uint64_t leaf, uint64_t *frames, rep_pyframe *out,
		      int max);

/* The innermost Python frame of the stack in the program's own files
 * (REP_ORIGIN_PROGRAM), its line as the namer names it into text (cap
 * bytes); false when there is none. */
bool rep_view_program_frame(const rep_input *in, uint64_t leaf, char *text, size_t cap);

/* Groups n stacks (leaf node ids) by their Python frames: in python mode,
 * stacks whose Python frames are the same (the same code and line for
 * each) are one group; a stack without Python frames, or any stack in
 * the other modes, is a group of its own.  group[i] gets stack i's,
 * numbered 0, 1, ... in the order of their first stacks.  Returns the
 * number of groups, or REP_E_NOMEM. */
int64_t rep_view_group(const rep_input *in, const uint64_t *stacks, size_t n, uint32_t *group);

/* A row of the call-site tables: the call sites of one group summed
 * (allocations, bytes, live bytes and blocks), `arenas` the most any of
 * them keeps (the arenas they share cannot be told apart), c.stack the
 * first's (the one that allocated the most).  nstacks: call sites in it. */
typedef struct rep_site_row {
	rp_callsite c;
	uint64_t nstacks;
} rep_site_row;

/* The call-site rows of the result, by bytes as res->callsites is, into
 * *rows (malloc'd: free it; NULL when there is none); their count in *n.
 * REP_OK or REP_E_NOMEM. */
int rep_view_sites(const rep_input *in, rep_site_row **rows, uint64_t *n);
/* The rows of the first rep_view_sites of an input, for the next ones
 * (callsites.csv and the page each ask; grouping Python stacks is most of
 * the cost): zeroed before use, rep_view_memo_free after.  rows is NULL
 * until rows are kept; rows kept for one view mode are not taken for
 * another. */
typedef struct rep_view_memo {
	rep_site_row *rows;
	uint64_t n;
	int mode;
	/* the grouping behind rows (mode group_mode): the stacks grouped, in
	 * the order of the call sites, and each one's group number.  Another
	 * result of the same trace whose call sites are of these stacks in
	 * this order (a leading replay's, rep_csv_prepare, for the follower's)
	 * takes the grouping and sums its own figures. */
	uint64_t *stacks;
	uint32_t *group;
	size_t nstacks;
	int64_t ngroups;
	int group_mode;
} rep_view_memo;
void rep_view_memo_free(rep_view_memo *m);
/* Forgets the rows, keeping the grouping: for another result's figures. */
void rep_view_memo_forget_rows(rep_view_memo *m);

/* A row of a pinning table: its pins summed as the call sites are (first
 * and last allocation the earliest and the latest); pin.stack and frames
 * the first's; nstacks the stacks it sums, stacks[] the ids of the first
 * RP_PIN_STACKS of them. */
typedef struct rep_pin_row {
	rp_pin pin;
	int nstacks;
	uint64_t stacks[RP_PIN_STACKS];
} rep_pin_row;

/* The rows of a pinning table, by arenas then bytes, as the replay ranks
 * pins; at most RP_PIN_STACKS.  In python mode they merge the replay's
 * longer ranking (pn->ranked), so that a line reached by many C paths
 * still leaves room for the other lines. */
int rep_view_pins(const rep_input *in, const rp_pinning *pn, rep_pin_row rows[RP_PIN_STACKS]);

/* A row of a moment's leaks: its stacks summed, by bytes (python mode:
 * merged from m->leaks_ranked); at most RP_LEAK_STACKS. */
typedef struct rep_leak_row {
	rp_leak leak;
	int nstacks;
	uint64_t stacks[RP_LEAK_STACKS];
} rep_leak_row;

int rep_view_leaks(const rep_input *in, const rp_moment *m, rep_leak_row rows[RP_LEAK_STACKS]);

#endif

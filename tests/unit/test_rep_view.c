/*
 * test_rep_view.c - stacks as the reports show them (reports/rep_view.c)
 * on a Python program's result built by hand (rep_testutil.c's rt_py):
 * the frames of each mode in their order, the native ones folded under
 * the Python ones, stacks of the same Python lines grouped into one row
 * with their figures summed (and only by line, never by offset), and the
 * terminal summary and --json that show them; a result without Python
 * frames shows its stacks as it always has, whatever the mode.
 */
#include "rep_testutil.h"
#include "rep_text.h"
#include "rep_view.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAIN_PY "/home/u/app/main.py:30 in <module>"
#define LIB_PY "/home/u/app/lib.py:12 in make"
#define DECODER_PY "/usr/lib/python3.12/json/decoder.py:352 in JSONDecoder.raw_decode"

static rep_input input(const rt_py *p, int stacks)
{
	return (rep_input){&p->r.res, "app.atr", rt_namer, NULL, rt_describe, stacks, NULL, NULL};
}

/* A stack's lines, "|" after each, "~" before a folded one, "!" after a
 * library's frame and "*" after the program's own. */
typedef struct lines {
	char buf[2048];
	size_t len;
} lines;

static void add_line(void *ctx, const rep_vline *l)
{
	lines *o = ctx;
	const char *mark = l->origin == REP_ORIGIN_PROGRAM ? "*"
			   : l->origin == REP_ORIGIN_STDLIB || l->origin == REP_ORIGIN_SITE ? "!"
											   : "";
	o->len += (size_t)snprintf(o->buf + o->len, sizeof(o->buf) - o->len, "%s%s%s|",
				   l->folded ? "~" : "", l->text, mark);
}

static const char *stack_lines(const rep_input *in, uint64_t stack, lines *o)
{
	o->len = 0;
	o->buf[0] = 0;
	rep_view_lines(in, stack, 24, 24, add_line, o);
	return o->buf;
}

static void test_modes(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rt_result *plain = rt_result_new();
	rep_input in = input(p, REP_STACKS_AUTO);
	assert_int_equal(rep_view_mode(&in), REP_STACKS_PYTHON);
	assert_true(rep_view_python(&in));
	in.stacks = REP_STACKS_HYBRID;
	assert_int_equal(rep_view_mode(&in), REP_STACKS_HYBRID);
	in.stacks = REP_STACKS_NATIVE;
	assert_false(rep_view_python(&in));
	/* without Python frames: native, whatever is asked */
	rep_input none = {&plain->res, "c.atr", rt_namer, NULL, rt_describe, REP_STACKS_PYTHON, NULL, NULL};
	assert_int_equal(rep_view_mode(&none), REP_STACKS_NATIVE);
	none.stacks = REP_STACKS_HYBRID;
	assert_int_equal(rep_view_mode(&none), REP_STACKS_NATIVE);
	free(plain);
	free(p);
}

/* Python mode: the Python frames innermost first, then the native ones
 * folded; hybrid: call order; native: the native frames only. */
static void test_lines_of_each_mode(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	lines o;
	rep_input in = input(p, REP_STACKS_PYTHON);
	assert_string_equal(stack_lines(&in, 8, &o),
			    DECODER_PY "!|" LIB_PY "*|" MAIN_PY "*|~" RT_FRAME_CALLER "|");
	assert_int_equal(rep_view_folded(&in, 8), 1);
	assert_string_equal(stack_lines(&in, 3, &o), LIB_PY "*|" MAIN_PY "*|~" RT_FRAME_INLINED
						     "|~" RT_FRAME_LEAF "|");
	/* no Python frame: its native ones, shown */
	assert_string_equal(stack_lines(&in, 9, &o), RT_FRAME_CALLER "|");
	assert_int_equal(rep_view_folded(&in, 9), 0);
	/* a code the trace has no record of */
	assert_string_equal(stack_lines(&in, 11, &o),
			    "unknown Python frame (code 9, offset 6)|" MAIN_PY "*|~" RT_FRAME_INLINED
			    "|~" RT_FRAME_LEAF "|");
	in.stacks = REP_STACKS_HYBRID;
	assert_string_equal(stack_lines(&in, 8, &o),
			    RT_FRAME_CALLER "|" DECODER_PY "!|" LIB_PY "*|" MAIN_PY "*|");
	assert_int_equal(rep_view_folded(&in, 8), 0);
	in.stacks = REP_STACKS_NATIVE;
	assert_string_equal(stack_lines(&in, 8, &o), RT_FRAME_CALLER "|");
	/* at most max shown lines, then the folded ones */
	in.stacks = REP_STACKS_PYTHON;
	o.len = 0;
	rep_view_lines(&in, 8, 2, 1, add_line, &o);
	assert_string_equal(o.buf, DECODER_PY "!|" LIB_PY "*|~" RT_FRAME_CALLER "|");
	/* the innermost frame of the program's own files */
	char text[256];
	assert_true(rep_view_program_frame(&in, 8, text, sizeof(text)));
	assert_string_equal(text, LIB_PY);
	assert_false(rep_view_program_frame(&in, 9, text, sizeof(text)));
	rep_pyframe pf[4];
	uint64_t fr[4];
	assert_int_equal(rep_view_pyframes(&in, 8, fr, pf, 4), 3);
	assert_int_equal(fr[0], tf_py_frame(3, 20));
	assert_string_equal(pf[0].function, "JSONDecoder.raw_decode");
	assert_int_equal(pf[0].line, 352);
	assert_int_equal(pf[0].origin, REP_ORIGIN_STDLIB);
	assert_string_equal(pf[2].file, "/home/u/app/main.py");
	free(p);
}

/* Call sites of the same Python lines are one row, summed, ranked again
 * by bytes; the others one a call site; hybrid keeps every call site. */
static void test_sites_grouped(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_PYTHON);
	rep_site_row *rows;
	uint64_t n;
	assert_int_equal(rep_view_sites(&in, &rows, &n), REP_OK);
	assert_int_equal(n, 5);
	/* stacks 3, 4 and 6: lib.py:12 from main.py:30, by three C paths and two offsets */
	assert_int_equal(rows[0].c.stack, 3);
	assert_int_equal(rows[0].nstacks, 3);
	assert_int_equal(rows[0].c.allocs, 10 + 6 + 3);
	assert_int_equal(rows[0].c.bytes, 1000 + 600 + 300);
	assert_int_equal(rows[0].c.live_peak, 500 + 300 + 100);
	assert_int_equal(rows[0].c.live_end, 100 + 60 + 30);
	assert_int_equal(rows[0].c.blocks_end, 4);
	assert_int_equal(rows[0].c.arenas, 2); /* the most of any */
	const uint64_t want[] = {3, 8, 11, 9, 0};
	for (uint64_t k = 0; k < n; k++)
		assert_int_equal(rows[k].c.stack, want[k]);
	assert_int_equal(rows[1].nstacks, 1);
	assert_int_equal(rows[1].c.bytes, 700);
	free(rows);
	in.stacks = REP_STACKS_HYBRID;
	assert_int_equal(rep_view_sites(&in, &rows, &n), REP_OK);
	assert_int_equal(n, RT_PY_SITES);
	for (uint64_t k = 0; k < n; k++) {
		assert_int_equal(rows[k].c.stack, p->callsite[k].stack);
		assert_int_equal(rows[k].c.bytes, p->callsite[k].bytes);
		assert_int_equal(rows[k].nstacks, 1);
	}
	free(rows);
	free(p);
}

/* With a memo, the second and later asks give the first's rows (each a
 * copy of its own), for the same mode only: another mode groups again. */
static void test_sites_memo(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_view_memo memo = {0};
	rep_input in = input(p, REP_STACKS_PYTHON);
	in.memo = &memo;
	rep_site_row *a, *b, *c;
	uint64_t na, nb, nc;
	assert_int_equal(rep_view_sites(&in, &a, &na), REP_OK);
	assert_non_null(memo.rows); /* kept */
	assert_int_equal(memo.n, 5);
	assert_int_equal(rep_view_sites(&in, &b, &nb), REP_OK);
	assert_int_equal(nb, na);
	assert_ptr_not_equal(a, b);
	assert_memory_equal(a, b, (size_t)na * sizeof(*a));
	/* the memo's rows are what a memo-less ask gives */
	rep_input plain = input(p, REP_STACKS_PYTHON);
	free(b);
	assert_int_equal(rep_view_sites(&plain, &b, &nb), REP_OK);
	assert_int_equal(nb, na);
	assert_memory_equal(a, b, (size_t)na * sizeof(*a));
	/* hybrid: a row a call site, not the memo's five */
	in.stacks = REP_STACKS_HYBRID;
	assert_int_equal(rep_view_sites(&in, &c, &nc), REP_OK);
	assert_int_equal(nc, RT_PY_SITES);
	free(a), free(b), free(c);
	rep_view_memo_free(&memo);
	assert_null(memo.rows); /* nothing kept */
	free(p);
}

/* A memo's grouping serves another result of the same call-site stacks
 * (a leading replay's for the follower's: live bytes at the peak differ):
 * its rows are summed from that result's own figures; a result whose
 * stacks differ is grouped anew. */
static void test_sites_memo_grouping(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_view_memo memo = {0};
	rep_input in = input(p, REP_STACKS_PYTHON);
	in.memo = &memo;
	rep_site_row *a, *b;
	uint64_t na, nb;
	assert_int_equal(rep_view_sites(&in, &a, &na), REP_OK);
	free(a);
	assert_non_null(memo.group);
	assert_int_equal(memo.nstacks, RT_PY_SITES);
	assert_int_equal(memo.ngroups, 5);
	rep_view_memo_forget_rows(&memo);
	assert_null(memo.rows);
	assert_non_null(memo.group); /* the grouping stays */
	/* the follower's result: other live bytes at the peak */
	for (int k = 0; k < RT_PY_SITES; k++)
		p->callsite[k].live_peak += 1000 * (uint64_t)(k + 1);
	assert_int_equal(rep_view_sites(&in, &a, &na), REP_OK);
	rep_input plain = input(p, REP_STACKS_PYTHON);
	assert_int_equal(rep_view_sites(&plain, &b, &nb), REP_OK);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na * sizeof(*a)); /* its own figures */
	assert_int_equal(a[0].c.live_peak, 500 + 300 + 100 + (1 + 3 + 4) * 1000);
	free(a), free(b);
	/* the grouping is taken, not made again: a memo that makes each stack
	 * a group of its own gives a row a call site */
	rep_view_memo_forget_rows(&memo);
	for (size_t k = 0; k < memo.nstacks; k++)
		memo.group[k] = (uint32_t)k;
	memo.ngroups = (int64_t)memo.nstacks;
	assert_int_equal(rep_view_sites(&in, &a, &na), REP_OK);
	assert_int_equal(na, RT_PY_SITES);
	free(a);
	/* stacks other than the memo's: grouped anew */
	rep_view_memo_forget_rows(&memo);
	memo.stacks[0] += 100;
	assert_int_equal(rep_view_sites(&in, &a, &na), REP_OK);
	assert_int_equal(na, 5);
	free(a);
	rep_view_memo_free(&memo);
	assert_null(memo.group);
	free(p);
}

/* The key is the line: without lines (no describer) the frames' offsets
 * differ, and stack 6 (lib.py at offset 8) is a row of its own. */
static void test_grouped_by_line_not_offset(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_PYTHON);
	in.py = NULL;
	const uint64_t stacks[] = {3, 4, 6, 8, 9, 0, 11};
	uint32_t g[7];
	assert_int_equal(rep_view_group(&in, stacks, 7, g), 6);
	assert_int_equal(g[0], 0);
	assert_int_equal(g[1], 0); /* 4: the same Python frames as 3, the same offsets */
	assert_int_equal(g[2], 1); /* 6: lib.py at another offset, its line unknown */
	in.py = rt_describe;
	assert_int_equal(rep_view_group(&in, stacks, 7, g), 5);
	assert_int_equal(g[2], 0); /* the same line */
	assert_int_equal(g[3], 1);
	assert_int_equal(g[4], 2);
	assert_int_equal(g[5], 3);
	assert_int_equal(g[6], 4);
	free(p);
}

/* A pinning table's rows: ranked again by arenas then bytes once merged;
 * untouched outside python mode. */
static void test_pins_grouped(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_PYTHON);
	rep_pin_row rows[RP_PIN_STACKS];
	const rp_pinning *pn = &p->r.res.models[0].pinning;
	assert_int_equal(rep_view_pins(&in, pn, rows), 2);
	assert_int_equal(rows[0].pin.stack, 4);
	assert_int_equal(rows[0].nstacks, 2);
	assert_int_equal(rows[0].stacks[1], 3);
	assert_int_equal(rows[0].pin.arenas, 2);
	assert_int_equal(rows[0].pin.blocks, 9);
	assert_int_equal(rows[0].pin.bytes, 500);
	assert_int_equal(rows[0].pin.first_ns, 100);
	assert_int_equal(rows[0].pin.last_ns, 800);
	assert_int_equal(rows[1].pin.stack, 8);
	in.stacks = REP_STACKS_NATIVE;
	assert_int_equal(rep_view_pins(&in, pn, rows), 3);
	for (int k = 0; k < 3; k++)
		assert_int_equal(rows[k].pin.stack, pn->stacks[k].stack);
	free(p);
}

/* In python mode the rows come from the replay's longer ranking when it
 * kept one: a line reached by many C paths leaves room for the others. */
static void test_pins_from_ranking(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_PYTHON);
	rp_pinning pn = p->r.res.models[0].pinning; /* 8, 4, 3 */
	const rp_pin ranked[] = {pn.stacks[1], pn.stacks[2], pn.stacks[0]}; /* 4, 3, 8 */
	pn.nstacks = 1;
	pn.stacks[0] = ranked[0];
	pn.ranked = ranked;
	pn.nranked = 3;
	rep_pin_row rows[RP_PIN_STACKS];
	assert_int_equal(rep_view_pins(&in, &pn, rows), 2);
	assert_int_equal(rows[0].pin.stack, 4);
	assert_int_equal(rows[0].nstacks, 2);
	assert_int_equal(rows[1].pin.stack, 8);
	in.stacks = REP_STACKS_HYBRID; /* the table as the replay ranked it */
	assert_int_equal(rep_view_pins(&in, &pn, rows), 1);
	assert_int_equal(rows[0].pin.stack, 4);
	/* leaks likewise */
	rp_moment m = {.kind = RP_AT_EXIT, .nleaks = 1};
	const rp_leak lr[] = {{.stack = 6, .bytes = 30}, {.stack = 8, .bytes = 20}, {.stack = 3, .bytes = 10}};
	m.leaks[0] = lr[0];
	m.leaks_ranked = lr;
	m.nleaks_ranked = 3;
	rep_leak_row lrows[RP_LEAK_STACKS];
	in.stacks = REP_STACKS_PYTHON;
	assert_int_equal(rep_view_leaks(&in, &m, lrows), 2);
	assert_int_equal(lrows[0].leak.stack, 6); /* 6 and 3: lib.py:12 from main.py:30 */
	assert_int_equal(lrows[0].leak.bytes, 40);
	assert_int_equal(lrows[1].leak.stack, 8);
	free(p);
}

/* Writes the summary or the JSON of in into a string (malloc'd). */
static char *text_of(const rep_input *in, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	if (json)
		rep_json_write(f, in);
	else
		rep_summary_write(f, in, NULL, NULL);
	fclose(f);
	return buf;
}

static void test_summary(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_AUTO);
	char *out = text_of(&in, false);
	const char *want =
	    "cpython-3.12 at the end: 3 arenas held, 2 less than a quarter used; the stacks whose "
	    "blocks keep them:\n"
	    "    2 arenas,        9 blocks,        500 bytes, allocated 0.000-0.000 s  stack 4 and 1 "
	    "more\n"
	    "        " LIB_PY "\n"
	    "        " MAIN_PY "\n"
	    "    2 arenas,        9 blocks,        400 bytes, allocated 0.000-0.000 s  stack 8\n"
	    "        " DECODER_PY " [stdlib]\n"
	    "        " LIB_PY "\n"
	    "        " MAIN_PY "\n"
	    "cpython-3.12 gc-off at the end";
	if (!strstr(out, want))
		fail_msg("summary:\n%s", out);
	free(out);
	in.stacks = REP_STACKS_HYBRID;
	out = text_of(&in, false);
	assert_non_null(strstr(out, "stack 8\n        " RT_FRAME_CALLER "\n        " DECODER_PY
				    " [stdlib]\n        " LIB_PY "\n"));
	assert_null(strstr(out, "and 1 more")); /* a row a stack */
	free(out);
	in.stacks = REP_STACKS_NATIVE;
	out = text_of(&in, false);
	assert_non_null(strstr(out, "stack 8\n        " RT_FRAME_CALLER "\n    "));
	assert_null(strstr(out, "lib.py"));
	free(out);
	free(p);
}

static void test_json(void **state)
{
	(void)state;
	rt_py *p = rt_py_new();
	rep_input in = input(p, REP_STACKS_PYTHON);
	char *out = text_of(&in, true);
	const char *want =
	    "{\"stack\": 4, \"frames\": [\"0x402000\"], \"symbols\": [\"" LIB_PY "\", \"/home/u/app/"
	    "main.py:30 in <module>\"], \"python\": [{\"file\": \"/home/u/app/lib.py\", \"line\": 12, "
	    "\"function\": \"make\", \"origin\": \"program\"}, {\"file\": \"/home/u/app/main.py\", "
	    "\"line\": 30, \"function\": \"<module>\", \"origin\": \"program\"}], \"merged_count\": 2, "
	    "\"merged_stacks\": [4, 3], \"arenas\": 2, \"blocks\": 9, \"bytes\": 500";
	if (!strstr(out, want))
		fail_msg("json:\n%s", out);
	assert_non_null(strstr(out, "\"origin\": \"stdlib\"}"));
	free(out);

	/* a row of more stacks than it lists: 12 of one line, the first 10 named */
	rp_pin many[12];
	for (int k = 0; k < 12; k++)
		many[k] = (rp_pin){.stack = k % 2 ? 3 : 4, .arenas = 1, .blocks = 1, .bytes = 10};
	for (int i = 0; i < p->r.res.nmodels; i++) {
		p->r.res.models[i].pinning.ranked = many;
		p->r.res.models[i].pinning.nranked = 12;
	}
	out = text_of(&in, true);
	assert_non_null(strstr(out, "\"merged_count\": 12, \"merged_stacks\": [4, 3, 4, 3, 4, 3, 4, 3, 4, 3], "
				    "\"arenas\": 1, \"blocks\": 12, \"bytes\": 120"));
	free(out);
	in.stacks = REP_STACKS_NATIVE;
	out = text_of(&in, true);
	assert_null(strstr(out, "\"python\": ["));
	assert_null(strstr(out, "merged_stacks"));
	assert_non_null(strstr(out, "{\"stack\": 8, \"frames\": [\"0x402000\"], \"symbols\": [\"" RT_FRAME_CALLER "\"]"));
	free(out);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_modes),
	    cmocka_unit_test(test_lines_of_each_mode),
	    cmocka_unit_test(test_sites_grouped),
	    cmocka_unit_test(test_sites_memo),
	    cmocka_unit_test(test_sites_memo_grouping),
	    cmocka_unit_test(test_grouped_by_line_not_offset),
	    cmocka_unit_test(test_pins_grouped),
	    cmocka_unit_test(test_pins_from_ranking),
	    cmocka_unit_test(test_summary),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_rp_workload.c - the object-graph workload language
 * (traces/workloads/README.md): what the parser makes of a file, the
 * one-line "FILE:LINE: message" it gives for each kind of bad input, and
 * what a simulation of a small workload counts.
 */
#include "rp_workload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static rp_workload *parse_ok(const char *text)
{
	rp_workload *w = NULL;
	char err[256] = "";
	int rc = rp_workload_parse(text, strlen(text), "t.wl", &w, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse failed: %s", err);
	assert_non_null(w);
	return w;
}

/* The error for text, which must start with "t.wl:LINE: " and hold want. */
static void parse_fails(const char *text, int line, const char *want)
{
	rp_workload *w = NULL;
	char err[256] = "";
	assert_int_equal(rp_workload_parse(text, strlen(text), "t.wl", &w, err, sizeof(err)), -1);
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "t.wl:%d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, want))
		fail_msg("for %s: got '%s', want '%s...%s'", text, err, prefix, want);
	assert_null(strchr(err, '\n')); /* one line */
	rp_workload_free(w);
}

static void test_statements(void **state)
{
	(void)state;
	rp_workload *w = parse_ok("# a comment line\n"
				  "new a 56 container   # trailing comment\n"
				  "\n"
				  "new b 700 plain\n"
				  "ref a b\n"
				  "repeat 3\n"
				  "\tnew n% 56 container\n"
				  "\tref a n%\n"
				  "end\n"
				  "threshold 100 5\n"
				  "collect\n"
				  "collect 0\n"
				  "unref a b\n"
				  "drop a\n");
	assert_int_equal(w->n, 12);
	const rp_wl_stmt *s = w->s;
	assert_int_equal(s[0].op, RP_WL_NEW);
	assert_true(s[0].container);
	assert_int_equal(s[0].num[0], 56);
	assert_int_equal(s[0].line, 2);
	assert_string_equal(w->names + s[0].name[0], "a");
	assert_int_equal(s[1].op, RP_WL_NEW);
	assert_false(s[1].container);
	assert_int_equal(s[1].num[0], 700);
	assert_int_equal(s[2].op, RP_WL_REF);
	assert_string_equal(w->names + s[2].name[1], "b");
	/* repeat and end point at each other; the body is one level deeper */
	assert_int_equal(s[3].op, RP_WL_REPEAT);
	assert_int_equal(s[3].num[0], 3);
	assert_int_equal(s[6].op, RP_WL_END);
	assert_int_equal(s[3].jump, 6);
	assert_int_equal(s[6].jump, 3);
	assert_int_equal(s[4].depth, 1);
	assert_string_equal(w->names + s[4].name[0], "n%");
	assert_int_equal(s[7].op, RP_WL_THRESHOLD);
	assert_int_equal(s[7].nargs, 2);
	assert_int_equal(s[7].num[1], 5);
	assert_int_equal(s[8].op, RP_WL_COLLECT);
	assert_int_equal(s[8].nargs, 0);
	assert_int_equal(s[9].nargs, 1);
	assert_int_equal(s[9].num[0], 0);
	/* statements a run executes: 3 before, the repeat line, 3 x (2 + end), 5 after */
	assert_int_equal(w->executed, 3 + 1 + 3 * 3 + 5);
	rp_workload_free(w);
}

static void test_errors(void **state)
{
	(void)state;
	parse_fails("new a 56 container\nfrobnicate a\n", 2, "unknown statement 'frobnicate'");
	parse_fails("new a 56\n", 1, "new takes");
	parse_fails("new a 56 box\n", 1, "the kind is 'container' or 'plain'");
	parse_fails("new 9a 56 plain\n", 1, "bad name '9a'");
	parse_fails("new a-b 56 plain\n", 1, "letters, digits");
	parse_fails("new a% 56 plain\n", 1, "outside a repeat block");
	parse_fails("new a 0 plain\n", 1, "must be a number from 1");
	parse_fails("new a 1073741825 plain\n", 1, "must be a number");
	parse_fails("end\n", 1, "end without repeat");
	parse_fails("repeat 2\nnew a 56 plain\n", 1, "repeat without end"); /* said at the repeat */
	parse_fails("repeat 0\nend\n", 1, "must be a number from 1");
	parse_fails("new a 56 plain\nnew \xc3\xa9 56 plain\n", 2, "not printable ASCII");
	/* nine nested blocks */
	char deep[256] = "";
	for (int i = 0; i < 9; i++)
		strcat(deep, "repeat 2\n");
	strcat(deep, "collect\n");
	for (int i = 0; i < 9; i++)
		strcat(deep, "end\n");
	parse_fails(deep, 9, "nest at most 8 deep");
	/* 10^9 x 10^9 statements: over the limit, said before anything runs */
	parse_fails("repeat 1000000000\nrepeat 1000000000\ncollect\nend\nend\n", 2,
		    "more than 50000000 statements");
	char name[100];
	memset(name, 'x', 70);
	name[70] = 0;
	char text[200];
	snprintf(text, sizeof(text), "new %s 56 plain\n", name);
	parse_fails(text, 1, "longer than 64 bytes");
}

/* A ring of lists that only the collector frees: reachable, it survives
 * a collection; dropped, a full collection frees every member. */
static void test_simulation(void **state)
{
	(void)state;
	rp_workload *w = parse_ok("new first 56 container\n"
				  "alias prev first\n"
				  "repeat 99\n"
				  "new node 56 container\n"
				  "ref prev node\n"
				  "alias prev node\n"
				  "end\n"
				  "drop node\n"
				  "ref prev first\n"
				  "drop prev\n"
				  "threshold 0\n"
				  "collect\n"
				  "drop first\n"
				  "collect\n");
	rp_sim_opts o = {.profile = "cpython-3.12", .file = "t.wl", .check = true};
	rp_sim_result res;
	char err[256] = "";
	if (rp_sim_run(w, &o, &res, err, sizeof(err)) != 0)
		fail_msg("run failed: %s", err);
	assert_string_equal(res.python, "3.12");
	assert_int_equal(res.explicit_collects, 2);
	assert_int_equal(res.returns[0], 0);   /* all reachable through first */
	assert_int_equal(res.returns[1], 100); /* the whole ring */
	assert_int_equal(res.requests, 200);   /* 100 allocations, 100 frees */
	assert_true(res.arenas_allocated >= 1);
	/* the same under --gc off: nothing is ever collected */
	o.gc_off = true;
	assert_int_equal(rp_sim_run(w, &o, &res, err, sizeof(err)), 0);
	assert_int_equal(res.returns[1], 0);
	assert_int_equal(res.requests, 100);
	rp_workload_free(w);
}

/* A statement that cannot run is an error at its line. */
static void test_run_errors(void **state)
{
	(void)state;
	rp_workload *w = parse_ok("new a 56 plain\nnew b 56 plain\nref a b\n");
	rp_sim_opts o = {.file = "t.wl"};
	rp_sim_result res;
	char err[256] = "";
	assert_int_equal(rp_sim_run(w, &o, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.wl:3: "));
	rp_workload_free(w);
	w = parse_ok("drop nobody\n");
	assert_int_equal(rp_sim_run(w, &o, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.wl:1: "));
	rp_workload_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_statements),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_simulation),
	    cmocka_unit_test(test_run_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

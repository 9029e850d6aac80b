/*
 * test_rep_csv.c - the CSV sink (reports/rep_csv.c) on a replay result
 * built by hand (rep_testutil.c): each file's header and rows as
 * reports/README.md documents them, to the byte; RFC 4180 throughout
 * (CRLF line ends, every row as wide as its header, a field holding a
 * comma or a quote quoted with its quotes doubled); the files written only
 * when they have something to say.
 */
#include "rep_paths.h"
#include "rep_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <inttypes.h>

/* Stack 2's frames as one field: leaf first, " < " between, quoted for
 * its commas and quotes. */
#define FRAMES_FIELD                                                                               \
	"\"ns::Box<std::pair<int, char>>::make (inlined) < run_job(\"\"a,b\"\") at job.cc:12 "     \
	"< main at main.c:3\""

typedef struct run {
	rt_result *r;
	char dir[512];
	rep_out out;
} run;

static void run_csv(run *t)
{
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink(&rep_csv_sink, &t->r->res, "job.atr", t->dir, &t->out),
	                 REP_OK);
}

static int setup(void **state)
{
	run *t = calloc(1, sizeof(*t));
	t->r = rt_result_new();
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	run *t = *state;
	if (t->dir[0])
		rt_rmdir(t->dir);
	free(t->r);
	free(t);
	return 0;
}

static void assert_file(const run *t, const char *name, const char *want)
{
	char *got = rt_read(t->dir, name);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_timeline(void **state)
{
	run *t = *state;
	run_csv(t);
	assert_file(t, "timeline.csv",
	            "model,point,time_ns,live_bytes,block_bytes,pool_bytes,arena_bytes,arenas,"
	            "large_bytes,pool_requested_bytes,empty_arena_bytes,moments\r\n"
	            "cpython-3.12,0,500000000,1000,2000,3000,4000,5000,6000,7000,8000,\r\n"
	            "cpython-3.12,1,1000000000,1001,2001,3001,4001,5001,6001,7001,8001,\r\n"
	            "cpython-3.12,2,1500000000,1002,2002,3002,4002,5002,6002,7002,8002,\r\n"
	            "cpython-3.12 gc-off,0,500000000,1010,2010,3010,4010,5010,6010,7010,8010,\r\n"
	            "cpython-3.12 gc-off,1,1000000000,1011,2011,3011,4011,5011,6011,7011,8011,\r\n"
	            "cpython-3.12 gc-off,2,1500000000,1012,2012,3012,4012,5012,6012,7012,8012,\r\n");
	char *dummy = rt_read(t->dir, "moments.csv");
	assert_null(dummy); /* no moment analysed: no moments.csv */
}

/* Two moments of the first model: a mark between points 0 and 1 and the
 * exit at point 2's time, with a pinning stack and a leak. */
static void add_moments(rt_result *r)
{
	static rp_moment mo[2];
	memset(mo, 0, sizeof(mo));
	mo[0] = (rp_moment){.kind = RP_AT_MARK, .request = 7, .time_ns = 800000000, .held = 4000,
			    .live = 1001, .arenas_held = 1};
	snprintf(mo[0].label, sizeof(mo[0].label), "after, \"evict\"");
	mo[0].arenas_by_use[0] = 1;
	mo[0].waste = (rp_waste){1, 2, 3, 4, 5, 6};
	mo[0].pinning.arenas_low = 1;
	mo[0].pinning.nstacks = 1;
	mo[0].pinning.stacks[0] = (rp_pin){.stack = 2, .arenas = 1, .blocks = 3, .bytes = 96};
	mo[1] = (rp_moment){.kind = RP_AT_EXIT, .request = 9, .time_ns = 1500000000, .held = 4000,
			    .live = 1002, .arenas_held = 1, .leak_blocks = 5, .leak_bytes = 160,
			    .nleaks = 1};
	snprintf(mo[1].label, sizeof(mo[1].label), "exit");
	mo[1].leaks[0] = (rp_leak){.stack = 2, .blocks = 4, .bytes = 128, .arenas = 1};
	r->res.models[0].moments = mo;
	r->res.models[0].nmoments = 2;
}

static void test_moments(void **state)
{
	run *t = *state;
	add_moments(t->r);
	run_csv(t);
	char *tl = rt_read(t->dir, "timeline.csv");
	assert_non_null(tl);
	/* each moment on the point whose interval holds its time */
	assert_non_null(strstr(tl, "cpython-3.12,1,1000000000,1001,2001,3001,4001,5001,6001,7001,8001,"
				   "\"after, \"\"evict\"\"\"\r\n"));
	assert_non_null(strstr(tl, "cpython-3.12,2,1500000000,1002,2002,3002,4002,5002,6002,7002,8002,"
				   "exit\r\n"));
	free(tl);
	assert_file(t, "moments.csv",
	            "model,kind,label,request,time_ns,held_bytes,live_bytes,requested,internal,"
	            "free_blocks,empty_pools,empty_arenas,large,arenas_held,arenas_under_25,"
	            "arenas_under_50,arenas_under_75,arenas_over_75,arenas_low,top_pinning_stack,"
	            "top_pinning_frames,leaks_blocks,leaks_bytes,top_leak_stack,top_leak_frames,"
	            "top_leak_blocks,top_leak_bytes\r\n"
	            "cpython-3.12,mark,\"after, \"\"evict\"\"\",7,800000000,4000,1001,1,2,3,4,5,6,1,1,"
	            "0,0,0,1,2," FRAMES_FIELD ",,,,,,\r\n"
	            "cpython-3.12,exit,exit,9,1500000000,4000,1002,0,0,0,0,0,0,1,0,0,0,0,0,,,5,160,2,"
	            FRAMES_FIELD ",4,128\r\n");
}

static void test_sizeclasses(void **state)
{
	run *t = *state;
	t->r->res.nmodels = 1;
	run_csv(t);
	/* use_end: 10 blocks in use of 1023, 4 decimals; an unused class 0 */
	assert_file(t, "sizeclasses.csv",
	            "model,class,block_size,pools_end,blocks_end,free_blocks_end,use_end,"
	            "pools_peak,blocks_peak,free_blocks_peak\r\n"
	            "cpython-3.12,0,16,1,10,1013,0.0098,1,20,1003\r\n"
	            "cpython-3.12,1,32,0,0,0,0.0000,1,5,500\r\n");
}

static void test_arenas(void **state)
{
	run *t = *state;
	t->r->res.nmodels = 1;
	run_csv(t);
	/* a released arena without a top stack: empty stack columns; a held
	 * one: no released_ns, its top stack's frames */
	assert_file(
	    t, "arenas.csv",
	    "model,id,base,allocated_ns,released_ns,peak_use,live_blocks_end,live_bytes_end,"
	    "top_stack,top_stack_bytes,top_stack_frames\r\n"
	    "cpython-3.12,1,0x7f0000000000,250000000,1250000000,1.000,0,0,,,\r\n"
	    "cpython-3.12,2,0x7f0000040000,750000000,,0.200,10,512,2,512," FRAMES_FIELD "\r\n");
}

/* The frames of path id of stacks.csv (text), leaf first, " < " between
 * them, unquoted. */
static void path_of(const char *text, uint32_t id, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	while (id) {
		char key[24];
		snprintf(key, sizeof(key), "\r\n%" PRIu32 ",", id);
		const char *row = strstr(text, key);
		assert_non_null(row);
		char *end;
		const unsigned long parent = strtoul(row + strlen(key), &end, 10);
		assert_true(*end == ',');
		const char *f = end + 1;
		len += (size_t)snprintf(out + len, cap - len, "%s", len ? " < " : "");
		bool quoted = *f == '"';
		for (f += quoted; *f && len + 1 < cap; f++) {
			if (quoted && f[0] == '"' && f[1] == '"')
				f++;
			else if (quoted ? *f == '"' : *f == '\r')
				break;
			out[len++] = *f;
		}
		out[len] = 0;
		assert_true(parent < id);
		id = (uint32_t)parent;
	}
}

/* The trie of stacks.csv: a line under the same parent is one node, under
 * another parent another; ids from 1 in the order first met, parents
 * before children; found again after the table grew many times. */
static void test_paths(void **state)
{
	(void)state;
	rep_paths *p = rep_paths_new();
	assert_non_null(p);
	assert_int_equal(rep_paths_add(p, 0, "main", 4), 1);
	assert_int_equal(rep_paths_add(p, 1, "f", 1), 2);
	assert_int_equal(rep_paths_add(p, 0, "main", 4), 1);
	assert_int_equal(rep_paths_add(p, 0, "f", 1), 3); /* f called from nowhere */
	assert_int_equal(rep_paths_add(p, 1, "", 0), 4);  /* an empty line is a line */
	assert_int_equal(rep_paths_add(p, 9, "x", 1), 0); /* no such parent */
	char line[32];
	uint32_t id[20000];
	for (uint32_t i = 0; i < 20000; i++) { /* a chain of 10000, and 10000 leaves off it */
		int n = snprintf(line, sizeof(line), "frame %u", i % 10000);
		id[i] = rep_paths_add(p, i < 10000 ? (i ? id[i - 1] : 1) : id[i - 10000],
				      line, (size_t)n);
		assert_int_equal(id[i], 5 + i);
	}
	for (uint32_t i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "frame %u", i % 10000);
		assert_int_equal(rep_paths_add(p, i < 10000 ? (i ? id[i - 1] : 1) : id[i - 10000],
					       line, (size_t)n),
				 id[i]);
	}
	assert_int_equal(rep_paths_count(p), 4 + 20000);
	size_t len;
	assert_int_equal(memcmp(rep_paths_line(p, 2, &len), "f", 1), 0); /* not NUL-terminated */
	assert_int_equal(len, 1);
	assert_int_equal(rep_paths_parent(p, 2), 1);
	assert_int_equal(rep_paths_parent(p, id[10000]), id[0]);
	assert_int_equal(memcmp(rep_paths_line(p, id[19999], &len), "frame 9999", 10), 0);
	assert_int_equal(rep_paths_parent(p, 0), 0);
	rep_paths_line(p, 99999, &len);
	assert_int_equal(len, 0);
	rep_paths_free(p);
}

static void test_callsites(void **state)
{
	run *t = *state;
	run_csv(t);
	/* each call site's stack is a path of stacks.csv, named by its
	 * innermost line; the frames, outermost first, each once */
	assert_file(t, "callsites.csv",
	            "stack,path,frame,allocations,bytes,live_peak_bytes,live_end_bytes,live_end_blocks,"
	            "arenas_pinned\r\n"
	            "2,3,\"ns::Box<std::pair<int, char>>::make (inlined)\",30,1536,1536,512,10,1\r\n"
	            "0,0,,5,80,0,0,0,0\r\n");
	assert_file(t, "stacks.csv",
	            "id,parent,frame\r\n"
	            "1,0,main at main.c:3\r\n"
	            "2,1,\"run_job(\"\"a,b\"\") at job.cc:12\"\r\n"
	            "3,2,\"ns::Box<std::pair<int, char>>::make (inlined)\"\r\n");
}

/* callsites.csv and stacks.csv of rt_py's python mode, through in (its
 * prepared rows, if any), into *calls and *paths (free them). */
static void site_files(run *t, const rep_input *in, char **calls, char **paths)
{
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_csv_sink, in, t->dir, &t->out), REP_OK);
	*calls = rt_read(t->dir, "callsites.csv");
	*paths = rt_read(t->dir, "stacks.csv");
	assert_non_null(*calls);
	assert_non_null(*paths);
	rt_rmdir(t->dir);
}

/* rep_csv_prepare's stop: true once it was asked `left` times more. */
static bool stop_after(void *ctx)
{
	int *left = ctx;
	return (*left)-- <= 0;
}

/* The files written through in, with rows prepared through `from` (its
 * preparation stopped after `left` rows), are want_calls and want_paths. */
static void same_files_prepared(run *t, const rep_input *in, const rep_input *from, int left,
				const char *want_calls, const char *want_paths)
{
	rep_prepared *pp;
	assert_int_equal(rep_csv_prepare(from, stop_after, &left, &pp), REP_OK);
	rep_input with = *in;
	with.prepared = pp;
	char *calls, *paths;
	site_files(t, &with, &calls, &paths);
	assert_string_equal(calls, want_calls);
	assert_string_equal(paths, want_paths);
	free(calls), free(paths);
	rep_prepared_free(pp);
}

/* Rows prepared ahead (all, or the first ones when stopped) give the
 * files a pass over every row gives; prepared rows of other stacks, or of
 * another order, are not taken.  That prepared rows are taken shows where
 * they were made with another namer (hex addresses for native frames). */
static void test_callsites_prepared(void **state)
{
	run *t = *state;
	rt_py *p = rt_py_new();
	rep_input in = {&p->r.res, "app.atr", rt_namer, NULL, rt_describe, REP_STACKS_PYTHON, NULL,
			NULL};
	char *want_calls, *want_paths, *calls, *paths;
	site_files(t, &in, &want_calls, &want_paths);
	for (int left = 0; left <= 6; left++)
		same_files_prepared(t, &in, &in, left, want_calls, want_paths);
	/* the rows of hybrid mode (a row a call site: 3, 8, 4 ...) are not
	 * python mode's (3, 8, 11 ...), whether all or the first three */
	rep_input hy = in;
	hy.stacks = REP_STACKS_HYBRID;
	for (int left = 3; left <= 7; left += 4)
		same_files_prepared(t, &in, &hy, left, want_calls, want_paths);
	/* prepared without a namer: row 9's native frame is its address */
	rep_input bare = in;
	bare.namer = NULL;
	rep_prepared *pp;
	assert_int_equal(rep_csv_prepare(&bare, NULL, NULL, &pp), REP_OK);
	in.prepared = pp;
	site_files(t, &in, &calls, &paths);
	assert_null(strstr(calls, "main at main.c:3"));
	assert_non_null(strstr(calls, "\r\n9,5,0x"));
	free(calls), free(paths);
	rep_prepared_free(pp);
	free(want_calls), free(want_paths);
	free(p);
}

/* A Python program's call sites (rt_py): in python mode the call sites
 * of the same Python lines are one row, their figures summed, with three
 * columns more: the row's call sites, where its innermost Python frame is,
 * and its innermost frame of the program's own files. */
#define LIB_PY "/home/u/app/lib.py:12 in make"
#define MAIN_PY "/home/u/app/main.py:30 in <module>"
static void test_callsites_python(void **state)
{
	run *t = *state;
	rt_py *p = rt_py_new();
	rep_input in = {&p->r.res, "app.atr", rt_namer, NULL, rt_describe, REP_STACKS_AUTO, NULL, NULL};
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_csv_sink, &in, t->dir, &t->out), REP_OK);
	/* the paths share their outer lines: main.py's <module> once */
	assert_file(t, "callsites.csv",
	            "stack,path,frame,allocations,bytes,live_peak_bytes,live_end_bytes,live_end_blocks,"
	            "arenas_pinned,stacks,python_origin,program_frame\r\n"
	            "3,2," LIB_PY ",19,1900,900,190,4,2,3,program," LIB_PY "\r\n"
	            "8,3,/usr/lib/python3.12/json/decoder.py:352 in JSONDecoder.raw_decode"
	            ",7,700,0,70,1,2,1,stdlib," LIB_PY "\r\n"
	            "11,4,\"unknown Python frame (code 9, offset 6)\""
	            ",2,250,0,0,0,0,1,unknown," MAIN_PY "\r\n"
	            "9,5,main at main.c:3,2,200,0,0,0,0,1,,\r\n"
	            "0,0,,1,50,0,0,0,0,1,,\r\n");
	assert_file(t, "stacks.csv",
	            "id,parent,frame\r\n"
	            "1,0," MAIN_PY "\r\n"
	            "2,1," LIB_PY "\r\n"
	            "3,2,/usr/lib/python3.12/json/decoder.py:352 in JSONDecoder.raw_decode\r\n"
	            "4,1,\"unknown Python frame (code 9, offset 6)\"\r\n"
	            "5,0,main at main.c:3\r\n");
	/* moments.csv's and arenas.csv's stacks as the mode shows them */
	char *arenas = rt_read(t->dir, "arenas.csv");
	assert_non_null(strstr(arenas, ",10,512,3,512," LIB_PY " < " MAIN_PY "\r\n"));
	free(arenas);
	rt_rmdir(t->dir);
	/* hybrid: a row a call site, every frame in call order */
	in.stacks = REP_STACKS_HYBRID;
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_csv_sink, &in, t->dir, &t->out), REP_OK);
	char *got = rt_read(t->dir, "callsites.csv");
	assert_int_equal(rt_count(got, "\r\n"), 1 + RT_PY_SITES);
	const char *row = strstr(got, "\r\n4,");
	assert_non_null(row);
	unsigned long path = strtoul(row + 4, NULL, 10);
	assert_non_null(strstr(row, ",main at main.c:3,6,600,300,60,1,2,1,program," LIB_PY "\r\n"));
	free(got);
	char *paths = rt_read(t->dir, "stacks.csv");
	char frames[1024];
	path_of(paths, (uint32_t)path, frames, sizeof(frames));
	assert_string_equal(frames, "main at main.c:3 < " LIB_PY " < " MAIN_PY);
	free(paths);
	rt_rmdir(t->dir);
	/* native: the native frames only, and the columns of a trace without Python */
	in.stacks = REP_STACKS_NATIVE;
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_csv_sink, &in, t->dir, &t->out), REP_OK);
	got = rt_read(t->dir, "callsites.csv");
	assert_non_null(strstr(got, "arenas_pinned\r\n"));
	const char *row8 = strstr(got, "\r\n8,");
	assert_non_null(row8);
	char *after;
	path = strtoul(row8 + 4, &after, 10);
	const char *want8 = ",main at main.c:3,7,700,0,70,1,2\r\n";
	assert_true(path > 0 && !strncmp(after, want8, strlen(want8)));
	assert_null(strstr(got, ".py"));
	free(got);
	free(p);
}

static void test_gc_and_system(void **state)
{
	run *t = *state;
	run_csv(t);
	assert_file(t, "gc.csv",
	            "pass,generation,start_ns,stop_ns,collected,uncollectable,freed_blocks,"
	            "freed_bytes,arenas_released\r\n"
	            "1,0,600000000,602500000,7,1,3,96,0\r\n");
	assert_file(t, "system.csv",
	            "allocator,ops,ns_per_op,heap_peak_bytes,heap_end_bytes,live_peak_bytes,"
	            "live_end_bytes,rss_start_bytes,rss_peak_bytes,rss_end_bytes,trace_threads\r\n"
	            "libc.so.6,35,42.5,4096,2048,1536,512,1000000,1100000,1050000,1\r\n");
}

/* compare.csv: one row per RP_MODEL_METRICS figure, one column per model;
 * counts as integers, ratios with 4 decimals. */
static void test_compare(void **state)
{
	run *t = *state;
	run_csv(t);
	char *got = rt_read(t->dir, "compare.csv");
	assert_non_null(got);
	const char *head = "metric,cpython-3.12,cpython-3.12 gc-off\r\narenas_allocated,2,2\r\n";
	assert_memory_equal(got, head, strlen(head));
	assert_non_null(strstr(got, "\r\njw4,2.5000,3.0000\r\n"));
	assert_non_null(strstr(got, "\r\ngc_withheld_bytes,0,96\r\n"));
	size_t rows = 0;
#define ONE(key, label, kind, value) rows++;
	RP_MODEL_METRICS(ONE)
#undef ONE
	assert_int_equal(rt_count(got, "\r\n"), rows + 1);
	free(got);
}

/* A label holding a comma or a quote is one quoted field. */
static void test_label_quoted(void **state)
{
	run *t = *state;
	snprintf(t->r->res.models[0].profile, sizeof(t->r->res.models[0].profile), "odd,\"one\"");
	run_csv(t);
	char *got = rt_read(t->dir, "compare.csv");
	assert_non_null(got);
	assert_non_null(strstr(got, "metric,\"odd,\"\"one\"\"\",cpython-3.12 gc-off\r\n"));
	free(got);
	got = rt_read(t->dir, "timeline.csv");
	assert_non_null(strstr(got, "\r\n\"odd,\"\"one\"\"\",0,500000000,"));
	free(got);
}

/* Fields of one CSV line (RFC 4180), from *p to its CRLF; *p moves past
 * it.  -1 for a line without CRLF or a quote left open. */
static int fields(const char **p)
{
	const char *s = *p;
	int n = 1;
	bool quoted = false;
	for (;; s++) {
		if (!*s)
			return -1;
		if (quoted) {
			if (*s == '"' && s[1] == '"')
				s++;
			else if (*s == '"')
				quoted = false;
		} else if (*s == '"') {
			quoted = true;
		} else if (*s == ',') {
			n++;
		} else if (*s == '\r' && s[1] == '\n') {
			*p = s + 2;
			return n;
		} else if (*s == '\n') {
			return -1;
		}
	}
}

/* Every file the sink wrote: CRLF line ends, rows as wide as the header. */
static void test_rfc4180(void **state)
{
	run *t = *state;
	run_csv(t);
	assert_int_equal(t->out.nwritten, 8);
	for (int k = 0; k < t->out.nwritten; k++) {
		char *got = rt_read(t->dir, t->out.written[k]);
		assert_non_null(got);
		const char *p = got;
		int width = fields(&p), lines = 1;
		assert_true(width > 1);
		while (*p) {
			assert_int_equal(fields(&p), width);
			lines++;
		}
		assert_true(lines > 1);
		free(got);
	}
}

/* gc.csv, compare.csv and system.csv only when they have something to
 * say; the other four always, in rep_csv_sink.files' order. */
static void test_only_what_applies(void **state)
{
	run *t = *state;
	rp_replay_result *res = &t->r->res;
	res->nmodels = 1;
	res->has_system = false;
	res->gc_passes[0] = 0;
	res->npasses = 0;
	run_csv(t);
	assert_int_equal(t->out.nwritten, 5);
	const char *const want[] = {"timeline.csv", "sizeclasses.csv", "arenas.csv",
	                            "callsites.csv", "stacks.csv"};
	for (int k = 0; k < 5; k++) {
		assert_string_equal(t->out.written[k], want[k]);
		assert_string_equal(rep_csv_sink.files[k], want[k]);
	}
	for (const char *const *f = &rep_csv_sink.files[5]; *f; f++)
		assert_null(rt_read(t->dir, *f));
}

/* A directory that cannot be written: the error, and which file. */
static void test_unwritable(void **state)
{
	run *t = *state;
	rep_out out;
	assert_int_equal(
	    rt_run_sink(&rep_csv_sink, &t->r->res, "job.atr", "/nonexistent/dir", &out), REP_E_IO);
	assert_non_null(strstr(out.failed, "/nonexistent/dir/timeline.csv: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timeline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sizeclasses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_arenas, setup, teardown),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test_setup_teardown(test_callsites, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callsites_python, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callsites_prepared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gc_and_system, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_label_quoted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rfc4180, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_what_applies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

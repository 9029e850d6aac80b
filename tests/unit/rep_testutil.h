/*
 * rep_testutil.h - helpers shared by the report sinks' unit tests
 * (test_rep_csv.c, test_rep_html.c): a small replay result built by hand,
 * with every part a sink reads filled with known values; a frame namer
 * whose names hold what needs escaping; running a sink into a fresh
 * directory and reading back what it wrote.
 */
#ifndef ARENATRACE_REP_TESTUTIL_H
#define ARENATRACE_REP_TESTUTIL_H

#include "rep.h"

#include <stdbool.h>
#include <stddef.h>

/* The hand-built result: two models ("cpython-3.12" and its --gc off twin,
 * "cpython-3.12 gc-off"), three series points, two size classes, two
 * arenas (the first released, the second held with a top stack), two call
 * sites (stack 2, whose frames are node 2 then node 1, and no stack), one
 * GC pass of generation 0, and a real allocator's figures.  The values
 * are the ones the tests expect; see rep_testutil.c. */
typedef struct rt_result {
	rp_replay_result res;
	rp_series series[2];
	rp_arenas arenas;
	rp_arena arena[2];
	rp_gc_pass pass[1];
	rp_callsite callsite[2];
	uint64_t parent[2], ip[2];
} rt_result;

/* A new result as above (calloc'd; free() it). */
rt_result *rt_result_new(void);

/* The namer of the tests: the frame at RT_IP_LEAF names two lines (an
 * inlined C++ function, then the function it is inlined in), the one at
 * RT_IP_CALLER one line; any other address none (shown as hex). */
#define RT_IP_LEAF 0x401000u
#define RT_IP_CALLER 0x402000u
#define RT_FRAME_INLINED "ns::Box<std::pair<int, char>>::make (inlined)"
#define RT_FRAME_LEAF "run_job(\"a,b\") at job.cc:12"
#define RT_FRAME_CALLER "main at main.c:3"
int rt_namer(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max);

/* A Python program's result: rt_result_new's, with a stack tree of
 * Python frames and native ones and its call sites and pinning stacks
 * (rep_testutil.c draws the tree).  The namer names a Python frame
 * "FILE:LINE in FUNCTION", rt_describe describes it: code 1 is
 * /home/u/app/main.py's <module>, 2 /home/u/app/lib.py's make, 3 the
 * standard library's JSONDecoder.raw_decode; code 9 is unknown.  A
 * frame's line is its code's first line + offset / 10. */
#define RT_PY_NODES 11
#define RT_PY_SITES 7
typedef struct rt_py {
	rt_result r;
	uint64_t parent[RT_PY_NODES], ip[RT_PY_NODES];
	rp_callsite callsite[RT_PY_SITES];
} rt_py;
rt_py *rt_py_new(void);
bool rt_describe(void *ctx, uint64_t frame, rep_pyframe *out);

/* A new empty directory under TMPDIR (or /tmp); its path in dir. */
void rt_mkdir(char *dir, size_t cap);
/* Removes the directory and the files in it (not recursive). */
void rt_rmdir(const char *dir);
/* The whole of dir/name, NUL-terminated (malloc'd), or NULL when missing. */
char *rt_read(const char *dir, const char *name);
/* Runs sink on res, with the test namer, into the new directory dir (its
 * rep_out in *out); returns what the sink returned. */
int rt_run_sink(const rep_sink *sink, const rp_replay_result *res, const char *trace,
                const char *dir, rep_out *out);
/* Runs sink on *in into the new directory dir. */
int rt_run_sink_in(const rep_sink *sink, const rep_input *in, const char *dir, rep_out *out);
/* How many times needle occurs in hay. */
size_t rt_count(const char *hay, const char *needle);

#endif

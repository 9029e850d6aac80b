/*
 * rep_testutil.c - the hand-built replay result and the helpers of the
 * report sinks' unit tests (rep_testutil.h).
 */
#include "rep_testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fill_model(rp_model_result *m, const rt_result *r, int i)
{
	snprintf(m->profile, sizeof(m->profile), "cpython-3.12");
	m->gc_off = i == 1;
	m->peak_live = 1536;
	m->live_end = 512;
	m->gc.by_gc = (rp_freed){3, 96};
	m->gc.by_refcount = (rp_freed){27, 1440};
	m->gc.withheld = i == 1 ? (rp_freed){3, 96} : (rp_freed){0, 0};
	m->arena_size = 262144;
	m->arenas_total = 2;
	m->arenas_current = 1;
	m->arenas_highwater = 2;
	m->peak_held = 524288;
	m->held_end = 262144;
	m->jw1 = 1.5;
	m->jw2 = 1.25;
	m->jw3 = 2;
	m->jw4 = i == 1 ? 3 : 2.5;
	m->waste_peak = (rp_waste){1000, 24, 2000, 3000, 0, 64};
	m->waste_end = (rp_waste){500, 12, 1500, 2500, 262144, 0};
	m->series = &r->series[i];
	m->pinning = (rp_pinning){.arenas_held = 1, .arenas_low = 1, .nstacks = 1};
	m->pinning.stacks[0] = (rp_pin){.stack = 2,
	                                .frames = {RT_IP_LEAF, RT_IP_CALLER},
	                                .arenas = 1,
	                                .blocks = 10,
	                                .bytes = 512,
	                                .first_ns = 750000000,
	                                .last_ns = 1450000000};
	m->pool_size = 16384;
	m->align = 16;
	m->threshold = 512;
	m->keep_empty_arena = true;
	m->classes_end = (rp_classes){.n = 2, .align = 16};
	m->classes_end.pools[0] = 1;
	m->classes_end.blocks[0] = 10;
	m->classes_end.avail[0] = 1013;
	m->classes_peak = (rp_classes){.n = 2, .align = 16};
	m->classes_peak.pools[0] = 1;
	m->classes_peak.blocks[0] = 20;
	m->classes_peak.avail[0] = 1003;
	m->classes_peak.pools[1] = 1;
	m->classes_peak.blocks[1] = 5;
	m->classes_peak.avail[1] = 500;
	m->arenas = &r->arenas;
}

/* Fills *r, zeroed, as rt_result_new's. */
static void fill_result(rt_result *r)
{
	rp_replay_result *res = &r->res;
	/* series: point p of model i holds (k + 1) * 1000 + 10 * i + p in series k */
	for (int i = 0; i < 2; i++) {
		r->series[i].n = 3;
		for (uint32_t p = 0; p < 3; p++) {
			r->series[i].time[p] = 500000000ull * (p + 1);
			for (int k = 0; k < RP_NSERIES; k++)
				r->series[i].v[k][p] =
				    (uint64_t)(k + 1) * 1000 + 10 * (uint64_t)i + p;
		}
	}
	r->arena[0] = (rp_arena){.id = 1,
	                         .base = 0x7f0000000000,
	                         .allocated_ns = 250000000,
	                         .released_ns = 1250000000,
	                         .released = true,
	                         .first_tick = 0,
	                         .last_tick = 1,
	                         .peak_use = 255,
	                         .use = {255, 128}};
	r->arena[1] = (rp_arena){.id = 2,
	                         .base = 0x7f0000040000,
	                         .allocated_ns = 750000000,
	                         .first_tick = 1,
	                         .last_tick = 2,
	                         .peak_use = 51,
	                         .use = {0, 51, 40},
	                         .live_blocks_end = 10,
	                         .live_bytes_end = 512,
	                         .top_stack = 2,
	                         .top_stack_bytes = 512};
	r->arenas = (rp_arenas){
	    .n = 2, .a = r->arena, .ticks = 3, .tick_ns = {500000000, 1000000000, 1500000000}};
	r->pass[0] = (rp_gc_pass){.start = 600000000,
	                          .stop = 602500000,
	                          .generation = 0,
	                          .collected = 7,
	                          .uncollectable = 1,
	                          .freed = {3, 96}};
	r->callsite[0] = (rp_callsite){2, 30, 1536, 1536, 512, 10, 1};
	r->callsite[1] = (rp_callsite){0, 5, 80, 0, 0, 0, 0};
	/* node 1 is the caller, node 2 the leaf under it */
	r->parent[0] = 0, r->ip[0] = RT_IP_CALLER;
	r->parent[1] = 1, r->ip[1] = RT_IP_LEAF;

	res->events = 100;
	res->requests = 35;
	res->peak_live = 1536;
	res->live_end = 512;
	res->nmodels = 2;
	fill_model(&res->models[0], r, 0);
	fill_model(&res->models[1], r, 1);
	res->has_system = true;
	res->system = (rp_system){.ops = 35,
	                          .ns_per_op = 42.5,
	                          .heap_peak = 4096,
	                          .heap_end = 2048,
	                          .rss_start = 1000000,
	                          .rss_peak = 1100000,
	                          .rss_end = 1050000,
	                          .threads = 1};
	snprintf(res->system.allocator, sizeof(res->system.allocator), "libc.so.6");
	res->gc_passes[0] = 1;
	res->npasses = 1;
	res->passes = r->pass;
	rp_facts *x = &res->facts;
	snprintf(x->exe, sizeof(x->exe), "/opt/a<b>&\"c'.py");
	/* argv with markup, a valid UTF-8 letter and a byte that is no UTF-8 */
	snprintf(x->argv, sizeof(x->argv), "python3 <script>alert(1)</script> caf\xc3\xa9 \xff");
	snprintf(x->python, sizeof(x->python), "3.12.1");
	x->pid = 4242;
	x->ppid = 1;
	x->start_real_ns = 1700000000ull * 1000000000ull;
	x->span_ns = 1500000000;
	x->threads = 1;
	x->modules = 3;
	x->stack_nodes = 2;
	x->complete = true;
	x->end_kind = TF_END_EXIT;
	res->ncallsites = 2;
	res->callsites = r->callsite;
	res->nnodes = 2;
	res->node_parent = r->parent;
	res->node_ip = r->ip;
}

rt_result *rt_result_new(void)
{
	rt_result *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	fill_result(r);
	return r;
}

/* The Python codes of rt_py: id, file, function, first line, origin. */
static const struct {
	uint64_t id;
	const char *file, *function;
	unsigned first;
	rep_origin origin;
} py_codes[] = {
    {1, "/home/u/app/main.py", "<module>", 30, REP_ORIGIN_PROGRAM},
    {2, "/home/u/app/lib.py", "make", 12, REP_ORIGIN_PROGRAM},
    {3, "/usr/lib/python3.12/json/decoder.py", "JSONDecoder.raw_decode", 350, REP_ORIGIN_STDLIB},
};

bool rt_describe(void *ctx, uint64_t frame, rep_pyframe *out)
{
	(void)ctx;
	for (size_t k = 0; tf_is_py_frame(frame) && k < sizeof(py_codes) / sizeof(py_codes[0]); k++)
		if (py_codes[k].id == tf_py_frame_code(frame)) {
			*out = (rep_pyframe){py_codes[k].file, py_codes[k].function,
					     py_codes[k].first + (unsigned)tf_py_frame_offset(frame) / 10,
					     py_codes[k].origin};
			return true;
		}
	return false;
}

rt_py *rt_py_new(void)
{
	rt_py *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	fill_result(&p->r);
	/*   1 main.py:30 <module>
	 *   ├─ 2 lib.py:12 make ─┬─ 3 leaf C      (call site, 1000 bytes)
	 *   │                    ├─ 4 caller C    (call site, 600 bytes)
	 *   │                    └─ 7 decoder.py:352 raw_decode ── 8 caller C (700 bytes)
	 *   ├─ 5 lib.py:12 make (another offset) ── 6 leaf C (300 bytes)
	 *   └─ 10 unknown code 9 ── 11 leaf C     (250 bytes)
	 *   9 caller C, no Python frame           (200 bytes)  */
	static const struct {
		uint64_t parent, frame;
	} tree[RT_PY_NODES] = {
	    {0, 0}, {1, 0}, {2, RT_IP_LEAF}, {2, RT_IP_CALLER}, {1, 0}, {5, RT_IP_LEAF},
	    {2, 0}, {7, RT_IP_CALLER},	     {0, RT_IP_CALLER},	 {1, 0}, {10, RT_IP_LEAF},
	};
	const uint64_t py[RT_PY_NODES] = {tf_py_frame(1, 0), tf_py_frame(2, 4), 0, 0, tf_py_frame(2, 8), 0,
					  tf_py_frame(3, 20), 0, 0, tf_py_frame(9, 6), 0};
	for (int i = 0; i < RT_PY_NODES; i++) {
		p->parent[i] = tree[i].parent;
		p->ip[i] = py[i] ? py[i] : tree[i].frame;
	}
	const rp_callsite sites[RT_PY_SITES] = {
	    {3, 10, 1000, 500, 100, 2, 1}, {8, 7, 700, 0, 70, 1, 2}, {4, 6, 600, 300, 60, 1, 2},
	    {6, 3, 300, 100, 30, 1, 1},	   {11, 2, 250, 0, 0, 0, 0}, {9, 2, 200, 0, 0, 0, 0},
	    {0, 1, 50, 0, 0, 0, 0},
	};
	memcpy(p->callsite, sites, sizeof(sites));
	rp_replay_result *res = &p->r.res;
	res->nnodes = RT_PY_NODES;
	res->node_parent = p->parent;
	res->node_ip = p->ip;
	res->ncallsites = RT_PY_SITES;
	res->callsites = p->callsite;
	res->facts.stack_nodes = RT_PY_NODES;
	res->facts.py_nodes = 5;
	/* pinning, ranked as the replay ranks it: by arenas, then bytes */
	for (int i = 0; i < res->nmodels; i++) {
		rp_model_result *m = &res->models[i];
		m->pinning = (rp_pinning){.arenas_held = 3, .arenas_low = 2, .nstacks = 3};
		m->pinning.stacks[0] = (rp_pin){.stack = 8, .arenas = 2, .blocks = 9, .bytes = 400,
						.first_ns = 300, .last_ns = 900};
		m->pinning.stacks[1] = (rp_pin){.stack = 4, .arenas = 2, .blocks = 5, .bytes = 300,
						.first_ns = 200, .last_ns = 400};
		m->pinning.stacks[2] = (rp_pin){.stack = 3, .arenas = 1, .blocks = 4, .bytes = 200,
						.first_ns = 100, .last_ns = 800};
		for (int k = 0; k < 3; k++) { /* the frames the replay keeps: from the leaf outwards */
			uint64_t id = m->pinning.stacks[k].stack;
			for (int f = 0; f < RP_PIN_FRAMES && id; f++, id = p->parent[id - 1])
				m->pinning.stacks[k].frames[f] = p->ip[id - 1];
		}
	}
	/* the arena's top stack is the first call site's */
	p->r.arena[1].top_stack = 3;
	return p;
}

int rt_namer(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max)
{
	(void)ctx, (void)leaf;
	static char py_line[256];
	rep_pyframe pf;
	if (tf_is_py_frame(ip)) {
		if (!rt_describe(NULL, ip, &pf) || max < 1)
			return 0;
		snprintf(py_line, sizeof(py_line), "%s:%u in %s", pf.file, pf.line, pf.function);
		lines[0] = py_line;
		return 1;
	}
	int n = 0;
	if (ip == RT_IP_LEAF) {
		lines[n++] = RT_FRAME_INLINED;
		if (n < max)
			lines[n++] = RT_FRAME_LEAF;
	} else if (ip == RT_IP_CALLER) {
		lines[n++] = RT_FRAME_CALLER;
	}
	return n;
}

void rt_mkdir(char *dir, size_t cap)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, cap, "%s/rep-test-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		abort();
}

void rt_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char path[4096];
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

char *rt_read(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
		len += n;
		if (cap - len - 1 == 0)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf)
		abort();
	buf[len] = 0;
	return buf;
}

int rt_run_sink(const rep_sink *sink, const rp_replay_result *res, const char *trace,
                const char *dir, rep_out *out)
{
	rep_input in = {res, trace, rt_namer, NULL, NULL, REP_STACKS_AUTO, NULL, NULL};
	*out = (rep_out){.dir = dir};
	return sink->write(&in, out);
}

int rt_run_sink_in(const rep_sink *sink, const rep_input *in, const char *dir, rep_out *out)
{
	*out = (rep_out){.dir = dir};
	return sink->write(in, out);
}

size_t rt_count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

/*
 * test_rp_replay.c - the replay on hand-made traces: the malloc layer maps
 * every block and counts what does not add up (free of an unknown block,
 * double free, realloc of an unknown block, allocation over a live block)
 * without stopping; the Python layer takes arena bases from the trace.
 */
#include "pym.h"
#include "rep_text.h"
#include "rp_replay.h"
#include "tf_testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static tf_writer *w;
static int fd;

static void start(const char *python)
{
	fd = tmp_fd();
	tf_writer_opts o = {.fd = fd, .exact_time = true};
	tf_header h = theader();
	h.python = (tf_bytes){python, strlen(python)};
	assert_int_equal(tf_writer_create(&w, &o, &h), 0);
}

static void ev(tf_kind kind, uint64_t old, uint64_t size, uint64_t addr)
{
	tf_record r = {.kind = kind, .thread = 1};
	r.u.alloc.old = old;
	r.u.alloc.size = size;
	r.u.alloc.addr = addr;
	assert_int_equal(tf_writer_put(w, &r), 0);
}

/* An allocation-layer event on thread t. */
static void ev_t(uint32_t t, tf_kind kind, uint64_t size, uint64_t addr)
{
	tf_record r = {.kind = kind, .thread = t};
	r.u.alloc.size = size;
	r.u.alloc.addr = addr;
	assert_int_equal(tf_writer_put(w, &r), 0);
}

static void gc_event(tf_kind kind, uint64_t gen, uint64_t collected)
{
	tf_record r = {.kind = kind, .thread = 1};
	r.u.gc = (tf_gc){gen, collected, 0};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

/* How a test replays: the engine's knobs, the outputs the command line
 * would print (to out, or nowhere), and a look at the result while the
 * engine still holds it. */
typedef struct replay_opts {
	const char *model;
	int layer;
	bool stats, check, json, summary, gc_off;
	bool quiet; /* no observer: nothing said while the replay runs */
	bool moments; /* replay twice, as the command line does: the second at every
		       * model's peak, and the end */
	FILE *out;
	uint64_t dropped; /* the end record's */
	void (*inspect)(const rp_replay_result *res, void *ctx);
	void *inspect_ctx;
	/* the observer's on_py_code, with inspect_ctx */
	void (*on_py_code)(void *ctx, const tf_record *rec);
} replay_opts;

static void say_address(void *ctx, const char *profile, uint64_t model, uint64_t real)
{
	fprintf(ctx, "%s returned 0x%" PRIx64 " where the interpreter got 0x%" PRIx64 "\n",
		profile, model, real);
}

/* Ends the trace being written and replays it with o; returns the result's
 * counts (its pointers NULL: the engine and what they point to are gone). */
static rp_replay_result finish_and_replay_with(replay_opts o)
{
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, o.dropped), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	FILE *null = o.out ? NULL : fopen("/dev/null", "w");
	if (null)
		o.out = null;
	rp_config cfg = {.model = o.model, .layer = o.layer, .check = o.check, .stats = o.stats,
			 .gc_off = o.gc_off};
	if (!o.quiet)
		cfg.obs = (rp_observer){.ctx = o.out, .on_address = say_address};
	if (o.on_py_code)
		cfg.obs = (rp_observer){.ctx = o.inspect_ctx, .on_py_code = o.on_py_code};
	rp_engine *e;
	assert_int_equal(rp_engine_create(&e, &cfg), RP_OK);
	assert_int_equal(rp_engine_run(e, r), RP_OK);
	assert_int_equal(rp_engine_finish(e), RP_OK);
	const rp_replay_result *got = rp_engine_result(e);
	assert_non_null(got);
	rp_at at[RP_MAX_MODELS + 1];
	if (o.moments) {
		for (int i = 0; i < got->nmodels; i++)
			at[i] = (rp_at){.kind = RP_AT_PEAK, .request = got->models[i].peak_request,
					.model = i};
		at[got->nmodels] = (rp_at){.kind = RP_AT_END};
		cfg.at = at;
		cfg.nat = got->nmodels + 1;
		rp_engine_free(e);
		tf_reader_free(r);
		assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
		assert_int_equal(rp_engine_create(&e, &cfg), RP_OK);
		assert_int_equal(rp_engine_run(e, r), RP_OK);
		assert_int_equal(rp_engine_finish(e), RP_OK);
		got = rp_engine_result(e);
		assert_non_null(got);
	}
	if (o.stats)
		rep_stats_write(o.out, got);
	rep_input in = {.res = got};
	if (o.json)
		rep_json_write(o.out, &in);
	if (o.summary)
		rep_summary_write(o.out, &in, NULL, NULL);
	if (o.inspect)
		o.inspect(got, o.inspect_ctx);
	rp_replay_result res = *got;
	for (int i = 0; i < res.nmodels; i++) {
		res.models[i].series = NULL;
		res.models[i].arenas = NULL;
		res.models[i].stats = NULL;
	}
	res.passes = NULL;
	res.callsites = NULL;
	res.ncallsites = 0;
	res.node_parent = res.node_ip = NULL;
	rp_engine_free(e);
	if (null)
		fclose(null);
	tf_reader_free(r);
	free(b.data);
	return res;
}

static rp_replay_result finish_and_replay(int layer, const char *model)
{
	return finish_and_replay_with(
	    (replay_opts){.model = model, .layer = layer, .summary = true, .json = true});
}

static void test_malloc_layer_anomalies(void **state)
{
	(void)state;
	start("");
	ev(TF_MALLOC, 0, 24, 0x1000);
	ev(TF_MALLOC, 0, 700, 0x2000);        /* raw in the model */
	ev(TF_REALLOC, 0x1000, 40, 0x3000);   /* moves */
	ev(TF_FREE, 0, 0, 0x3000);
	ev(TF_FREE, 0, 0, 0x3000);            /* double free */
	ev(TF_FREE, 0, 0, 0x9000);            /* never allocated */
	ev(TF_REALLOC, 0x8000, 10, 0x8000);   /* realloc of an unknown block */
	ev(TF_MALLOC, 0, 16, 0x2000);         /* over a live block */
	ev(TF_FREE, 0, 0, 0);                 /* free(NULL): fine */
	ev(TF_CALLOC, 0, 8, 0x4000);          /* calloc(0, 8): a block of 0 bytes */
	rp_replay_result res = finish_and_replay(RP_LAYER_AUTO, "cpython-3.12");
	assert_true(res.malloc_layer); /* no Python version: the malloc layer */
	assert_int_equal(res.requests, 10);
	assert_int_equal(res.free_unknown, 2); /* the double free and the never-allocated */
	assert_int_equal(res.examples[0], 0x3000);
	assert_int_equal(res.realloc_unknown, 1);
	assert_int_equal(res.alloc_over_live, 1);
	assert_int_equal(res.examples[2], 0x2000);
	/* live at the end: the 700-byte block (and the empty calloc'd one) */
	assert_int_equal(res.live_end, 700);
	assert_int_equal(res.models[0].errors, 0);
}

/* A realloc that moves onto a live block is an allocation over it: the
 * request is skipped, its old block stays live. */
static void test_realloc_over_live(void **state)
{
	(void)state;
	start("");
	ev(TF_MALLOC, 0, 24, 0x1000);
	ev(TF_MALLOC, 0, 24, 0x2000);
	ev(TF_REALLOC, 0x1000, 40, 0x2000); /* onto the live 0x2000 */
	ev(TF_FREE, 0, 0, 0x2000);
	ev(TF_FREE, 0, 0, 0x1000);          /* still live: no anomaly */
	rp_replay_result res = finish_and_replay(RP_LAYER_MALLOC, "cpython-3.12");
	assert_int_equal(res.requests, 5);
	assert_int_equal(res.alloc_over_live, 1);
	assert_int_equal(res.examples[2], 0x2000);
	assert_int_equal(res.free_unknown + res.realloc_unknown, 0);
	assert_int_equal(res.live_end, 0);
	assert_int_equal(res.models[0].errors, 0);
}

static void test_python_layer_arena_bases(void **state)
{
	(void)state;
	start("3.12.1");
	tf_record r = {.kind = TF_ARENA_ALLOC, .thread = 1};
	r.u.arena = (tf_arena){0x7f0000000000, 1 << 20};
	assert_int_equal(tf_writer_put(w, &r), 0);
	/* pymalloc's first block of the first arena, as the interpreter got it */
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x7f0000000000 + 48);
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x7f0000000000 + 48 + 32);
	ev(TF_PY_OBJ_MALLOC, 0, 600, 0x5555000); /* raw: keeps the real address */
	ev(TF_PY_OBJ_FREE, 0, 0, 0x5555000);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x7f0000000000 + 48);
	ev(TF_MALLOC, 0, 600, 0x5555000); /* malloc layer: not replayed here */
	rp_replay_result res = finish_and_replay(RP_LAYER_AUTO, NULL);
	assert_false(res.malloc_layer);
	assert_int_equal(res.requests, 5);
	assert_int_equal(res.models[0].addr_mismatch, 0);
	assert_int_equal(res.models[0].arena_mismatch, 0);
	assert_int_equal(res.free_unknown + res.realloc_unknown + res.alloc_over_live, 0);
	assert_int_equal(res.models[0].arenas_current, 1);
}

static void test_python_layer_mismatch_is_counted(void **state)
{
	(void)state;
	start("3.12.1");
	/* no arena records: the model places its arena itself, so its
	 * addresses differ from the ones recorded, and are followed */
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x1230);
	rp_replay_result res = finish_and_replay(RP_LAYER_PYTHON, NULL);
	assert_int_equal(res.models[0].addr_mismatch, 1);
	/* an arena the model placed itself, unrecorded: (d) */
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	assert_int_equal(res.models[0].arena_mismatch, 1);
	assert_int_equal(res.models[0].arena_parts.unrecorded, 1);
	assert_int_equal(res.models[0].errors, 0); /* the free found the model's block */
	assert_int_equal(res.free_unknown, 0);
}

static void python_allocator(const char *name)
{
	tf_record r = {.kind = TF_PYTHON_ALLOCATOR, .thread = 1};
	r.u.python_allocator = (tf_bytes){name, strlen(name)};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

/* pymalloc under CPython's debug hooks: the requests the hooks made of
 * it are compared as any. */
static void test_python_layer_pymalloc_debug_compared(void **state)
{
	(void)state;
	start("3.12.1");
	python_allocator("pymalloc_debug");
	ev(TF_PY_OBJ_MALLOC, 0, 32 + 24, 0x1230);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x1230);
	rp_replay_result res = finish_and_replay(RP_LAYER_PYTHON, NULL);
	assert_true(res.compared);
	assert_string_equal(res.facts.python_allocator, "pymalloc_debug");
	assert_int_equal(res.models[0].addr_mismatch, 1);
}

/* malloc served the interpreter (PYTHONMALLOC=malloc): no address of a
 * pymalloc model is the interpreter's to compare with; --json says null. */
static void test_python_layer_not_pymalloc(void **state)
{
	(void)state;
	start("3.12.1");
	python_allocator("malloc");
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	ev(TF_PY_OBJ_MALLOC, 0, 48, 0x1260);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x1230);
	FILE *out = tmpfile();
	assert_non_null(out);
	rp_replay_result res = finish_and_replay_with(
	    (replay_opts){.layer = RP_LAYER_AUTO, .json = true, .quiet = true, .out = out});
	assert_false(res.malloc_layer);
	assert_false(res.compared);
	assert_int_equal(res.requests, 3);
	assert_string_equal(res.facts.python_allocator, "malloc");
	assert_int_equal(res.models[0].addr_mismatch + res.models[0].arena_mismatch, 0);
	char json[1 << 16];
	rewind(out);
	size_t n = fread(json, 1, sizeof(json) - 1, out);
	json[n] = 0;
	fclose(out);
	assert_non_null(strstr(json, "\"addresses_unlike_interpreter\": null, "
				     "\"arena_mismatches\": null"));
}

/* Several models in one pass, side by side: the same requests, their own
 * arenas (3.8's are 256 KiB, 3.12's 1 MiB). */
static void test_several_models(void **state)
{
	(void)state;
	start("");
	for (uint64_t i = 0; i < 20000; i++)
		ev(TF_MALLOC, 0, 16 + i % 400, 0x100000 + i * 1024);
	for (uint64_t i = 0; i < 20000; i += 2)
		ev(TF_FREE, 0, 0, 0x100000 + i * 1024);
	rp_replay_result res = finish_and_replay(RP_LAYER_MALLOC, "cpython-3.8,cpython-3.12,"
								  "custom:arena=64K,pool=4K");
	assert_int_equal(res.nmodels, 3);
	assert_string_equal(res.models[0].profile, "cpython-3.8");
	assert_string_equal(res.models[2].profile, "custom");
	assert_int_equal(res.models[2].arena_size, 64 << 10);
	for (int i = 0; i < 3; i++) {
		const rp_model_result *m = &res.models[i];
		assert_int_equal(m->errors, 0);
		/* every model holds at least what is live, and more at its peak */
		assert_true(m->peak_held >= res.peak_live);
		assert_true(m->jw4 >= 1.0 && m->jw3 >= 1.0);
		assert_true(m->arenas_highwater * m->arena_size >= res.peak_live);
		/* the waste split accounts for every byte of the arenas held */
		const rp_waste *ws = &m->waste_end;
		assert_int_equal(ws->requested + ws->internal + ws->free_blocks + ws->empty_pools +
					 ws->empty_arenas,
				 m->arenas_current * m->arena_size);
		ws = &m->waste_peak;
		assert_int_equal(ws->requested + ws->internal + ws->free_blocks + ws->empty_pools +
					 ws->empty_arenas + ws->large,
				 m->peak_held);
		/* 10,000 blocks of 16..415 bytes stay live, all from pools */
		assert_true(m->waste_end.requested > 10000 * 16);
		assert_int_equal(m->waste_end.large, 0);
	}
	assert_true(res.models[0].arenas_highwater > res.models[1].arenas_highwater);
}

/* The series stay within RP_SERIES_MAX points, in time order, and keep the
 * exact peaks (points hold maxima). */
static void check_series(const rp_replay_result *res, void *ctx)
{
	int *checked = ctx;
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		const rp_series *se = m->series;
		assert_non_null(se);
		assert_true(se->n > RP_SERIES_MAX / 2 && se->n <= RP_SERIES_MAX);
		uint64_t peak_live = 0, peak_arenas = 0;
		for (uint32_t j = 0; j < se->n; j++) {
			if (j)
				assert_true(se->time[j] >= se->time[j - 1]);
			if (se->v[RP_S_LIVE][j] > peak_live)
				peak_live = se->v[RP_S_LIVE][j];
			if (se->v[RP_S_ARENAS][j] > peak_arenas)
				peak_arenas = se->v[RP_S_ARENAS][j];
			/* pools lie in arenas, blocks in pools */
			assert_true(se->v[RP_S_BLOCKS][j] <= se->v[RP_S_POOLS][j] ||
				    se->v[RP_S_POOLS][j] == 0);
		}
		assert_int_equal(peak_live, res->peak_live);
		assert_int_equal(peak_arenas, m->arenas_highwater);
		(*checked)++;
	}
}

static void test_series_bounded_with_peaks(void **state)
{
	(void)state;
	start("");
	uint64_t t = 0;
	for (uint64_t round = 0; round < 20; round++) /* 20 waves of 3,000 blocks */
		for (int pass = 0; pass < 2; pass++)
			for (uint64_t i = 0; i < 3000; i++) {
				tf_record r = {.kind = pass ? TF_FREE : TF_MALLOC, .thread = 1,
					       .time = t += 1000000};
				r.u.alloc.size = pass ? 0 : 16 + (i * 7 + round) % 300;
				r.u.alloc.addr = 0x100000 + i * 512;
				assert_int_equal(tf_writer_put(w, &r), 0);
			}
	int checked = 0;
	rp_replay_result res = finish_and_replay_with(
	    (replay_opts){.model = "cpython-3.8,cpython-3.12", .layer = RP_LAYER_MALLOC,
			     .json = true, .inspect = check_series, .inspect_ctx = &checked});
	assert_int_equal(checked, 2);
	assert_int_equal(res.requests, 120000);
	assert_null(res.models[0].series); /* gone with the replay */
}

/* Pinning: survivors of a mostly freed structure keep two arenas at low
 * use; the stack that allocated them is named, the busy arenas are not. */
static void test_pinning_names_the_stack(void **state)
{
	(void)state;
	start("");
	tf_record n = {.kind = TF_STACK};
	n.u.node = (tf_stack_node){.parent = 0, .ip = 0x401000};
	assert_int_equal(tf_writer_put(w, &n), 0); /* node 1: the cache filler */
	n.u.node = (tf_stack_node){.parent = 0, .ip = 0x402000};
	assert_int_equal(tf_writer_put(w, &n), 0); /* node 2: the busy one */
	tf_record r = {.thread = 1};
	const uint64_t ms = 1000000;
	for (uint64_t i = 0; i < 8000; i++) { /* 64-byte blocks: two 256 KiB arenas */
		r.kind = TF_MALLOC;
		r.time = i * ms;
		r.u.alloc = (tf_alloc){.stack = 1, .size = 64, .addr = 0x10000000 + i * 64};
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	for (uint64_t i = 0; i < 4000; i++) { /* 512-byte blocks, kept: well-used arenas */
		r.time = (8000 + i) * ms;
		r.u.alloc = (tf_alloc){.stack = 2, .size = 512, .addr = 0x20000000 + i * 512};
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	for (uint64_t i = 0; i < 8000; i++) { /* the first structure goes, but 16 blocks */
		if (i % 500 == 0)
			continue;
		r.kind = TF_FREE;
		r.u.alloc = (tf_alloc){.addr = 0x10000000 + i * 64};
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	rp_replay_result res = finish_and_replay(RP_LAYER_MALLOC, "cpython-3.8");
	const rp_pinning *pn = &res.models[0].pinning;
	assert_int_equal(pn->arenas_held, 11);
	assert_int_equal(pn->arenas_low, 2);
	/* 8,000 blocks fill 127 of the first two arenas' 128 pools: the busy
	 * stack's first pool (7 blocks) lands in the last one, so it shares
	 * one low arena, and counts for it too */
	assert_int_equal(pn->nstacks, 2);
	assert_int_equal(pn->stacks[1].stack, 2);
	assert_int_equal(pn->stacks[1].arenas, 1);
	assert_int_equal(pn->stacks[1].blocks, 7);
	/* times to 1 part in 16 million */
	assert_true(labs((long)pn->stacks[1].first_ns - 8000 * (long)ms) < 8000 * (long)ms >> 23);
	assert_true(labs((long)pn->stacks[1].last_ns - 8006 * (long)ms) < 8006 * (long)ms >> 23);
	assert_int_equal(pn->stacks[0].stack, 1);
	assert_int_equal(pn->stacks[0].frames[0], 0x401000);
	assert_int_equal(pn->stacks[0].arenas, 2);
	assert_int_equal(pn->stacks[0].blocks, 16);
	assert_int_equal(pn->stacks[0].bytes, 16 * 64);
	/* the survivors are blocks 0, 500, ... 7500 */
	assert_int_equal(pn->stacks[0].first_ns, 0);
	assert_true(labs((long)pn->stacks[0].last_ns - 7500 * (long)ms) < 7500 * (long)ms >> 23);
}

/* Frees on the collecting thread between gc_start and gc_stop are the
 * collector's; frees elsewhere, or on other threads meanwhile, are
 * reference counting's. */
static void test_gc_attribution(void **state)
{
	(void)state;
	start("3.12.1");
	for (uint64_t i = 0; i < 3; i++)
		ev_t(1, TF_PY_OBJ_MALLOC, 32, 0x1000 + 64 * i);
	ev_t(2, TF_PY_OBJ_MALLOC, 48, 0x2000);
	gc_event(TF_GC_START, 0, 0);
	ev_t(1, TF_PY_OBJ_FREE, 0, 0x1000);
	ev_t(2, TF_PY_OBJ_FREE, 0, 0x2000); /* another thread: not the collector */
	gc_event(TF_GC_STOP, 0, 1);
	ev_t(1, TF_PY_OBJ_FREE, 0, 0x1040);
	gc_event(TF_GC_START, 2, 0);
	ev_t(1, TF_PY_OBJ_FREE, 0, 0x1080);
	gc_event(TF_GC_STOP, 2, 1);
	gc_event(TF_GC_START, 1, 0); /* never stopped: the process ended */
	rp_replay_result res = finish_and_replay_with((replay_opts){
	    .model = "cpython-3.12", .layer = RP_LAYER_AUTO, .json = true, .quiet = true});
	assert_int_equal(res.gc_passes[0], 1);
	assert_int_equal(res.gc_passes[1], 0);
	assert_int_equal(res.gc_passes[2], 1);
	assert_int_equal(res.gc_unfinished, 1);
	const rp_model_gc *g = &res.models[0].gc;
	assert_int_equal(g->by_gc.objects, 2);
	assert_int_equal(g->by_gc.bytes, 64);
	assert_int_equal(g->by_refcount.objects, 2);
	assert_int_equal(g->by_refcount.bytes, 80);
	assert_int_equal(g->withheld.objects, 0);
	assert_int_equal(res.npasses, 2);
	assert_null(res.passes); /* freed with the replay */
}

/* --gc off: every model gets a twin that withholds the collector's frees;
 * the twin keeps those blocks (and their arenas) to the end, and the
 * interpreter's reuse of the freed addresses is no anomaly. */
static void test_gc_off_withholds(void **state)
{
	(void)state;
	start("3.12.1");
	const uint64_t n = 5800, size = 512, base = 0x10000000;
	for (uint64_t i = 0; i < n; i++)
		ev_t(1, TF_PY_OBJ_MALLOC, size, base + 1024 * i);
	ev_t(1, TF_PY_OBJ_MALLOC, 16, 0x90000000); /* survives */
	gc_event(TF_GC_START, 2, 0);
	for (uint64_t i = 0; i < n; i++)
		ev_t(1, TF_PY_OBJ_FREE, 0, base + 1024 * i);
	gc_event(TF_GC_STOP, 2, n);
	ev_t(1, TF_PY_OBJ_MALLOC, 64, base); /* the interpreter reuses an address */
	rp_replay_result res = finish_and_replay_with((replay_opts){
	    .model = "cpython-3.12", .layer = RP_LAYER_AUTO, .gc_off = true, .quiet = true});
	assert_int_equal(res.nmodels, 2);
	const rp_model_result *on = &res.models[0], *off = &res.models[1];
	assert_false(on->gc_off);
	assert_true(off->gc_off);
	assert_string_equal(on->profile, off->profile);
	assert_int_equal(res.free_unknown + res.realloc_unknown + res.alloc_over_live, 0);
	/* 5800 blocks of 512 bytes: 3 arenas of 1 MiB (63 or 64 pools of 31);
	 * the twin may need one more for the blocks after the pass */
	assert_int_equal(on->arenas_highwater, 3);
	assert_true(off->arenas_highwater >= 3);
	assert_int_equal(on->gc.by_gc.objects, n);
	assert_true(on->gc.arenas_released_in_gc >= 1);
	assert_int_equal(on->gc.arenas_released_outside, 0);
	assert_int_equal(off->gc.by_gc.objects, 0);
	assert_int_equal(off->gc.withheld.objects, n);
	assert_int_equal(off->gc.withheld.bytes, n * size);
	assert_int_equal(off->gc.arenas_released_in_gc, 0);
	assert_int_equal(off->arenas_current, off->arenas_highwater);
	assert_true(on->arenas_current < 3);
	assert_int_equal(on->live_end, 16 + 64);
	assert_int_equal(off->live_end, 16 + 64 + n * size);
	assert_int_equal(off->peak_live, off->live_end);
	assert_int_equal(on->peak_live, n * size + 16);
	/* the withheld blocks pin the twin's arenas */
	assert_int_equal(off->pinning.arenas_held, off->arenas_highwater);
}

static void stack_node(uint64_t id, uint64_t parent, uint64_t ip)
{
	tf_record r = {.kind = TF_STACK, .thread = 1};
	r.u.node = (tf_stack_node){.id = id, .parent = parent, .ip = ip};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

static void ev_stack(tf_kind kind, uint64_t size, uint64_t addr, uint64_t stack, uint64_t time)
{
	tf_record r = {.kind = kind, .thread = 1, .time = time};
	r.u.alloc.size = size;
	r.u.alloc.addr = addr;
	r.u.alloc.stack = stack;
	assert_int_equal(tf_writer_put(w, &r), 0);
}

typedef struct report_seen {
	rp_replay_result res;
	rp_arenas arenas;
	rp_arena a[4];
	rp_callsite sites[4];
	uint64_t frames[2];
} report_seen;

/* What the reports see, copied before the replay's memory goes. */
static void keep_report_data(const rp_replay_result *res, void *ctx)
{
	report_seen *s = ctx;
	s->res = *res;
	s->arenas = *res->models[0].arenas;
	assert_true(s->arenas.n <= 4);
	memcpy(s->a, s->arenas.a, s->arenas.n * sizeof(rp_arena));
	assert_true(res->ncallsites <= 4);
	memcpy(s->sites, res->callsites, res->ncallsites * sizeof(rp_callsite));
	assert_int_equal(res->nnodes, 2);
	s->frames[0] = res->node_ip[1];     /* node 2 */
	s->frames[1] = res->node_parent[1]; /* its parent: node 1 */
	/* no Python frame: no ranking kept beyond the table */
	assert_null(res->models[0].pinning.ranked);
	assert_int_equal(res->models[0].pinning.nranked, 0);
}

/* Arena lifelines, size classes, call sites and the process's facts: one
 * site fills two arenas and keeps every hundredth block, another keeps
 * its ten. */
static void test_report_data(void **state)
{
	(void)state;
	start("");
	stack_node(1, 0, 0x401000);
	stack_node(2, 1, 0x402000);
	const uint64_t base = 0x10000000;
	uint64_t t = 1000;
	for (uint64_t i = 0; i < 3000; i++)
		ev_stack(TF_MALLOC, 500, base + 1024 * i, 1, t += 10);
	for (uint64_t i = 0; i < 10; i++)
		ev_stack(TF_MALLOC, 100, 0x20000000 + 128 * i, 2, t += 10);
	for (uint64_t i = 0; i < 3000; i++)
		if (i % 100)
			ev_stack(TF_FREE, 0, base + 1024 * i, 0, t += 10);
	report_seen seen;
	replay_opts o = {.model = "cpython-3.12",
			 .layer = RP_LAYER_MALLOC,
			 .quiet = true,
			 .moments = true,
			 .inspect = keep_report_data,
			    .inspect_ctx = &seen};
	finish_and_replay_with(o);
	const rp_replay_result *res = &seen.res;
	/* facts */
	assert_string_equal(res->facts.exe, "/bin/prog");
	assert_string_equal(res->facts.argv, "prog -x");
	assert_int_equal(res->facts.pid, 77);
	assert_true(res->facts.complete);
	assert_int_equal(res->facts.span_ns, t);
	/* call sites, by bytes */
	assert_int_equal(res->ncallsites, 2);
	const rp_callsite *c = seen.sites;
	assert_int_equal(c[0].stack, 1);
	assert_int_equal(c[0].allocs, 3000);
	assert_int_equal(c[0].bytes, 3000 * 500);
	assert_int_equal(c[0].blocks_end, 30);
	assert_int_equal(c[0].live_end, 30 * 500);
	/* at the peak, exactly: the second arena's first block */
	assert_true(c[0].live_peak >= 1900 * 500 && c[0].live_peak <= 2000 * 500);
	/* taken after the peak's own request: every block before it is live */
	assert_int_equal(c[0].live_peak, 500 * res->models[0].peak_request);
	assert_int_equal(c[0].arenas, 2);         /* both arenas, barely used, keep its blocks */
	assert_int_equal(c[1].stack, 2);
	assert_int_equal(c[1].allocs, 10);
	assert_int_equal(c[1].live_end, 1000);
	assert_int_equal(seen.frames[0], 0x402000);
	assert_int_equal(seen.frames[1], 1);
	/* arenas: 3000 blocks of 512 bytes, 1953 or 1984 an arena */
	assert_int_equal(seen.arenas.n, 2);
	assert_true(seen.arenas.ticks > 1);
	uint64_t blocks = 0;
	for (uint32_t i = 0; i < seen.arenas.n; i++) {
		const rp_arena *a = &seen.a[i];
		assert_int_equal(a->id, i + 1);
		assert_false(a->released);
		assert_true(a->allocated_ns > 1000 && a->allocated_ns < t);
		assert_true(a->first_tick <= a->last_tick);
		assert_int_equal(a->last_tick, seen.arenas.ticks - 1);
		assert_true(a->use[a->last_tick] < 10); /* a few blocks left: nearly empty */
		blocks += a->live_blocks_end;
		assert_int_equal(a->top_stack, a->live_bytes_end > 1000 ? 1 : a->top_stack);
	}
	assert_int_equal(blocks, 40);
	assert_true(seen.a[0].peak_use > 230); /* full: 1953 or 1984 blocks of 512 bytes */
	assert_true(seen.a[0].allocated_ns < seen.a[1].allocated_ns);
	/* size classes: 500 bytes is class 31 (512) */
	const rp_model_result *m = &res->models[0];
	assert_int_equal(m->classes_end.align, 16);
	assert_int_equal(m->classes_end.n, 32);
	assert_int_equal(m->classes_end.blocks[31], 30);
	assert_int_equal(m->classes_end.blocks[6], 10); /* 100 bytes: class 6 (112) */
	assert_true(m->classes_peak.blocks[31] >= 1900); /* taken with the call sites' */
	assert_int_equal(m->pool_size, 16384);
	assert_true(m->keep_empty_arena);
}

/* A stack node of a Python frame: code's instruction at offset. */
static void py_node(uint64_t id, uint64_t parent, uint64_t code, uint64_t offset)
{
	tf_record r = {.kind = TF_STACK, .thread = 1};
	r.u.node = (tf_stack_node){id, parent, offset, code};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

static void py_code(uint64_t id, const char *file, const char *name)
{
	tf_record r = {.kind = TF_PY_CODE, .thread = 1};
	r.u.py_code = (tf_py_code){.id = id, .first_line = 10, .lines_format = 0};
	r.u.py_code.filename = (tf_bytes){file, strlen(file)};
	r.u.py_code.name = (tf_bytes){name, strlen(name)};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

typedef struct py_seen {
	uint64_t codes;          /* py_code records the observer saw */
	char last_file[64];
	uint64_t nnodes, py_nodes, ip[3]; /* the node table */
	uint64_t pin_frames[RP_PIN_FRAMES];
	int nranked;
	uint64_t ranked0;
} py_seen;

static void see_py_code(void *ctx, const tf_record *rec)
{
	py_seen *s = ctx;
	assert_int_equal(rec->kind, TF_PY_CODE);
	s->codes++;
	snprintf(s->last_file, sizeof(s->last_file), "%.*s", (int)rec->u.py_code.filename.len,
		 rec->u.py_code.filename.ptr);
}

static void keep_py_nodes(const rp_replay_result *res, void *ctx)
{
	py_seen *s = ctx;
	s->nnodes = res->nnodes;
	s->py_nodes = res->facts.py_nodes;
	for (uint64_t i = 0; i < res->nnodes && i < 3; i++)
		s->ip[i] = res->node_ip[i];
	const rp_pinning *pn = &res->models[0].pinning;
	if (pn->nstacks)
		memcpy(s->pin_frames, pn->stacks[0].frames, sizeof(s->pin_frames));
	s->nranked = pn->nranked;
	s->ranked0 = pn->ranked ? pn->ranked[0].stack : 0;
}

/* Python frames: a node with a code is kept as tf_py_frame (code, offset),
 * whatever the offset's delta coding; py_code records reach the observer;
 * a pinning stack's frames hold them in call order with the native ones. */
static void test_python_frames(void **state)
{
	(void)state;
	start("3.12.1");
	py_code(7, "app.py", "main");
	py_code(9, "lib.py", "make");
	py_node(1, 0, 7, 0x2a);     /* <module> in app.py */
	py_node(2, 1, 9, 6);        /* make in lib.py, called by it */
	stack_node(3, 2, 0x401000); /* the C function make called */
	const uint64_t base = 0x10000000;
	for (uint64_t i = 0; i < 3000; i++)
		ev_stack(TF_MALLOC, 500, base + 1024 * i, 3, 10 * i);
	for (uint64_t i = 0; i < 3000; i++)
		if (i % 100)
			ev_stack(TF_FREE, 0, base + 1024 * i, 0, 40000 + 10 * i);
	py_seen seen = {0};
	replay_opts o = {.model = "cpython-3.12",
			 .layer = RP_LAYER_MALLOC,
			 .inspect = keep_py_nodes,
			 .inspect_ctx = &seen,
			 .on_py_code = see_py_code};
	finish_and_replay_with(o);
	assert_int_equal(seen.codes, 2);
	assert_string_equal(seen.last_file, "lib.py");
	assert_int_equal(seen.nnodes, 3);
	assert_int_equal(seen.py_nodes, 2);
	assert_int_equal(seen.ip[0], tf_py_frame(7, 0x2a));
	assert_int_equal(seen.ip[1], tf_py_frame(9, 6));
	assert_true(tf_is_py_frame(seen.ip[1]));
	assert_int_equal(tf_py_frame_code(seen.ip[1]), 9);
	assert_int_equal(tf_py_frame_offset(seen.ip[1]), 6);
	assert_int_equal(seen.ip[2], 0x401000);
	assert_false(tf_is_py_frame(seen.ip[2]));
	/* the leaf first: the C function, then make, then <module> */
	assert_int_equal(seen.pin_frames[0], 0x401000);
	assert_int_equal(seen.pin_frames[1], tf_py_frame(9, 6));
	assert_int_equal(seen.pin_frames[2], tf_py_frame(7, 0x2a));
	assert_int_equal(seen.pin_frames[3], 0);
	/* with Python frames, the ranking kept beyond the table, for the reports */
	assert_int_equal(seen.nranked, 1);
	assert_int_equal(seen.ranked0, 3);
}

typedef struct lifeline_seen {
	rp_arenas arenas;
	uint64_t arenas_total, held_kept, released_kept, last_id;
	bool ids_increase;
} lifeline_seen;

static void keep_lifelines(const rp_replay_result *res, void *ctx)
{
	lifeline_seen *s = ctx;
	const rp_arenas *A = res->models[0].arenas;
	s->arenas = *A;
	s->arenas_total = res->models[0].arenas_total;
	s->ids_increase = true;
	for (uint32_t i = 0; i < A->n; i++) {
		s->held_kept += !A->a[i].released;
		s->released_kept += A->a[i].released;
		s->ids_increase &= A->a[i].id > s->last_id;
		s->last_id = A->a[i].id;
	}
}

/* Arena records stay bounded on an arena-thrashing trace (3.8 frees an
 * arena as soon as it is empty): released ones are let go, counted; the
 * held ones and the latest stay. */
static void test_lifelines_bounded(void **state)
{
	(void)state;
	start("");
	const uint64_t rounds = RP_ARENAS_KEPT + 2000;
	ev(TF_MALLOC, 0, 8, 0x90000000); /* holds the first arena to the end */
	for (uint64_t i = 0; i < rounds; i++) {
		/* 7 blocks of 512 a pool, 8 pools an arena: the 50th needs a new arena */
		for (uint64_t k = 0; k < 50; k++)
			ev(TF_MALLOC, 0, 500, 0x20000000 + 512 * k);
		for (uint64_t k = 0; k < 50; k++)
			ev(TF_FREE, 0, 0, 0x20000000 + 512 * k);
	}
	lifeline_seen seen = {0};
	replay_opts o = {.model = "custom:arena=32K,pool=4K,keep-empty=0",
			    .layer = RP_LAYER_MALLOC,
			    .quiet = true,
			    .inspect = keep_lifelines,
			    .inspect_ctx = &seen};
	finish_and_replay_with(o);
	assert_true(seen.arenas_total > RP_ARENAS_KEPT);
	assert_true(seen.arenas.n <= RP_ARENAS_KEPT);
	assert_int_equal(seen.arenas.n + seen.arenas.dropped, seen.arenas_total);
	assert_true(seen.ids_increase);
	assert_int_equal(seen.last_id, seen.arenas_total); /* the latest is kept */
	assert_int_equal(seen.held_kept, 1);
	assert_true(seen.arenas.ticks > RP_ARENA_TICKS / 2 && seen.arenas.ticks <= RP_ARENA_TICKS);
}

/* ---- the arena cross-check (replay/rp_xcheck.c) ----
 * On a 3.8 trace (256 KiB arenas of 64 pools of 4 KiB; an arena wholly
 * free is always released), block k of pool p of the arena at base is
 * base + p * 4096 + 48 + k * size. */
#define XB1 UINT64_C(0x7f0000000000)
#define XB2 UINT64_C(0x7f0000100000)
#define XB3 UINT64_C(0x7f0000200000)
#define XARENA (256u << 10)

static void arena_rec(tf_kind kind, uint64_t base)
{
	tf_record r = {.kind = kind, .thread = 1};
	r.u.arena = (tf_arena){base, XARENA};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

/* The trace ends; the replay's result, its JSON then its summary in *text
 * (malloc'd: the caller frees it). */
static rp_replay_result replay_texts(replay_opts o, char **text)
{
	FILE *out = tmpfile();
	assert_non_null(out);
	o.out = out;
	o.quiet = true;
	o.json = o.summary = true;
	rp_replay_result res = finish_and_replay_with(o);
	long n = ftell(out);
	assert_true(n > 0);
	*text = calloc(1, (size_t)n + 1);
	assert_non_null(*text);
	rewind(out);
	assert_int_equal(fread(*text, 1, (size_t)n, out), (size_t)n);
	fclose(out);
	return res;
}

static rp_arena_mismatch parts(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return (rp_arena_mismatch){a, b, c, d};
}

/* The model's parts are these, and the total their sum. */
static void expect_parts(const rp_model_result *m, rp_arena_mismatch want)
{
	const rp_arena_mismatch *got = &m->arena_parts;
	assert_int_equal(m->compared, RP_COMPARED);
	assert_int_equal(got->freed_held, want.freed_held);
	assert_int_equal(got->released_kept, want.released_kept);
	assert_int_equal(got->recorded_unused, want.recorded_unused);
	assert_int_equal(got->unrecorded, want.unrecorded);
	assert_int_equal(m->arena_mismatch, want.freed_held + want.released_kept +
						want.recorded_unused + want.unrecorded);
}

static rp_replay_result replay38(void)
{
	return finish_and_replay_with((replay_opts){.layer = RP_LAYER_AUTO, .quiet = true});
}

/* A free that empties the arena, its arena_free record after it (the
 * tracer records a free before the call): a match, said in both sinks. */
static void test_xcheck_free_matches(void **state)
{
	(void)state;
	start("3.8.18");
	arena_rec(TF_ARENA_ALLOC, XB1);
	ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
	ev(TF_PY_OBJ_FREE, 0, 0, XB1 + 48);
	arena_rec(TF_ARENA_FREE, XB1);
	char *text;
	rp_replay_result res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_string_equal(res.models[0].profile, "cpython-3.8");
	assert_int_equal(res.models[0].arenas_total - res.models[0].arenas_current, 1);
	assert_int_equal(res.models[0].addr_mismatch, 0);
	expect_parts(&res.models[0], parts(0, 0, 0, 0));
	assert_non_null(strstr(text, "\"addresses_unlike_interpreter\": 0, \"arena_mismatches\": 0, "
				     "\"arena_mismatch_parts\": {\"freed_held\": 0, \"released_kept\": 0, "
				     "\"recorded_unused\": 0, \"unrecorded\": 0}, \"not_compared\": null"));
	assert_non_null(strstr(text, "\nexactness: cpython-3.8: 0 addresses unlike the interpreter's, "
				     "0 arena mismatches\n"));
	free(text);
}

/* A realloc is recorded after its call: the arena_free record comes before
 * it, and the model's release in it matches; the same record before a free
 * does not (the interpreter let go one request before the model). */
static void test_xcheck_realloc_matches(void **state)
{
	(void)state;
	for (int realloc_it = 1; realloc_it >= 0; realloc_it--) {
		start("3.8.18");
		arena_rec(TF_ARENA_ALLOC, XB1);
		ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
		arena_rec(TF_ARENA_FREE, XB1);
		if (realloc_it)
			ev(TF_PY_OBJ_REALLOC, XB1 + 48, 600, 0x5555000); /* out of pymalloc */
		else
			ev(TF_PY_OBJ_FREE, 0, 0, XB1 + 48);
		rp_replay_result res = replay38();
		assert_int_equal(res.models[0].arenas_total - res.models[0].arenas_current, 1);
		expect_parts(&res.models[0], realloc_it ? parts(0, 0, 0, 0) : parts(1, 0, 0, 0));
	}
}

/* (a): the interpreter freed an arena the model keeps (a block still live
 * in it), to the end. */
static void test_xcheck_freed_but_held(void **state)
{
	(void)state;
	start("3.8.18");
	arena_rec(TF_ARENA_ALLOC, XB1);
	ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
	ev(TF_PY_OBJ_MALLOC, 0, 600, 0x5555000);
	arena_rec(TF_ARENA_FREE, XB1);
	ev(TF_PY_OBJ_MALLOC, 0, 600, 0x5556000);
	ev(TF_PY_OBJ_FREE, 0, 0, XB1 + 48); /* the model lets go two requests late */
	char *text;
	rp_replay_result res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	expect_parts(&res.models[0], parts(1, 0, 0, 0));
	assert_non_null(strstr(text, "\"arena_mismatches\": 1, \"arena_mismatch_parts\": "
				     "{\"freed_held\": 1, "));
	assert_non_null(strstr(text, "\nexactness: cpython-3.8: 0 addresses unlike the interpreter's, "
				     "1 arena mismatches: 1 freed by the interpreter, not by the model "
				     "with it; 0 released by the model"));
	free(text);
}

/* (b): the model released an arena the trace does not free: never; one
 * request later; or not before its next arena_alloc of the same base. */
static void test_xcheck_released_but_kept(void **state)
{
	(void)state;
	for (int how = 0; how < 3; how++) {
		start("3.8.18");
		arena_rec(TF_ARENA_ALLOC, XB1);
		ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
		ev(TF_PY_OBJ_FREE, 0, 0, XB1 + 48); /* the model releases XB1 here */
		if (how == 1) {
			ev(TF_PY_OBJ_MALLOC, 0, 600, 0x5555000);
			arena_rec(TF_ARENA_FREE, XB1); /* one request late */
		} else if (how == 2) {
			arena_rec(TF_ARENA_ALLOC, XB1); /* again, never freed before */
			ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
		}
		rp_replay_result res = replay38();
		assert_int_equal(res.models[0].addr_mismatch, 0);
		expect_parts(&res.models[0], parts(0, 1, 0, 0));
	}
}

/* (c): recorded arenas the model never takes: left at the end, or freed by
 * the interpreter first, which takes it out of the queue, so the next
 * recorded base still goes to the model's next arena. */
static void test_xcheck_recorded_unused(void **state)
{
	(void)state;
	start("3.8.18");
	arena_rec(TF_ARENA_ALLOC, XB1);
	arena_rec(TF_ARENA_ALLOC, XB2);
	arena_rec(TF_ARENA_FREE, XB2);
	arena_rec(TF_ARENA_ALLOC, XB3);
	/* 64 pools of 7 blocks of 512 bytes fill XB1; the next block is XB3's */
	for (uint64_t p = 0; p < 64; p++)
		for (uint64_t k = 0; k < 7; k++)
			ev(TF_PY_OBJ_MALLOC, 0, 512, XB1 + p * 4096 + 48 + k * 512);
	ev(TF_PY_OBJ_MALLOC, 0, 512, XB3 + 48);
	arena_rec(TF_ARENA_ALLOC, XB2); /* never used: still queued at the end */
	rp_replay_result res = replay38();
	assert_int_equal(res.models[0].addr_mismatch, 0);
	assert_int_equal(res.models[0].arenas_current, 2);
	expect_parts(&res.models[0], parts(0, 0, 2, 0));
}

/* Not compared: a model of another profile than the recorded interpreter's
 * (even of the same arena size: 3.10 on a 3.12 trace), a --gc off twin, the
 * malloc layer: null in --json, "not compared" in the summary, never 0. */
static void test_xcheck_not_compared(void **state)
{
	(void)state;
	start("3.12.1");
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	char *text;
	rp_replay_result res = replay_texts(
	    (replay_opts){.model = "cpython-3.12,cpython-3.10", .layer = RP_LAYER_AUTO, .gc_off = true},
	    &text);
	assert_int_equal(res.nmodels, 4);
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	assert_int_equal(res.models[1].compared, RP_NC_GC_OFF);
	assert_int_equal(res.models[2].compared, RP_NC_PROFILE);
	assert_int_equal(res.models[3].compared, RP_NC_GC_OFF);
	const char *p = strstr(text, "\"profile\": \"cpython-3.10\"");
	assert_non_null(p);
	assert_non_null(strstr(p, "\"addresses_unlike_interpreter\": null, \"arena_mismatches\": null, "
				  "\"arena_mismatch_parts\": null, \"not_compared\": \"not the recorded "
				  "interpreter's profile (CPython 3.12.1)\""));
	assert_non_null(strstr(text, "\nexactness: cpython-3.12: 1 addresses unlike the interpreter's, 1 "
				     "arena mismatches: "));
	assert_non_null(strstr(text, "\nexactness: cpython-3.12 gc-off: not compared: a --gc off twin "
				     "places its arenas itself\n"));
	assert_non_null(strstr(text, "\nexactness: cpython-3.10: not compared: not the recorded "
				     "interpreter's profile (CPython 3.12.1)\n"));
	free(text);

	start("");
	ev(TF_MALLOC, 0, 32, 0x1230);
	res = replay_texts((replay_opts){.model = "cpython-3.12", .layer = RP_LAYER_AUTO}, &text);
	assert_true(res.malloc_layer);
	assert_int_equal(res.models[0].compared, RP_NC_MALLOC_LAYER);
	assert_non_null(strstr(text, "\"addresses_unlike_interpreter\": null, \"arena_mismatches\": null"));
	assert_non_null(strstr(text, "\nexactness: not compared: the malloc layer has no interpreter's "
				     "addresses\n"));
	free(text);
}

/* Two initialisations of the interpreter (py_init): a 1 MiB arena, a
 * block of the first, finalisation; then a block of the second, where a
 * pymalloc that kept its state puts it (arena2 0) or the first of a new
 * arena at arena2, and a snapshot.  Returns the replay's result, its texts
 * in *text. */
static rp_replay_result two_inits(const char *python, const char *allocator, uint64_t arena2,
				  char **text)
{
	start(python);
	tf_record r = {.kind = TF_ARENA_ALLOC, .thread = 1};
	r.u.arena = (tf_arena){XB1, 1 << 20};
	assert_int_equal(tf_writer_put(w, &r), 0);
	ev(TF_PY_OBJ_MALLOC, 0, 32, XB1 + 48);
	r = (tf_record){.kind = TF_PY_FINALIZE, .thread = 1};
	assert_int_equal(tf_writer_put(w, &r), 0);
	r = (tf_record){.kind = TF_PY_INIT, .thread = 1};
	r.u.py_init.number = 2;
	r.u.py_init.allocator = (tf_bytes){allocator, strlen(allocator)};
	assert_int_equal(tf_writer_put(w, &r), 0);
	if (arena2) {
		r = (tf_record){.kind = TF_ARENA_ALLOC, .thread = 1};
		r.u.arena = (tf_arena){arena2, 1 << 20};
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	ev(TF_PY_OBJ_MALLOC, 0, 32, arena2 ? arena2 + 48 : XB1 + 48 + 32);
	r = (tf_record){.kind = TF_SNAPSHOT, .thread = 1};
	r.u.label.label = (tf_bytes){"round 2", 7};
	r.u.label.text = (tf_bytes){"not the model's\n", 16};
	assert_int_equal(tf_writer_put(w, &r), 0);
	return replay_texts((replay_opts){.layer = RP_LAYER_AUTO, .check = true}, text);
}

/* Initialised again: up to 3.11 and from 3.13 pymalloc keeps its state,
 * and so does the model; 3.12's starts afresh, and so does the model's
 * (pym_forget): its next block is a new arena's, the old arena still
 * held.  Both compared, their snapshots checked.  Another allocator may
 * serve the new initialisation: from there on the model is not the
 * interpreter's, so not compared (null in --json, the reason in the
 * summary) and the snapshots after it not checked, never a wrong 0. */
static void test_initialised_again(void **state)
{
	(void)state;
	char *text;
	rp_replay_result res = two_inits("3.13.0", "pymalloc", 0, &text);
	assert_int_equal(res.facts.inits, 2);
	assert_int_equal(res.facts.reinit_number, 0);
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	assert_int_equal(res.models[0].addr_mismatch, 0);
	assert_int_equal(res.models[0].arena_mismatch, 0);
	assert_int_equal(res.snapshots, 1);
	assert_int_equal(res.snapshots_mismatched, 1); /* checked: its text is not the model's */
	assert_int_equal(res.snapshots_unchecked, 0);
	free(text);

	/* 3.12 without its fresh start: the model's block is not the interpreter's */
	res = two_inits("3.12.1", "pymalloc", 0, &text);
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	assert_int_equal(res.models[0].addr_mismatch, 1);
	free(text);
	res = two_inits("3.12.1", "pymalloc", XB2, &text);
	assert_int_equal(res.facts.inits, 2);
	assert_int_equal(res.facts.reinit_number, 0);
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	assert_int_equal(res.models[0].addr_mismatch, 0);
	assert_int_equal(res.models[0].arena_mismatch, 0);
	assert_int_equal(res.models[0].arenas_current, 1);         /* the new state's */
	assert_int_equal(res.models[0].held_end, 2u << 20);        /* and the old arena */
	assert_int_equal(res.snapshots_mismatched + res.snapshots_unchecked, 1);
	assert_int_equal(res.snapshots_unchecked, 0);
	assert_int_equal(res.free_unknown + res.realloc_unknown + res.models[0].errors, 0);
	free(text);

	res = two_inits("3.11.7", "malloc", 0, &text);
	assert_int_equal(res.models[0].compared, RP_NC_REINIT);
	assert_int_equal(res.facts.reinit_number, 2);
	assert_int_equal(res.facts.reinit_at, 1);
	const char *why = "malloc served the interpreter from its initialisation 2 on (after request 1)";
	char want[256];
	snprintf(want, sizeof(want),
		 "\"addresses_unlike_interpreter\": null, \"arena_mismatches\": null, "
		 "\"arena_mismatch_parts\": null, \"not_compared\": \"%s\"",
		 why);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "\nexactness: cpython-3.11: not compared: %s\n", why);
	assert_non_null(strstr(text, want));
	assert_int_equal(res.snapshots_unchecked, 1);
	free(text);

	/* the worst moment is not in a teardown, but may be in a later
	 * initialisation: 3.12's second one takes a new arena, the first
	 * one's still held */
	start("3.12.1");
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1250);
	tf_record rec = {.kind = TF_PY_FINALIZE, .thread = 1};
	assert_int_equal(tf_writer_put(w, &rec), 0);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x1230); /* the teardown: held minus live grows */
	rec = (tf_record){.kind = TF_PY_INIT, .thread = 1};
	rec.u.py_init = (tf_py_init){2, {"pymalloc", 8}};
	assert_int_equal(tf_writer_put(w, &rec), 0);
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x10000);
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x10020);
	res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_int_equal(res.models[0].worst_request, 4);
	free(text);

	/* a single initialisation */
	start("3.12.1");
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_int_equal(res.facts.inits, 1);
	assert_int_equal(res.models[0].compared, RP_COMPARED);
	free(text);
}

/* The tracer's dropped events: --json's "dropped" (null without an end
 * record) and a line of the summary. */
static void test_dropped(void **state)
{
	(void)state;
	start("3.12.1");
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	char *text;
	replay_texts((replay_opts){.layer = RP_LAYER_AUTO, .dropped = 7}, &text);
	assert_non_null(strstr(text, "\"dropped\": 7, "));
	assert_non_null(strstr(text, "\ndropped: 7 events the tracer could not record"));
	free(text);
	start("3.12.1");
	replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_non_null(strstr(text, "\"dropped\": 0, "));
	assert_null(strstr(text, "\ndropped: "));
	free(text);

	/* no end record: null */
	rp_engine *e;
	rp_config cfg = {0};
	assert_int_equal(rp_engine_create(&e, &cfg), RP_OK);
	tf_record h = {.kind = TF_HEADER};
	h.u.header = theader();
	h.u.header.python = (tf_bytes){"3.12.1", 6};
	assert_int_equal(rp_engine_feed(e, &h), RP_OK);
	assert_int_equal(rp_engine_finish(e), RP_OK);
	FILE *out = tmpfile();
	assert_non_null(out);
	rep_input in = {.res = rp_engine_result(e)};
	rep_json_write(out, &in);
	char json[1 << 14];
	rewind(out);
	size_t n = fread(json, 1, sizeof(json) - 1, out);
	json[n] = 0;
	fclose(out);
	rp_engine_free(e);
	assert_non_null(strstr(json, "\"dropped\": null, "));
}


/* ---- subinterpreters' heaps (replay/rp_heaps.c) ----
 * 1 MiB arenas (3.12, 3.13); a fresh heap's first 32-byte blocks are at
 * base + 48, + 80, + 112. */
#define HA1 UINT64_C(0x7f1000000000)
#define HA2 UINT64_C(0x7f2000000000)
#define HA3 UINT64_C(0x7f3000000000)
#define HSTATE UINT64_C(0x55d000001f48)
#define HBLOCK UINT64_C(0x55d000001000)

static void heap_rec(uint32_t tid, uint64_t state)
{
	tf_record r = {.kind = TF_HEAP, .thread = 1};
	r.u.heap = (tf_heap){tid, state, state ? HBLOCK : 0};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

static void arena_on(uint32_t t, tf_kind kind, uint64_t base)
{
	tf_record r = {.kind = kind, .thread = t};
	r.u.arena = (tf_arena){base, 1u << 20};
	assert_int_equal(tf_writer_put(w, &r), 0);
}

/* A thread on a subinterpreter's heap gets the blocks of a pymalloc of its
 * own, at the same places in its own arena as the main interpreter's in
 * its; and back on the main heap, the main one's next block.  One model
 * for both would have given thread 2 the main heap's next block. */
static void test_heaps_replayed_apart(void **state)
{
	(void)state;
	start("3.12.1");
	arena_on(1, TF_ARENA_ALLOC, HA1);
	ev_t(1, TF_PY_OBJ_MALLOC, 32, HA1 + 48);
	heap_rec(2, HSTATE);
	arena_on(2, TF_ARENA_ALLOC, HA2);
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 48);
	ev_t(1, TF_PY_OBJ_MALLOC, 32, HA1 + 80); /* the main heap, between */
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 80);
	heap_rec(2, 0);
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA1 + 112);
	char *text;
	rp_replay_result res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_int_equal(res.requests, 3); /* the main heap's */
	assert_int_equal(res.facts.other_heaps, 1);
	assert_int_equal(res.facts.other_heap_requests, 2);
	assert_int_equal(res.facts.other_heap_arenas, 1);
	assert_int_equal(res.models[0].addr_mismatch, 0);
	expect_parts(&res.models[0], parts(0, 0, 0, 0));
	assert_int_equal(res.free_unknown + res.realloc_unknown + res.alloc_over_live, 0);
	assert_int_equal(res.models[0].arenas_current, 1); /* the measures: the main heap */
	assert_non_null(strstr(text, "\"other_heaps\": {\"states\": 1, \"requests\": 2, "
				     "\"arenas\": 1, \"arenas_freed\": 0, \"lost\": 0}"));
	assert_non_null(strstr(text, "\nsubinterpreters: 1 obmalloc states of their own, 2 "
				     "requests and 1 arenas, replayed through models of their own"));
	free(text);

	/* without its heap record, thread 2 is the main heap's: every one of
	 * its addresses is unlike, and its arena never the model's */
	start("3.12.1");
	arena_on(1, TF_ARENA_ALLOC, HA1);
	ev_t(1, TF_PY_OBJ_MALLOC, 32, HA1 + 48);
	arena_on(2, TF_ARENA_ALLOC, HA2);
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 48);
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 80);
	res = replay38();
	assert_int_equal(res.models[0].addr_mismatch, 2);
	assert_int_equal(res.models[0].arena_mismatch, 1);
	assert_int_equal(res.facts.other_heaps, 0);
}

/* A subinterpreter's arena freed by its request is matched by its own
 * model's release, whatever the thread its arena_free was recorded on;
 * a wrong address in its heap counts as any. */
static void test_heap_arena_free_by_base(void **state)
{
	(void)state;
	start("3.12.1");
	arena_on(1, TF_ARENA_ALLOC, HA1);
	ev_t(1, TF_PY_OBJ_MALLOC, 32, HA1 + 48);
	heap_rec(2, HSTATE);
	arena_on(2, TF_ARENA_ALLOC, HA2);
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 48);
	arena_on(2, TF_ARENA_ALLOC, HA3);          /* a second arena: the first can go */
	ev_t(2, TF_PY_OBJ_MALLOC, 600000, 0x5555000); /* raw: no arena */
	ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 96);   /* unlike: HA2 + 80 */
	ev_t(2, TF_PY_OBJ_FREE, 0, HA2 + 96);
	ev_t(2, TF_PY_OBJ_FREE, 0, HA2 + 48);
	rp_replay_result res = replay38();
	assert_int_equal(res.models[0].addr_mismatch, 1);
	/* HA3 was never taken (recorded_unused at the end); HA2 is kept, as
	 * pymalloc keeps its one usable arena */
	expect_parts(&res.models[0], parts(0, 0, 1, 0));

	/* a subinterpreter fills an arena (64 pools of 31 blocks of 512
	 * bytes), takes a second, then frees the first: its arena_free, on
	 * the main thread, is its model's release */
	start("3.12.1");
	heap_rec(2, HSTATE);
	arena_on(2, TF_ARENA_ALLOC, HA2);
	for (uint64_t p = 0; p < 64; p++)
		for (uint64_t k = 0; k < 31; k++)
			ev_t(2, TF_PY_OBJ_MALLOC, 512, HA2 + p * 16384 + 48 + k * 512);
	arena_on(2, TF_ARENA_ALLOC, HA3);
	ev_t(2, TF_PY_OBJ_MALLOC, 512, HA3 + 48);
	for (uint64_t p = 0; p < 64; p++)
		for (uint64_t k = 0; k < 31; k++)
			ev_t(2, TF_PY_OBJ_FREE, 0, HA2 + p * 16384 + 48 + k * 512);
	arena_on(1, TF_ARENA_FREE, HA2);
	ev_t(1, TF_PY_OBJ_MALLOC, 32, 0x5555000); /* the main heap: no arena recorded */
	res = replay38();
	assert_int_equal(res.facts.other_heap_requests, 2 * 64 * 31 + 1);
	assert_int_equal(res.facts.other_heap_arenas, 2);
	assert_int_equal(res.facts.other_heap_arenas_freed, 1);
	assert_int_equal(res.requests, 1);
	assert_int_equal(res.models[0].addr_mismatch, 1); /* the main heap's own, placed by the model */
	expect_parts(&res.models[0], parts(0, 0, 0, 1));
}

/* A heap ends when its block is freed (the malloc layer): a later
 * interpreter whose state has the same address is a new heap, with a
 * pymalloc of its own; the thread that runs it need not say so again. */
static void test_heap_ends_with_its_block(void **state)
{
	(void)state;
	for (int ends = 1; ends >= 0; ends--) {
		start("3.13.0");
		heap_rec(2, HSTATE);
		arena_on(2, TF_ARENA_ALLOC, HA2);
		ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 48); /* leaked: its arena stays */
		if (ends)
			ev_t(1, TF_FREE, 0, HBLOCK);
		arena_on(2, TF_ARENA_ALLOC, HA3);
		ev_t(2, TF_PY_OBJ_MALLOC, 32, HA3 + 48);
		rp_replay_result res = replay38();
		assert_int_equal(res.facts.other_heaps, ends ? 2 : 1);
		assert_int_equal(res.models[0].addr_mismatch, ends ? 0 : 1);
		expect_parts(&res.models[0], ends ? parts(0, 0, 0, 0) : parts(0, 0, 1, 0));
	}
}

/* CPython 3.13 frees the arenas of a state with no block left when it
 * frees the state, 3.12 never: the arena_free records just before the
 * state's block goes match the model's arenas when it has no block either;
 * a 3.13 state that goes with a model arena unfreed is a mismatch. */
static void test_heap_end_frees_arenas(void **state)
{
	(void)state;
	static const struct {
		const char *python;
		bool freed; /* the trace has the arena_free */
		uint64_t freed_held, released_kept;
	} cases[] = {{"3.13.0", true, 0, 0}, {"3.13.0", false, 0, 1}, {"3.12.1", false, 0, 0},
		     {"3.12.1", true, 1, 0}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		start(cases[c].python);
		heap_rec(2, HSTATE);
		arena_on(2, TF_ARENA_ALLOC, HA2);
		ev_t(2, TF_PY_OBJ_MALLOC, 32, HA2 + 48);
		ev_t(2, TF_PY_OBJ_FREE, 0, HA2 + 48); /* empty, and kept: its only arena */
		heap_rec(2, 0);
		ev_t(2, TF_PY_OBJ_MALLOC, 600, 0x5555000);
		if (cases[c].freed)
			arena_on(2, TF_ARENA_FREE, HA2);
		ev_t(2, TF_FREE, 0, HBLOCK);
		rp_replay_result res = replay38();
		assert_int_equal(res.facts.other_heaps, 1);
		assert_int_equal(res.models[0].addr_mismatch, 0);
		expect_parts(&res.models[0], parts(cases[c].freed_held, cases[c].released_kept, 0, 0));
	}
}

/* More subinterpreters' heaps alive at once than the replay keeps: their
 * records are lost, and no model is compared (null, never a count that
 * leaves them out). */
static void test_heaps_too_many(void **state)
{
	(void)state;
	start("3.12.1");
	for (uint64_t k = 0; k <= RP_HEAPS_LIVE_MAX; k++) {
		tf_record r = {.kind = TF_HEAP, .thread = 1};
		r.u.heap = (tf_heap){2, HSTATE + k * 4096, HBLOCK + k * 4096};
		assert_int_equal(tf_writer_put(w, &r), 0);
		ev_t(2, TF_PY_OBJ_MALLOC, 600, 0x5555000 + k * 1024); /* raw: no arena needed */
	}
	char *text;
	rp_replay_result res = replay_texts((replay_opts){.layer = RP_LAYER_AUTO}, &text);
	assert_int_equal(res.facts.other_heaps, RP_HEAPS_LIVE_MAX);
	assert_int_equal(res.facts.other_heap_lost, 1);
	assert_int_equal(res.models[0].compared, RP_NC_HEAPS_LOST);
	assert_non_null(strstr(text, "\"addresses_unlike_interpreter\": null, \"arena_mismatches\": null"));
	assert_non_null(strstr(text, "exactness: cpython-3.12: not compared: 1 requests and arenas of "
				     "subinterpreters' heaps not replayed (more than 1024 at once, or no "
				     "memory)"));
	free(text);
}

/* A trace in memory: header h, then what fill writes. */
static tbuf trace_of(tf_header h, void (*fill)(void))
{
	fd = tmp_fd();
	tf_writer_opts o = {.fd = fd, .exact_time = true};
	assert_int_equal(tf_writer_create(&w, &o, &h), 0);
	fill();
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);
	return b;
}

/* The parent: A, B and C allocated before the fork, D after it. */
static void fork_parent(void)
{
	py_code(1, "app.py", "main");
	py_node(1, 0, 1, 4);
	ev_stack(TF_MALLOC, 100, 0xa000, 1, 10);
	ev_stack(TF_MALLOC, 200, 0xb000, 1, 20);
	ev_stack(TF_MALLOC, 300, 0xc000, 1, 30);
	ev_stack(TF_MALLOC, 400, 0xd000, 1, 40); /* the parent's, after the fork */
}

/* The child: frees B (inherited), allocates E, frees D (never its own). */
static void fork_child(void)
{
	py_code(1, "child.py", "work");
	py_node(1, 0, 1, 8);
	ev_stack(TF_FREE, 0, 0xb000, 1, 1);
	ev_stack(TF_MALLOC, 50, 0xe000, 1, 2);
	ev_stack(TF_FREE, 0, 0xd000, 1, 3);
}

typedef struct fork_seen {
	rp_replay_result res;
	uint64_t ip[2], parent[2];
} fork_seen;

static void keep_fork(const rp_replay_result *res, void *ctx)
{
	fork_seen *s = ctx;
	s->res = *res;
	for (uint64_t i = 0; i < res->nnodes && i < 2; i++) {
		s->ip[i] = res->node_ip[i];
		s->parent[i] = res->node_parent[i];
	}
}

/* rds replayed as a chain with until; the engine's code, *seen filled on success. */
static int replay_chain(tf_reader **rds, const uint64_t *until, int n, fork_seen *seen)
{
	rp_config cfg = {.layer = RP_LAYER_MALLOC};
	rp_engine *e;
	assert_int_equal(rp_engine_create(&e, &cfg), RP_OK);
	int rc = rp_engine_run_chain(e, rds, until, n);
	if (rc == RP_OK) {
		assert_int_equal(rp_engine_finish(e), RP_OK);
		keep_fork(rp_engine_result(e), seen);
	}
	rp_engine_free(e);
	return rc;
}

/* A forked child's trace after its parent's, up to the fork: what the
 * parent allocated before is live, what it did after is not; the child's
 * stack and code ids and its times come after the parent's. */
static void test_fork_chain(void **state)
{
	(void)state;
	tf_header hp = theader();
	hp.pid = 100;
	hp.start_mono_ns = 1000000000;
	tf_header hc = theader();
	hc.pid = 101;
	hc.ppid = 100;
	hc.start_mono_ns = hp.start_mono_ns + 5000000; /* 5 ms later */
	hc.fork_from = (tf_bytes){"parent.atr", 10};
	hc.fork_at = 3;
	tbuf bp = trace_of(hp, fork_parent), bc = trace_of(hc, fork_child);
	tf_reader *rds[2];
	uint64_t until[2] = {3, 0};
	fork_seen seen = {0};

	assert_int_equal(tf_reader_open_mem(&rds[0], bp.data, bp.len), 0);
	assert_int_equal(tf_reader_open_mem(&rds[1], bc.data, bc.len), 0);
	assert_int_equal(replay_chain(rds, until, 2, &seen), RP_OK);
	tf_reader_free(rds[0]);
	tf_reader_free(rds[1]);
	const rp_replay_result *r = &seen.res;
	assert_int_equal(r->requests, 6);         /* A, B, C; the child's three */
	assert_int_equal(r->free_unknown, 1);     /* D: the parent's after the fork */
	assert_int_equal(r->inherited_unknown, 0);
	assert_int_equal(r->live_end, 100 + 300 + 50); /* A, C and E */
	assert_int_equal(r->facts.pid, 101);
	assert_string_equal(r->facts.fork_from, "parent.atr");
	assert_int_equal(r->facts.fork_at, 3);
	assert_int_equal(r->facts.ancestors, 1);
	assert_int_equal(r->facts.inherited_events, 3);
	assert_false(r->facts.parent_missing);
	assert_int_equal(r->nnodes, 2); /* the child's node after the parent's */
	assert_int_equal(seen.ip[0], tf_py_frame(1, 4));
	assert_int_equal(seen.ip[1], tf_py_frame(2, 8)); /* its code is the second */
	assert_int_equal(seen.parent[1], 0);
	assert_true(r->facts.span_ns >= 5000000 + 3); /* the child's time after the parent's start */

	/* the parent's trace with fewer events than the child's header says */
	until[0] = 5;
	assert_int_equal(tf_reader_open_mem(&rds[0], bp.data, bp.len), 0);
	assert_int_equal(tf_reader_open_mem(&rds[1], bc.data, bc.len), 0);
	assert_int_equal(replay_chain(rds, until, 2, &seen), RP_E_SHORT);
	tf_reader_free(rds[0]);
	tf_reader_free(rds[1]);

	/* alone: the frees of blocks it inherited are counted apart */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(tf_reader_open_mem(&rds[0], bc.data, bc.len), 0);
	assert_int_equal(replay_chain(rds, until, 1, &seen), RP_OK);
	tf_reader_free(rds[0]);
	assert_int_equal(seen.res.free_unknown, 0);
	assert_int_equal(seen.res.inherited_unknown, 2); /* B and D */
	assert_true(seen.res.facts.parent_missing);
	assert_int_equal(seen.res.facts.ancestors, 0);
	free(bp.data);
	free(bc.data);
}

/* ---- one pass: a leading engine on another thread, a following one ---- */

typedef struct lead_run {
	const tbuf *b;
	rp_config cfg;
	int rc;
} lead_run;

static void *lead_main(void *arg)
{
	lead_run *l = arg;
	tf_reader *r;
	rp_engine *e = NULL;
	l->rc = tf_reader_open_mem(&r, l->b->data, l->b->len);
	if (l->rc == 0 && (l->rc = rp_engine_create(&e, &l->cfg)) == 0 &&
	    (l->rc = rp_engine_run(e, r)) == 0)
		l->rc = rp_engine_finish(e);
	rp_lead_done(l->cfg.lead, l->rc == 0 ? rp_engine_result(e) : NULL);
	rp_engine_free(e);
	tf_reader_free(r);
	return NULL;
}

/* The result of b replayed with cfg, as JSON (malloc'd). */
static char *json_of(const tbuf *b, const rp_config *cfg, rp_lead *follow)
{
	tf_reader *r;
	rp_engine *e;
	pthread_t t;
	lead_run l = {b, *cfg, -1};
	rp_config c = *cfg;
	if (follow) { /* a lead of the same models, without moments */
		l.cfg.at = NULL;
		l.cfg.nat = 0;
		l.cfg.lead = follow;
		c.follow = follow;
		assert_int_equal(pthread_create(&t, NULL, lead_main, &l), 0);
	}
	assert_int_equal(tf_reader_open_mem(&r, b->data, b->len), 0);
	assert_int_equal(rp_engine_create(&e, &c), RP_OK);
	assert_int_equal(rp_engine_run(e, r), RP_OK);
	assert_int_equal(rp_engine_finish(e), RP_OK);
	if (follow) {
		pthread_join(t, NULL);
		assert_int_equal(l.rc, RP_OK);
	}
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	rep_input in = {.res = rp_engine_result(e)};
	rep_json_write(f, &in);
	fclose(f);
	rp_engine_free(e);
	tf_reader_free(r);
	return text;
}

/* Waves of blocks, most freed after each, the survivors piling up at
 * uneven rates: held bytes peak again and again, the worst moment moves,
 * with plateaus of every length between.  A replay that follows a lead
 * (at lags from 1 request to the default) analyses the moments a second
 * replay does where a first found them: the same JSON, byte for byte,
 * for two models. */
static void test_follow_lead(void **state)
{
	(void)state;
	start("");
	enum { LATER = 20 }; /* the others are freed this many allocations later */
	static uint64_t live[16384];
	uint64_t addr = 0x10000000, later[LATER];
	size_t nlive = 0, nlater = 0;
	uint32_t seed = 7;
	for (int wave = 0; wave < 90; wave++) {
		const int n = 300 + (wave * 37 % 11) * 250;
		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			const uint64_t a = addr;
			addr += 1024;
			ev(TF_MALLOC, 0, 8 + (seed >> 16) % 500, a);
			if ((seed >> 8) % (wave % 3 ? 4 : 40) == 0 && nlive < 16384) {
				live[nlive++] = a; /* a survivor */
				continue;
			}
			if (nlater == LATER) {
				ev(TF_FREE, 0, 0, later[0]);
				memmove(later, later + 1, (LATER - 1) * sizeof(later[0]));
				nlater--;
			}
			later[nlater++] = a;
		}
		while (nlater)
			ev(TF_FREE, 0, 0, later[--nlater]);
		if (wave % 10 == 9) /* now and then most survivors go too */
			while (nlive > 40)
				ev(TF_FREE, 0, 0, live[--nlive]);
	}
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);

	/* two replays: the first finds the moments */
	rp_config cfg = {.model = "cpython-3.12,cpython-3.8", .layer = RP_LAYER_MALLOC};
	tf_reader *r;
	rp_engine *e;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	assert_int_equal(rp_engine_create(&e, &cfg), RP_OK);
	assert_int_equal(rp_engine_run(e, r), RP_OK);
	assert_int_equal(rp_engine_finish(e), RP_OK);
	const rp_replay_result *first = rp_engine_result(e);
	rp_at at[2 * RP_MAX_MODELS + 1];
	int nat = 0;
	for (int kind = RP_AT_PEAK; kind <= RP_AT_WORST; kind++)
		for (int i = 0; i < first->nmodels; i++)
			at[nat++] = (rp_at){.kind = kind,
					    .model = i,
					    .request = kind == RP_AT_PEAK ? first->models[i].peak_request
									  : first->models[i].worst_request};
	at[nat++] = (rp_at){.kind = RP_AT_END};
	const uint64_t peak0 = first->models[0].peak_request;
	rp_engine_free(e);
	tf_reader_free(r);
	rp_config two = cfg;
	two.at = at;
	two.nat = nat;
	char *want = json_of(&b, &two, NULL);
	assert_non_null(strstr(want, "\"kind\": \"worst\""));
	assert_null(strstr(want, "\"anomalies\": {\"free_unknown\": 1")); /* a sound trace */

	/* one: peak and worst follow the lead */
	const rp_at online[] = {{.kind = RP_AT_PEAK, .model = -1, .follow = true},
				{.kind = RP_AT_WORST, .model = -1, .follow = true},
				{.kind = RP_AT_END}};
	rp_config one = cfg;
	one.at = online;
	one.nat = 3;
	const uint64_t lags[] = {1, 50, 2000, 0};
	for (size_t k = 0; k < sizeof(lags) / sizeof(lags[0]); k++) {
		rp_lead *l = rp_lead_create(lags[k]);
		assert_non_null(l);
		char *got = json_of(&b, &one, l);
		if (strcmp(got, want))
			fail_msg("lag %" PRIu64 ": the moments differ from two replays'", lags[k]);
		free(got);
		rp_lead_free(l);
	}
	assert_true(peak0 > 1000); /* the peak is no first request */
	free(want);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pinning_names_the_stack),
	    cmocka_unit_test(test_gc_attribution),
	    cmocka_unit_test(test_report_data),
	    cmocka_unit_test(test_python_frames),
	    cmocka_unit_test(test_lifelines_bounded),
	    cmocka_unit_test(test_gc_off_withholds),
	    cmocka_unit_test(test_series_bounded_with_peaks),
	    cmocka_unit_test(test_several_models),
	    cmocka_unit_test(test_malloc_layer_anomalies),
	    cmocka_unit_test(test_realloc_over_live),
	    cmocka_unit_test(test_python_layer_arena_bases),
	    cmocka_unit_test(test_python_layer_mismatch_is_counted),
	    cmocka_unit_test(test_python_layer_pymalloc_debug_compared),
	    cmocka_unit_test(test_python_layer_not_pymalloc),
	    cmocka_unit_test(test_xcheck_free_matches),
	    cmocka_unit_test(test_xcheck_realloc_matches),
	    cmocka_unit_test(test_xcheck_freed_but_held),
	    cmocka_unit_test(test_xcheck_released_but_kept),
	    cmocka_unit_test(test_xcheck_recorded_unused),
	    cmocka_unit_test(test_xcheck_not_compared),
	    cmocka_unit_test(test_initialised_again),
	    cmocka_unit_test(test_dropped),
	    cmocka_unit_test(test_heaps_replayed_apart),
	    cmocka_unit_test(test_heap_arena_free_by_base),
	    cmocka_unit_test(test_heap_ends_with_its_block),
	    cmocka_unit_test(test_heap_end_frees_arenas),
	    cmocka_unit_test(test_heaps_too_many),
	    cmocka_unit_test(test_fork_chain),
	    cmocka_unit_test(test_follow_lead),
	};
	return cmocka_run_group_tests_name("rp_replay", tests, NULL, NULL);
}


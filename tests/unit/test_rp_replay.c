/*
 * test_rp_replay.c - the replay on hand-made traces: the malloc layer maps
 * every block and counts what does not add up (free of an unknown block,
 * double free, realloc of an unknown block, allocation over a live block)
 * without stopping; the Python layer takes arena bases from the trace.
 */
#include "pym.h"
#include "rp_cli.h"
#include "rp_replay.h"
#include "tf_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

static tf_writer *w;
static int fd;

static void start(const char *python)
{
	fd = tmp_fd();
	tf_writer_opts o = {.fd = fd};
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

/* Ends the trace being written and replays it with o (output to nowhere). */
static rp_replay_result finish_and_replay_with(rp_replay_opts o)
{
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	o.out = fopen("/dev/null", "w");
	rp_replay_result res;
	assert_int_equal(rp_replay_run(r, &o, "test", &res), RP_EXIT_OK);
	fclose(o.out);
	tf_reader_free(r);
	free(b.data);
	return res;
}

static rp_replay_result finish_and_replay(int layer, const char *model)
{
	return finish_and_replay_with(
	    (rp_replay_opts){.model = model, .layer = layer, .summary = true, .json = true});
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
	assert_int_equal(res.models[0].errors, 0); /* the free found the model's block */
	assert_int_equal(res.free_unknown, 0);
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
	    (rp_replay_opts){.model = "cpython-3.8,cpython-3.12", .layer = RP_LAYER_MALLOC,
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
	for (uint64_t i = 0; i < 8000; i++) { /* 64-byte blocks: two 256 KiB arenas */
		r.kind = TF_MALLOC;
		r.u.alloc = (tf_alloc){.stack = 1, .size = 64, .addr = 0x10000000 + i * 64};
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	for (uint64_t i = 0; i < 4000; i++) { /* 512-byte blocks, kept: well-used arenas */
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
	assert_int_equal(pn->stacks[0].stack, 1);
	assert_int_equal(pn->stacks[0].frames[0], 0x401000);
	assert_int_equal(pn->stacks[0].arenas, 2);
	assert_int_equal(pn->stacks[0].blocks, 16);
	assert_int_equal(pn->stacks[0].bytes, 16 * 64);
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
	rp_replay_result res = finish_and_replay_with((rp_replay_opts){
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
	rp_replay_result res = finish_and_replay_with((rp_replay_opts){
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pinning_names_the_stack),
	    cmocka_unit_test(test_gc_attribution),
	    cmocka_unit_test(test_gc_off_withholds),
	    cmocka_unit_test(test_series_bounded_with_peaks),
	    cmocka_unit_test(test_several_models),
	    cmocka_unit_test(test_malloc_layer_anomalies),
	    cmocka_unit_test(test_python_layer_arena_bases),
	    cmocka_unit_test(test_python_layer_mismatch_is_counted),
	};
	return cmocka_run_group_tests_name("rp_replay", tests, NULL, NULL);
}


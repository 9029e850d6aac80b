/*
 * test_gcm.c - the refcount and cyclic-GC model alone: cascades, cycles of
 * several shapes, the collector's scheduling (thresholds, the generation
 * chosen, the long-lived 25% rule, 3.12+'s scheduled collections), the
 * examples users know, and a seeded random stress with gcm_check() after
 * every operation.
 */
#include "gcm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_BLOCKS 400000

/* The allocator behind the model: block addresses are 1, 2, 3 ... and
 * every free must name a live one. */
typedef struct heap {
	unsigned char live[MAX_BLOCKS];
	uint64_t next, nlive, bytes, frees;
	int starts, stops, last_gen;
	uint64_t last_collected;
	gcm *g;             /* for hooks that look at the model */
	gcm_stats at_start; /* the model's state as the last collection started */
	int full_auto;      /* automatic full collections seen */
	int vetoes;         /* gen-1 collections while count2 > threshold2 */
} heap;

static int h_alloc(void *ctx, uint64_t size, uint64_t *addr)
{
	heap *h = ctx;
	if (h->next + 1 >= MAX_BLOCKS)
		return -1;
	*addr = ++h->next;
	h->live[*addr] = 1;
	h->nlive++;
	h->bytes += size;
	return 0;
}

static void h_free(void *ctx, uint64_t addr, uint64_t size)
{
	heap *h = ctx;
	assert_true(addr > 0 && addr < MAX_BLOCKS);
	assert_true(h->live[addr]);
	h->live[addr] = 0;
	h->nlive--;
	h->bytes -= size;
	h->frees++;
}

static void h_start(void *ctx, int gen)
{
	heap *h = ctx;
	assert_int_equal(h->starts, h->stops);
	h->starts++;
	h->last_gen = gen;
	if (h->g)
		gcm_get_stats(h->g, &h->at_start);
}

static void h_stop(void *ctx, int gen, uint64_t collected, uint64_t uncollectable)
{
	heap *h = ctx;
	h->stops++;
	assert_int_equal(h->starts, h->stops);
	assert_int_equal(gen, h->last_gen);
	assert_int_equal(uncollectable, 0);
	h->last_collected = collected;
}

static heap *new_heap(void)
{
	heap *h = calloc(1, sizeof(heap));
	assert_non_null(h);
	return h;
}

static gcm *model(heap *h, const char *version)
{
	gcm_params p;
	gcm_params_for_version(version, &p);
	gcm_hooks hooks = {h_alloc, h_free, h_start, h_stop, h};
	gcm *g;
	assert_int_equal(gcm_create(&g, &p, &hooks), GCM_OK);
	h->g = g;
	return g;
}

static gcm_obj mk(gcm *g, bool container)
{
	gcm_obj o;
	assert_int_equal(gcm_new(g, container ? 56 : 40, container, &o), GCM_OK);
	return o;
}

static void ok_check(const gcm *g)
{
	const char *why = gcm_check(g);
	if (why)
		fail_msg("gcm_check: %s", why);
}

static void test_cascade(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm *g = model(h, "3.11");
	/* a -> b -> c, b -> d twice, d a non-container */
	gcm_obj a = mk(g, true), b = mk(g, true), c = mk(g, true), d = mk(g, false);
	assert_int_equal(gcm_link(g, a, b), GCM_OK);
	assert_int_equal(gcm_link(g, b, c), GCM_OK);
	assert_int_equal(gcm_link(g, b, d), GCM_OK);
	assert_int_equal(gcm_link(g, b, d), GCM_OK);
	assert_int_equal(gcm_link(g, d, a), GCM_E_NOTCONT);
	assert_int_equal(gcm_decref(g, b), GCM_OK);
	assert_int_equal(gcm_decref(g, c), GCM_OK);
	assert_int_equal(gcm_decref(g, d), GCM_OK);
	assert_int_equal(gcm_refcount(g, d), 2);
	assert_int_equal(h->nlive, 4);
	ok_check(g);
	/* one unlink leaves d held once */
	assert_int_equal(gcm_unlink(g, b, d), GCM_OK);
	assert_int_equal(gcm_refcount(g, d), 1);
	assert_int_equal(gcm_unlink(g, a, c), GCM_E_NOREF);
	/* dropping a frees all four at once, by reference counting */
	assert_int_equal(gcm_decref(g, a), GCM_OK);
	assert_int_equal(h->nlive, 0);
	assert_int_equal(h->bytes, 0);
	assert_int_equal(gcm_decref(g, a), GCM_E_ARG);
	gcm_stats st;
	gcm_get_stats(g, &st);
	assert_int_equal(st.freed_rc_objects, 4);
	assert_int_equal(st.freed_gc_objects, 0);
	assert_int_equal(st.count[0], 0); /* three containers in, three out */
	assert_int_equal(h->starts, 0);
	ok_check(g);
	gcm_free(g);
	free(h);
}

/* n containers in a ring (n = 1: a self-reference), dropped: only a
 * collection frees them. */
static void ring(gcm *g, int n, gcm_obj *first)
{
	gcm_obj f = mk(g, true), prev = f;
	for (int i = 1; i < n; i++) {
		gcm_obj x = mk(g, true);
		assert_int_equal(gcm_link(g, prev, x), GCM_OK);
		if (prev != f)
			assert_int_equal(gcm_decref(g, prev), GCM_OK);
		prev = x;
	}
	assert_int_equal(gcm_link(g, prev, f), GCM_OK);
	if (prev != f)
		assert_int_equal(gcm_decref(g, prev), GCM_OK);
	*first = f;
}

static void test_cycles(void **state)
{
	(void)state;
	static const int sizes[] = {1, 2, 3, 1000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		heap *h = new_heap();
		gcm *g = model(h, "3.12");
		gcm_obj f;
		ring(g, sizes[i], &f);
		assert_int_equal(gcm_decref(g, f), GCM_OK);
		assert_int_equal(h->nlive, (uint64_t)sizes[i]); /* refcounts alone free nothing */
		ok_check(g);
		uint64_t found;
		assert_int_equal(gcm_collect(g, 2, &found), GCM_OK);
		assert_int_equal(found, (uint64_t)sizes[i]);
		assert_int_equal(h->nlive, 0);
		gcm_stats st;
		gcm_get_stats(g, &st);
		assert_int_equal(st.freed_gc_objects, (uint64_t)sizes[i]);
		assert_int_equal(st.collected[2], (uint64_t)sizes[i]);
		assert_int_equal(st.collections[2], 1);
		ok_check(g);
		gcm_free(g);
		free(h);
	}
}

/* A cycle reachable from a live object survives every generation's
 * collection; once that object lets go, a collection frees the cycle and
 * what only the cycle held. */
static void test_reachable_cycle_survives(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm *g = model(h, "3.8");
	gcm_obj holder = mk(g, true), a = mk(g, true), b = mk(g, true), leaf = mk(g, false);
	gcm_link(g, holder, a);
	gcm_link(g, a, b);
	gcm_link(g, b, a);
	gcm_link(g, b, leaf);
	gcm_decref(g, a);
	gcm_decref(g, b);
	gcm_decref(g, leaf);
	uint64_t found;
	for (int gen = 0; gen < 3; gen++) {
		assert_int_equal(gcm_collect(g, gen, &found), GCM_OK);
		assert_int_equal(found, 0);
		ok_check(g);
	}
	assert_int_equal(h->nlive, 4);
	gcm_stats st;
	gcm_get_stats(g, &st);
	assert_int_equal(st.gen_size[2], 3); /* survivors moved up to the oldest */
	assert_int_equal(st.long_lived_total, 3);
	/* dropping the holder frees it by refcount; the cycle, now in gen 2,
	 * stays until a full collection */
	assert_int_equal(gcm_decref(g, holder), GCM_OK);
	assert_int_equal(h->nlive, 3);
	assert_int_equal(gcm_collect(g, 0, &found), GCM_OK);
	assert_int_equal(found, 0); /* the cycle is in gen 2, gen 0 does not see it */
	assert_int_equal(gcm_collect(g, 2, &found), GCM_OK);
	assert_int_equal(found, 2);
	assert_int_equal(h->nlive, 0);
	gcm_get_stats(g, &st);
	assert_int_equal(st.freed_gc_objects, 3); /* the leaf died inside the collection */
	assert_int_equal(st.freed_rc_objects, 1);
	ok_check(g);
	gcm_free(g);
	free(h);
}

/* The example users know: ten self-referencing lists, dropped, then
 * gc.collect() returns 10. */
static void test_ten_lists(void **state)
{
	(void)state;
	static const char *const versions[] = {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"};
	for (int v = 0; v < 6; v++) {
		heap *h = new_heap();
		gcm *g = model(h, versions[v]);
		for (int i = 0; i < 10; i++) {
			gcm_obj l = mk(g, true);
			gcm_link(g, l, l);
			gcm_decref(g, l);
			gcm_run_scheduled(g);
		}
		uint64_t found;
		assert_int_equal(gcm_collect(g, 2, &found), GCM_OK);
		assert_int_equal(found, 10);
		assert_int_equal(gcm_collect(g, 2, &found), GCM_OK);
		assert_int_equal(found, 0);
		assert_int_equal(gcm_collect(g, 3, &found), GCM_E_ARG);
		assert_int_equal(gcm_collect(g, -1, &found), GCM_E_ARG);
		gcm_free(g);
		free(h);
	}
}

static void test_default_thresholds(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		uint32_t t0;
		bool scheduled;
	} cases[] = {{"3.8", 700, false},    {"3.9.18", 700, false}, {"3.10.13", 700, false},
		     {"3.11.7", 700, false}, {"3.12.1", 700, true},  {"3.13.0", 2000, true},
		     {NULL, 2000, true},     {"2.7", 2000, true}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gcm_params p;
		gcm_params_for_version(cases[i].v, &p);
		assert_int_equal(p.threshold[0], cases[i].t0);
		assert_int_equal(p.threshold[1], 10);
		assert_int_equal(p.threshold[2], 10);
		assert_int_equal(p.scheduled, cases[i].scheduled);
		heap *h = new_heap();
		gcm *g = model(h, cases[i].v);
		gcm_stats st;
		gcm_get_stats(g, &st);
		assert_int_equal(st.threshold[0], cases[i].t0);
		assert_true(st.enabled);
		gcm_free(g);
		free(h);
	}
}

/* 3.8-3.11: the collection runs inside the allocation that takes count0
 * over threshold0, without the new object; every 12th is a gen-1. */
static void test_threshold_immediate(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm *g = model(h, "3.11");
	gcm_stats st;
	for (int i = 0; i < 700; i++)
		mk(g, true);
	assert_int_equal(h->starts, 0);
	gcm_get_stats(g, &st);
	assert_int_equal(st.count[0], 700);
	mk(g, true); /* count 701 > 700 */
	assert_int_equal(h->starts, 1);
	assert_int_equal(h->last_gen, 0);
	gcm_get_stats(g, &st);
	assert_int_equal(st.gen_size[1], 700);
	assert_int_equal(st.gen_size[0], 1); /* not examined: tracked after */
	assert_int_equal(st.count[0], 0); /* the new object counted before the reset */
	assert_int_equal(st.count[1], 1);
	/* non-containers never count */
	for (int i = 0; i < 5000; i++)
		mk(g, false);
	assert_int_equal(h->starts, 1);
	/* eleven gen-0 collections, then the twelfth trigger is a gen-1 */
	for (int i = 0; i < 10 * 701; i++)
		mk(g, true);
	assert_int_equal(h->starts, 11);
	assert_int_equal(h->last_gen, 0);
	gcm_get_stats(g, &st);
	assert_int_equal(st.count[1], 11);
	for (int i = 0; i < 701; i++)
		mk(g, true);
	assert_int_equal(h->starts, 12);
	assert_int_equal(h->last_gen, 1);
	gcm_get_stats(g, &st);
	assert_int_equal(st.collections[0], 11);
	assert_int_equal(st.collections[1], 1);
	assert_int_equal(st.count[2], 1);
	assert_int_equal(st.long_lived_pending, st.gen_size[2]);
	ok_check(g);
	/* disabled or threshold 0: no automatic collection; explicit ones run */
	gcm_enable(g, false);
	for (int i = 0; i < 3000; i++)
		mk(g, true);
	assert_int_equal(h->starts, 12);
	uint64_t found;
	gcm_collect(g, 0, &found);
	assert_int_equal(h->starts, 13);
	gcm_enable(g, true);
	gcm_set_threshold(g, (uint32_t[]){0, 10, 10});
	for (int i = 0; i < 3000; i++)
		mk(g, true);
	assert_int_equal(h->starts, 13);
	gcm_set_threshold(g, (uint32_t[]){5, 10, 10});
	mk(g, true); /* count is far over 5 */
	assert_int_equal(h->starts, 14);
	ok_check(g);
	gcm_free(g);
	free(h);
}

/* 3.12+: the trigger schedules; the collection runs at the eval-breaker
 * check, with the new object tracked, and not at all if disabled
 * meanwhile. */
static void test_threshold_scheduled(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm *g = model(h, "3.13");
	gcm_stats st;
	for (int i = 0; i < 2001; i++)
		mk(g, true);
	assert_int_equal(h->starts, 0);
	gcm_get_stats(g, &st);
	assert_true(st.pending);
	mk(g, true); /* overshoot, as 3.12+ allows */
	gcm_run_scheduled(g);
	assert_int_equal(h->starts, 1);
	gcm_get_stats(g, &st);
	assert_false(st.pending);
	assert_int_equal(st.gen_size[1], 2002); /* the new objects were examined */
	gcm_run_scheduled(g);
	assert_int_equal(h->starts, 1);
	for (int i = 0; i < 2001; i++)
		mk(g, true);
	gcm_enable(g, false);
	gcm_run_scheduled(g);
	assert_int_equal(h->starts, 1);
	gcm_get_stats(g, &st);
	assert_false(st.pending);
	ok_check(g);
	gcm_free(g);
	free(h);
}

static void veto_start(void *ctx, int gen)
{
	heap *h = ctx;
	h_start(ctx, gen);
	const gcm_stats *s = &h->at_start;
	if (gen == 2) {
		h->full_auto++;
		assert_true(s->long_lived_pending >= s->long_lived_total / 4);
	} else if (s->count[2] > s->threshold[2]) {
		h->vetoes++;
		assert_true(s->long_lived_pending < s->long_lived_total / 4);
	}
}

/* The long-lived rule: with count2 over its threshold, a full collection
 * runs only once long_lived_pending >= long_lived_total / 4; until then the
 * choice goes on with generation 1, then 0.  Thresholds (1, 1, 1) after
 * 100 long-lived objects, every new container kept, a trigger every second
 * allocation (the triggering object is tracked after the count is reset):
 * gen 0, gen 0, gen 1 in turn; the gen-1 collections at allocations 6, 12,
 * 18, 24, 30 move 5, 6, 6, 6, 6 objects into pending (5 ... 29).  count2
 * is over 1 from allocation 14 on, so the triggers at 14, 16, ..., 30 are
 * vetoed (pending < 25) and the one at 32 runs the full collection, which
 * 100 + 31 objects survive. */
static void test_long_lived_rule(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm_params p;
	gcm_params_for_version("3.11", &p);
	gcm_hooks hooks = {h_alloc, h_free, veto_start, h_stop, h};
	gcm *g;
	assert_int_equal(gcm_create(&g, &p, &hooks), GCM_OK);
	h->g = g;
	gcm_set_threshold(g, (uint32_t[]){0, 1, 1});
	for (int i = 0; i < 100; i++)
		mk(g, true);
	gcm_collect(g, 2, NULL);
	h->full_auto = 0;
	gcm_stats st;
	gcm_get_stats(g, &st);
	assert_int_equal(st.long_lived_total, 100);
	assert_int_equal(st.long_lived_pending, 0);
	gcm_set_threshold(g, (uint32_t[]){1, 1, 1});
	int first_full = 0;
	for (int i = 1; i <= 60 && !first_full; i++) {
		mk(g, true);
		ok_check(g);
		if (h->full_auto)
			first_full = i;
	}
	assert_int_equal(h->vetoes, 9);
	assert_int_equal(first_full, 32);
	gcm_get_stats(g, &st);
	assert_int_equal(st.long_lived_total, 131);
	assert_int_equal(st.long_lived_pending, 0);
	assert_int_equal(st.collections[2], 2); /* the explicit one and this */
	gcm_free(g);
	free(h);
}

static void test_freeze(void **state)
{
	(void)state;
	heap *h = new_heap();
	gcm *g = model(h, "3.10");
	gcm_obj f;
	ring(g, 4, &f);
	gcm_decref(g, f);
	gcm_freeze(g);
	gcm_stats st;
	gcm_get_stats(g, &st);
	assert_int_equal(st.gen_size[3], 4);
	assert_int_equal(st.count[0], 0);
	uint64_t found;
	gcm_collect(g, 2, &found);
	assert_int_equal(found, 0); /* frozen garbage is not examined */
	gcm_unfreeze(g);
	gcm_get_stats(g, &st);
	assert_int_equal(st.gen_size[2], 4);
	gcm_collect(g, 1, &found);
	assert_int_equal(found, 0);
	gcm_collect(g, 2, &found);
	assert_int_equal(found, 4);
	ok_check(g);
	gcm_free(g);
	free(h);
}

/* ---- seeded random stress ---- */

static uint64_t rnd_state;
static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

#define HELD 256

static void stress(const char *version, uint64_t seed, int ops)
{
	heap *h = new_heap();
	gcm *g = model(h, version);
	gcm_obj held[HELD]; /* one external reference each; 0 = none */
	memset(held, 0, sizeof(held));
	rnd_state = seed;
	gcm_set_threshold(g, (uint32_t[]){1 + rnd(40), rnd(4), rnd(4)});
	for (int op = 0; op < ops; op++) {
		uint32_t i = rnd(HELD), j = rnd(HELD), what = rnd(100);
		if (what < 30) {
			if (held[i])
				assert_int_equal(gcm_decref(g, held[i]), GCM_OK);
			assert_int_equal(gcm_new(g, 16 + rnd(600), rnd(5) != 0, &held[i]), GCM_OK);
		} else if (what < 55 && held[i] && held[j]) {
			int rc = gcm_link(g, held[i], held[j]);
			assert_true(rc == GCM_OK || rc == GCM_E_NOTCONT);
		} else if (what < 65 && held[i] && held[j]) {
			int rc = gcm_unlink(g, held[i], held[j]);
			assert_true(rc == GCM_OK || rc == GCM_E_NOREF || rc == GCM_E_NOTCONT);
		} else if (what < 80 && held[i]) {
			assert_int_equal(gcm_decref(g, held[i]), GCM_OK);
			held[i] = 0;
		} else if (what < 85 && held[i] && !held[j]) {
			assert_int_equal(gcm_incref(g, held[i]), GCM_OK);
			held[j] = held[i];
		} else if (what < 88) {
			uint64_t found;
			assert_int_equal(gcm_collect(g, (int)rnd(3), &found), GCM_OK);
			assert_int_equal(found, h->last_collected);
		} else if (what < 89) {
			gcm_set_threshold(g, (uint32_t[]){rnd(40), rnd(4), rnd(4)});
		} else if (what < 90) {
			rnd(2) ? gcm_freeze(g) : gcm_unfreeze(g);
		} else if (what < 91) {
			gcm_enable(g, rnd(4) != 0);
		} else {
			gcm_run_scheduled(g);
		}
		const char *why = gcm_check(g);
		if (why)
			fail_msg("%s seed %llu op %d: %s", version, (unsigned long long)seed, op, why);
		gcm_stats st;
		gcm_get_stats(g, &st);
		assert_int_equal(st.live_objects, h->nlive);
		assert_int_equal(st.live_bytes, h->bytes);
	}
	/* everything let go, unfrozen and collected: nothing is left */
	for (int i = 0; i < HELD; i++)
		if (held[i])
			assert_int_equal(gcm_decref(g, held[i]), GCM_OK);
	gcm_unfreeze(g);
	gcm_collect(g, 2, NULL);
	ok_check(g);
	assert_int_equal(h->nlive, 0);
	gcm_stats st;
	gcm_get_stats(g, &st);
	assert_int_equal(st.freed_rc_objects + st.freed_gc_objects, st.created);
	assert_int_equal(st.collections[0] + st.collections[1] + st.collections[2],
			 (uint64_t)h->stops);
	gcm_free(g);
	free(h);
}

static void test_stress(void **state)
{
	(void)state;
	int ops = getenv("ARENATRACE_LONG") ? 200000 : 20000;
	static const char *const versions[] = {"3.8", "3.11", "3.12", "3.13"};
	for (uint64_t seed = 1; seed <= 8; seed++)
		stress(versions[seed % 4], seed * 0x9E3779B97F4A7C15ull, ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cascade),
	    cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_reachable_cycle_survives),
	    cmocka_unit_test(test_ten_lists),
	    cmocka_unit_test(test_default_thresholds),
	    cmocka_unit_test(test_threshold_immediate),
	    cmocka_unit_test(test_threshold_scheduled),
	    cmocka_unit_test(test_long_lived_rule),
	    cmocka_unit_test(test_freeze),
	    cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests_name("gcm", tests, NULL, NULL);
}

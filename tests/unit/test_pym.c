/*
 * test_pym.c - the pymalloc model alone: each tricky rule of
 * allocator/MODEL.md §4-6 as a small scenario, the statistics layout,
 * profiles, a seeded random stress of every profile with pym_check()
 * after every operation, and pym_check() itself on broken states.
 */
#include "pym.h"
#include "pym_internal.h" /* test_check_fires breaks the state on purpose */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Arena bases handed out in order by the test, and the arena events seen. */
typedef struct src {
	uint64_t bases[64];
	int next, n;
	int allocated, released;
	uint64_t last_released;
} src;

static uint64_t take_base(void *ctx, uint64_t size)
{
	(void)size;
	src *s = ctx;
	return s->next < s->n ? s->bases[s->next++] : PYM_ARENA_BUILTIN;
}

static void arena_event(void *ctx, uint64_t base, bool released)
{
	src *s = ctx;
	if (released) {
		s->released++;
		s->last_released = base;
	} else {
		s->allocated++;
	}
}

static pym *model(const char *profile, src *s)
{
	pym_params p;
	assert_int_equal(pym_params_from_name(profile, &p), 0);
	pym_hooks h = {take_base, arena_event, s};
	pym *m;
	assert_int_equal(pym_create(&m, &p, &h), 0);
	return m;
}

static uint64_t mal(pym *m, uint64_t n)
{
	uint64_t p;
	assert_int_equal(pym_malloc(m, n, &p), 0);
	const char *bad = pym_check(m);
	if (bad)
		fail_msg("after malloc(%llu): %s", (unsigned long long)n, bad);
	return p;
}

static void fre(pym *m, uint64_t p)
{
	assert_int_equal(pym_free_block(m, p, NULL), 0);
	const char *bad = pym_check(m);
	if (bad)
		fail_msg("after free: %s", bad);
}

/* §5: blocks come LIFO from the free chain, then in ascending virgin order;
 * block k of a pool is at pool + 48 + k * size. */
static void test_block_order(void **state)
{
	(void)state;
	src s = {.bases = {0x7f0000000000}, .n = 1};
	pym *m = model("cpython-3.12", &s);
	uint64_t a = mal(m, 20), b = mal(m, 32), c = mal(m, 17);
	assert_int_equal(a, 0x7f0000000000 + 48);
	assert_int_equal(b, a + 32);
	assert_int_equal(c, a + 64);
	fre(m, a);
	fre(m, c);
	assert_int_equal(mal(m, 30), c); /* the last freed first */
	assert_int_equal(mal(m, 30), a);
	assert_int_equal(mal(m, 30), a + 96); /* then virgin blocks */
	/* another class gets another pool */
	assert_int_equal(mal(m, 100), 0x7f0000000000 + 16384 + 48);
	pym_free(m);
}

/* §4: pym_forget, CPython 3.12's new initialisation: the state starts over
 * (the next block is the first of a new arena, the figures count from 0),
 * the old arena is no longer the model's but still held, a raw block of
 * before is freed as one. */
static void test_forget(void **state)
{
	(void)state;
	src s = {.bases = {0x7f0000000000, 0x7f0000400000}, .n = 2};
	pym *m = model("cpython-3.12", &s);
	uint64_t a = mal(m, 20), raw = mal(m, 600);
	mal(m, 20);
	fre(m, a); /* a free block of the old state's pool: never reused */
	assert_int_equal(pym_held_bytes(m), (1u << 20) + 600);
	assert_int_equal(pym_forget(m), 0);
	assert_null(pym_check(m));
	assert_false(pym_owns(m, a));
	assert_int_equal(pym_arenas_current(m), 0);
	assert_int_equal(pym_held_bytes(m), (1u << 20) + 600); /* still mapped */
	pym_stats st;
	pym_get_stats(m, &st);
	assert_int_equal(st.arenas_total + st.arenas_current + st.arenas_highwater, 0);
	assert_int_equal(st.raw_blocks, 1);
	assert_int_equal(mal(m, 20), 0x7f0000400000 + 48); /* a new arena, not the free block */
	assert_int_equal(s.allocated, 2);
	pym_get_stats(m, &st);
	assert_int_equal(st.arenas_total, 1);
	assert_int_equal(pym_held_bytes(m), (2u << 20) + 600);
	bool was_pymalloc = true;
	assert_int_equal(pym_free_block(m, raw, &was_pymalloc), 0);
	assert_false(was_pymalloc);
	assert_int_equal(pym_free_block(m, a + 32, NULL), PYM_E_UNKNOWN); /* the old arena's */
	assert_int_equal(s.released, 0);
	assert_null(pym_check(m));
	pym_free(m);
}

/* §2: realloc stays in place iff 3/4 size < n <= size; otherwise the new
 * block is taken before the old one is freed; realloc(p, 0) moves to raw. */
static void test_realloc_rule(void **state)
{
	(void)state;
	src s = {.bases = {0x7f0000000000}, .n = 1};
	pym *m = model("cpython-3.11", &s);
	uint64_t p = mal(m, 64), q;
	assert_int_equal(pym_realloc(m, p, 64, &q), 0), assert_int_equal(q, p);
	assert_int_equal(pym_realloc(m, p, 49, &q), 0), assert_int_equal(q, p); /* 49*4 > 192 */
	uint64_t t = mal(m, 16); /* a 16-byte block... */
	assert_int_equal(pym_realloc(m, t, 13, &q), 0), assert_int_equal(q, t); /* 52 > 48 */
	assert_int_equal(pym_realloc(m, t, 12, &q), 0); /* ...shrunk to 12 moves, same class */
	assert_int_equal(q, t + 16); /* the new block was taken before the old one was freed */
	uint64_t r;
	assert_int_equal(pym_realloc(m, p, 65, &r), 0); /* growth always moves */
	assert_true(pym_owns(m, r) && r != p);
	uint64_t z;
	assert_int_equal(pym_realloc(m, r, 0, &z), 0); /* realloc(p, 0): a raw block */
	assert_false(pym_owns(m, z));
	uint64_t big;
	assert_int_equal(pym_realloc(m, z, 100, &big), 0); /* raw stays raw */
	assert_false(pym_owns(m, big));
	assert_int_equal(pym_realloc(m, 0, 10, &q), 0); /* NULL: malloc */
	assert_true(pym_owns(m, q));
	pym_stats st;
	pym_get_stats(m, &st);
	assert_int_equal(st.raw_blocks, 1);
	assert_int_equal(st.raw_bytes, 100);
	assert_null(pym_check(m));
	pym_free(m);
}

/* Fills one arena with pools of class 0 (size 16) and returns its blocks. */
static int fill_arena(pym *m, uint64_t *blocks, int per_pool, int pools)
{
	int n = 0;
	for (int i = 0; i < pools * per_pool; i++)
		blocks[n++] = mal(m, 16);
	return n;
}

/* §6 case 1: 3.8 releases a wholly free arena at once (the thrash), 3.9+
 * keeps it when it is the last usable arena. */
static void test_last_empty_arena(void **state)
{
	(void)state;
	static uint64_t blocks[64 * 253 + 1];
	for (int keep = 0; keep < 2; keep++) {
		src s = {.bases = {0x7f0000000000, 0x7f1000000000, 0x7f2000000000}, .n = 3};
		pym *m = model(keep ? "cpython-3.9" : "cpython-3.8", &s);
		uint64_t p = mal(m, 16);
		fre(m, p);
		if (keep) {
			assert_int_equal(s.released, 0); /* kept: the only usable arena */
			assert_int_equal(mal(m, 16), p); /* and used again, same pool */
			assert_int_equal(s.allocated, 1);
		} else {
			assert_int_equal(s.released, 1); /* 3.8: gone at once */
			assert_int_equal(s.last_released, 0x7f0000000000);
			mal(m, 16); /* a new arena: the thrash */
			assert_int_equal(s.allocated, 2);
		}
		pym_free(m);
	}
	/* 3.9+: a wholly free arena that is not last in usable_arenas goes */
	src s = {.bases = {0x7f0000000000, 0x7f1000000000}, .n = 2};
	pym *m = model("cpython-3.9", &s);
	int n = fill_arena(m, blocks, 253, 64); /* arena 1 full */
	uint64_t second = mal(m, 16);             /* arena 2 */
	assert_true(second >= 0x7f1000000000);
	for (int i = 0; i < n; i++)
		fre(m, blocks[i]);
	/* arena 1 became wholly free while arena 2 was after it: released */
	assert_int_equal(s.released, 1);
	assert_int_equal(s.last_released, 0x7f0000000000);
	pym_free(m);
}

/* §5-6: empty pools are reused LIFO (most recently emptied first), keeping
 * their free chain when they serve the same class again. */
static void test_empty_pool_lifo(void **state)
{
	(void)state;
	src s = {.bases = {0x7f0000000000}, .n = 1};
	pym *m = model("cpython-3.12", &s);
	uint64_t a = mal(m, 16), b = mal(m, 32), c = mal(m, 48); /* pools 0, 1, 2 */
	uint64_t keep = mal(m, 64);                               /* pool 3 keeps the arena */
	fre(m, a);
	fre(m, c);
	fre(m, b); /* pools emptied in the order 0, 2, 1 */
	assert_int_equal(mal(m, 80), b);            /* pool 1, the last emptied, re-initialised */
	assert_int_equal(mal(m, 48), c);            /* pool 2: same class, its chain kept */
	assert_int_equal(mal(m, 96), a);            /* pool 0 */
	assert_int_equal(mal(m, 112), keep + 16384); /* no empty pool left: a new one is carved */
	pym_free(m);
}

/* §4: with 16 KiB pools an arena not 16 KiB-aligned has 63 pools and the
 * statistics count the pool lost to alignment; 4 KiB pools lose none. */
static void test_alignment_loss(void **state)
{
	(void)state;
	src s = {.bases = {0x7f0000001000}, .n = 1};
	pym *m = model("cpython-3.13", &s);
	uint64_t p = mal(m, 8);
	assert_int_equal(p, 0x7f0000004000 + 48); /* the first pool-aligned address */
	pym_stats st;
	pym_get_stats(m, &st);
	assert_int_equal(st.arena_alignment, 16384);
	assert_int_equal(st.unused_pools, 62);
	char buf[4096];
	pym_format_stats(pym_get_params(m), &st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "62 unused pools * 16384 bytes      =            1,015,808\n"));
	assert_non_null(strstr(buf, "# bytes lost to arena alignment    =               16,384\n"));
	assert_non_null(strstr(buf, "Total                              =            1,048,576\n"));
	pym_free(m);
}

/* §5-6: usable_arenas stays sorted by free pools, most used first, with
 * nfp2lasta the rightmost arena of each count (pym_check verifies both
 * after every step); allocation goes to the most used arena. */
static void test_arena_order(void **state)
{
	(void)state;
	static uint64_t blocks[3][64 * 253];
	src s = {.bases = {0x7f0000000000, 0x7f1000000000, 0x7f2000000000}, .n = 3};
	pym *m = model("cpython-3.9", &s);
	for (int a = 0; a < 3; a++)
		fill_arena(m, blocks[a], 253, 64);
	mal(m, 16); /* a fourth arena (built-in placement) keeps them non-last */
	/* empty 10 pools of arena 0, 5 of arena 1, 20 of arena 2 */
	int empty[3] = {10, 5, 20};
	for (int a = 0; a < 3; a++)
		for (int i = 0; i < empty[a] * 253; i++)
			fre(m, blocks[a][i]);
	/* a new pool comes from the most used arena: arena 1 (5 free pools) */
	uint64_t p = mal(m, 32);
	assert_true(p >= 0x7f1000000000 && p < 0x7f1000000000 + (256u << 10));
	pym_free(m);
}

static void test_profiles(void **state)
{
	(void)state;
	pym_params p;
	for (int i = 0; pym_profile_names[i]; i++)
		assert_int_equal(pym_params_from_name(pym_profile_names[i], &p), 0);
	assert_int_equal(pym_params_from_name("cpython-3.8", &p), 0);
	assert_int_equal(p.arena_size, 256 << 10);
	assert_int_equal(p.pool_size, 4096);
	assert_false(p.keep_empty_arena);
	assert_int_equal(pym_params_from_name("cpython-3.10", &p), 0);
	assert_int_equal(p.radix_bits, 48);
	assert_int_equal(pym_params_from_name("custom:arena=512K,pool=8K,align=8,threshold=256,"
					      "keep-empty=0,radix=0",
					      &p),
			 0);
	assert_int_equal(p.arena_size, 512 << 10);
	assert_int_equal(p.pool_size, 8192);
	assert_int_equal(p.align_shift, 3);
	assert_int_equal(p.threshold, 256);
	assert_int_equal(pym_params_from_name("custom", &p), 0); /* 3.13's values */
	assert_int_equal(p.arena_size, 1 << 20);
	assert_true(pym_params_from_name("cpython-2.7", &p) < 0);
	assert_true(pym_params_from_name("custom:pool=3000", &p) < 0);
	assert_true(pym_params_from_name("custom:bogus=1", &p) < 0);
	assert_true(pym_params_from_name("custom:arena=", &p) < 0);
	pym_params_for_version("3.10.13", &p);
	assert_string_equal(p.name, "cpython-3.10");
	pym_params_for_version(NULL, &p);
	assert_string_equal(p.name, "cpython-3.13");
	pym_params_for_version("3.7.16", &p);
	assert_string_equal(p.name, "cpython-3.13");
}

static void test_unknown_addresses(void **state)
{
	(void)state;
	src s = {.n = 0};
	pym *m = model("cpython-3.12", &s);
	uint64_t p = mal(m, 24), q;
	assert_int_equal(pym_free_block(m, p + 8, NULL), PYM_E_UNKNOWN); /* inside a block */
	assert_int_equal(pym_free_block(m, 0x1234, NULL), PYM_E_UNKNOWN);
	assert_int_equal(pym_realloc(m, 0x1234, 10, &q), PYM_E_UNKNOWN);
	bool was;
	assert_int_equal(pym_free_block(m, p, &was), 0);
	assert_true(was);
	assert_int_equal(pym_free_block(m, 0, &was), 0); /* free(NULL) */
	assert_null(pym_check(m));
	pym_free(m);
	pym_free(NULL);
}

/* Seeded random operations on every profile, pym_check() after each. */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static void stress(const char *profile, long ops)
{
	src s = {.n = 0};
	pym *m = model(profile, &s);
	enum { SLOTS = 3000 };
	static uint64_t live[SLOTS];
	memset(live, 0, sizeof(live));
	for (long i = 0; i < ops; i++) {
		unsigned k = (unsigned)(rnd() % SLOTS);
		uint64_t r = rnd(), n = r % 100 < 97 ? 1 + (r >> 8) % 512 : (r >> 8) % 2000;
		uint64_t out;
		if (!live[k]) {
			assert_int_equal(pym_malloc(m, n, &out), 0);
			live[k] = out;
		} else if (r % 4 == 0) {
			assert_int_equal(pym_realloc(m, live[k], n, &out), 0);
			live[k] = out;
		} else {
			assert_int_equal(pym_free_block(m, live[k], NULL), 0);
			live[k] = 0;
		}
		const char *bad = pym_check(m); /* after every operation */
		if (bad)
			fail_msg("%s, operation %ld: %s", profile, i, bad);
	}
	pym_stats st;
	pym_get_stats(m, &st);
	assert_true(st.arenas_total >= 1);
	/* Total == arenas * ARENA_SIZE (the statistics' own invariant, §8) */
	uint64_t total = st.bytes_allocated + st.bytes_available +
			 st.unused_pools * pym_get_params(m)->pool_size + st.pool_headers +
			 st.quantization + st.arena_alignment;
	assert_int_equal(total, st.arenas_current * pym_get_params(m)->arena_size);
	pym_free(m);
}

/* pym_each_arena: per-arena use adds up to the model's totals. */
typedef struct arena_sum {
	uint64_t n, pools_used, block_bytes, full;
} arena_sum;

static void add_arena(void *ctx, const pym_arena_use *u)
{
	arena_sum *s = ctx;
	s->n++;
	s->pools_used += u->pools_used;
	s->block_bytes += u->block_bytes;
	s->full += u->pools_used == u->pools_total;
	assert_true(u->pools_used <= u->pools_total);
	assert_true(u->base != 0);
}

/* A CPython 3.12 model holding 5000 blocks of 500 bytes (512-byte blocks:
 * 31 a pool, 2.5 arenas), into b. */
static pym *model_of_5000(uint64_t b[5000])
{
	pym *m;
	pym_params p;
	assert_int_equal(pym_params_from_name("cpython-3.12", &p), 0);
	assert_int_equal(pym_create(&m, &p, NULL), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(pym_malloc(m, 500, &b[i]), 0);
	return m;
}

static void test_each_arena(void **state)
{
	(void)state;
	uint64_t b[5000];
	pym *m = model_of_5000(b);
	for (int i = 0; i < 5000; i += 2)
		assert_int_equal(pym_free_block(m, b[i], NULL), 0);
	arena_sum s = {0};
	pym_each_arena(m, add_arena, &s);
	pym_usage u;
	pym_get_usage(m, &u);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.n, u.arenas);
	assert_int_equal(s.pools_used, u.pools_used);
	assert_int_equal(s.block_bytes, u.block_bytes);
	assert_int_equal(s.block_bytes, 2500 * 512);
	assert_int_equal(s.full, 2); /* the first two arenas are wholly carved and used */
	pym_free(m);
}

/* An arena's index: the same for every block of it, distinct between
 * arenas, below pym_arena_slots, naming the arena's base; -1 for a raw
 * block and for an address no arena holds. */
static void test_arena_index(void **state)
{
	(void)state;
	uint64_t b[5000];
	pym *m = model_of_5000(b);
	int32_t seen[8];
	uint64_t bases[8];
	int n = 0;
	for (int i = 0; i < 5000; i++) {
		const int32_t ai = pym_arena_index(m, b[i]);
		assert_true(ai >= 0 && (uint32_t)ai < pym_arena_slots(m));
		assert_int_equal(pym_arena_address(m, ai), pym_arena_base(m, b[i]));
		int k = 0;
		while (k < n && seen[k] != ai)
			k++;
		if (k == n) {
			assert_true(n < 8);
			seen[n] = ai;
			bases[n++] = pym_arena_base(m, b[i]);
		} else {
			assert_int_equal(bases[k], pym_arena_base(m, b[i]));
		}
	}
	assert_int_equal(n, 3);
	uint64_t raw;
	assert_int_equal(pym_malloc(m, 100000, &raw), 0);
	assert_int_equal(pym_arena_index(m, raw), -1);
	assert_int_equal(pym_arena_index(m, 16), -1);
	assert_int_equal(pym_arena_address(m, -1), 0);
	pym_free(m);
}

/* pym_check() is not blind: each invariant broken by hand is reported,
 * and the state passes again once it is put back. */
static void test_check_fires(void **state)
{
	(void)state;
	src s = {.n = 0};
	pym *m = model("cpython-3.12", &s);
	uint64_t p = mal(m, 100);
	mal(m, 100);
	pool *pl = pool_of(m, pym_page_find(&m->pages, p >> m->pool_shift));
	assert_int_equal(pl->count, 2);
	pl->count++;
	assert_string_equal(pym_check(m), "pool: count + free chain + virgin != NUMBLOCKS");
	pl->count--;
	assert_null(pym_check(m));
	m->usage.pools_used++;
	assert_string_equal(pym_check(m), "block_bytes, pools_used or empty_arenas out of step");
	m->usage.pools_used--;
	int32_t ai = m->usable_arenas;
	m->arenas[ai].nfreepools--;
	assert_string_equal(pym_check(m), "arena: nfreepools != empty + uncarved pools");
	m->arenas[ai].nfreepools++;
	m->nfp2lasta[0] = ai;
	assert_string_equal(pym_check(m), "nfp2lasta: a stale entry");
	m->nfp2lasta[0] = NONE;
	assert_null(pym_check(m));
	pym_free(m);
}

static void test_stress_every_profile(void **state)
{
	(void)state;
	long ops = getenv("ARENATRACE_LONG") ? 5000000 : 1000000;
	for (int i = 0; pym_profile_names[i]; i++)
		stress(pym_profile_names[i], ops);
	stress("custom:arena=64K,pool=4K,align=8,threshold=256", ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_block_order),
	    cmocka_unit_test(test_forget),      cmocka_unit_test(test_realloc_rule),
	    cmocka_unit_test(test_last_empty_arena), cmocka_unit_test(test_empty_pool_lifo),
	    cmocka_unit_test(test_alignment_loss),   cmocka_unit_test(test_arena_order),
	    cmocka_unit_test(test_profiles),         cmocka_unit_test(test_unknown_addresses),
	    cmocka_unit_test(test_stress_every_profile), cmocka_unit_test(test_each_arena),
	    cmocka_unit_test(test_arena_index),
	    cmocka_unit_test(test_check_fires),
	};
	return cmocka_run_group_tests_name("pym", tests, NULL, NULL);
}

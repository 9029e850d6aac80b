/*
 * test_u64map.c - the hash table every part uses (common/u64map.h):
 * random inserts and removals checked against a plain array, keys at the
 * edges (0, 1, UINT64_MAX), a key inserted several times, iteration, and
 * tables large enough to be mappings given back while they grow.
 */
#include "u64map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The reference: keys and their first value, in an array. */
#define NREF 4096
static uint64_t ref_key[NREF], ref_val[NREF];
static size_t nref;

static long ref_find(uint64_t k)
{
	for (size_t i = 0; i < nref; i++)
		if (ref_key[i] == k)
			return (long)i;
	return -1;
}

/* A key from a small pool (so removals and re-inserts hit), with the
 * edges in it. */
static uint64_t some_key(void)
{
	static const uint64_t edges[] = {0, 1, 2, UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63};
	uint64_t r = next_rand();
	if (r % 8 == 0)
		return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	return (r >> 8) % 3000 * 0x1000; /* addresses alike: page-aligned */
}

static void check_against_ref(const u64map *m)
{
	assert_int_equal(m->live, nref);
	for (size_t i = 0; i < nref; i++) {
		uint64_t *v = u64map_find(m, ref_key[i]);
		assert_non_null(v);
		assert_int_equal(v[0], ref_val[i]);
		assert_int_equal(v[1], ~ref_val[i]);
	}
	size_t pos = 0, seen = 0;
	uint64_t k, *v;
	while (u64map_next(m, &pos, &k, &v)) {
		long i = ref_find(k);
		assert_true(i >= 0);
		assert_int_equal(v[0], ref_val[i]);
		seen++;
	}
	assert_int_equal(seen, nref);
}

static void random_ops(const u64map_mem *mem, int ops)
{
	u64map m;
	u64map_init(&m, 2, mem);
	nref = 0;
	for (int op = 0; op < ops; op++) {
		uint64_t k = some_key();
		long i = ref_find(k);
		if (i < 0) {
			uint64_t *v = u64map_insert(&m, k);
			assert_non_null(v);
			assert_int_equal(v[0], 0); /* a new record's values are zero */
			v[0] = next_rand();
			v[1] = ~v[0];
			ref_key[nref] = k;
			ref_val[nref++] = v[0];
		} else {
			uint64_t *v = u64map_find(&m, k);
			assert_non_null(v);
			u64map_remove(&m, v);
			assert_null(u64map_find(&m, k));
			ref_key[i] = ref_key[--nref];
			ref_val[i] = ref_val[nref];
		}
		if (op % 97 == 0)
			check_against_ref(&m);
	}
	check_against_ref(&m);
	u64map_clear(&m);
	assert_int_equal(m.live, 0);
	assert_null(u64map_find(&m, ref_key[0]));
}

static void test_random_heap(void **state)
{
	(void)state;
	random_ops(&u64map_heap, 40000);
}

static void test_random_pages(void **state)
{
	(void)state;
	random_ops(&u64map_pages, 40000);
}

/* A key inserted three times has three records, which find_next walks;
 * removing one leaves the others. */
static void test_duplicates(void **state)
{
	(void)state;
	u64map m;
	u64map_init(&m, 1, &u64map_heap);
	for (uint64_t i = 0; i < 200; i++)
		*u64map_insert(&m, i * 64) = i;
	for (uint64_t n = 1; n <= 3; n++)
		*u64map_insert(&m, 777) = 1000 + n;
	uint64_t sum = 0, count = 0;
	for (uint64_t *v = u64map_find(&m, 777); v; v = u64map_find_next(&m, 777, v))
		sum += *v, count++;
	assert_int_equal(count, 3);
	assert_int_equal(sum, 3006);
	u64map_remove(&m, u64map_find(&m, 777));
	count = 0;
	for (uint64_t *v = u64map_find(&m, 777); v; v = u64map_find_next(&m, 777, v))
		count++;
	assert_int_equal(count, 2);
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(*u64map_find(&m, i * 64), i);
	u64map_clear(&m);
}

/* get makes a record once; UINT64_MAX is a key like any other. */
static void test_get_and_edges(void **state)
{
	(void)state;
	u64map m;
	u64map_init(&m, 1, &u64map_heap);
	bool made;
	*u64map_get(&m, UINT64_MAX, &made) = 5;
	assert_true(made);
	*u64map_get(&m, UINT64_MAX, &made) += 1;
	assert_false(made);
	*u64map_get(&m, 0, &made) = 9;
	assert_true(made);
	for (uint64_t i = 1; i < 5000; i++) /* grows past the first tables */
		*u64map_insert(&m, i) = i;
	assert_int_equal(*u64map_find(&m, UINT64_MAX), 6);
	assert_int_equal(*u64map_find(&m, 0), 9);
	assert_int_equal(m.live, 5001);
	u64map_remove(&m, u64map_find(&m, UINT64_MAX));
	assert_null(u64map_find(&m, UINT64_MAX));
	assert_int_equal(m.live, 5000);
	u64map_clear(&m);
}

/* 600 K records of 3 words: tables of tens of MiB, mappings that grow
 * and are given back in steps; every record still there. */
static void test_large_pages(void **state)
{
	(void)state;
	u64map m;
	u64map_init(&m, 2, &u64map_pages);
	const uint64_t n = 600000;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t *v = u64map_insert(&m, i * 16 + 0x7f0000000000ull);
		assert_non_null(v);
		v[0] = i;
	}
	assert_true(m.cap * m.stride * 8 > (16u << 20));
	for (uint64_t i = 0; i < n; i += 7)
		assert_int_equal(u64map_find(&m, i * 16 + 0x7f0000000000ull)[0], i);
	for (uint64_t i = 0; i < n; i += 2)
		u64map_remove(&m, u64map_find(&m, i * 16 + 0x7f0000000000ull));
	assert_int_equal(m.live, n / 2);
	for (uint64_t i = 1; i < n; i += 2)
		assert_int_equal(u64map_find(&m, i * 16 + 0x7f0000000000ull)[0], i);
	u64map_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_heap),  cmocka_unit_test(test_random_pages),
	    cmocka_unit_test(test_duplicates),   cmocka_unit_test(test_get_and_edges),
	    cmocka_unit_test(test_large_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_tf_pyline.c - tf_pyline() on line tables built by hand, one group
 * per encoding: line changes of every size and sign, long runs of code,
 * ranges without a line, each of the 3.11 entry forms, then tables cut
 * short and garbage.  Every table is looked up from a heap copy of exactly
 * its length, so that ASan sees any read past it.  A few tables are real
 * ones, with the lines their interpreter answered (tests/e2e/test_pylines.sh
 * checks whole interpreters).
 */
#include "tf_pyline.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* tf_pyline on a heap copy of exactly len bytes (NULL when empty) */
static int64_t look(unsigned format, const uint8_t *t, size_t len, int64_t first, int64_t offset)
{
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, t, len);
	}
	int64_t line = tf_pyline(format, copy, len, first, offset);
	free(copy);
	return line;
}

#define LOOK(fmt, arr, first, off) look(fmt, arr, sizeof(arr), first, off)

/* offsets [from, to) all have `line` */
static void expect_range(unsigned fmt, const uint8_t *t, size_t len, int64_t first, int64_t from,
			 int64_t to, int64_t line)
{
	for (int64_t o = from; o < to; o++) {
		int64_t got = look(fmt, t, len, first, o);
		if (got != line)
			fail_msg("format %u offset %lld: line %lld, expected %lld", fmt, (long long)o,
				 (long long)got, (long long)line);
	}
}

/* A 3.11+ location table under construction. */
typedef struct loc {
	uint8_t b[4096];
	size_t n;
} loc;

static void byte(loc *l, unsigned v)
{
	assert_true(l->n < sizeof(l->b));
	l->b[l->n++] = (uint8_t)v;
}

static void varint(loc *l, uint32_t v)
{
	while (v >= 64) {
		byte(l, (v & 63) | 64);
		v >>= 6;
	}
	byte(l, v);
}

static void svarint(loc *l, int32_t v)
{
	varint(l, v < 0 ? (uint32_t)-v << 1 | 1 : (uint32_t)v << 1);
}

/* an entry's first byte: code, length in code units (1..8) */
static void head(loc *l, unsigned code, unsigned units)
{
	assert_true(units >= 1 && units <= 8);
	byte(l, 0x80 | code << 3 | (units - 1));
}

static void short_form(loc *l, unsigned units, unsigned col, unsigned width) /* col < 80 */
{
	head(l, col >> 3, units);
	byte(l, (col & 7) << 4 | width);
}

static void one_line(loc *l, unsigned units, unsigned ldelta, unsigned col, unsigned end_col)
{
	head(l, 10 + ldelta, units);
	byte(l, col);
	byte(l, end_col);
}

static void no_columns(loc *l, unsigned units, int32_t ldelta)
{
	head(l, 13, units);
	svarint(l, ldelta);
}

static void long_form(loc *l, unsigned units, int32_t ldelta, uint32_t lines, uint32_t col,
		      uint32_t end_col)
{
	head(l, 14, units);
	svarint(l, ldelta);
	varint(l, lines);
	varint(l, col + 1);
	varint(l, end_col + 1);
}

static void no_location(loc *l, unsigned units)
{
	head(l, 15, units);
}

/* ---- no table, unknown formats ---- */

static void test_none_and_unknown(void **state)
{
	(void)state;
	static const uint8_t t[] = {4, 1, 4, 1};
	assert_int_equal(tf_pyline(TF_PYLINES_NONE, NULL, 0, 17, 0), 17);
	assert_int_equal(LOOK(TF_PYLINES_NONE, t, 17, 1000), 17);
	assert_int_equal(LOOK(TF_PYLINES_NONE, t, -3, INT64_MAX), -3);
	assert_int_equal(LOOK(4, t, 17, 0), -1);
	assert_int_equal(LOOK(~0u, t, 17, 0), -1);
	assert_int_equal(LOOK(4, t, 17, -1), -1);
	/* a NULL table is an empty one, whatever length comes with it */
	assert_int_equal(tf_pyline(TF_PYLINES_LNOTAB, NULL, 99, 5, 10), 5);
	assert_int_equal(tf_pyline(TF_PYLINES_310, NULL, 99, 5, 0), -1);
	assert_int_equal(tf_pyline(TF_PYLINES_311, NULL, 99, 5, 0), -1);
}

/* A frame that has not started has offset -1: the first line, whatever
 * the table says about offset 0 (here line 3, or no line). */
static void test_not_started(void **state)
{
	(void)state;
	static const uint8_t lnotab[] = {0, 2, 4, 1};
	static const uint8_t l310[] = {4, 0x80, 4, 2};
	static const uint8_t l311[] = {0xf8, 0xd0, 0x00, 0x01};
	for (int64_t off = -1; off > INT64_MIN / 1000; off *= 1000) {
		assert_int_equal(LOOK(TF_PYLINES_NONE, lnotab, 9, off), 9);
		assert_int_equal(LOOK(TF_PYLINES_LNOTAB, lnotab, 9, off), 9);
		assert_int_equal(LOOK(TF_PYLINES_310, l310, 9, off), 9);
		assert_int_equal(LOOK(TF_PYLINES_311, l311, 9, off), 9);
		assert_int_equal(tf_pyline(TF_PYLINES_311, NULL, 0, 9, off), 9);
	}
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, lnotab, 9, INT64_MIN), 9);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, lnotab, 9, 0), 11);
	assert_int_equal(LOOK(TF_PYLINES_310, l310, 9, 0), -1);
	assert_int_equal(LOOK(TF_PYLINES_311, l311, 9, 0), -1);
}

/* ---- 3.8 and 3.9: co_lnotab ---- */

static void test_lnotab_basic(void **state)
{
	(void)state;
	/* lnotab_notes.txt's example: lines 1, 2, 7 at offsets 0, 6, 50 */
	static const uint8_t t[] = {6, 1, 44, 5};
	expect_range(TF_PYLINES_LNOTAB, t, sizeof(t), 1, 0, 6, 1);
	expect_range(TF_PYLINES_LNOTAB, t, sizeof(t), 1, 6, 50, 2);
	expect_range(TF_PYLINES_LNOTAB, t, sizeof(t), 1, 50, 300, 7);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 1, INT64_MAX), 7);
	assert_int_equal(tf_pyline(TF_PYLINES_LNOTAB, NULL, 0, 40, 0), 40);
	/* a change at offset 0 applies to offset 0 */
	static const uint8_t z[] = {0, 2, 4, 1};
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, z, 1, 0), 3);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, z, 1, 4), 4);
}

static void test_lnotab_signed(void **state)
{
	(void)state;
	/* since 3.6 the line byte is signed: 0xff is -1, 0x80 is -128 */
	static const uint8_t t[] = {2, 5, 2, 0xff, 2, 0x80};
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 200, 2), 205);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 200, 4), 204);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 200, 6), 76);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 200, 1000), 76);
}

static void test_lnotab_long_jumps(void **state)
{
	(void)state;
	/* +300 lines at offset 10, as the compiler splits it: 127 + 127 + 46 */
	static const uint8_t fwd[] = {10, 127, 0, 127, 0, 46, 2, 1};
	expect_range(TF_PYLINES_LNOTAB, fwd, sizeof(fwd), 1, 0, 10, 1);
	expect_range(TF_PYLINES_LNOTAB, fwd, sizeof(fwd), 1, 10, 12, 301);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, fwd, 1, 12), 302);
	/* -300 lines: -128 - 128 - 44 */
	static const uint8_t back[] = {4, 0x80, 0, 0x80, 0, (uint8_t)-44};
	expect_range(TF_PYLINES_LNOTAB, back, sizeof(back), 1000, 0, 4, 1000);
	expect_range(TF_PYLINES_LNOTAB, back, sizeof(back), 1000, 4, 8, 700);
	/* 600 bytes of one line, then the next: 255 + 255 + 90 */
	static const uint8_t run[] = {255, 0, 255, 0, 90, 1};
	expect_range(TF_PYLINES_LNOTAB, run, sizeof(run), 7, 0, 600, 7);
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, run, 7, 600), 8);
}

static void test_lnotab_real(void **state)
{
	(void)state;
	/* CPython 3.8.18, the function
	 *   1 def f(a,
	 *   2       b):
	 *   3     x = [i
	 *   4          for i in a]
	 *   5     try:
	 *   6         return x + b
	 *   7     finally:
	 *   8         print(x)
	 * and PyCode_Addr2Line at offsets 0, 2, ... 40 */
	static const uint8_t t[] = {0x00, 0x02, 0x06, 0x01, 0x02, 0xff,
				    0x06, 0x02, 0x02, 0x01, 0x0c, 0x02};
	static const int64_t want[] = {3, 3, 3, 4, 3, 3, 3, 5, 6, 6, 6,
				       6, 6, 6, 8, 8, 8, 8, 8, 8, 8};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(LOOK(TF_PYLINES_LNOTAB, t, 1, 2 * i), want[i]);
}

/* ---- 3.10: co_linetable ---- */

static void test_310_basic(void **state)
{
	(void)state;
	/* 6 bytes at +1, 4 bytes with no line, 2 bytes at +2 (from the
	 * running line: the range without a line does not change it) */
	static const uint8_t t[] = {6, 1, 4, 0x80, 2, 2};
	expect_range(TF_PYLINES_310, t, sizeof(t), 10, 0, 6, 11);
	expect_range(TF_PYLINES_310, t, sizeof(t), 10, 6, 10, -1);
	expect_range(TF_PYLINES_310, t, sizeof(t), 10, 10, 12, 13);
	/* past the last range there is no line */
	assert_int_equal(LOOK(TF_PYLINES_310, t, 10, 12), -1);
	assert_int_equal(LOOK(TF_PYLINES_310, t, 10, INT64_MAX), -1);
	assert_int_equal(tf_pyline(TF_PYLINES_310, NULL, 0, 10, 0), -1);
	/* signed line bytes: 0xff is -1 */
	static const uint8_t s[] = {2, 0xff, 2, 0x81};
	assert_int_equal(LOOK(TF_PYLINES_310, s, 500, 0), 499);
	assert_int_equal(LOOK(TF_PYLINES_310, s, 500, 2), 372);
}

static void test_310_long_jumps(void **state)
{
	(void)state;
	/* +300 lines: ranges of length 0 carry 127 and 127, the range
	 * itself the remaining 46; ranges of length 0 are no range */
	static const uint8_t fwd[] = {4, 0, 0, 127, 0, 127, 6, 46};
	expect_range(TF_PYLINES_310, fwd, sizeof(fwd), 1, 0, 4, 1);
	expect_range(TF_PYLINES_310, fwd, sizeof(fwd), 1, 4, 10, 301);
	assert_int_equal(LOOK(TF_PYLINES_310, fwd, 1, 10), -1);
	/* -300 lines: -127 - 127 - 46 (3.10 keeps -128 for "no line") */
	static const uint8_t back[] = {2, 0, 0, 0x81, 0, 0x81, 2, (uint8_t)-46};
	expect_range(TF_PYLINES_310, back, sizeof(back), 1000, 2, 4, 700);
	/* 600 bytes of one line: 254 + 254 + 92 */
	static const uint8_t run[] = {254, 3, 254, 0, 92, 0, 2, 1};
	expect_range(TF_PYLINES_310, run, sizeof(run), 7, 0, 600, 10);
	assert_int_equal(LOOK(TF_PYLINES_310, run, 7, 600), 11);
	assert_int_equal(LOOK(TF_PYLINES_310, run, 7, 602), -1);
	/* a range with no line amid a line jump keeps the running line */
	static const uint8_t gap[] = {2, 127, 2, 0x80, 2, 127};
	assert_int_equal(LOOK(TF_PYLINES_310, gap, 0, 0), 127);
	assert_int_equal(LOOK(TF_PYLINES_310, gap, 0, 2), -1);
	assert_int_equal(LOOK(TF_PYLINES_310, gap, 0, 4), 254);
}

static void test_310_real(void **state)
{
	(void)state;
	/* CPython 3.10.13, the function of test_lnotab_real */
	static const uint8_t t[] = {0x06, 0x02, 0x02, 0x01, 0x06, 0xff,
				    0x02, 0x02, 0x08, 0x01, 0x14, 0x02};
	static const int64_t want[] = {3, 3, 3, 4, 3, 3, 3, 5, 6, 6, 6,
				       6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(LOOK(TF_PYLINES_310, t, 1, 2 * i), want[i]);
	assert_int_equal(LOOK(TF_PYLINES_310, t, 1, 44), -1);
}

static void test_310_damaged(void **state)
{
	(void)state;
	/* an odd last byte: a range whose line byte is CPython's NUL, 0 */
	static const uint8_t odd[] = {4, 1, 6};
	expect_range(TF_PYLINES_310, odd, sizeof(odd), 1, 0, 10, 2);
	assert_int_equal(LOOK(TF_PYLINES_310, odd, 1, 10), -1);
	/* ending in ranges of length 0: no line past them */
	static const uint8_t zero[] = {4, 1, 0, 5, 0, 5};
	expect_range(TF_PYLINES_310, zero, sizeof(zero), 1, 0, 4, 2);
	assert_int_equal(LOOK(TF_PYLINES_310, zero, 1, 4), -1);
	static const uint8_t lone[] = {0};
	assert_int_equal(LOOK(TF_PYLINES_310, lone, 1, 0), -1);
}

/* ---- 3.11 to 3.13: the location table ---- */

static void test_311_forms(void **state)
{
	(void)state;
	loc l = {0};
	no_location(&l, 1);             /* [0, 2): none */
	short_form(&l, 2, 12, 3);       /* [2, 6): line 20 */
	one_line(&l, 1, 0, 100, 120);   /* [6, 8): 20 */
	one_line(&l, 3, 1, 4, 9);       /* [8, 14): 21 */
	one_line(&l, 1, 2, 0, 1);       /* [14, 16): 23 */
	no_columns(&l, 8, 0);           /* [16, 32): 23 */
	no_columns(&l, 1, -3);          /* [32, 34): 20 */
	long_form(&l, 2, 5, 4, 200, 7); /* [34, 38): 25 */
	no_location(&l, 4);             /* [38, 46): none, line stays 25 */
	short_form(&l, 1, 79, 15);      /* [46, 48): 25 */
	one_line(&l, 1, 1, 0, 0);       /* [48, 50): 26 */
	const unsigned f = TF_PYLINES_311;
	expect_range(f, l.b, l.n, 20, 0, 2, -1);
	expect_range(f, l.b, l.n, 20, 2, 8, 20);
	expect_range(f, l.b, l.n, 20, 8, 14, 21);
	expect_range(f, l.b, l.n, 20, 14, 32, 23);
	expect_range(f, l.b, l.n, 20, 32, 34, 20);
	expect_range(f, l.b, l.n, 20, 34, 38, 25);
	expect_range(f, l.b, l.n, 20, 38, 46, -1);
	expect_range(f, l.b, l.n, 20, 46, 48, 25);
	expect_range(f, l.b, l.n, 20, 48, 50, 26);
	assert_int_equal(look(f, l.b, l.n, 20, 50), -1);
	assert_int_equal(look(f, l.b, l.n, 20, INT64_MAX), -1);
	assert_int_equal(tf_pyline(f, NULL, 0, 20, 0), -1);
}

static void test_311_long_jumps(void **state)
{
	(void)state;
	loc l = {0};
	no_columns(&l, 1, 300); /* past the ±31 of one varint group */
	long_form(&l, 1, -5000, 0, 0, 0);
	no_columns(&l, 1, 100000);
	long_form(&l, 1, -100000, 2, 10, 20);
	no_columns(&l, 1, 1 << 28); /* 29 bits and a sign: five groups */
	no_columns(&l, 1, -(1 << 28));
	const unsigned f = TF_PYLINES_311;
	assert_int_equal(look(f, l.b, l.n, 1, 0), 301);
	assert_int_equal(look(f, l.b, l.n, 1, 2), -4699);
	assert_int_equal(look(f, l.b, l.n, 1, 4), 95301);
	assert_int_equal(look(f, l.b, l.n, 1, 6), -4699);
	assert_int_equal(look(f, l.b, l.n, 1, 8), -4699 + (1 << 28));
	assert_int_equal(look(f, l.b, l.n, 1, 10), -4699);
	/* 1000 code units of one line: entries of 8 units at most */
	loc r = {0};
	one_line(&r, 1, 2, 0, 3);
	for (int i = 0; i < 125; i++)
		short_form(&r, 8, 4, 2);
	expect_range(f, r.b, r.n, 9, 0, 2002, 11);
	assert_int_equal(look(f, r.b, r.n, 9, 2002), -1);
}

static void test_311_real(void **state)
{
	(void)state;
	/* CPython 3.12.1, the function of test_lnotab_real */
	static const uint8_t t[] = {
	    0x80, 0x00, 0xf0, 0x06, 0x00, 0x13, 0x14, 0xf6, 0x03, 0x01, 0x09, 0x15, 0xd8, 0x0d,
	    0x0e, 0xf2, 0x03, 0x00, 0x0a, 0x0b, 0xf0, 0x00, 0x01, 0x09, 0x15, 0x80, 0x41, 0xf0,
	    0x00, 0x01, 0x09, 0x15, 0xf0, 0x04, 0x03, 0x05, 0x11, 0xd8, 0x0f, 0x10, 0x90, 0x31,
	    0x89, 0x75, 0xe4, 0x08, 0x0d, 0x88, 0x61, 0x8d, 0x08, 0xf9, 0xf2, 0x0b, 0x01, 0x09,
	    0x15, 0xf8, 0xf4, 0x0a, 0x00, 0x09, 0x0e, 0x88, 0x61, 0x8d, 0x08, 0xfa};
	static const int64_t want[] = {
	    1, 4, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 3, 3, 5, 6, 6, 6, 6, 8, 8, 8, 8, 8, 8,
	    8, 8, 8, 8, 8, 8, -1, -1, 3, 3, 3, -1, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, -1, -1, -1};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(LOOK(TF_PYLINES_311, t, 1, 2 * i), want[i]);
	assert_int_equal(LOOK(TF_PYLINES_311, t, 1, 108), -1);
}

static void test_311_damaged(void **state)
{
	(void)state;
	const unsigned f = TF_PYLINES_311;
	/* the next entry is the next byte with bit 7 set, whatever the size
	 * the code implies: here a short form with two extra bytes */
	static const uint8_t skip[] = {0x80, 0x00, 0x7f, 0xd9, 0x00};
	assert_int_equal(LOOK(f, skip, 5, 0), 5);
	assert_int_equal(LOOK(f, skip, 5, 2), 6);
	assert_int_equal(LOOK(f, skip, 5, 4), 6);
	/* a first byte without bit 7 is read as an entry all the same */
	static const uint8_t nohead[] = {0x68, 0x04, 0x80, 0x00};
	assert_int_equal(LOOK(f, nohead, 5, 0), 7);
	assert_int_equal(LOOK(f, nohead, 5, 2), 7);
	/* cut inside a varint: it ends where the table does */
	static const uint8_t cut[] = {0xe8, 0x44};
	assert_int_equal(LOOK(f, cut, 5, 0), 7);
	assert_int_equal(LOOK(f, cut, 5, 2), -1);
	static const uint8_t bare[] = {0xf0};
	assert_int_equal(LOOK(f, bare, 5, 0), 5);
	/* a varint longer than 32 bits keeps its low 32 bits */
	uint8_t chain[40];
	chain[0] = 0xe8;
	memset(chain + 1, 0x7f, sizeof(chain) - 2);
	chain[sizeof(chain) - 1] = 0x01;
	assert_int_equal(LOOK(f, chain, 5, 0), 5 - 0x7fffffffll);
	assert_int_equal(LOOK(f, chain, 5, 2), -1);
	memset(chain + 1, 0x40, 6); /* groups of 0 up to bit 36, then 63s */
	assert_int_equal(LOOK(f, chain, 5, 0), 5);
	/* a run of continuation bytes and no entry after them */
	uint8_t tail[300];
	memset(tail, 0x40, sizeof(tail));
	tail[0] = 0xf7;
	assert_int_equal(LOOK(f, tail, 5, 0), 5);
	assert_int_equal(LOOK(f, tail, 5, 16), -1);
}

/* Entries whose varints all run on to the end of the table (0xe8: no
 * columns, and bit 6 set) are read in linear time, not once per entry:
 * a second at most, where a quadratic reading of 1 MiB would take
 * minutes (SIGALRM ends the suite then). */
static void test_311_linear(void **state)
{
	(void)state;
	size_t len = 1 << 20;
	uint8_t *t = malloc(len);
	assert_non_null(t);
	memset(t, 0xe8, len);
	alarm(60);
	assert_int_equal(tf_pyline(TF_PYLINES_311, t, len, 1, INT64_MAX), -1);
	/* each entry: 2 bytes, line + 340870420 (groups of 40 up to bit 32) */
	assert_int_equal(tf_pyline(TF_PYLINES_311, t, len, 1, 0), 1 + 340870420);
	assert_int_equal(tf_pyline(TF_PYLINES_311, t, len, 1, (int64_t)len),
			 1 + (int64_t)(len / 2 + 1) * 340870420);
	alarm(0);
	free(t);
}

/* ---- every format on garbage ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* What no garbage changes: past every range, 3.10+ has no line, and
 * 3.8 has the first line plus every pair's line change. */
static void check_garbage(const uint8_t *t, size_t len, int64_t first)
{
	uint64_t sum = (uint64_t)first; /* wrapping, as tf_pyline's */
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint64_t)(int64_t)(t[i + 1] < 128 ? t[i + 1] : t[i + 1] - 256);
	assert_int_equal(look(TF_PYLINES_LNOTAB, t, len, first, INT64_MAX), (int64_t)sum);
	assert_int_equal(look(TF_PYLINES_310, t, len, first, INT64_MAX), -1);
	assert_int_equal(look(TF_PYLINES_311, t, len, first, INT64_MAX), -1);
	for (unsigned fmt = 0; fmt <= 4; fmt++) {
		int64_t off = (int64_t)(rnd() % (4 * len + 4));
		int64_t a = look(fmt, t, len, first, off);
		assert_int_equal(a, look(fmt, t, len, first, off)); /* pure */
		if (fmt == TF_PYLINES_311) /* the unit of 3.11+ is 2 bytes */
			assert_int_equal(look(fmt, t, len, first, off & ~(int64_t)1),
					 look(fmt, t, len, first, off | 1));
	}
}

static void test_garbage(void **state)
{
	(void)state;
	uint8_t t[512];
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd() % (round < 10000 ? 24 : sizeof(t));
		for (size_t i = 0; i < len; i++)
			t[i] = (uint8_t)rnd();
		check_garbage(t, len, (int64_t)(rnd() % 100000) - 50000);
	}
	/* the largest first lines do not overflow */
	static const uint8_t up[] = {2, 127, 2, 127};
	assert_int_equal(LOOK(TF_PYLINES_LNOTAB, up, INT64_MAX, 4), INT64_MIN + 253);
	memset(t, 0xff, sizeof(t));
	check_garbage(t, sizeof(t), INT64_MIN);
	memset(t, 0, sizeof(t));
	check_garbage(t, sizeof(t), INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none_and_unknown),
	    cmocka_unit_test(test_not_started),
	    cmocka_unit_test(test_lnotab_basic),
	    cmocka_unit_test(test_lnotab_signed),
	    cmocka_unit_test(test_lnotab_long_jumps),
	    cmocka_unit_test(test_lnotab_real),
	    cmocka_unit_test(test_310_basic),
	    cmocka_unit_test(test_310_long_jumps),
	    cmocka_unit_test(test_310_real),
	    cmocka_unit_test(test_310_damaged),
	    cmocka_unit_test(test_311_forms),
	    cmocka_unit_test(test_311_long_jumps),
	    cmocka_unit_test(test_311_real),
	    cmocka_unit_test(test_311_damaged),
	    cmocka_unit_test(test_311_linear),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests_name("tf_pyline", tests, NULL, NULL);
}

/*
 * test_tf_damage.c - traces cut short and traces with corrupt bytes.
 *
 * A trace cut at any byte reads exactly the records of its complete
 * frames and is flagged truncated; a trace with corrupt bytes gives a
 * clear error or the right records, never wrong data or a crash (this
 * suite also runs under ASan and UBSan).
 */
#include "tf_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#define NREC 4000
#define SEED 777

static tbuf trace; /* written once by the group setup */

static int setup(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer_opts o = {.fd = fd, .frame_bytes = 2048, .exact_time = true};
	tf_header h = theader();
	tf_writer *w;
	if (fd < 0 || tf_writer_create(&w, &o, &h))
		return -1;
	tgen g;
	tgen_init(&g, SEED);
	tf_record rec;
	for (int i = 0; i < NREC; i++) {
		tgen_next(&g, &rec);
		if (tf_writer_put(w, &rec))
			return -1;
		tgen_accepted(&g, &rec);
	}
	int rc = tf_writer_finish(w, TF_END_EXIT, 0, 0);
	tf_writer_free(w);
	rc |= tbuf_from_fd(fd, &trace);
	close(fd);
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	free(trace.data);
	return 0;
}

/* Compressed offsets where frames end, ascending. */
static size_t frame_ends(size_t *ends, size_t max)
{
	size_t n = 0, off = 0;
	while (off < trace.len && n < max) {
		size_t k = ZSTD_findFrameCompressedSize(trace.data + off, trace.len - off);
		assert_false(ZSTD_isError(k));
		off += k;
		ends[n++] = off;
	}
	assert_int_equal(off, trace.len);
	return n;
}

/* Reads buf[0..len) comparing every record with the generator; returns
 * the number of records read, or a negative error. */
static long read_checked(const uint8_t *buf, size_t len, tf_reader_status *st)
{
	tf_reader *r;
	int rc = tf_reader_open_mem(&r, buf, len);
	if (rc < 0)
		return rc;
	tgen g;
	tgen_init(&g, SEED);
	tf_record got, want;
	long n = 0;
	char why[200];
	while ((rc = tf_reader_next(r, &got)) == 1) {
		n++;
		if (got.kind == TF_HEADER || got.kind == TF_TIME || got.kind == TF_SWITCH ||
		    got.kind == TF_END)
			continue;
		tgen_next(&g, &want);
		if (want.kind == TF_STACK)
			want.u.node.id = g.next_node;
		if (!trec_equal(&want, &got, 0, why, sizeof(why)))
			fail_msg("wrong record %ld (not an error): %s", n, why);
		tgen_accepted(&g, &want);
	}
	if (rc < 0)
		assert_true(tf_reader_error(r)[0] != 0);
	if (st)
		tf_reader_get_status(r, st);
	tf_reader_free(r);
	return rc < 0 ? rc : n;
}

static void test_cut_at_every_byte(void **state)
{
	(void)state;
	size_t ends[4096];
	size_t nf = frame_ends(ends, 4096);
	assert_true(nf >= 8);
	long full = read_checked(trace.data, trace.len, NULL);
	assert_true(full > NREC);
	/* records readable from each prefix of whole frames */
	long per_frame_end[4096];
	for (size_t f = 0; f < nf; f++) {
		tf_reader_status st;
		long n = read_checked(trace.data, ends[f], &st);
		if (f == 0) {
			assert_true(n > 0); /* the first frame holds the header */
		}
		assert_true(n > 0);
		assert_false(st.truncated);
		assert_int_equal(st.complete, f == nf - 1);
		per_frame_end[f] = n;
	}
	assert_int_equal(per_frame_end[nf - 1], full);
	/* every cut inside the first frame and the last three frames */
	size_t from = ends[nf - 4];
	for (size_t cut = 0; cut < trace.len; cut++) {
		if (cut >= ends[0] && cut < from)
			continue;
		size_t f = 0;
		while (f < nf && ends[f] <= cut)
			f++;
		tf_reader_status st;
		long n = read_checked(trace.data, cut, &st);
		if (cut == 0) {
			assert_int_equal(n, TF_E_EMPTY);
		} else if (f == 0) {
			assert_int_equal(n, TF_E_TRUNCATED);
		} else {
			assert_int_equal(n, per_frame_end[f - 1]);
			assert_int_equal(st.truncated, cut != ends[f - 1]);
			if (st.truncated)
				assert_int_equal(st.truncated_at, ends[f - 1]);
			assert_false(st.complete);
		}
	}
}

static void test_random_corruption(void **state)
{
	(void)state;
	uint8_t *copy = malloc(trace.len);
	assert_non_null(copy);
	tgen rng;
	tgen_init(&rng, 4242);
	int errors = 0, intact = 0;
	int iters = getenv("ARENATRACE_LONG") ? 30000 : 3000;
	for (int iter = 0; iter < iters; iter++) {
		memcpy(copy, trace.data, trace.len);
		int flips = 1 + (int)(tgen_rand(&rng) % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = tgen_rand(&rng) % trace.len;
			if (iter % 2)
				copy[at] ^= (uint8_t)(1u << (tgen_rand(&rng) % 8));
			else
				copy[at] = (uint8_t)tgen_rand(&rng);
		}
		long n = read_checked(copy, trace.len, NULL);
		if (n < 0)
			errors++;
		else
			intact++; /* every record compared equal */
	}
	free(copy);
	print_message("corruption: %d errors, %d read intact\n", errors, intact);
	assert_true(errors > iters * 5 / 6);
}

static void test_garbage_appended(void **state)
{
	(void)state;
	uint8_t *copy = malloc(trace.len + 16);
	assert_non_null(copy);
	memcpy(copy, trace.data, trace.len);
	memset(copy + trace.len, 0x5a, 16);
	assert_true(read_checked(copy, trace.len + 16, NULL) < 0);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cut_at_every_byte),
	    cmocka_unit_test(test_random_corruption),
	    cmocka_unit_test(test_garbage_appended),
	};
	return cmocka_run_group_tests_name("tf_damage", tests, setup, teardown);
}

/*
 * test_tf_damage.c - traces cut short and traces with corrupt bytes.
 *
 * A trace cut at any byte reads exactly the records of its complete
 * frames and is flagged truncated; a trace with corrupt bytes gives a
 * clear error or the right records, never wrong data or a crash (this
 * suite also runs under ASan and UBSan).  A frame that zstd accepts but
 * whose records do not hold together is rejected whole: none of its
 * records is handed out, whether the damage is at its start or its end,
 * and however many records it has (one too big for the reader's buffer
 * of checked records included).
 */
#include "tf_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
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

/* Frame k of the trace with the tag of its last record made undeclared
 * (the frame compressed again, checksum and all, so only the reader's own
 * checks see it); a malloc'd copy of the trace. */
static uint8_t *damage_last_tag(const size_t *ends, size_t k, size_t *len)
{
	const size_t from = k ? ends[k - 1] : 0, clen = ends[k] - from;
	unsigned long long size = ZSTD_getFrameContentSize(trace.data + from, clen);
	assert_true(size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN);
	uint8_t *c = malloc(size), *z = malloc(ZSTD_compressBound(size));
	uint8_t *out = malloc(trace.len + ZSTD_compressBound(size));
	assert_true(c && z && out);
	assert_int_equal(ZSTD_decompress(c, size, trace.data + from, clen), size);
	/* the stream table: the tags are the first stream */
	const uint8_t *p = c + (k ? 0 : TF_MAGIC_LEN), *end = c + size;
	uint64_t n, l, tags = 0;
	assert_true(tf_get_varint(&p, end, &n));
	for (uint64_t i = 0; i < n; i++) {
		assert_true(tf_get_varint(&p, end, &l));
		tags = i ? tags : l;
	}
	assert_true(tags > 1);
	c[(p - c) + tags - 1] = 0xee; /* no schema declares it */
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	size_t zlen = ZSTD_compress2(cc, z, ZSTD_compressBound(size), c, size);
	assert_false(ZSTD_isError(zlen));
	ZSTD_freeCCtx(cc);
	memcpy(out, trace.data, from);
	memcpy(out + from, z, zlen);
	memcpy(out + from + zlen, trace.data + ends[k], trace.len - ends[k]);
	*len = trace.len - clen + zlen;
	free(c), free(z);
	return out;
}

static void test_rejected_frame_hands_out_nothing(void **state)
{
	(void)state;
	size_t ends[4096];
	size_t nf = frame_ends(ends, 4096);
	long before = 0; /* the records of the frames before frame k */
	for (size_t k = 0; k < nf; k++) {
		size_t len;
		uint8_t *copy = damage_last_tag(ends, k, &len);
		tf_reader *r;
		assert_int_equal(tf_reader_open_mem(&r, copy, len), 0);
		tf_record rec;
		long n = 0;
		int rc;
		while ((rc = tf_reader_next(r, &rec)) == 1)
			n++;
		assert_int_equal(rc, TF_E_CORRUPT);
		assert_non_null(strstr(tf_reader_error(r), "undeclared tag 0xee"));
		if (n != before)
			fail_msg("frame %zu rejected after %ld records; the frames before it "
				 "hold %ld",
				 k, n, before);
		tf_reader_free(r);
		free(copy);
		before = read_checked(trace.data, ends[k], NULL);
	}
}

/* A record stream built by hand, for frames larger than the writer makes. */
typedef struct rawb {
	uint8_t *st[TF_NSTREAMS];
	size_t len[TF_NSTREAMS];
} rawb;

static void rput(rawb *b, int stream, uint64_t v)
{
	b->len[stream] += tf_put_varint(b->st[stream] + b->len[stream], v);
}

static void rstr(rawb *b, const char *s, size_t len)
{
	rput(b, TF_S_BYTES, len);
	memcpy(b->st[TF_S_BYTES] + b->len[TF_S_BYTES], s, len);
	b->len[TF_S_BYTES] += len;
}

static void rtag(rawb *b, unsigned t)
{
	b->st[TF_S_TAGS][b->len[TF_S_TAGS]++] = (uint8_t)t;
}

/* Schema, header and pairs malloc(i) -> 0x10000 + 16 i, free of it (the
 * result coded by value through the escape, the free as a ring hit), then
 * `tail` (0: nothing; 1: a record of an undeclared tag; 2: a byte of the
 * numbers stream no record uses); the whole as one raw frame, malloc'd. */
static uint8_t *big_frame(uint64_t pairs, int tail, size_t *len)
{
	rawb b;
	const size_t cap = pairs * 12 + (1 << 16);
	for (int i = 0; i < TF_NSTREAMS; i++) {
		b.st[i] = malloc(cap);
		assert_non_null(b.st[i]);
		b.len[i] = 0;
	}
	static const unsigned kinds[] = {TF_HEADER, TF_END, TF_TIME, TF_SWITCH, TF_STACK, TF_MALLOC,
					 TF_FREE};
	rtag(&b, TF_SCHEMA);
	rput(&b, TF_S_NUMS, sizeof(kinds) / sizeof(kinds[0]));
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const tf_kinddef *d = &tf_kinds[kinds[k]];
		char types[TF_MAX_FIELDS];
		for (unsigned i = 0; i < d->nfields; i++)
			types[i] = tf_fc_type(d->fields[i].fc);
		rput(&b, TF_S_NUMS, kinds[k]);
		rstr(&b, d->name, strlen(d->name));
		rstr(&b, types, d->nfields);
	}
	rtag(&b, TF_HEADER); /* version 1, every other number 1, every string "x" */
	const tf_kinddef *h = &tf_kinds[TF_HEADER];
	for (unsigned i = 0; i < h->nfields; i++) {
		if (tf_fc_type(h->fields[i].fc) == 'b')
			rstr(&b, "x", 1);
		else
			rput(&b, TF_S_NUMS, 1);
	}
	for (uint64_t i = 0; i < pairs; i++) {
		rtag(&b, TF_MALLOC);
		rput(&b, TF_S_STACKS, 0);
		rput(&b, TF_S_NUMS, i);
		rput(&b, TF_S_ADDRS, TF_AC_ABS);
		rput(&b, TF_S_ADDRS, 0x10000 + 16 * i);
		rtag(&b, TF_FREE);
		rput(&b, TF_S_STACKS, 0);
		rput(&b, TF_S_ADDRS, TF_AC_RING1);
	}
	if (tail == 1)
		rtag(&b, 0xee);
	else if (tail == 2)
		rput(&b, TF_S_NUMS, 7);
	size_t total = TF_MAGIC_LEN + 11 * (TF_NSTREAMS + 1);
	for (int i = 0; i < TF_NSTREAMS; i++)
		total += b.len[i];
	uint8_t *out = malloc(total);
	assert_non_null(out);
	memcpy(out, TF_MAGIC, TF_MAGIC_LEN);
	size_t n = TF_MAGIC_LEN;
	n += tf_put_varint(out + n, TF_NSTREAMS);
	for (int i = 0; i < TF_NSTREAMS; i++)
		n += tf_put_varint(out + n, b.len[i]);
	for (int i = 0; i < TF_NSTREAMS; i++) {
		memcpy(out + n, b.st[i], b.len[i]);
		n += b.len[i];
		free(b.st[i]);
	}
	*len = n;
	return out;
}

/* 1.5 M requests in one frame: more values than the reader keeps, so the
 * records past its buffer are decoded again as they go out. */
static void test_big_frame(void **state)
{
	(void)state;
	const uint64_t pairs = 750000;
	size_t len;
	uint8_t *raw = big_frame(pairs, 0, &len);
	tf_reader *r;
	assert_int_equal(tf_reader_open_raw(&r, raw, len), 0);
	tf_record rec;
	assert_int_equal(tf_reader_next(r, &rec), 1);
	assert_int_equal(rec.kind, TF_HEADER);
	for (uint64_t i = 0; i < pairs; i++) {
		assert_int_equal(tf_reader_next(r, &rec), 1);
		const uint64_t at = 0x10000 + 16 * i;
		if (rec.kind != TF_MALLOC || rec.u.alloc.size != i || rec.u.alloc.addr != at)
			fail_msg("record %llu: %s size %llu at 0x%llx",
				 (unsigned long long)(2 * i + 1), tf_kind_name(rec.kind),
				 (unsigned long long)rec.u.alloc.size,
				 (unsigned long long)rec.u.alloc.addr);
		assert_int_equal(tf_reader_next(r, &rec), 1);
		if (rec.kind != TF_FREE || rec.u.alloc.addr != at || rec.u.alloc.size)
			fail_msg("record %llu: %s at 0x%llx", (unsigned long long)(2 * i + 2),
				 tf_kind_name(rec.kind), (unsigned long long)rec.u.alloc.addr);
	}
	assert_int_equal(tf_reader_next(r, &rec), 0);
	tf_reader_free(r);
	free(raw);
	/* the same with damage at its very end: not one record goes out */
	for (int tail = 1; tail <= 2; tail++) {
		raw = big_frame(pairs, tail, &len);
		assert_int_equal(tf_reader_open_raw(&r, raw, len), 0);
		long n = 0;
		int rc;
		while ((rc = tf_reader_next(r, &rec)) == 1)
			n++;
		assert_int_equal(rc, TF_E_CORRUPT);
		if (n)
			fail_msg("%ld records of a rejected frame handed out (%s)", n,
				 tf_reader_error(r));
		tf_reader_free(r);
		free(raw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cut_at_every_byte),
	    cmocka_unit_test(test_random_corruption),
	    cmocka_unit_test(test_garbage_appended),
	    cmocka_unit_test(test_rejected_frame_hands_out_nothing),
	    cmocka_unit_test(test_big_frame),
	};
	return cmocka_run_group_tests_name("tf_damage", tests, setup, teardown);
}

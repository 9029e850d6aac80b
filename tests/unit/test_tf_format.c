/*
 * test_tf_format.c - the trace format round trip: varints, every record
 * kind with random fields, 10 million events read back identical, time
 * quantisation, limits and writer errors.
 */
#include "tf_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

/* The byte-at-a-time reading of a varint, to compare the reader's with. */
static bool ref_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0; *pp < end && shift < 64; shift += 7) {
		uint8_t b = *(*pp)++;
		if (shift == 63 && b > 1)
			return false;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Every length from 1 to 10 bytes, canonical or not (0x80 groups left on),
 * followed by bytes with and without the top bit, and cut anywhere: the
 * reader (which reads 8 bytes at once when it can) reads what the
 * byte-at-a-time reading does, and stops where it stops. */
static void test_varint_any_length(void **state)
{
	(void)state;
	uint64_t rng = 12345;
	for (int iter = 0; iter < 200000; iter++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		uint8_t buf[24];
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(rng >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
		const unsigned len = 1 + (unsigned)(rng % 10);
		for (unsigned i = 0; i + 1 < len; i++)
			buf[i] |= 0x80;
		buf[len - 1] &= 0x7f;
		if (rng >> 60 == 0)
			buf[len - 1] = 0; /* overlong: a last group of 0 */
		const size_t room = len + (size_t)(rng >> 32) % (sizeof(buf) - len + 1);
		const size_t cut = (rng >> 48) % 4 == 0 ? (size_t)(rng >> 50) % (len + 1) : room;
		const uint8_t *p = buf, *q = buf;
		uint64_t v = 0, w = 0;
		const bool ok = tf_get_varint(&p, buf + cut, &v), ref = ref_varint(&q, buf + cut, &w);
		assert_int_equal(ok, ref);
		if (ok) {
			assert_int_equal(v, w);
			assert_ptr_equal(p, q);
		}
	}
}

static void test_varint_edges(void **state)
{
	(void)state;
	static const uint64_t vals[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX,
					(1ull << 56) - 1, 1ull << 63, UINT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t buf[10];
		size_t n = tf_put_varint(buf, vals[i]);
		assert_true(n >= 1 && n <= 10);
		const uint8_t *p = buf;
		uint64_t v;
		assert_true(tf_get_varint(&p, buf + n, &v));
		assert_int_equal(v, vals[i]);
		assert_ptr_equal(p, buf + n);
		p = buf; /* cut short: must fail, not read past the end */
		assert_false(n > 1 && tf_get_varint(&p, buf + n - 1, &v));
	}
	/* 11 bytes, or a 10th byte with more than one bit, overflow 64 bits */
	uint8_t over[11];
	memset(over, 0x80, sizeof(over));
	over[10] = 0;
	const uint8_t *p = over;
	uint64_t v;
	assert_false(tf_get_varint(&p, over + 11, &v));
	memset(over, 0xff, 9);
	over[9] = 2;
	p = over;
	assert_false(tf_get_varint(&p, over + 10, &v));
	for (int64_t s = -1000; s <= 1000; s++)
		assert_int_equal(tf_unzigzag(tf_zigzag(s)), s);
	assert_int_equal(tf_unzigzag(tf_zigzag(INT64_MIN)), INT64_MIN);
	assert_int_equal(tf_unzigzag(tf_zigzag(INT64_MAX)), INT64_MAX);
}

/* A writer with options o onto fd, and the header every test uses. */
static tf_writer *new_writer(int fd, tf_writer_opts o)
{
	o.fd = fd;
	tf_header h = theader();
	tf_writer *w;
	assert_int_equal(tf_writer_create(&w, &o, &h), 0);
	return w;
}

/* Writes mallocs, through tf_writer_put_alloc when fast, until the writer
 * fails (at most 10,000 of them); the failing call's result. */
static int put_until_error(tf_writer *w, bool fast)
{
	tf_record rec = {.kind = TF_MALLOC};
	int rc = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		rec.u.alloc.size = (uint64_t)i;
		rec.u.alloc.addr = 0x1000 + (uint64_t)i * 32;
		rc = fast ? tf_writer_put_alloc(w, TF_MALLOC, 1, 0, &rec.u.alloc) : tf_writer_put(w, &rec);
	}
	return rc;
}

/* Puts the next random record of g, an allocation event through
 * tf_writer_put_alloc when fast. */
static void put_next(tf_writer *w, tgen *g, bool fast)
{
	tf_record rec;
	tgen_next(g, &rec);
	if (fast && (tf_kind_is_malloc_fn(rec.kind) || tf_kind_is_python_fn(rec.kind)))
		assert_int_equal(tf_writer_put_alloc(w, rec.kind, rec.thread, rec.time, &rec.u.alloc),
				 0);
	else
		assert_int_equal(tf_writer_put(w, &rec), 0);
	tgen_accepted(g, &rec);
}

/* Writes n random records from seed, the allocation events through
 * tf_writer_put_alloc when fast; returns the file contents. */
static tbuf write_random_via(uint64_t seed, uint64_t n, const tf_writer_opts *base, bool fast)
{
	int fd = tmp_fd();
	assert_true(fd >= 0);
	tf_writer *w = new_writer(fd, *base);
	tgen g;
	tgen_init(&g, seed);
	for (uint64_t i = 0; i < n; i++)
		put_next(w, &g, fast);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 3, 0), 0);
	tf_writer_stats st;
	tf_writer_get_stats(w, &st);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	assert_int_equal(st.bytes_compressed, b.len);
	close(fd);
	return b;
}

/* Writes n random records from seed; returns the file contents. */
static tbuf write_random(uint64_t seed, uint64_t n, const tf_writer_opts *base)
{
	return write_random_via(seed, n, base, false);
}

/* Reads it back, regenerating the same records to compare. */
static void check_random(const tbuf *b, uint64_t seed, uint64_t n, uint64_t quantum)
{
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b->data, b->len), 0);
	tgen g;
	tgen_init(&g, seed);
	tf_record want, got;
	assert_int_equal(tf_reader_next(r, &got), 1);
	assert_int_equal(got.kind, TF_HEADER);
	assert_int_equal(got.u.header.pid, 77);
	assert_int_equal(got.u.header.quantum_ns, quantum);
	assert_memory_equal(got.u.header.argv.ptr, "prog\0-x\0", 8);
	uint64_t i = 0, events = 0;
	char why[200];
	int rc;
	while ((rc = tf_reader_next(r, &got)) == 1) {
		if (got.kind == TF_TIME || got.kind == TF_SWITCH)
			continue;
		if (got.kind == TF_END)
			break;
		assert_true(i < n);
		tgen_next(&g, &want);
		if (want.kind == TF_STACK)
			want.u.node.id = g.next_node;
		if (!trec_equal(&want, &got, quantum, why, sizeof(why)))
			fail_msg("record %llu: %s", (unsigned long long)i, why);
		tgen_accepted(&g, &want);
		events += tf_kind_is_event(want.kind);
		i++;
	}
	assert_int_equal(rc, 1);
	assert_int_equal(got.kind, TF_END);
	assert_int_equal(got.u.end.events, events);
	assert_int_equal(got.u.end.exit_status, 3);
	assert_int_equal(i, n);
	assert_int_equal(tf_reader_next(r, &got), 0);
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	assert_true(st.complete);
	assert_false(st.truncated);
	assert_int_equal(st.bytes_compressed, b->len);
	tf_reader_free(r);
}

/* ---- a sink, as the tracer's drain uses it ----
 *
 * Two sets of buffers; the sink's other end compresses what a set's commit
 * says is complete: the whole set when the writer hands it over, and, like
 * the drain while the program runs, a cut of what is complete so far. */
typedef struct tsink {
	uint8_t *buf[2][TF_NSTREAMS];
	tf_commit commit[2];
	uint32_t done[2][TF_NSTREAMS]; /* bytes of each stream already in frames */
	int cur;                       /* the set the writer fills */
	tf_framer *framer;
	int fd;
	bool first;
	unsigned handed, last;
} tsink;

/* Writes [done, len) of set k as one frame; its lengths from the commit. */
static void tsink_cut(tsink *t, int k)
{
	uint32_t len[TF_NSTREAMS], part[TF_NSTREAMS];
	const uint8_t *s[TF_NSTREAMS], *z;
	tf_commit_read(&t->commit[k], len);
	if (len[TF_S_TAGS] == t->done[k][TF_S_TAGS])
		return; /* no complete record since the last cut */
	for (int i = 0; i < TF_NSTREAMS; i++) {
		assert_true(len[i] >= t->done[k][i]);
		s[i] = t->buf[k][i] + t->done[k][i];
		part[i] = len[i] - t->done[k][i];
		t->done[k][i] = len[i];
	}
	long n = tf_framer_compress(t->framer, t->first, s, part, &z);
	assert_true(n > 0);
	assert_int_equal(write(t->fd, z, (size_t)n), n);
	t->first = false;
}

static void tsink_give(tsink *t, int k, tf_frame_bufs *b)
{
	for (int i = 0; i < TF_NSTREAMS; i++) {
		b->s[i] = t->buf[k][i];
		b->cap[i] = tf_stream_cap(0, i);
	}
	memset(t->done[k], 0, sizeof(t->done[k]));
	b->commit = &t->commit[k];
	t->cur = k;
}

static int tsink_swap(void *ctx, tf_frame_bufs *b, int why)
{
	tsink *t = ctx;
	if (why != TF_SINK_FIRST) {
		assert_ptr_equal(b->commit, &t->commit[t->cur]);
		tsink_cut(t, t->cur);
		t->handed++;
	}
	if (why == TF_SINK_LAST) {
		t->last++;
		return 0;
	}
	tsink_give(t, why == TF_SINK_FIRST ? 0 : 1 - t->cur, b);
	return 0;
}

/* n random records through a sink, cut every `every` records, then, when
 * finish, the END record; else the cut of what is complete, as after a
 * crash.  The frames as a file. */
static tbuf write_random_sink(uint64_t seed, uint64_t n, uint64_t every, bool finish)
{
	tsink t;
	memset(&t, 0, sizeof(t));
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < TF_NSTREAMS; i++)
			assert_non_null(t.buf[k][i] = malloc(tf_stream_cap(0, i)));
	assert_int_equal(tf_framer_create(&t.framer, 0, 0, NULL), 0);
	t.fd = tmp_fd();
	t.first = true;
	tf_sink sink = {tsink_swap, &t};
	tf_writer_opts o = {.fd = -1, .sink = &sink, .exact_time = true};
	tf_header h = theader();
	tf_writer *w;
	assert_int_equal(tf_writer_create(&w, &o, &h), 0);
	tgen g;
	tgen_init(&g, seed);
	for (uint64_t i = 0; i < n; i++) {
		put_next(w, &g, true);
		if (every && i % every == every - 1)
			tsink_cut(&t, t.cur);
	}
	if (finish) {
		assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 3, 0), 0);
		assert_int_equal(t.last, 1);
	} else {
		tsink_cut(&t, t.cur);
	}
	tf_writer_stats st;
	tf_writer_get_stats(w, &st);
	assert_int_equal(st.bytes_compressed, 0);
	assert_true(t.handed > 2); /* both sets were filled, handed over and reused */
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(t.fd, &b), 0);
	close(t.fd);
	tf_framer_free(t.framer);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < TF_NSTREAMS; i++)
			free(t.buf[k][i]);
	return b;
}

static void test_sink_frames_and_cuts(void **state)
{
	(void)state;
	/* whole sets only, and cuts of what is complete while records are added */
	for (uint64_t every = 0; every <= 997; every += 997) {
		tbuf b = write_random_sink(41, 600000, every, true);
		check_random(&b, 41, 600000, 0);
		free(b.data);
	}
}

/* A writer that stops without its END record (the process was killed):
 * what its commit says is complete reads back, every record of it. */
static void test_sink_commit_after_death(void **state)
{
	(void)state;
	tbuf b = write_random_sink(43, 300000, 5000, false);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	tgen g;
	tgen_init(&g, 43);
	tf_record want, got;
	assert_int_equal(tf_reader_next(r, &got), 1);
	assert_int_equal(got.kind, TF_HEADER);
	uint64_t i = 0;
	char why[200];
	int rc;
	while ((rc = tf_reader_next(r, &got)) == 1) {
		if (got.kind == TF_TIME || got.kind == TF_SWITCH)
			continue;
		tgen_next(&g, &want);
		if (want.kind == TF_STACK)
			want.u.node.id = g.next_node;
		if (!trec_equal(&want, &got, 0, why, sizeof(why)))
			fail_msg("record %llu: %s", (unsigned long long)i, why);
		tgen_accepted(&g, &want);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, 300000);
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	assert_false(st.complete);
	assert_false(st.truncated);
	tf_reader_free(r);
	free(b.data);
}

static void test_roundtrip_10m_exact(void **state)
{
	(void)state;
	/* ARENATRACE_LONG=1 (make test-all): five times longer */
	const uint64_t n = (getenv("ARENATRACE_LONG") ? 50 : 10) * 1000 * 1000;
	tf_writer_opts o = {.exact_time = true};
	tbuf b = write_random(12345, n, &o);
	check_random(&b, 12345, n, 0);
	free(b.data);
}

static void test_roundtrip_quantum(void **state)
{
	(void)state;
	tf_writer_opts o = {.quantum_ns = 100000, .frame_bytes = 64 << 10, .level = 3};
	tbuf b = write_random(99, 500000, &o);
	check_random(&b, 99, 500000, 100000);
	free(b.data);
}

static void test_frames_bounded(void **state)
{
	(void)state;
	/* small frames: many of them, each a complete unit */
	tf_writer_opts o = {.frame_bytes = 4096};
	tbuf b = write_random(5, 100000, &o);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	tf_record rec;
	while (tf_reader_next(r, &rec) == 1)
		;
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	assert_true(st.complete);
	assert_true(st.frames > 100);
	assert_true(st.bytes_raw / st.frames < 4096 + 64 * 1024);
	tf_reader_free(r);
	free(b.data);
}

static void test_blob_truncated_at_limit(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){0});
	size_t big = TF_MAX_BLOB + 1000;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, 'x', big);
	tf_record rec = {.kind = TF_SNAPSHOT, .thread = 1};
	rec.u.label.label = (tf_bytes){"big", 3};
	rec.u.label.text = (tf_bytes){text, big};
	assert_int_equal(tf_writer_put(w, &rec), 0);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	assert_int_equal(tf_reader_next(r, &rec), 1);
	assert_int_equal(tf_reader_next(r, &rec), 1);
	assert_int_equal(rec.kind, TF_SNAPSHOT);
	assert_int_equal(rec.u.label.text.len, TF_MAX_BLOB);
	assert_memory_equal(rec.u.label.text.ptr, text, TF_MAX_BLOB);
	tf_reader_free(r);
	free(b.data);
	free(text);
	close(fd);
}

static void test_writer_rejects_misuse(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){0});
	tf_record rec = {.kind = TF_MALLOC};
	rec.u.alloc.stack = 1; /* no node 1 yet */
	assert_int_equal(tf_writer_put(w, &rec), TF_E_ARG);
	rec = (tf_record){.kind = TF_STACK};
	rec.u.node.parent = 5;
	assert_int_equal(tf_writer_put(w, &rec), TF_E_ARG);
	rec = (tf_record){.kind = TF_HEADER};
	assert_int_equal(tf_writer_put(w, &rec), TF_E_ARG);
	rec = (tf_record){.kind = (tf_kind)0x7e};
	assert_int_equal(tf_writer_put(w, &rec), TF_E_ARG);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	rec = (tf_record){.kind = TF_MALLOC};
	assert_int_equal(tf_writer_put(w, &rec), TF_E_ARG); /* after the end */
	tf_writer_free(w);
	tf_writer_free(NULL);
	close(fd);
	tf_writer_opts bad = {.fd = -1};
	tf_header h = theader();
	assert_int_equal(tf_writer_create(&w, &bad, &h), TF_E_ARG);
	assert_null(w);
}

static void test_writer_io_error_stops(void **state)
{
	(void)state;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		skip();
	tf_writer *w = new_writer(fd, (tf_writer_opts){.frame_bytes = 1024});
	int rc = put_until_error(w, false);
	tf_record rec = {.kind = TF_MALLOC};
	assert_int_equal(rc, TF_E_IO);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(tf_writer_put(w, &rec), TF_E_FAILED);
	assert_int_equal(tf_writer_flush(w), TF_E_IO);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), TF_E_FAILED);
	tf_writer_free(w);
	close(fd);
}

/* The byte-exact example of traces/FORMAT.md §7. */
static void test_format_md_example(void **state)
{
	(void)state;
	static const uint8_t want[] = {
	    0x05, 0x07, 0x05, 0x0a, 0x13, 0x00,                         /* streams */
	    0x07, 0x06, 0x10, 0x10, 0x14, 0x10, 0x0f,                   /* tags */
	    0x01, 0x01, 0x01, 0x01, 0x01,                               /* stacks */
	    0xba, 0x81, 0xd6, 0xaa, 0xd5, 0xaa, 0x05, 0x1e, 0x02, 0x01, /* addresses */
	    0xa0, 0xc4, 0xaa, 0xd5, 0xaa, 0xd5, 0x2a, 0x00, 0xe8, 0x07, /* numbers */
	    0x20, 0x20, 0x20, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00};
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){.exact_time = true});
	assert_int_equal(tf_writer_flush(w), 0); /* prologue in a frame of its own */
	tf_writer_stats st;
	tf_writer_get_stats(w, &st);
	size_t first = st.bytes_compressed;
	tf_record r = {.kind = TF_STACK, .thread = 1};
	r.u.node.ip = 0x555555555110;
	assert_int_equal(tf_writer_put(w, &r), 0);
	static const struct {
		tf_kind kind;
		uint64_t addr;
	} ev[] = {{TF_MALLOC, 0x5555555602a0},
		  {TF_MALLOC, 0x5555555602d0},
		  {TF_FREE, 0x5555555602a0},
		  {TF_MALLOC, 0x5555555602a0}};
	for (size_t i = 0; i < 4; i++) {
		r = (tf_record){.kind = ev[i].kind, .thread = 1, .time = 1000};
		r.u.alloc.stack = 1;
		r.u.alloc.size = ev[i].kind == TF_MALLOC ? 32 : 0;
		r.u.alloc.addr = ev[i].addr;
		assert_int_equal(tf_writer_put(w, &r), 0);
	}
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	uint8_t raw[256];
	size_t n = ZSTD_decompress(raw, sizeof(raw), b.data + first, b.len - first);
	assert_false(ZSTD_isError(n));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(raw, want, sizeof(want));
	free(b.data);
	close(fd);
}

/* py_init (0x2f): a new initialisation of the interpreter, its number and
 * allocator read back as written; not an event, so the end record's count
 * leaves it out. */
static void test_py_init_record(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){.exact_time = true});
	tf_record r = {.kind = TF_PY_OBJ_MALLOC, .thread = 1};
	r.u.alloc.size = 24;
	r.u.alloc.addr = 0x7f0000001000;
	assert_int_equal(tf_writer_put(w, &r), 0);
	r = (tf_record){.kind = TF_PY_FINALIZE, .thread = 1};
	assert_int_equal(tf_writer_put(w, &r), 0);
	r = (tf_record){.kind = TF_PY_INIT, .thread = 1};
	r.u.py_init.number = 2;
	r.u.py_init.allocator = (tf_bytes){"pymalloc_debug", 14};
	assert_int_equal(tf_writer_put(w, &r), 0);
	r = (tf_record){.kind = TF_PY_OBJ_MALLOC, .thread = 1};
	r.u.alloc.size = 40;
	r.u.alloc.addr = 0x7f0000002000;
	assert_int_equal(tf_writer_put(w, &r), 0);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	tf_reader *rd;
	assert_int_equal(tf_reader_open_mem(&rd, b.data, b.len), 0);
	tf_record got;
	int rc, inits = 0, events = 0;
	uint64_t end_events = 0;
	while ((rc = tf_reader_next(rd, &got)) == 1) {
		events += tf_kind_is_event(got.kind);
		if (got.kind == TF_END)
			end_events = got.u.end.events;
		if (got.kind != TF_PY_INIT)
			continue;
		inits++;
		assert_int_equal(got.u.py_init.number, 2);
		assert_int_equal(got.u.py_init.allocator.len, 14);
		assert_memory_equal(got.u.py_init.allocator.ptr, "pymalloc_debug", 14);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(inits, 1);
	assert_int_equal(events, 2);
	assert_int_equal(end_events, 2);
	assert_false(tf_kind_is_event(TF_PY_INIT));
	assert_string_equal(tf_kind_name(TF_PY_INIT), "py_init");
	tf_reader_free(rd);
	free(b.data);
	close(fd);
}

/* The fast path writes the very bytes the field table gives, for every
 * allocation kind, both layers, with and without a time quantum. */
static void test_put_alloc_same_bytes(void **state)
{
	(void)state;
	const tf_writer_opts opts[] = {{.exact_time = true}, {.quantum_ns = 100000}};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		tbuf slow = write_random_via(7 + i, 300000, &opts[i], false);
		tbuf fast = write_random_via(7 + i, 300000, &opts[i], true);
		assert_int_equal(slow.len, fast.len);
		assert_memory_equal(slow.data, fast.data, slow.len);
		free(slow.data);
		free(fast.data);
	}
}

static void test_put_alloc_rejects_misuse(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){0});
	tf_alloc a = {.stack = 1, .addr = 0x1000, .size = 8}; /* no node 1 yet */
	assert_int_equal(tf_writer_put_alloc(w, TF_MALLOC, 1, 0, &a), TF_E_ARG);
	a.stack = 0;
	assert_int_equal(tf_writer_put_alloc(w, TF_STACK, 1, 0, &a), TF_E_ARG);
	assert_int_equal(tf_writer_put_alloc(w, TF_ARENA_ALLOC, 1, 0, &a), TF_E_ARG);
	assert_int_equal(tf_writer_put_alloc(w, 0x7e, 1, 0, &a), TF_E_ARG);
	assert_int_equal(tf_writer_put_alloc(w, 1000, 1, 0, &a), TF_E_ARG);
	assert_int_equal(tf_writer_put_alloc(w, TF_MALLOC, 1, 0, &a), 0);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	assert_int_equal(tf_writer_put_alloc(w, TF_FREE, 1, 0, &a), TF_E_ARG); /* after the end */
	tf_writer_free(w);
	close(fd);

	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		skip();
	w = new_writer(fd, (tf_writer_opts){.frame_bytes = 1024});
	int rc = put_until_error(w, true);
	assert_int_equal(rc, TF_E_IO);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(tf_writer_put_alloc(w, TF_FREE, 1, 0, &a), TF_E_FAILED);
	tf_writer_free(w);
	close(fd);
}

/* The heap record (FORMAT.md §5.4): declared in the schema as "uu", read
 * back with its thread and state, and not an event (the end record's
 * count is of the two requests only). */
static void test_heap_record(void **state)
{
	(void)state;
	int fd = tmp_fd();
	tf_writer *w = new_writer(fd, (tf_writer_opts){.exact_time = true});
	tf_record r = {.kind = TF_PY_OBJ_MALLOC, .thread = 2};
	r.u.alloc = (tf_alloc){.size = 24, .addr = 0x7f0000100010};
	tf_record h = {.kind = TF_HEAP, .thread = 1};
	h.u.heap = (tf_heap){.tid = 2, .state = 0x55d0c0ffee40, .block = 0x55d0c0ffdec8};
	tf_record back = {.kind = TF_HEAP, .thread = 1};
	back.u.heap = (tf_heap){.tid = 2, .state = 0};
	assert_int_equal(tf_writer_put(w, &h), 0);
	assert_int_equal(tf_writer_put(w, &r), 0);
	assert_int_equal(tf_writer_put(w, &back), 0);
	assert_int_equal(tf_writer_put(w, &r), 0);
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);
	tf_reader *rd;
	assert_int_equal(tf_reader_open_mem(&rd, b.data, b.len), 0);
	tf_record got;
	uint64_t states[2], blocks[2], nheap = 0, nreq = 0, events = UINT64_MAX;
	while (tf_reader_next(rd, &got) == 1) {
		if (got.kind == TF_HEAP) {
			assert_true(nheap < 2);
			assert_int_equal(got.u.heap.tid, 2);
			blocks[nheap] = got.u.heap.block;
			states[nheap++] = got.u.heap.state;
			assert_int_equal(nreq, nheap - 1); /* in its place among the requests */
		} else if (got.kind == TF_PY_OBJ_MALLOC) {
			assert_int_equal(got.thread, 2);
			nreq++;
		} else if (got.kind == TF_END) {
			events = got.u.end.events;
		}
	}
	assert_int_equal(nheap, 2);
	assert_int_equal(states[0], 0x55d0c0ffee40);
	assert_int_equal(states[1], 0);
	assert_int_equal(blocks[0], 0x55d0c0ffdec8);
	assert_int_equal(blocks[1], 0);
	assert_int_equal(events, 2);
	tf_reader_free(rd);
	free(b.data);
	assert_string_equal(tf_kind_name(TF_HEAP), "heap");
	assert_int_equal(TF_HEAP, 0x2e);
	assert_false(tf_kind_is_event(TF_HEAP));
	assert_int_equal(tf_kinds[TF_HEAP].nfields, 3);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(tf_kind_name(TF_MALLOC), "malloc");
	assert_string_equal(tf_kind_name(TF_GC_STOP), "gc_stop");
	assert_null(tf_kind_name(0x7e));
	assert_null(tf_kind_name(1000));
	assert_true(tf_kind_is_malloc_fn(TF_PVALLOC));
	assert_false(tf_kind_is_malloc_fn(TF_PY_OBJ_FREE));
	assert_true(tf_kind_is_python_fn(TF_PY_OBJ_FREE));
	assert_true(tf_kind_is_event(TF_SNAPSHOT));
	assert_false(tf_kind_is_event(TF_STACK));
	/* the classes in tf.h's kind list agree with the codec's kind table */
	for (unsigned t = 0; t < 300; t++) {
		unsigned f = t < TF_NKINDS ? tf_kinds[t].flags : 0;
		assert_int_equal(tf_kind_is_event(t), (f & TF_RF_EVENT) != 0);
		assert_int_equal(tf_kind_is_malloc_fn(t), (f & TF_RF_MALLOC) != 0);
		assert_int_equal(tf_kind_is_python_fn(t), (f & TF_RF_PYTHON) != 0);
	}
	assert_string_equal(tf_strerror(TF_E_CORRUPT), "corrupt trace");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_varint_edges),
	    cmocka_unit_test(test_varint_any_length),
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_heap_record),
	    cmocka_unit_test(test_format_md_example),
	    cmocka_unit_test(test_py_init_record),
	    cmocka_unit_test(test_roundtrip_10m_exact),
	    cmocka_unit_test(test_sink_frames_and_cuts),
	    cmocka_unit_test(test_sink_commit_after_death),
	    cmocka_unit_test(test_roundtrip_quantum),
	    cmocka_unit_test(test_frames_bounded),
	    cmocka_unit_test(test_blob_truncated_at_limit),
	    cmocka_unit_test(test_writer_rejects_misuse),
	    cmocka_unit_test(test_writer_io_error_stops),
	    cmocka_unit_test(test_put_alloc_same_bytes),
	    cmocka_unit_test(test_put_alloc_rejects_misuse),
	};
	return cmocka_run_group_tests_name("tf_format", tests, NULL, NULL);
}

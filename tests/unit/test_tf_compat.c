/*
 * test_tf_compat.c - compatibility rules and input errors of the reader:
 * unknown tags skipped by their declared layout, fields appended to known
 * records skipped, missing trailing fields read as zero, and every kind of
 * bad input a clear error.  Streams are built byte by byte here.
 */
#include "tf_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

/* A frame under construction: one buffer per stream (FORMAT.md §1.1). */
typedef struct bld {
	uint8_t st[TF_NSTREAMS][1 << 14];
	size_t len[TF_NSTREAMS];
	uint8_t b[1 << 16]; /* the frame, made by frame() */
	size_t n;
} bld;

static void put(bld *s, int stream, uint64_t v)
{
	s->len[stream] += tf_put_varint(s->st[stream] + s->len[stream], v);
}

static void tag(bld *s, unsigned t)
{
	s->st[TF_S_TAGS][s->len[TF_S_TAGS]++] = (uint8_t)t;
}

static void u(bld *s, uint64_t v)
{
	put(s, TF_S_NUMS, v);
}

static void bytes(bld *s, const char *p, size_t len)
{
	put(s, TF_S_BYTES, len);
	memcpy(s->st[TF_S_BYTES] + s->len[TF_S_BYTES], p, len);
	s->len[TF_S_BYTES] += len;
}

static void str(bld *s, const char *p)
{
	bytes(s, p, strlen(p));
}

/* Lays the streams out as a first frame: magic, stream table, streams. */
static void frame(bld *s)
{
	memcpy(s->b, TF_MAGIC, TF_MAGIC_LEN);
	s->n = TF_MAGIC_LEN;
	s->n += tf_put_varint(s->b + s->n, TF_NSTREAMS);
	for (int i = 0; i < TF_NSTREAMS; i++)
		s->n += tf_put_varint(s->b + s->n, s->len[i]);
	for (int i = 0; i < TF_NSTREAMS; i++) {
		memcpy(s->b + s->n, s->st[i], s->len[i]);
		s->n += s->len[i];
	}
}

/* A schema of this library's kinds, with one kind's field types replaced
 * (override_tag, override_types) and an extra kind (extra_tag). */
static void prologue(bld *s, unsigned override_tag, const char *override_types,
		     unsigned extra_tag, const char *extra_types)
{
	memset(s->len, 0, sizeof(s->len));
	tag(s, TF_SCHEMA);
	unsigned count = extra_tag != 0;
	for (unsigned t = 0; t < TF_NKINDS; t++)
		count += tf_kinds[t].name && t != TF_SCHEMA;
	u(s, count);
	for (unsigned t = 0; t < TF_NKINDS; t++) {
		const tf_kinddef *d = &tf_kinds[t];
		if (!d->name || t == TF_SCHEMA)
			continue;
		u(s, t);
		str(s, d->name);
		if (t == override_tag) {
			str(s, override_types);
			continue;
		}
		char types[TF_MAX_FIELDS];
		for (unsigned i = 0; i < d->nfields; i++)
			types[i] = tf_fc_type(d->fields[i].fc);
		bytes(s, types, d->nfields);
	}
	if (extra_tag) {
		u(s, extra_tag);
		str(s, "future_thing");
		str(s, extra_types);
	}
}

static void header(bld *s, uint64_t version)
{
	tag(s, TF_HEADER);
	u(s, version);
	for (int i = 0; i < 7; i++) /* pid … quantum */
		u(s, 1);
	str(s, "CLOCK_MONOTONIC");
	str(s, "test");
	str(s, "/bin/x");
	bytes(s, "x\0", 2);
	str(s, "");
	str(s, ""); /* exec_from */
	str(s, ""); /* fork_from */
	u(s, 0);    /* fork_at */
}

static void end(bld *s, uint64_t events)
{
	tag(s, TF_END);
	u(s, 1);
	u(s, 0);
	u(s, events);
	u(s, 0);
	u(s, 0);
	u(s, 0);
}

/* malloc(size) -> addr (escape code, absolute value), stack 0 */
static void malloc_rec(bld *s, uint64_t size, uint64_t addr)
{
	tag(s, TF_MALLOC);
	put(s, TF_S_STACKS, 0);
	u(s, size);
	put(s, TF_S_ADDRS, TF_AC_ABS);
	put(s, TF_S_ADDRS, addr);
}

static int read_all(bld *s, tf_record *recs, int max, tf_reader **keep)
{
	tf_reader *r;
	frame(s);
	assert_int_equal(tf_reader_open_raw(&r, s->b, s->n), 0);
	int n = 0, rc;
	while (n < max && (rc = tf_reader_next(r, &recs[n])) == 1)
		n++;
	if (keep)
		*keep = r;
	else
		tf_reader_free(r);
	return rc < 0 ? rc : n;
}

static void test_unknown_tag_skipped(void **state)
{
	(void)state;
	static bld s;
	prologue(&s, 0, NULL, 0x70, "ubsak");
	header(&s, 1);
	malloc_rec(&s, 10, 0x1000);
	tag(&s, 0x70); /* u, b, s, a, k: one field from every stream */
	u(&s, 123456789);
	str(&s, "a payload this reader does not understand");
	u(&s, tf_zigzag(-5));
	put(&s, TF_S_ADDRS, 77);
	put(&s, TF_S_STACKS, 5);
	malloc_rec(&s, 20, 0x2000);
	end(&s, 2);
	tf_record rec[8];
	tf_reader *r;
	assert_int_equal(read_all(&s, rec, 8, &r), 5);
	assert_int_equal(rec[1].kind, TF_MALLOC);
	assert_int_equal(rec[1].u.alloc.addr, 0x1000);
	assert_int_equal(rec[2].kind, 0x70);
	assert_string_equal(tf_reader_kind_name(r, 0x70), "future_thing");
	assert_int_equal(rec[3].u.alloc.size, 20);
	assert_int_equal(rec[3].u.alloc.addr, 0x2000);
	assert_int_equal(rec[4].kind, TF_END);
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	assert_int_equal(st.unknown_records, 1);
	assert_true(st.complete);
	tf_reader_free(r);
}

static void test_appended_field_skipped(void **state)
{
	(void)state;
	static bld s;
	prologue(&s, TF_MALLOC, "kuaub", 0, NULL); /* two new trailing fields */
	header(&s, 1);
	malloc_rec(&s, 10, 0x1000);
	u(&s, 99);
	str(&s, "new");
	malloc_rec(&s, 30, 0x3000);
	u(&s, 98);
	str(&s, "");
	end(&s, 2);
	tf_record rec[8];
	assert_int_equal(read_all(&s, rec, 8, NULL), 4);
	assert_int_equal(rec[1].u.alloc.addr, 0x1000);
	assert_int_equal(rec[2].u.alloc.size, 30);
	assert_int_equal(rec[2].u.alloc.addr, 0x3000);
}

static void test_missing_field_is_zero(void **state)
{
	(void)state;
	static bld s;
	prologue(&s, TF_GC_STOP, "u", 0, NULL); /* an older gc_stop */
	header(&s, 1);
	tag(&s, TF_GC_STOP);
	u(&s, 2);
	end(&s, 1);
	tf_record rec[4];
	assert_int_equal(read_all(&s, rec, 4, NULL), 3);
	assert_int_equal(rec[1].kind, TF_GC_STOP);
	assert_int_equal(rec[1].u.gc.generation, 2);
	assert_int_equal(rec[1].u.gc.collected, 0);
}

static int expect_error(bld *s, int err, const char *needle)
{
	tf_reader *r;
	assert_int_equal(tf_reader_open_raw(&r, s->b, s->n), 0);
	tf_record rec;
	int rc;
	while ((rc = tf_reader_next(r, &rec)) == 1)
		;
	assert_int_equal(rc, err);
	assert_int_equal(tf_reader_next(r, &rec), err); /* errors stay */
	if (!strstr(tf_reader_error(r), needle))
		fail_msg("message '%s' lacks '%s'", tf_reader_error(r), needle);
	tf_reader_free(r);
	return 0;
}

/* A valid prologue, then what `extra` adds, as one frame. */
#define CASE(s, body, err, needle)                                                         \
	do {                                                                               \
		prologue(&s, 0, NULL, 0, NULL);                                            \
		header(&s, 1);                                                             \
		body;                                                                      \
		frame(&s);                                                                 \
		expect_error(&s, err, needle);                                             \
	} while (0)

static void test_stream_errors(void **state)
{
	(void)state;
	static bld s;
	prologue(&s, TF_MALLOC, "kba", 0, NULL); /* a known field changed type */
	header(&s, 1);
	frame(&s);
	expect_error(&s, TF_E_CORRUPT, "schema");

	prologue(&s, 0x60, "", 0x61, "kux"); /* a type letter v1 does not know */
	header(&s, 1);
	frame(&s);
	expect_error(&s, TF_E_CORRUPT, "schema");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 2);
	frame(&s);
	expect_error(&s, TF_E_VERSION, "version 2");

	prologue(&s, 0, NULL, 0, NULL);
	frame(&s);
	s.b[0] ^= 1;
	expect_error(&s, TF_E_NOT_TRACE, "magic");

	CASE(s, tag(&s, 0x71), TF_E_CORRUPT, "undeclared tag 0x71");
	CASE(s, tag(&s, TF_HEADER), TF_E_CORRUPT, "second header");
	CASE(s, (tag(&s, TF_FREE), put(&s, TF_S_STACKS, 3), put(&s, TF_S_ADDRS, 0)),
	     TF_E_CORRUPT, "malformed free record"); /* stack node 3 never written */
	CASE(s, (tag(&s, TF_STACK), put(&s, TF_S_STACKS, 2), u(&s, 0)), TF_E_CORRUPT,
	     "malformed stack record"); /* its parent would be node -1 */
	CASE(s, (tag(&s, TF_MALLOC), put(&s, TF_S_STACKS, 0)), TF_E_CORRUPT,
	     "malformed malloc record"); /* its size and address are missing */
	CASE(s, (tag(&s, TF_MARK), put(&s, TF_S_BYTES, 1000)), TF_E_CORRUPT,
	     "malformed mark record"); /* a label longer than the stream */
	CASE(s, (tag(&s, TF_MALLOC), put(&s, TF_S_STACKS, 0), u(&s, 1),
		 put(&s, TF_S_ADDRS, TF_AC_RING1)),
	     TF_E_CORRUPT, "malformed malloc record"); /* a hit in an empty ring */
	CASE(s, (end(&s, 0), malloc_rec(&s, 1, 0x10)), TF_E_CORRUPT, "after the end record");
	CASE(s, (malloc_rec(&s, 1, 0x10), end(&s, 5)), TF_E_CORRUPT,
	     "malformed end record"); /* its totals disagree */
	CASE(s, (malloc_rec(&s, 1, 0x10), u(&s, 7)), TF_E_CORRUPT,
	     "a stream has bytes no record used");

	prologue(&s, 0, NULL, 0, NULL);
	frame(&s); /* no header */
	expect_error(&s, TF_E_TRUNCATED, "before its header");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	frame(&s);
	s.b[TF_MAGIC_LEN + 1]++; /* the tags stream claims a byte more */
	expect_error(&s, TF_E_CORRUPT, "stream table");

	s.n = TF_MAGIC_LEN; /* the magic alone */
	expect_error(&s, TF_E_CORRUPT, "stream table");
}

static void test_compressed_input_errors(void **state)
{
	(void)state;
	tf_reader *r;
	tf_record rec;
	assert_int_equal(tf_reader_open_mem(&r, "", 0), TF_E_EMPTY);
	assert_null(r);

	static const char text[] = "this is not a trace at all\n";
	assert_int_equal(tf_reader_open_mem(&r, text, sizeof(text)), 0);
	assert_int_equal(tf_reader_next(r, &rec), TF_E_NOT_TRACE);
	assert_non_null(strstr(tf_reader_error(r), "no zstd frame at byte 0"));
	tf_reader_free(r);

	/* valid zstd, but not a trace */
	static uint8_t z[256];
	size_t zn = ZSTD_compress(z, sizeof(z), text, sizeof(text), 1);
	assert_false(ZSTD_isError(zn));
	assert_int_equal(tf_reader_open_mem(&r, z, zn), 0);
	assert_int_equal(tf_reader_next(r, &rec), TF_E_NOT_TRACE);
	assert_non_null(strstr(tf_reader_error(r), "magic"));
	tf_reader_free(r);

	/* a frame over the 16 MiB limit: an error, not 17 MiB of memory */
	size_t big = TF_MAX_FRAME + 4096;
	uint8_t *raw = calloc(1, big);
	assert_non_null(raw);
	memcpy(raw, TF_MAGIC, TF_MAGIC_LEN);
	size_t cap = ZSTD_compressBound(big);
	uint8_t *zb = malloc(cap);
	assert_non_null(zb);
	zn = ZSTD_compress(zb, cap, raw, big, 1);
	assert_false(ZSTD_isError(zn));
	assert_int_equal(tf_reader_open_mem(&r, zb, zn), 0);
	int rc = tf_reader_next(r, &rec);
	assert_true(rc == TF_E_TOO_LARGE);
	tf_reader_free(r);
	free(raw);
	free(zb);
}

static void test_file_errors(void **state)
{
	(void)state;
	tf_reader *r;
	char err[256];
	assert_int_equal(tf_reader_open_file(&r, "/nonexistent/x.atr", err, sizeof(err)),
			 TF_E_IO);
	assert_null(r);
	assert_non_null(strstr(err, "/nonexistent/x.atr: No such file"));
	assert_int_equal(tf_reader_open_file(&r, "/", err, sizeof(err)), TF_E_IO);
	assert_non_null(strstr(err, "is a directory"));
	char path[] = "/tmp/tf-empty-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(tf_reader_open_file(&r, path, err, sizeof(err)), TF_E_EMPTY);
	assert_non_null(strstr(err, "empty"));
	close(fd);
	unlink(path);
	tf_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unknown_tag_skipped),
	    cmocka_unit_test(test_appended_field_skipped),
	    cmocka_unit_test(test_missing_field_is_zero),
	    cmocka_unit_test(test_stream_errors),
	    cmocka_unit_test(test_compressed_input_errors),
	    cmocka_unit_test(test_file_errors),
	};
	return cmocka_run_group_tests_name("tf_compat", tests, NULL, NULL);
}

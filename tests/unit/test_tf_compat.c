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

typedef struct bld {
	uint8_t b[1 << 16];
	size_t n;
} bld;

static void u(bld *s, uint64_t v)
{
	s->n += tf_put_varint(s->b + s->n, v);
}

static void bytes(bld *s, const char *p, size_t len)
{
	u(s, len);
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

static void str(bld *s, const char *p)
{
	bytes(s, p, strlen(p));
}

/* Magic and a schema of this library's kinds, with one kind's field types
 * replaced (override_tag, override_types) and an extra kind (extra_tag). */
static void prologue(bld *s, unsigned override_tag, const char *override_types,
		     unsigned extra_tag, const char *extra_types)
{
	memcpy(s->b, TF_MAGIC, TF_MAGIC_LEN);
	s->n = TF_MAGIC_LEN;
	s->b[s->n++] = TF_SCHEMA;
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
			bytes(s, override_types, strlen(override_types));
			continue;
		}
		u(s, d->nfields);
		for (unsigned i = 0; i < d->nfields; i++)
			s->b[s->n++] = (uint8_t)tf_fc_type(d->fields[i].fc);
	}
	if (extra_tag) {
		u(s, extra_tag);
		str(s, "future_thing");
		bytes(s, extra_types, strlen(extra_types));
	}
}

static void header(bld *s, uint64_t version)
{
	s->b[s->n++] = TF_HEADER;
	u(s, version);
	for (int i = 0; i < 7; i++) /* pid … quantum */
		u(s, 1);
	str(s, "CLOCK_MONOTONIC");
	str(s, "test");
	str(s, "/bin/x");
	bytes(s, "x\0", 2);
	str(s, "");
}

static void end(bld *s, uint64_t events)
{
	s->b[s->n++] = TF_END;
	u(s, 1);
	u(s, 0);
	u(s, events);
	u(s, 0);
	u(s, 0);
	u(s, 0);
}

/* malloc(size) -> addr (absolute code), stack 0 */
static void malloc_rec(bld *s, uint64_t size, uint64_t addr)
{
	s->b[s->n++] = TF_MALLOC;
	u(s, 0);
	u(s, size);
	u(s, TF_AC_ABS);
	u(s, addr);
}

static int read_all(const bld *s, tf_record *recs, int max, tf_reader **keep)
{
	tf_reader *r;
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
	prologue(&s, 0, NULL, 0x70, "ubs");
	header(&s, 1);
	malloc_rec(&s, 10, 0x1000);
	s.b[s.n++] = 0x70; /* u, b, s */
	u(&s, 123456789);
	str(&s, "a payload this reader does not understand");
	u(&s, tf_zigzag(-5));
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
	prologue(&s, TF_MALLOC, "uuuub", 0, NULL); /* two new trailing fields */
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
	s.b[s.n++] = TF_GC_STOP;
	u(&s, 2);
	end(&s, 1);
	tf_record rec[4];
	assert_int_equal(read_all(&s, rec, 4, NULL), 3);
	assert_int_equal(rec[1].kind, TF_GC_STOP);
	assert_int_equal(rec[1].u.gc.generation, 2);
	assert_int_equal(rec[1].u.gc.collected, 0);
}

static int expect_error(const bld *s, int err, const char *needle)
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

static void test_stream_errors(void **state)
{
	(void)state;
	static bld s;
	prologue(&s, TF_MALLOC, "ubu", 0, NULL); /* a known field changed type */
	header(&s, 1);
	expect_error(&s, TF_E_CORRUPT, "schema");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 2);
	expect_error(&s, TF_E_VERSION, "version 2");

	prologue(&s, 0, NULL, 0, NULL);
	s.b[0] ^= 1;
	expect_error(&s, TF_E_NOT_TRACE, "magic");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	s.b[s.n++] = 0x71; /* not declared */
	expect_error(&s, TF_E_CORRUPT, "undeclared tag 0x71");

	prologue(&s, 0, NULL, 0, NULL);
	malloc_rec(&s, 1, 1); /* before the header */
	expect_error(&s, TF_E_CORRUPT, "missing header");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	s.b[s.n++] = TF_FREE;
	u(&s, 3); /* stack node 3 was never written */
	u(&s, 0);
	expect_error(&s, TF_E_CORRUPT, "malformed free record at byte");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	s.b[s.n++] = TF_STACK;
	u(&s, 2); /* parent would be node -1 */
	u(&s, 0);
	expect_error(&s, TF_E_CORRUPT, "malformed stack");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	malloc_rec(&s, 1, 0x10);
	s.n -= 2; /* cut inside the record */
	expect_error(&s, TF_E_CORRUPT, "malformed malloc");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	s.b[s.n++] = TF_MARK;
	u(&s, 1000); /* label longer than the stream */
	expect_error(&s, TF_E_CORRUPT, "malformed mark");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	s.b[s.n++] = TF_MALLOC;
	u(&s, 0);
	u(&s, 1);
	u(&s, TF_AC_RING1); /* a hit in an empty ring */
	expect_error(&s, TF_E_CORRUPT, "malformed malloc");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	end(&s, 0);
	malloc_rec(&s, 1, 0x10);
	expect_error(&s, TF_E_CORRUPT, "after the end record");

	prologue(&s, 0, NULL, 0, NULL);
	header(&s, 1);
	malloc_rec(&s, 1, 0x10);
	end(&s, 5); /* totals disagree */
	expect_error(&s, TF_E_CORRUPT, "malformed end");

	prologue(&s, 0, NULL, 0, NULL);
	s.n = TF_MAGIC_LEN + 3; /* schema cut short */
	expect_error(&s, TF_E_CORRUPT, "schema");

	s.n = TF_MAGIC_LEN;
	expect_error(&s, TF_E_TRUNCATED, "before its header");
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

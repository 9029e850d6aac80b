/*
 * test_rep_sym.c - the symbolizer on this test's own executable: module
 * records built by the tracer's own tr_modinfo (dl_iterate_phdr: load
 * bias, PT_LOAD segments, GNU build-id), return addresses taken with
 * __builtin_return_address, resolved to function, file and line; each
 * address resolved once; a build-id that differs, a missing file and odd
 * records giving module+offset or hex, never a crash; load and unload
 * stamps choosing the module an address belonged to.
 */
#include "rep_sym.h"
#include "tr_modinfo.h"

#include <elf.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- this executable as a module record ---- */

static tr_modinfo S; /* this executable, as the tracer describes it */

static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	tr_modinfo_read(info, true, arg);
	return 1; /* the first object is the executable */
}

static tf_module self_record(uint64_t id)
{
	return tr_modinfo_record(&S, id);
}

static int setup(void **state)
{
	(void)state;
	dl_iterate_phdr(first_object, &S);
	return S.path[0] && S.segments_len && S.build_id_len ? 0 : -1;
}

/* ---- known return addresses ---- */

static volatile int sink;

static __attribute__((noinline)) void *where_called(void)
{
	sink++;
	return __builtin_return_address(0);
}

static int call_line; /* the line of the call in call_site */

/* Returns the return address of a call on a known line (no tail call:
 * the result is used after it). */
static __attribute__((noinline)) void *call_site(void)
{
	call_line = __LINE__ + 1;
	void *ra = where_called();
	sink += 2;
	return ra;
}

/* A global function with a weak alias of the same address and size: the
 * symbolizer names it by the global symbol. */
__attribute__((noinline)) void *sym_test_global(void);
__attribute__((noinline)) void *sym_test_global(void)
{
	void *ra = where_called();
	sink += 3;
	return ra;
}
extern void *sym_test_weak(void) __attribute__((weak, alias("sym_test_global")));

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* ---- tests ---- */

static void test_function_file_line(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module m = self_record(1);
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	uint64_t ip = (uint64_t)(uintptr_t)call_site();
	const rep_frame *fr;
	int n = rep_sym_resolve(s, ip, 1, &fr);
	assert_true(n >= 1);
	const rep_frame *outer = &fr[n - 1];
	assert_non_null(outer->function);
	assert_string_equal(outer->function, "call_site");
	assert_non_null(outer->file);
	assert_string_equal(base_name(outer->file), "test_rep_sym.c");
	assert_int_equal(outer->line, call_line);
	assert_false(outer->inlined);
	assert_string_equal(outer->module, S.path);
	assert_int_equal(outer->offset, ip - S.base);
	char buf[256], want[256];
	rep_frame_format(outer, buf, sizeof(buf));
	snprintf(want, sizeof(want), "call_site at test_rep_sym.c:%d", call_line);
	assert_string_equal(buf, want);
	assert_null(rep_sym_warning(s, 0));
	rep_sym_free(s);
}

static void test_alias_named_by_global(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module m = self_record(1);
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	uint64_t ip = (uint64_t)(uintptr_t)sym_test_weak();
	const rep_frame *fr;
	int n = rep_sym_resolve(s, ip, 1, &fr);
	assert_true(n >= 1);
	assert_non_null(fr[n - 1].function);
	assert_string_equal(fr[n - 1].function, "sym_test_global");
	/* an address past every function of the executable: no function */
	n = rep_sym_resolve(s, S.base + 0x7ffffff0, 1, &fr);
	assert_int_equal(n, 1);
	assert_null(fr[0].function);
	rep_sym_free(s);
}

static void test_each_address_once(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module m = self_record(1);
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	/* the same file loaded a second time, by another id: one file, one cache */
	m.id = 2;
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	uint64_t ip = (uint64_t)(uintptr_t)call_site();
	uint64_t other = (uint64_t)(uintptr_t)&where_called + 1;
	const rep_frame *a, *b, *c;
	int na = rep_sym_resolve(s, ip, 1, &a);
	int nc = rep_sym_resolve(s, other, 1, &c);
	for (int i = 0; i < 50; i++) {
		int nb = rep_sym_resolve(s, ip, 1, &b);
		assert_int_equal(nb, na);
		assert_ptr_equal(a, b);
		assert_int_equal(rep_sym_resolve(s, other, 1, &b), nc);
		assert_ptr_equal(b, c);
	}
	rep_sym_stats st;
	rep_sym_get_stats(s, &st);
	assert_int_equal(st.lookups, 2);
	assert_int_equal(st.cache_hits, 100);
	assert_int_equal(st.modules, 2);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.warnings, 0);
	rep_sym_free(s);
}

/* The per-unit subprogram index gives the frames libdw's walk of the whole
 * unit gives, for every fourth byte of this executable's code (its own,
 * the symbolizer's and the trace library's functions, much inlined). */
static void test_index_matches_unit_walk(void **state)
{
	(void)state;
	rep_sym *fast, *slow;
	rep_sym_opts walk = {.walk_units = true};
	assert_int_equal(rep_sym_create(&fast, NULL), REP_OK);
	assert_int_equal(rep_sym_create(&slow, &walk), REP_OK);
	tf_module m = self_record(1);
	assert_int_equal(rep_sym_load(fast, &m, 0), REP_OK);
	assert_int_equal(rep_sym_load(slow, &m, 0), REP_OK);
	uint64_t lo = UINT64_MAX, hi = 0; /* the executable segment, from the record */
	const uint8_t *p = S.segments, *end = S.segments + S.segments_len;
	uint64_t vaddr, size, flags;
	while (tf_get_varint(&p, end, &vaddr) && tf_get_varint(&p, end, &size) &&
	       tf_get_varint(&p, end, &flags))
		if (flags & PF_X)
			lo = S.base + vaddr, hi = S.base + vaddr + size;
	assert_true(lo < hi);
	unsigned compared = 0, inlined = 0;
	for (uint64_t ip = lo + 1; ip < hi; ip += 4) {
		const rep_frame *a, *b;
		int na = rep_sym_resolve(fast, ip, 1, &a), nb = rep_sym_resolve(slow, ip, 1, &b);
		assert_int_equal(na, nb);
		for (int i = 0; i < na; i++) {
			char x[1024], y[1024];
			rep_frame_format(&a[i], x, sizeof(x));
			rep_frame_format(&b[i], y, sizeof(y));
			if (strcmp(x, y) || a[i].inlined != b[i].inlined)
				fail_msg("0x%llx frame %d: %s%s, the unit walk: %s%s",
					 (unsigned long long)(ip - S.base), i, x,
					 a[i].inlined ? " (inlined)" : "", y,
					 b[i].inlined ? " (inlined)" : "");
			inlined += a[i].inlined;
		}
		compared++;
	}
	assert_true(compared > 1000);
	assert_true(inlined > 100); /* the comparison covered inlined frames */
	rep_sym_free(fast);
	rep_sym_free(slow);
}

static void test_build_id_differs(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module m = self_record(1);
	uint8_t other[64];
	memcpy(other, S.build_id, S.build_id_len);
	other[0] ^= 0xff;
	m.build_id.ptr = (const char *)other;
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	uint64_t ip = (uint64_t)(uintptr_t)call_site();
	const rep_frame *fr;
	assert_int_equal(rep_sym_resolve(s, ip, 1, &fr), 1);
	assert_null(fr->function);
	assert_null(fr->file);
	assert_string_equal(fr->module, S.path);
	assert_int_equal(fr->offset, ip - S.base);
	char buf[256], want[PATH_MAX + 32]; /* the module's name and an offset */
	rep_frame_format(fr, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s+0x%llx", base_name(S.path),
		 (unsigned long long)(ip - S.base));
	assert_string_equal(buf, want);
	/* said once, however many addresses */
	assert_int_equal(rep_sym_resolve(s, ip + 1, 1, &fr), 1);
	assert_non_null(rep_sym_warning(s, 0));
	assert_non_null(strstr(rep_sym_warning(s, 0), "build-id differs"));
	assert_non_null(strstr(rep_sym_warning(s, 0), S.path));
	assert_null(rep_sym_warning(s, 1));
	rep_sym_free(s);
}

static void test_missing_file(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module m = self_record(1);
	const char *gone = "/nonexistent-arenatrace-dir/libgone.so.1";
	m.path = (tf_bytes){gone, strlen(gone)};
	assert_int_equal(rep_sym_load(s, &m, 0), REP_OK);
	uint64_t ip = (uint64_t)(uintptr_t)call_site();
	const rep_frame *fr;
	assert_int_equal(rep_sym_resolve(s, ip, 1, &fr), 1);
	assert_null(fr->function);
	char buf[256], want[256];
	rep_frame_format(fr, buf, sizeof(buf));
	snprintf(want, sizeof(want), "libgone.so.1+0x%llx", (unsigned long long)(ip - S.base));
	assert_string_equal(buf, want);
	assert_non_null(strstr(rep_sym_warning(s, 0), "libgone.so.1: cannot open"));
	rep_sym_free(s);
}

/* Records no tracer would write: nothing crashes, addresses outside
 * every module stay hex. */
static void test_odd_input(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	uint8_t seg[32];
	size_t len = 0;
	len += tf_put_varint(seg + len, 0x1000);
	len += tf_put_varint(seg + len, 0x1000);
	len += tf_put_varint(seg + len, 5);
	const char zpath[] = "/lib/x\0y.so";
	tf_module odd[] = {
	    {1, 0x10000, {"linux-vdso.so.1", 15}, {NULL, 0}, {(const char *)seg, len}},
	    {2, 0x20000, {NULL, 0}, {NULL, 0}, {(const char *)seg, len}},           /* no path */
	    {3, 0x30000, {zpath, sizeof(zpath) - 1}, {"\x01", 1}, {(const char *)seg, len}},
	    {4, 0x40000, {"/etc/hostname", 13}, {NULL, 0}, {(const char *)seg, len}}, /* not ELF */
	    {5, 0x50000, {"/x", 2}, {NULL, 0}, {"\x80\x80", 2}},            /* truncated varint */
	    {6, UINT64_MAX - 0x1800, {"/y", 2}, {NULL, 0}, {(const char *)seg, len}}, /* wraps */
	    {7, 0x70000, {"/z", 2}, {NULL, 0}, {NULL, 0}},                  /* no segments */
	    {8, 0x80000, {"/w", 2}, {"\x01\x02", 2}, {(const char *)seg, len - 1}}, /* cut */
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_int_equal(rep_sym_load(s, &odd[i], i), REP_OK);
	assert_int_equal(rep_sym_unload(s, 999, 10), REP_OK);
	const uint64_t ips[] = {0, 1, 0x11000, 0x11fff, 0x21000, 0x31000, 0x41000, 0x51000,
				UINT64_MAX, UINT64_MAX - 0x800, 0x71000, 0x81000, 0x12000};
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		const rep_frame *fr;
		int n = rep_sym_resolve(s, ips[i], 20, &fr);
		assert_int_equal(n, 1);
		assert_null(fr->function);
		assert_null(fr->file);
		char buf[128];
		assert_true(rep_frame_format(fr, buf, sizeof(buf)) > 0);
	}
	const rep_frame *fr;
	rep_sym_resolve(s, 0x12000, 20, &fr); /* past the segment: outside */
	assert_null(fr->module);
	assert_int_equal(fr->offset, 0x12000);
	rep_sym_resolve(s, 0x11000, 20, &fr);
	assert_string_equal(fr->module, "linux-vdso.so.1");
	assert_int_equal(fr->offset, 0x1000);
	char buf[128];
	rep_frame_format(fr, buf, sizeof(buf));
	assert_string_equal(buf, "linux-vdso.so.1+0x1000");
	rep_sym_stats st;
	rep_sym_get_stats(s, &st);
	assert_true(st.warnings >= 4); /* vdso, no path, the cut path, not ELF */
	for (size_t i = 0; i < st.warnings; i++)
		assert_non_null(rep_sym_warning(s, i));
	rep_sym_free(s);
	rep_sym_free(NULL);
	rep_sym_opts many = {.ndebug_dirs = REP_SYM_MAX_DIRS + 1};
	assert_int_equal(rep_sym_create(&s, &many), REP_E_ARG);
	assert_null(s);
}

/* Module lifetimes: an address resolves through the module that covered
 * it at its stamp, and a module recorded late takes what came before it. */
static void test_stamps(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	tf_module self = self_record(1), other = self_record(2);
	const char *p = "/nonexistent-arenatrace-dir/other.so";
	other.path = (tf_bytes){p, strlen(p)};
	assert_int_equal(rep_sym_load(s, &self, 10), REP_OK);
	assert_int_equal(rep_sym_unload(s, 1, 20), REP_OK);
	assert_int_equal(rep_sym_load(s, &other, 20), REP_OK); /* same addresses */
	uint64_t ip = (uint64_t)(uintptr_t)call_site();
	const rep_frame *fr;
	int n = rep_sym_resolve(s, ip, 15, &fr);
	assert_string_equal(fr[n - 1].function, "call_site");
	n = rep_sym_resolve(s, ip, 20, &fr); /* the last stamp before the unload */
	assert_string_equal(fr[n - 1].function, "call_site");
	n = rep_sym_resolve(s, ip, 5, &fr); /* before any record: the one loaded next */
	assert_string_equal(fr[n - 1].function, "call_site");
	assert_int_equal(rep_sym_resolve(s, ip, 21, &fr), 1);
	assert_null(fr->function);
	assert_string_equal(fr->module, p);
	assert_int_equal(rep_sym_resolve(s, ip, UINT64_MAX, &fr), 1);
	assert_string_equal(fr->module, p);
	rep_sym_free(s);
}

/* ---- Python frames ---- */

static tf_py_code py_record(uint64_t id, const char *file, const char *name, const char *qualname,
			    unsigned format, const char *lines, size_t nlines)
{
	tf_py_code c = {.id = id, .first_line = 20, .lines_format = format};
	c.filename = (tf_bytes){file, strlen(file)};
	c.name = (tf_bytes){name, strlen(name)};
	c.qualname = (tf_bytes){qualname, strlen(qualname)};
	c.lines = (tf_bytes){lines, nlines};
	return c;
}

static const char *fmt(const rep_frame *f, char *buf, size_t cap)
{
	rep_frame_format(f, buf, cap);
	return buf;
}

/* A Python frame is one frame, its function the qualified name (else the
 * name), its file the code's, its line the line table's for the offset;
 * the record's bytes are the symbolizer's own copy; an unknown code gives
 * an unknown Python frame, never a failure. */
static void test_python_frames(void **state)
{
	(void)state;
	rep_sym *s;
	assert_int_equal(rep_sym_create(&s, NULL), REP_OK);
	/* co_lnotab (3.8): line 20 from offset 0, 21 from 2, 23 from 6 */
	char file[] = "/srv/app/store.py", lnotab[] = {2, 1, 4, 2};
	tf_py_code c = py_record(7, file, "get", "Store.get", 1, lnotab, sizeof(lnotab));
	assert_int_equal(rep_sym_py_code(s, &c), REP_OK);
	memset(file, 'x', sizeof(file) - 1); /* kept as a copy */
	memset(lnotab, 0, sizeof(lnotab));
	tf_py_code plain = py_record(8, "tool.py", "run", "", 1, "", 0);
	assert_int_equal(rep_sym_py_code(s, &plain), REP_OK);
	/* a second record of id 7 (a damaged trace) changes nothing */
	tf_py_code again = py_record(7, "other.py", "f", "f", 0, "", 0);
	assert_int_equal(rep_sym_py_code(s, &again), REP_OK);
	const struct {
		uint64_t code, offset;
		const char *text;
		unsigned line;
	} want[] = {
	    {7, 0, "/srv/app/store.py:20 in Store.get", 20},
	    {7, 4, "/srv/app/store.py:21 in Store.get", 21},
	    {7, 8, "/srv/app/store.py:23 in Store.get", 23},
	    {8, 30, "tool.py:20 in run", 20}, /* no qualified name (before 3.11): the name */
	    {99, 4, "unknown Python frame (code 99, offset 4)", 0},
	};
	char buf[256];
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		const rep_frame *fr;
		const uint64_t frame = tf_py_frame(want[k].code, want[k].offset);
		assert_int_equal(rep_sym_resolve(s, frame, 1, &fr), 1);
		assert_true(fr->python);
		assert_false(fr->inlined);
		assert_null(fr->module);
		assert_int_equal(fr->code, want[k].code);
		assert_int_equal(fr->offset, want[k].offset);
		assert_int_equal(fr->line, want[k].line);
		assert_string_equal(fmt(fr, buf, sizeof(buf)), want[k].text);
		const rep_frame *again_fr;
		assert_int_equal(rep_sym_resolve(s, frame, UINT64_MAX, &again_fr), 1);
		assert_ptr_equal(again_fr, fr); /* resolved once, whatever the stamp */
	}
	const rep_frame *fr;
	rep_sym_resolve(s, tf_py_frame(7, 0), 1, &fr);
	assert_string_equal(fr->function, "Store.get");
	assert_string_equal(fr->file, "/srv/app/store.py");
	assert_int_equal(fr->origin, REP_ORIGIN_PROGRAM);
	rep_sym_resolve(s, tf_py_frame(99, 4), 1, &fr);
	assert_null(fr->file);
	assert_null(fr->function);
	assert_int_equal(fr->origin, REP_ORIGIN_NONE);
	/* 3.11's location table: an offset past its last entry has no line */
	const char loc[] = {(char)0xe8, 0x02}; /* code 13 (no columns), 1 unit, line + 1 */
	tf_py_code c311 = py_record(9, "<frozen importlib._bootstrap>", "_load", "_load", 3, loc,
				    sizeof(loc));
	assert_int_equal(rep_sym_py_code(s, &c311), REP_OK);
	rep_sym_resolve(s, tf_py_frame(9, 0), 1, &fr);
	assert_int_equal(fr->line, 21);
	assert_int_equal(fr->origin, REP_ORIGIN_STDLIB);
	rep_sym_resolve(s, tf_py_frame(9, 40), 1, &fr);
	assert_string_equal(fmt(fr, buf, sizeof(buf)), "<frozen importlib._bootstrap>:? in _load");
	assert_null(rep_sym_warning(s, 0));
	rep_sym_free(s);
}

/* Where a Python file is, by its path alone. */
static void test_python_origin(void **state)
{
	(void)state;
	const struct {
		const char *path;
		rep_origin want;
	} cases[] = {
	    {"/usr/lib/python3.12/json/decoder.py", REP_ORIGIN_STDLIB},
	    {"/opt/py/lib/python3.8/collections/__init__.py", REP_ORIGIN_STDLIB},
	    {"/usr/lib64/python3.11/re/_parser.py", REP_ORIGIN_STDLIB},
	    {"/opt/py/lib/python3.13t/threading.py", REP_ORIGIN_STDLIB},
	    {"/opt/py/lib/python312.zip/os.py", REP_ORIGIN_STDLIB},
	    {"<frozen importlib._bootstrap>", REP_ORIGIN_STDLIB},
	    {"<frozen posixpath>", REP_ORIGIN_STDLIB},
	    {"/usr/lib/python3.12/site-packages/numpy/core/numeric.py", REP_ORIGIN_SITE},
	    {"/home/u/venv/lib/python3.10/site-packages/requests/api.py", REP_ORIGIN_SITE},
	    {"/usr/lib/python3/dist-packages/apt/cache.py", REP_ORIGIN_SITE},
	    {"/home/u/app/main.py", REP_ORIGIN_PROGRAM},
	    {"main.py", REP_ORIGIN_PROGRAM},
	    {"/home/u/lib/python/tools.py", REP_ORIGIN_PROGRAM}, /* no version: not a stdlib */
	    {"/home/u/lib/python3.x/tools.py", REP_ORIGIN_PROGRAM},
	    {"/home/u/src/python3.12/setup.py", REP_ORIGIN_PROGRAM}, /* not under lib/ */
	    {"<string>", REP_ORIGIN_PROGRAM},
	    {"<stdin>", REP_ORIGIN_PROGRAM},
	    {"", REP_ORIGIN_NONE},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		if (rep_py_origin(cases[k].path) != cases[k].want)
			fail_msg("%s: %s, not %s", cases[k].path,
				 rep_origin_name(rep_py_origin(cases[k].path)),
				 rep_origin_name(cases[k].want));
	}
	assert_string_equal(rep_origin_name(REP_ORIGIN_SITE), "site-packages");
	assert_string_equal(rep_origin_name(REP_ORIGIN_NONE), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_function_file_line), cmocka_unit_test(test_alias_named_by_global),
	    cmocka_unit_test(test_each_address_once),
	    cmocka_unit_test(test_index_matches_unit_walk),
	    cmocka_unit_test(test_build_id_differs),   cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_odd_input),          cmocka_unit_test(test_stamps),
	    cmocka_unit_test(test_python_frames),      cmocka_unit_test(test_python_origin),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

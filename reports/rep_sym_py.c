/*
 * rep_sym_py.c - the symbolizer's Python frames (rep_sym.h): the trace's
 * py_code records kept by id, a frame (code id, instruction offset)
 * resolved to its function, file and line, and where a Python file is.
 *
 * A record's strings and line table are copied into the handle's chunks,
 * which never move, so a frame's strings live until rep_sym_free.  The
 * line is what the interpreter's PyCode_Addr2Line answers for the offset
 * (tf_pyline, traces/tf_pyline.h); a code without a line there has line 0.
 * Code ids are never reused within a file (FORMAT.md §5.5): a second
 * record of an id comes only from a damaged trace, and the first is kept,
 * so that a frame resolved before it does not change meaning after.
 */
#include "rep_sym_internal.h"
#include "tf_pyline.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The words of a py_code record in s->codes: first line, line table
 * format, the interned file and function (qualified name, else name; 0
 * for none), the kept line table and its length. */
enum { PC_FIRST, PC_FORMAT, PC_FILE, PC_FUNCTION, PC_LINES, PC_LEN, PC_WORDS };

void sym_py_init(rep_sym *s)
{
	u64map_init(&s->codes, PC_WORDS, &u64map_heap);
}

/* A record's string interned, NULL for an empty one. */
static const char *intern_field(rep_sym *s, const tf_bytes *b, bool *failed)
{
	if (!b->len)
		return NULL;
	const char *p = sym_intern(s, b->ptr, b->len);
	*failed |= !p;
	return p;
}

int rep_sym_py_code(rep_sym *s, const tf_py_code *c)
{
	if (!s || !c)
		return REP_E_ARG;
	if (u64map_find(&s->codes, c->id))
		return REP_OK; /* the first record of an id stands */
	if (!u64map_reserve(&s->codes, 1))
		return REP_E_NOMEM;
	bool failed = false;
	const char *file = intern_field(s, &c->filename, &failed);
	const char *fn = intern_field(s, c->qualname.len ? &c->qualname : &c->name, &failed);
	const void *lines = c->lines.len ? sym_keep(s, c->lines.ptr, c->lines.len) : NULL;
	if (failed || (c->lines.len && !lines))
		return REP_E_NOMEM;
	uint64_t *v = u64map_insert(&s->codes, c->id); /* reserved: not NULL */
	v[PC_FIRST] = c->first_line;
	v[PC_FORMAT] = c->lines_format;
	v[PC_FILE] = (uintptr_t)file;
	v[PC_FUNCTION] = (uintptr_t)fn;
	v[PC_LINES] = (uintptr_t)lines;
	v[PC_LEN] = c->lines.len;
	return REP_OK;
}

void sym_py_describe(const rep_sym *s, uint64_t frame, rep_frame *out)
{
	out->python = true;
	out->code = tf_py_frame_code(frame);
	out->offset = tf_py_frame_offset(frame);
	const uint64_t *v = u64map_find(&s->codes, out->code);
	if (!v)
		return; /* an unknown Python frame */
	out->file = (const char *)(uintptr_t)v[PC_FILE];
	out->function = (const char *)(uintptr_t)v[PC_FUNCTION];
	const int64_t line = tf_pyline((unsigned)v[PC_FORMAT], (const uint8_t *)(uintptr_t)v[PC_LINES],
				       (size_t)v[PC_LEN], (int64_t)v[PC_FIRST],
				       (int64_t)out->offset); /* 32 bits: never negative */
	out->line = line > 0 && line <= UINT32_MAX ? (unsigned)line : 0;
	out->origin = out->file ? rep_py_origin(out->file) : REP_ORIGIN_NONE;
}

int sym_py_format(const rep_frame *f, char *buf, size_t len)
{
	if (!f->file && !f->function)
		return snprintf(buf, len, "unknown Python frame (code %" PRIu64 ", offset %" PRIu64 ")",
				f->code, f->offset);
	const char *file = f->file ? f->file : "?", *fn = f->function ? f->function : "?";
	if (!f->line)
		return snprintf(buf, len, "%s:? in %s", file, fn);
	return snprintf(buf, len, "%s:%u in %s", file, f->line, fn);
}

/* ---- origin ---- */

/* Whether p starts a directory name of a CPython's standard library:
 * pythonX.Y/ (a free-threaded build's pythonX.Yt/) or pythonXY.zip/. */
static bool stdlib_dir(const char *p)
{
	if (strncmp(p, "python", 6))
		return false;
	p += 6;
	const char *d = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == d)
		return false;
	if (!strncmp(p, ".zip/", 5))
		return true;
	if (*p++ != '.')
		return false;
	d = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == d)
		return false;
	p += *p == 't';
	return *p == '/';
}

rep_origin rep_py_origin(const char *path)
{
	if (!path || !*path)
		return REP_ORIGIN_NONE;
	if (!strncmp(path, "<frozen ", 8))
		return REP_ORIGIN_STDLIB;
	if (strstr(path, "/site-packages/") || strstr(path, "/dist-packages/"))
		return REP_ORIGIN_SITE;
	static const char *const libs[] = {"/lib/", "/lib64/"};
	for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
		const size_t n = strlen(libs[k]);
		for (const char *p = path; (p = strstr(p, libs[k])); p++)
			if (stdlib_dir(p + n))
				return REP_ORIGIN_STDLIB;
	}
	return REP_ORIGIN_PROGRAM;
}

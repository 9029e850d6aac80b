/*
 * rep_sym.c - the symbolizer's handle (rep_sym.h says what it does and
 * with which time rules): its hash tables (u64map.h) and interned
 * strings, the cache of resolved addresses, demangling, and the text of a
 * frame.  The module map is rep_sym_map.c, reading files with libdw
 * rep_sym_dwarf.c, Python frames rep_sym_py.c; rep_sym_internal.h holds
 * what they share.
 *
 * Each distinct address (file and address in it, or the plain address
 * outside every module) is resolved once: its frames are copied into a
 * block of their own that never moves, so the pointer rep_sym_resolve
 * returns stays valid however the table grows, until rep_sym_free.
 *
 * Demangling uses __cxa_demangle from libstdc++ (the Itanium ABI's own
 * demangler, on every system that has g++ or runs C++ programs), rather
 * than libiberty, which Debian ships only as a static archive of binutils
 * internals.
 *
 * References: elfutils libdwfl.h; the Itanium C++ ABI §5.1 (mangling) and
 * §3.4 (demangler).
 */
#include "rep_sym_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libstdc++'s demangler (cxxabi.h is C++ only). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define STR_CHUNK 65536 /* bytes of interned strings per chunk (a longer string gets its own) */

/* The words of an interned string's record in s->strs: the string, its length. */
enum { STR_PTR, STR_LEN, STR_WORDS };
/* The words of a resolved address's record in s->tab: its key (file index
 * + 1, the address in the file; or 0, the address outside every module;
 * or UINT64_MAX, a Python frame's tf_py_frame value), and its frames
 * (malloc'd, never moving) and their count. */
enum { TAB_FILE1, TAB_ADDR, TAB_FRAMES, TAB_N, TAB_WORDS };

const char *rep_strerror(int err)
{
	switch (err) {
	case REP_OK:
		return "success";
	case REP_E_NOMEM:
		return "out of memory";
	case REP_E_ARG:
		return "invalid argument";
	case REP_E_IO:
		return "cannot write";
	case REP_E_NOT_OURS:
		return "files that no report wrote";
	default:
		return "unknown error";
	}
}

/* ---- tables and strings ---- */

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
	return h ^ (h >> 31);
}

/* A hash as a u64map key: the map holds one record at most under
 * UINT64_MAX, and a hash names many. */
static uint64_t hash_key(uint64_t h)
{
	return h == UINT64_MAX ? UINT64_MAX - 1 : h;
}

/* n bytes of the current chunk (a new one when they do not fit), or NULL. */
static char *chunk_room(rep_sym *s, size_t n)
{
	str_chunk *c = s->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > STR_CHUNK ? n : STR_CHUNK;
		if (!(c = malloc(sizeof(*c) + cap)))
			return NULL;
		*c = (str_chunk){s->chunks, 0, cap};
		s->chunks = c;
	}
	char *p = c->data + c->used;
	c->used += n;
	return p;
}

const void *sym_keep(rep_sym *s, const void *p, size_t n)
{
	char *q = chunk_room(s, n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

const char *sym_intern(rep_sym *s, const char *str, size_t n)
{
	if (n > SYM_MAX_NAME)
		n = SYM_MAX_NAME;
	const uint64_t key = hash_key(hash_str(str, n));
	for (uint64_t *v = u64map_find(&s->strs, key); v; v = u64map_find_next(&s->strs, key, v)) {
		const char *p = (const char *)(uintptr_t)v[STR_PTR];
		if (v[STR_LEN] == n && !memcmp(p, str, n))
			return p;
	}
	if (!u64map_reserve(&s->strs, 1))
		return NULL;
	char *p = chunk_room(s, n + 1);
	if (!p)
		return NULL;
	memcpy(p, str, n);
	p[n] = 0;
	uint64_t *v = u64map_insert(&s->strs, key); /* reserved: not NULL */
	v[STR_PTR] = (uintptr_t)p;
	v[STR_LEN] = n;
	return p;
}

bool sym_grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

const char *sym_fn_name(rep_sym *s, const char *raw)
{
	if (!raw || !*raw)
		return NULL;
	if (raw[0] == '_' && raw[1] == 'Z') {
		int status = -1;
		char *d = __cxa_demangle(raw, NULL, NULL, &status);
		if (d && status == 0) {
			const char *r = sym_intern(s, d, strlen(d));
			free(d);
			return r;
		}
		free(d);
	}
	return sym_intern(s, raw, strlen(raw));
}

void sym_warn(rep_sym *s, const char *fmt, ...)
{
	size_t i = s->st.warnings++;
	if (i >= SYM_MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s->warnings[i], fmt, ap) < 0)
		s->warnings[i] = NULL;
	va_end(ap);
}

/* ---- create, free ---- */

int rep_sym_create(rep_sym **out, const rep_sym_opts *o)
{
	*out = NULL;
	rep_sym_opts none = {0};
	if (!o)
		o = &none;
	if (o->ndebug_dirs < 0 || o->ndebug_dirs > REP_SYM_MAX_DIRS)
		return REP_E_ARG;
	rep_sym *s = calloc(1, sizeof(*s));
	if (!s)
		return REP_E_NOMEM;
	/* the user's directories first (absolute: libdw looks up build-ids only
	 * under absolute ones), then libdw's default ":.debug:/usr/lib/debug" */
	size_t len = 64;
	for (int i = 0; i < o->ndebug_dirs; i++)
		len += strlen(o->debug_dirs[i]) + PATH_MAX + 2;
	if (!(s->debuginfo_path = malloc(len))) {
		free(s);
		return REP_E_NOMEM;
	}
	size_t at = 0;
	for (int i = 0; i < o->ndebug_dirs; i++) {
		char abs[PATH_MAX];
		const char *d = realpath(o->debug_dirs[i], abs) ? abs : o->debug_dirs[i];
		at += (size_t)snprintf(s->debuginfo_path + at, len - at, "%s:", d);
	}
	snprintf(s->debuginfo_path + at, len - at, ":.debug:/usr/lib/debug");
	s->cb = (Dwfl_Callbacks){
	    .find_elf = dwfl_build_id_find_elf,
	    .find_debuginfo = dwfl_standard_find_debuginfo,
	    .section_address = dwfl_offline_section_address,
	    .debuginfo_path = &s->debuginfo_path,
	};
	if (!o->debuginfod)
		unsetenv("DEBUGINFOD_URLS");
	s->walk_units = o->walk_units;
	u64map_init(&s->tab, TAB_WORDS, &u64map_heap);
	u64map_init(&s->strs, STR_WORDS, &u64map_heap);
	u64map_init(&s->names, 1, &u64map_heap);
	sym_py_init(s);
	*out = s;
	return REP_OK;
}

void rep_sym_free(rep_sym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nfiles; i++) {
		sym_file_close(&s->files[i]);
		free(s->files[i].path);
	}
	u64map_clear(&s->names);
	u64map_clear(&s->codes);
	size_t pos = 0;
	uint64_t key, *v;
	while (u64map_next(&s->tab, &pos, &key, &v))
		free((rep_frame *)(uintptr_t)v[TAB_FRAMES]);
	u64map_clear(&s->tab);
	u64map_clear(&s->strs);
	for (str_chunk *c = s->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < SYM_MAX_WARNINGS; i++)
		free(s->warnings[i]);
	free(s->files), free(s->mods);
	free(s->debuginfo_path);
	free(s);
}

void rep_sym_forget_records(rep_sym *s)
{
	if (!s)
		return;
	s->nmods = 0;
	s->st.modules = 0;
	u64map_clear(&s->codes);
	sym_py_init(s);
}

/* ---- the cache of resolved addresses ---- */

/* The record of (file1, addr) in the cache, or NULL. */
static uint64_t *cached(const rep_sym *s, uint64_t key, uint64_t file1, uint64_t addr)
{
	for (uint64_t *v = u64map_find(&s->tab, key); v; v = u64map_find_next(&s->tab, key, v))
		if (v[TAB_FILE1] == file1 && v[TAB_ADDR] == addr)
			return v;
	return NULL;
}

int rep_sym_resolve(rep_sym *s, uint64_t ip, uint64_t stamp, const rep_frame **frames)
{
	*frames = NULL;
	if (!s)
		return REP_E_ARG;
	const bool py = tf_is_py_frame(ip);
	const sym_mod *md = ip && !py ? sym_mod_at(s, ip, stamp) : NULL;
	/* file1 UINT64_MAX: a Python frame, by its value */
	uint64_t file1 = py ? UINT64_MAX : md ? md->file + 1 : 0, addr = md ? ip - md->base : ip;
	const uint64_t key = hash_key(mix(file1, addr));
	const uint64_t *hit = cached(s, key, file1, addr);
	if (hit) {
		s->st.cache_hits++;
		*frames = (const rep_frame *)(uintptr_t)hit[TAB_FRAMES];
		return (int)hit[TAB_N];
	}
	if (!u64map_reserve(&s->tab, 1)) /* before the work, which is lost without room */
		return REP_E_NOMEM;
	rep_frame buf[REP_SYM_MAX_FRAMES];
	memset(buf, 0, sizeof(buf));
	int n = 0;
	if (py) {
		sym_py_describe(s, ip, &buf[0]);
		n = 1;
	} else if (md) {
		sym_file *f = &s->files[md->file];
		if (f->state == FILE_UNOPENED)
			sym_open_file(s, f);
		if (f->state == FILE_READ && addr)
			n = sym_describe(s, f, addr - 1, buf);
	}
	if (n == 0)
		n = 1; /* module+offset, or the plain address */
	for (int i = 0; i < n && !py; i++) {
		buf[i].module = md ? s->files[md->file].path : NULL;
		buf[i].offset = addr;
	}
	rep_frame *keep = malloc((size_t)n * sizeof(*keep));
	if (!keep)
		return REP_E_NOMEM;
	memcpy(keep, buf, (size_t)n * sizeof(*keep));
	uint64_t *e = u64map_insert(&s->tab, key); /* reserved: not NULL */
	e[TAB_FILE1] = file1;
	e[TAB_ADDR] = addr;
	e[TAB_FRAMES] = (uintptr_t)keep;
	e[TAB_N] = (uint64_t)n;
	s->st.lookups++;
	*frames = keep;
	return n;
}

/* ---- output ---- */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int rep_frame_format(const rep_frame *f, char *buf, size_t len)
{
	char where[SYM_MAX_NAME + 32];
	if (f->python)
		return sym_py_format(f, buf, len);
	if (f->module)
		snprintf(where, sizeof(where), "%s+0x%" PRIx64, base_name(f->module), f->offset);
	else
		snprintf(where, sizeof(where), "0x%" PRIx64, f->offset);
	if (f->file) /* a function without a name still has its line */
		return snprintf(buf, len, "%s at %s:%u", f->function ? f->function : where,
				base_name(f->file), f->line);
	if (f->function)
		return snprintf(buf, len, "%s (%s)", f->function, where);
	return snprintf(buf, len, "%s", where);
}

const char *rep_sym_warning(const rep_sym *s, size_t i)
{
	return s && i < SYM_MAX_WARNINGS && i < s->st.warnings ? s->warnings[i] : NULL;
}

void rep_sym_get_stats(const rep_sym *s, rep_sym_stats *st)
{
	*st = s->st;
}

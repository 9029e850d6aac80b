/*
 * tr_python.c - CPython recording (PYMALLOC.md §4, §9, §12).
 *
 * When the process exports CPython 3.8+'s allocator API (found with dlsym:
 * libpython is never linked), the library constructor, which runs before
 * the interpreter starts:
 *  - wraps the MEM and OBJ allocator domains (PyMem_SetAllocator), chaining
 *    to the originals, so pymalloc keeps doing the work and every request
 *    is recorded with its domain (py_mem_* / py_obj_* records); requests
 *    pymalloc hands to raw malloc also appear as malloc-layer events;
 *  - wraps the arena allocator (PyObject_SetArenaAllocator); requests of
 *    exactly the arena size of this version are pymalloc arenas (3.11+ also
 *    allocates thread frame-stack chunks of 16 KiB and up through it: those
 *    are not recorded as arenas);
 *  - adds an audit hook (PySys_AddAuditHook); at the first audit event after
 *    Py_IsInitialized() it appends a C callback to gc.callbacks, which
 *    records gc_start / gc_stop with generation, collected, uncollectable.
 * It also exports arenatrace_snapshot(label), which records a snapshot with
 * the text of _PyObject_DebugMallocStats at that point, and
 * arenatrace_mark(label).
 */
#include "tr_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The parts of CPython's ABI used here (stable since 3.5). */
typedef struct {
	void *ctx;
	void *(*malloc)(void *ctx, size_t size);
	void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
	void *(*realloc)(void *ctx, void *ptr, size_t new_size);
	void (*free)(void *ctx, void *ptr);
} py_mem_allocator;

typedef struct {
	void *ctx;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr, size_t size);
} py_arena_allocator;

typedef struct {
	const char *ml_name;
	void *ml_meth;
	int ml_flags;
	const char *ml_doc;
} py_method_def;

enum { PYMEM_DOMAIN_MEM = 1, PYMEM_DOMAIN_OBJ = 2, METH_VARARGS = 1 };

typedef void py_object;

static struct {
	void (*get_allocator)(int, py_mem_allocator *);
	void (*set_allocator)(int, py_mem_allocator *);
	void (*get_arena)(py_arena_allocator *);
	void (*set_arena)(py_arena_allocator *);
	int (*add_audit_hook)(int (*)(const char *, py_object *, void *), void *);
	int (*is_initialized)(void);
	py_object *(*import)(const char *);
	py_object *(*getattr)(py_object *, const char *);
	int (*list_append)(py_object *, py_object *);
	py_object *(*cfunction_new)(py_method_def *, py_object *, py_object *);
	void (*decref)(py_object *);
	void (*incref)(py_object *);
	py_object *(*tuple_getitem)(py_object *, long);
	const char *(*unicode_utf8)(py_object *);
	py_object *(*dict_getitem)(py_object *, const char *);
	long (*long_as_long)(py_object *);
	void (*err_clear)(void);
	int (*debug_malloc_stats)(FILE *);
	py_object *none;
} py;

typedef struct domain {
	tf_kind malloc, calloc, realloc, free;
	py_mem_allocator orig;
} domain;

static domain mem = {TF_PY_MEM_MALLOC, TF_PY_MEM_CALLOC, TF_PY_MEM_REALLOC, TF_PY_MEM_FREE, {0}};
static domain obj = {TF_PY_OBJ_MALLOC, TF_PY_OBJ_CALLOC, TF_PY_OBJ_REALLOC, TF_PY_OBJ_FREE, {0}};
static py_arena_allocator orig_arena;
static size_t arena_size;
static char version[32];
static int gc_hooked;

/* ---- allocator domains ---- */

/* Recording around a domain call: the nested raw malloc that pymalloc may
 * make is recorded too, so tr_busy is set only around the tracer's own work,
 * not across the original call.  Domain calls are made with the GIL held,
 * so they are serialised: recording after the call keeps the global order. */
#define RECORDING (!tr_busy && tr_recording())

static void **capture(void **buf, int *k)
{
	tr_busy = 1;
	void **ips = tr_capture(buf, k);
	tr_busy = 0;
	return ips;
}

static void record(tf_kind kind, tf_alloc *a, void **ips, int k)
{
	tr_busy = 1;
	tr_event(kind, a, ips, k);
	tr_busy = 0;
}

static void *d_malloc(void *ctx, size_t n)
{
	domain *d = ctx;
	if (!RECORDING)
		return d->orig.malloc(d->orig.ctx, n);
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	void *p = d->orig.malloc(d->orig.ctx, n);
	record(d->malloc, &(tf_alloc){.addr = (uintptr_t)p, .size = n}, ips, k);
	return p;
}

static void *d_calloc(void *ctx, size_t nelem, size_t elsize)
{
	domain *d = ctx;
	if (!RECORDING)
		return d->orig.calloc(d->orig.ctx, nelem, elsize);
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	void *p = d->orig.calloc(d->orig.ctx, nelem, elsize);
	record(d->calloc, &(tf_alloc){.addr = (uintptr_t)p, .nmemb = nelem, .size = elsize}, ips,
	       k);
	return p;
}

/* A raw realloc pymalloc makes inside is recorded by the malloc-layer hook. */
static void *d_realloc(void *ctx, void *old, size_t n)
{
	domain *d = ctx;
	if (!RECORDING)
		return d->orig.realloc(d->orig.ctx, old, n);
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	void *p = d->orig.realloc(d->orig.ctx, old, n);
	record(d->realloc, &(tf_alloc){.addr = (uintptr_t)p, .old = (uintptr_t)old, .size = n},
	       ips, k);
	return p;
}

static void d_free(void *ctx, void *p)
{
	domain *d = ctx;
	if (RECORDING && p)
		record(d->free, &(tf_alloc){.addr = (uintptr_t)p}, NULL, 0);
	d->orig.free(d->orig.ctx, p);
}

/* ---- arenas ---- */

static void record_arena(tf_kind kind, void *p, size_t size)
{
	if (size != arena_size || !RECORDING)
		return;
	tr_busy = 1;
	tf_record rec = {.kind = kind};
	rec.u.arena = (tf_arena){(uintptr_t)p, size};
	tr_put(&rec);
	tr_busy = 0;
}

static void *a_alloc(void *ctx, size_t size)
{
	(void)ctx;
	void *p = orig_arena.alloc(orig_arena.ctx, size);
	record_arena(TF_ARENA_ALLOC, p, size);
	return p;
}

static void a_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	record_arena(TF_ARENA_FREE, p, size);
	orig_arena.free(orig_arena.ctx, p, size);
}

/* ---- GC callbacks ---- */

static long info_long(py_object *info, const char *key)
{
	py_object *v = py.dict_getitem(info, key); /* borrowed */
	long r = v ? py.long_as_long(v) : 0;
	if (r == -1)
		py.err_clear();
	return r < 0 ? 0 : r;
}

static py_object *gc_callback(py_object *self, py_object *args)
{
	(void)self;
	py_object *phase = py.tuple_getitem(args, 0), *info = py.tuple_getitem(args, 1);
	const char *ph = phase ? py.unicode_utf8(phase) : NULL;
	if (ph && info && tr_recording()) {
		/* read the info dict first: its lookups allocate (recorded, as all
		 * of the interpreter's requests must be) */
		tf_record rec = {.kind = strcmp(ph, "start") ? TF_GC_STOP : TF_GC_START};
		rec.u.gc = (tf_gc){(uint64_t)info_long(info, "generation"),
				   (uint64_t)info_long(info, "collected"),
				   (uint64_t)info_long(info, "uncollectable")};
		int busy = tr_busy;
		tr_busy = 1;
		tr_put(&rec);
		tr_busy = busy;
	}
	if (!ph)
		py.err_clear();
	py.incref(py.none);
	return py.none;
}

static py_method_def gc_method = {"arenatrace_gc_callback", (void *)gc_callback, METH_VARARGS,
				  NULL};

static void hook_gc(void)
{
	py_object *gc = py.import("gc");
	py_object *cbs = gc ? py.getattr(gc, "callbacks") : NULL;
	py_object *fn = cbs ? py.cfunction_new(&gc_method, NULL, NULL) : NULL;
	if (!fn || py.list_append(cbs, fn) < 0)
		py.err_clear();
	if (fn)
		py.decref(fn);
	if (cbs)
		py.decref(cbs);
	if (gc)
		py.decref(gc);
}

static int audit_hook(const char *event, py_object *args, void *data)
{
	(void)event, (void)args, (void)data;
	if (gc_hooked || !py.is_initialized())
		return 0;
	gc_hooked = 1;
	hook_gc();
	return 0;
}

/* ---- setup ---- */

#define SYM(field, name) (*(void **)&py.field = dlsym(RTLD_DEFAULT, name))

const char *tr_python_setup(void)
{
	const char *(*get_version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	SYM(get_allocator, "PyMem_GetAllocator");
	SYM(set_allocator, "PyMem_SetAllocator");
	SYM(get_arena, "PyObject_GetArenaAllocator");
	SYM(set_arena, "PyObject_SetArenaAllocator");
	SYM(add_audit_hook, "PySys_AddAuditHook");
	SYM(is_initialized, "Py_IsInitialized");
	SYM(import, "PyImport_ImportModule");
	SYM(getattr, "PyObject_GetAttrString");
	SYM(list_append, "PyList_Append");
	SYM(cfunction_new, "PyCFunction_NewEx");
	SYM(decref, "Py_DecRef");
	SYM(incref, "Py_IncRef");
	SYM(tuple_getitem, "PyTuple_GetItem");
	SYM(unicode_utf8, "PyUnicode_AsUTF8");
	SYM(dict_getitem, "PyDict_GetItemString");
	SYM(long_as_long, "PyLong_AsLong");
	SYM(err_clear, "PyErr_Clear");
	SYM(debug_malloc_stats, "_PyObject_DebugMallocStats");
	SYM(none, "_Py_NoneStruct");
	int major = 0, minor = 0;
	if (!get_version || sscanf(get_version(), "%d.%d", &major, &minor) != 2 || major != 3 ||
	    minor < 8)
		return NULL;
	void **need[] = {(void **)&py.get_allocator, (void **)&py.set_allocator,
			 (void **)&py.get_arena,     (void **)&py.set_arena,
			 (void **)&py.add_audit_hook, (void **)&py.is_initialized,
			 (void **)&py.import,        (void **)&py.getattr,
			 (void **)&py.list_append,   (void **)&py.cfunction_new,
			 (void **)&py.decref,        (void **)&py.incref,
			 (void **)&py.tuple_getitem, (void **)&py.unicode_utf8,
			 (void **)&py.dict_getitem,  (void **)&py.long_as_long,
			 (void **)&py.err_clear,     (void **)&py.none};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!*need[i])
			return NULL;
	sscanf(get_version(), "%31s", version);
	/* PYMALLOC.md §1: 256 KiB arenas up to 3.9, 1 MiB from 3.10 (64-bit) */
	arena_size = minor <= 9 || sizeof(void *) == 4 ? 256u << 10 : 1u << 20;
	py.get_allocator(PYMEM_DOMAIN_MEM, &mem.orig);
	py.get_allocator(PYMEM_DOMAIN_OBJ, &obj.orig);
	py_mem_allocator m = {&mem, d_malloc, d_calloc, d_realloc, d_free};
	py_mem_allocator o = {&obj, d_malloc, d_calloc, d_realloc, d_free};
	py.set_allocator(PYMEM_DOMAIN_MEM, &m);
	py.set_allocator(PYMEM_DOMAIN_OBJ, &o);
	py.get_arena(&orig_arena);
	py_arena_allocator a = {NULL, a_alloc, a_free};
	py.set_arena(&a);
	py.add_audit_hook(audit_hook, NULL);
	return version;
}

/* ---- exported to programs ---- */

EXPORT void arenatrace_mark(const char *label);
EXPORT void arenatrace_mark(const char *label)
{
	if (!tr_recording() || tr_busy)
		return;
	tr_busy = 1;
	tf_record rec = {.kind = TF_MARK};
	rec.u.label.label = (tf_bytes){label ? label : "", label ? strlen(label) : 0};
	tr_put(&rec);
	tr_busy = 0;
}

/* The statistics text is captured through a memfd so that nothing is
 * allocated from the traced heaps (tr_busy: whatever stdio allocates for
 * the FILE is not recorded). */
EXPORT void arenatrace_snapshot(const char *label);
EXPORT void arenatrace_snapshot(const char *label)
{
	if (!tr_recording() || tr_busy)
		return;
	tr_busy = 1;
	char *text = NULL;
	size_t len = 0;
	int fd = py.debug_malloc_stats ? memfd_create("arenatrace-stats", MFD_CLOEXEC) : -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
	if (f) {
		/* _PyObject_DebugMallocStats prints nothing unless the OBJ domain
		 * is pymalloc's own (_PyMem_PymallocEnabled): unhook it for the
		 * call.  The caller holds the GIL and the call allocates nothing. */
		py_mem_allocator hook;
		py.get_allocator(PYMEM_DOMAIN_OBJ, &hook);
		py.set_allocator(PYMEM_DOMAIN_OBJ, &obj.orig);
		py.debug_malloc_stats(f);
		py.set_allocator(PYMEM_DOMAIN_OBJ, &hook);
		fflush(f);
		long end = ftell(f);
		if (end > 0 && (text = tr_mmap_alloc(NULL, (size_t)end)) != NULL)
			len = (size_t)pread(fd, text, (size_t)end, 0);
		fclose(f);
	} else if (fd >= 0) {
		close(fd);
	}
	tf_record rec = {.kind = TF_SNAPSHOT};
	rec.u.label.label = (tf_bytes){label ? label : "", label ? strlen(label) : 0};
	rec.u.label.text = (tf_bytes){text ? text : "", text && len != (size_t)-1 ? len : 0};
	tr_put(&rec);
	tr_mmap_free(NULL, text);
	tr_busy = 0;
}

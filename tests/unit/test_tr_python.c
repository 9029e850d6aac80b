/*
 * test_tr_python.c - the tracer's CPython hooks (tracer/tr_python.c)
 * against a fake interpreter: this program exports the parts of CPython's
 * C API the hooks look up with dlsym (it is linked -rdynamic), with
 * allocator domains that count what reaches them.  Each case runs in a
 * child process of its own, as each interpreter starts once: the hooks
 * are installed, requests are made through the domains as CPython makes
 * them, and the trace the core wrote is read back.
 *
 * What a user relies on: no hooks unless this is CPython 3.8 or newer;
 * every MEM and OBJ request recorded in its domain while the allocator
 * that served it still serves it; arenas recorded at exactly the arena
 * size of the version; the allocator named before the first Python event,
 * as CPython names it, under the debug hooks too (and then what pymalloc
 * serves, the hooks' padded requests); domains replaced during
 * pre-initialisation wrapped again; GC passes recorded.
 */
#include "tr_internal.h"
#include "tr_python.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- the fake interpreter ---- */

typedef struct {
	void *ctx;
	void *(*malloc)(void *ctx, size_t size);
	void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
	void *(*realloc)(void *ctx, void *ptr, size_t new_size);
	void (*free)(void *ctx, void *ptr);
} PyMemAllocatorEx;

typedef struct {
	void *ctx;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr, size_t size);
} PyObjectArenaAllocator;

typedef struct { /* what a domain's ctx is under the debug hooks */
	char api_id;
	PyMemAllocatorEx alloc;
} debug_api;

typedef struct {
	const char *ml_name;
	void *(*ml_meth)(void *, void *);
	int ml_flags;
	const char *ml_doc;
} PyMethodDef;

/* Objects: just enough for the GC hook. */
typedef struct fobj {
	long value;            /* an int */
	const char *text;      /* a str */
	struct fobj *items[3]; /* a tuple, or a dict of generation, collected, uncollectable */
} fobj;

/* The exported API (prototypes for -Wmissing-prototypes). */
const char *Py_GetVersion(void);
void PyMem_GetAllocator(int domain, PyMemAllocatorEx *a);
void PyMem_SetAllocator(int domain, PyMemAllocatorEx *a);
void PyObject_GetArenaAllocator(PyObjectArenaAllocator *a);
void PyObject_SetArenaAllocator(PyObjectArenaAllocator *a);
const char *_PyMem_GetCurrentAllocatorName(void);
int Py_AddPendingCall(int (*fn)(void *), void *arg);
int PyGILState_Ensure(void);
void PyGILState_Release(int state);
int Py_IsInitialized(void);
int Py_AtExit(void (*fn)(void));
fobj *PyImport_ImportModule(const char *name);
fobj *PyObject_GetAttrString(fobj *o, const char *name);
int PyList_Append(fobj *list, fobj *item);
fobj *PyCFunction_NewEx(PyMethodDef *def, fobj *self, fobj *module);
void Py_DecRef(fobj *o);
void Py_IncRef(fobj *o);
fobj *PyTuple_GetItem(fobj *t, long i);
const char *PyUnicode_AsUTF8(fobj *o);
fobj *PyDict_GetItemString(fobj *d, const char *key);
long PyLong_AsLong(fobj *o);
void PyErr_Clear(void);
void *PyThreadState_GetUnchecked(void);
void *PyThreadState_GetInterpreter(void *tstate);
void *PyInterpreterState_Main(void);
extern fobj _Py_NoneStruct;
extern char _PyRuntime[];

enum { RAW, MEM, OBJ };

static struct {
	const char *version;
	const char *current_name; /* _PyMem_GetCurrentAllocatorName; NULL: unnamed */
	int initialized;
	PyMemAllocatorEx dom[3];
	PyObjectArenaAllocator arena;
	unsigned served[3];       /* requests the original allocators served */
	unsigned arenas_served;
	int (*pending)(void *);   /* Py_AddPendingCall */
	void *pending_arg;
	PyMethodDef *gc_callback; /* what the hook appended to gc.callbacks */
	void (*at_exit)(void);    /* what Py_AtExit registered (one) */
} py;

fobj _Py_NoneStruct;
static fobj gc_module, gc_callbacks, gc_function;

/* The allocators CPython starts with; ctx says which domain. */
static void *o_malloc(void *ctx, size_t n)
{
	py.served[*(int *)ctx]++;
	return malloc(n ? n : 1);
}

static void *o_calloc(void *ctx, size_t nelem, size_t elsize)
{
	py.served[*(int *)ctx]++;
	return calloc(nelem ? nelem : 1, elsize ? elsize : 1);
}

static void *o_realloc(void *ctx, void *p, size_t n)
{
	py.served[*(int *)ctx]++;
	return realloc(p, n ? n : 1);
}

static void o_free(void *ctx, void *p)
{
	py.served[*(int *)ctx]++;
	free(p);
}

/* pymalloc: another function than RAW's malloc, which is how the tracer
 * (and CPython) tells pymalloc from malloc. */
static void *o_pymalloc(void *ctx, size_t n)
{
	return o_malloc(ctx, n);
}

static int domain_ids[3] = {RAW, MEM, OBJ};

static void *a_alloc(void *ctx, size_t n)
{
	(void)ctx;
	py.arenas_served++;
	return malloc(n);
}

static void a_free(void *ctx, void *p, size_t n)
{
	(void)ctx, (void)n;
	py.arenas_served++;
	free(p);
}

/* The debug hooks: pad each request by 2 * DEBUG_PAD, as CPython's do. */
#define DEBUG_PAD 8
static debug_api apis[3];

static void *h_malloc(void *ctx, size_t n)
{
	debug_api *a = ctx;
	return a->alloc.malloc(a->alloc.ctx, n + 2 * DEBUG_PAD);
}

static void *h_calloc(void *ctx, size_t nelem, size_t elsize)
{
	debug_api *a = ctx;
	return a->alloc.malloc(a->alloc.ctx, nelem * elsize + 2 * DEBUG_PAD);
}

static void *h_realloc(void *ctx, void *p, size_t n)
{
	debug_api *a = ctx;
	return a->alloc.realloc(a->alloc.ctx, p, n + 2 * DEBUG_PAD);
}

static void h_free(void *ctx, void *p)
{
	debug_api *a = ctx;
	a->alloc.free(a->alloc.ctx, p);
}

/* How the interpreter's allocators are when the library's constructor
 * runs. */
enum { START_PYMALLOC, START_MALLOC, START_PYMALLOC_DEBUG, START_MALLOC_DEBUG };

static void fake_start(const char *version, int how)
{
	memset(&py, 0, sizeof(py));
	py.version = version;
	for (int d = RAW; d <= OBJ; d++)
		py.dom[d] = (PyMemAllocatorEx){&domain_ids[d], o_malloc, o_calloc, o_realloc, o_free};
	if (how == START_PYMALLOC || how == START_PYMALLOC_DEBUG)
		py.dom[MEM].malloc = py.dom[OBJ].malloc = o_pymalloc;
	if (how == START_PYMALLOC_DEBUG || how == START_MALLOC_DEBUG) {
		static const char ids[3] = {'r', 'm', 'o'};
		for (int d = RAW; d <= OBJ; d++) {
			apis[d] = (debug_api){ids[d], py.dom[d]};
			py.dom[d] = (PyMemAllocatorEx){&apis[d], h_malloc, h_calloc, h_realloc, h_free};
		}
	}
	py.arena = (PyObjectArenaAllocator){NULL, a_alloc, a_free};
}

/* The end of Py_FinalizeEx (its Py_AtExit functions), and a new
 * initialisation: from 3.12 it copies the runtime back from its initial
 * value, the domains and the arena allocator CPython's defaults again
 * (reset), up to 3.11 they stay as they were. */
static void fake_finalize_and_init(bool reset)
{
	void (*fn)(void) = py.at_exit;
	py.at_exit = NULL;
	py.initialized = 0;
	py.pending = NULL;
	py.gc_callback = NULL;
	if (fn)
		fn();
	if (reset) {
		for (int d = MEM; d <= OBJ; d++)
			py.dom[d] = (PyMemAllocatorEx){&domain_ids[d], o_pymalloc, o_calloc, o_realloc,
						       o_free};
		py.arena = (PyObjectArenaAllocator){NULL, a_alloc, a_free};
	}
}

const char *Py_GetVersion(void)
{
	return py.version;
}

void PyMem_GetAllocator(int domain, PyMemAllocatorEx *a)
{
	*a = py.dom[domain];
}

void PyMem_SetAllocator(int domain, PyMemAllocatorEx *a)
{
	py.dom[domain] = *a;
}

void PyObject_GetArenaAllocator(PyObjectArenaAllocator *a)
{
	*a = py.arena;
}

void PyObject_SetArenaAllocator(PyObjectArenaAllocator *a)
{
	py.arena = *a;
}

const char *_PyMem_GetCurrentAllocatorName(void)
{
	return py.current_name;
}

int Py_AddPendingCall(int (*fn)(void *), void *arg)
{
	py.pending = fn;
	py.pending_arg = arg;
	return 0;
}

int PyGILState_Ensure(void)
{
	return 1;
}

void PyGILState_Release(int state)
{
	(void)state;
}

int Py_IsInitialized(void)
{
	return py.initialized;
}

int Py_AtExit(void (*fn)(void))
{
	if (py.at_exit)
		return -1; /* the fake's list holds one */
	py.at_exit = fn;
	return 0;
}

fobj *PyImport_ImportModule(const char *name)
{
	return strcmp(name, "gc") ? NULL : &gc_module;
}

fobj *PyObject_GetAttrString(fobj *o, const char *name)
{
	return o == &gc_module && !strcmp(name, "callbacks") ? &gc_callbacks : NULL;
}

int PyList_Append(fobj *list, fobj *item)
{
	return list == &gc_callbacks && item == &gc_function ? 0 : -1;
}

fobj *PyCFunction_NewEx(PyMethodDef *def, fobj *self, fobj *module)
{
	(void)self, (void)module;
	py.gc_callback = def;
	return &gc_function;
}

void Py_DecRef(fobj *o)
{
	(void)o;
}

void Py_IncRef(fobj *o)
{
	(void)o;
}

fobj *PyTuple_GetItem(fobj *t, long i)
{
	return i >= 0 && i < 3 ? t->items[i] : NULL;
}

const char *PyUnicode_AsUTF8(fobj *o)
{
	return o->text;
}

fobj *PyDict_GetItemString(fobj *d, const char *key)
{
	static const char *keys[3] = {"generation", "collected", "uncollectable"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(key, keys[i]))
			return d->items[i];
	return NULL;
}

long PyLong_AsLong(fobj *o)
{
	return o->value;
}

void PyErr_Clear(void)
{
}

/* The preload shim's unwinder: no stacks here. */
void **tr_capture(const struct tr_ukey *from, void **buf, int *n)
{
	(void)from;
	*n = 0;
	return buf;
}

/* ---- a case in a child process, and its trace ---- */

/* In the child: a failed check says which on stderr and ends it. */
#define CHECK(x)                                                                     \
	do {                                                                         \
		if (!(x)) {                                                          \
			fprintf(stderr, "# %s:%d: %s\n", __FILE__, __LINE__, #x);    \
			_exit(1);                                                    \
		}                                                                    \
	} while (0)

static void run_child(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static char dir[64], trace[128];

static void start_trace(const char *version)
{
	snprintf(dir, sizeof(dir), "/tmp/tr-python-XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/t.atr", dir);
	tr_config c;
	memset(&c, 0, sizeof(c));
	c.follow_fork = true;
	c.depth = 1;
	snprintf(c.output, sizeof(c.output), "%s", trace);
	const char *b = getenv("ARENATRACE_BUILD"); /* tests/run.sh sets it */
	snprintf(c.drain, sizeof(c.drain), "%s/arenatrace-drain", b ? b : "build");
	CHECK(tr_start(&c, version));
}

#define MAX_SEEN 64
static tf_record seen[MAX_SEEN];
static int nseen;
static char names[4][32]; /* python_allocator records, in order */
static int nnames;
static char init_names[MAX_SEEN][32]; /* a py_init record's allocator, by its index in seen */

/* Ends the trace and reads back its Python-layer, arena, GC and
 * python_allocator records (a name is kept by its index in seen). */
static void finish_and_read(void)
{
	tr_finish(TF_END_EXIT, 0);
	tf_reader *r;
	char err[256];
	CHECK(tf_reader_open_file(&r, trace, err, sizeof(err)) == 0);
	tf_record rec;
	int rc;
	nseen = nnames = 0;
	while ((rc = tf_reader_next(r, &rec)) == 1) {
		bool keep = tf_kind_is_python_fn(rec.kind) || rec.kind == TF_ARENA_ALLOC ||
			    rec.kind == TF_ARENA_FREE || rec.kind == TF_GC_START ||
			    rec.kind == TF_GC_STOP || rec.kind == TF_PYTHON_ALLOCATOR ||
			    rec.kind == TF_PY_INIT || rec.kind == TF_HEAP;
		if (!keep)
			continue;
		CHECK(nseen < MAX_SEEN);
		if (rec.kind == TF_PYTHON_ALLOCATOR) {
			CHECK(nnames < 4);
			snprintf(names[nnames++], sizeof(names[0]), "%.*s",
				 (int)rec.u.python_allocator.len, rec.u.python_allocator.ptr);
		}
		if (rec.kind == TF_PY_INIT) { /* its bytes are the reader's: kept here */
			snprintf(init_names[nseen], sizeof(init_names[0]), "%.*s",
				 (int)rec.u.py_init.allocator.len, rec.u.py_init.allocator.ptr);
			rec.u.py_init.allocator.ptr = init_names[nseen];
		}
		seen[nseen++] = rec;
	}
	CHECK(rc == 0);
	tf_reader_free(r);
	unlink(trace);
	rmdir(dir);
}

/* Requests through a domain as the interpreter makes them. */
static void *dom_malloc(int d, size_t n)
{
	return py.dom[d].malloc(py.dom[d].ctx, n);
}

static void dom_free(int d, void *p)
{
	py.dom[d].free(py.dom[d].ctx, p);
}

/* ---- cases ---- */

static void not_cpython_3_8(void)
{
	const char *versions[] = {"2.7.18 (default, Apr 20 2020)", "3.7.17 (main)", "", "3", "4.0.0",
				  "PyPy"};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		fake_start(versions[i], START_PYMALLOC);
		PyMemAllocatorEx obj = py.dom[OBJ];
		CHECK(tr_python_setup() == NULL);
		/* nothing wrapped, nothing to watch */
		CHECK(!memcmp(&obj, &py.dom[OBJ], sizeof(obj)));
		CHECK(py.arena.alloc == a_alloc);
		CHECK(!tr_python_watch);
	}
}

static void test_not_cpython_3_8(void **state)
{
	(void)state;
	run_child(not_cpython_3_8);
}

/* CPython 3.12 with pymalloc: the version, the domains, the arenas. */
static void domains_and_arenas(void)
{
	fake_start("3.12.1 (main, Dec  1 2026, 10:00:00) [GCC 13.2.0]", START_PYMALLOC);
	const char *v = tr_python_setup();
	CHECK(v && !strcmp(v, "3.12.1"));
	CHECK(tr_python_watch); /* until the domains settle */
	start_trace(v);
	/* RAW is not the tracer's: the malloc layer records it */
	CHECK(py.dom[RAW].malloc == o_malloc);
	void *o = dom_malloc(OBJ, 40);
	CHECK(!tr_python_watch); /* the first request settled them */
	void *m = py.dom[MEM].calloc(py.dom[MEM].ctx, 3, 8);
	void *m2 = py.dom[MEM].realloc(py.dom[MEM].ctx, m, 100);
	dom_free(OBJ, o);
	dom_free(MEM, m2);
	dom_free(MEM, NULL); /* not recorded, still served */
	CHECK(py.served[OBJ] == 2 && py.served[MEM] == 4); /* CPython's allocators still serve */
	/* 1 MiB arenas from 3.10; 3.11+'s 16 KiB frame chunks are not arenas */
	void *a = py.arena.alloc(py.arena.ctx, 1 << 20);
	void *chunk = py.arena.alloc(py.arena.ctx, 16 << 10);
	py.arena.free(py.arena.ctx, chunk, 16 << 10);
	py.arena.free(py.arena.ctx, a, 1 << 20);
	CHECK(py.arenas_served == 4);
	finish_and_read();
	CHECK(nseen == 8);
	CHECK(seen[0].kind == TF_PYTHON_ALLOCATOR && !strcmp(names[0], "pymalloc"));
	CHECK(seen[1].kind == TF_PY_OBJ_MALLOC && seen[1].u.alloc.size == 40 &&
	      seen[1].u.alloc.addr == (uintptr_t)o);
	CHECK(seen[2].kind == TF_PY_MEM_CALLOC && seen[2].u.alloc.nmemb == 3 &&
	      seen[2].u.alloc.size == 8 && seen[2].u.alloc.addr == (uintptr_t)m);
	CHECK(seen[3].kind == TF_PY_MEM_REALLOC && seen[3].u.alloc.old == (uintptr_t)m &&
	      seen[3].u.alloc.addr == (uintptr_t)m2 && seen[3].u.alloc.size == 100);
	CHECK(seen[4].kind == TF_PY_OBJ_FREE && seen[4].u.alloc.addr == (uintptr_t)o);
	CHECK(seen[5].kind == TF_PY_MEM_FREE && seen[5].u.alloc.addr == (uintptr_t)m2);
	CHECK(seen[6].kind == TF_ARENA_ALLOC && seen[6].u.arena.addr == (uintptr_t)a &&
	      seen[6].u.arena.size == 1 << 20);
	CHECK(seen[7].kind == TF_ARENA_FREE && seen[7].u.arena.addr == (uintptr_t)a);
}

static void test_domains_and_arenas(void **state)
{
	(void)state;
	run_child(domains_and_arenas);
}

/* Up to 3.9 arenas are 256 KiB. */
static void arenas_3_9(void)
{
	fake_start("3.9.18 (main)", START_PYMALLOC);
	start_trace(tr_python_setup());
	void *big = py.arena.alloc(py.arena.ctx, 1 << 20);
	void *a = py.arena.alloc(py.arena.ctx, 256 << 10);
	py.arena.free(py.arena.ctx, a, 256 << 10);
	py.arena.free(py.arena.ctx, big, 1 << 20);
	finish_and_read();
	CHECK(nseen == 2);
	CHECK(seen[0].kind == TF_ARENA_ALLOC && seen[0].u.arena.size == 256 << 10);
	CHECK(seen[1].kind == TF_ARENA_FREE && seen[1].u.arena.addr == (uintptr_t)a);
}

static void test_arenas_3_9(void **state)
{
	(void)state;
	run_child(arenas_3_9);
}

/* What served the domains at start, as CPython names it. */
static void named(int how, const char *want)
{
	fake_start("3.11.9", how);
	start_trace(tr_python_setup());
	dom_free(OBJ, dom_malloc(OBJ, 1));
	finish_and_read();
	CHECK(nnames == 1 && !strcmp(names[0], want));
	CHECK(seen[0].kind == TF_PYTHON_ALLOCATOR); /* before the first Python event */
}

static void named_malloc(void)
{
	named(START_MALLOC, "malloc"); /* OBJ's functions are RAW's */
}

static void named_pymalloc_debug(void)
{
	named(START_PYMALLOC_DEBUG, "pymalloc_debug");
}

static void named_malloc_debug(void)
{
	named(START_MALLOC_DEBUG, "malloc_debug");
}

static void test_allocator_names(void **state)
{
	(void)state;
	run_child(named_malloc);
	run_child(named_pymalloc_debug);
	run_child(named_malloc_debug);
}

/* Under the debug hooks the wrapper sits between them and pymalloc: the
 * domain keeps its hooks, and what is recorded is what pymalloc serves. */
static void under_debug_hooks(void)
{
	fake_start("3.13.0", START_PYMALLOC_DEBUG);
	start_trace(tr_python_setup());
	CHECK(py.dom[OBJ].malloc == h_malloc && py.dom[OBJ].ctx == &apis[OBJ]);
	CHECK(apis[OBJ].alloc.malloc != o_pymalloc); /* the tracer's, in the hooks' slot */
	void *p = dom_malloc(OBJ, 10);
	dom_free(OBJ, p);
	CHECK(py.served[OBJ] == 2);
	finish_and_read();
	CHECK(nseen == 3);
	CHECK(seen[1].kind == TF_PY_OBJ_MALLOC && seen[1].u.alloc.size == 10 + 2 * DEBUG_PAD);
	CHECK(seen[2].kind == TF_PY_OBJ_FREE && seen[2].u.alloc.addr == seen[1].u.alloc.addr);
}

static void test_under_debug_hooks(void **state)
{
	(void)state;
	run_child(under_debug_hooks);
}

/* Pre-initialisation replaces the domains (PYTHONMALLOC=malloc) before the
 * interpreter's first request: the malloc wrappers' look finds OBJ changed,
 * and the tracer wraps what replaced it, named as CPython names it. */
static void replaced_at_preinit(void)
{
	fake_start("3.12.1", START_PYMALLOC);
	start_trace(tr_python_setup());
	tr_python_settle(); /* a malloc before the change: nothing to do */
	CHECK(tr_python_watch);
	PyMemAllocatorEx plain = {&domain_ids[MEM], o_malloc, o_calloc, o_realloc, o_free};
	PyMem_SetAllocator(MEM, &plain);
	plain.ctx = &domain_ids[OBJ];
	PyMem_SetAllocator(OBJ, &plain);
	py.current_name = "malloc";
	tr_python_settle(); /* the next malloc's look */
	CHECK(!tr_python_watch);
	CHECK(py.dom[OBJ].malloc != o_malloc && py.dom[MEM].malloc != o_malloc); /* wrapped */
	void *p = dom_malloc(OBJ, 24);
	dom_free(OBJ, p);
	void *q = dom_malloc(MEM, 8);
	dom_free(MEM, q);
	CHECK(py.served[OBJ] == 2 && py.served[MEM] == 2); /* by the replacement */
	tr_python_settle(); /* settled: no second record */
	finish_and_read();
	CHECK(nnames == 1 && !strcmp(names[0], "malloc"));
	CHECK(nseen == 5 && seen[0].kind == TF_PYTHON_ALLOCATOR);
	CHECK(seen[1].kind == TF_PY_OBJ_MALLOC && seen[1].u.alloc.size == 24);
	CHECK(seen[3].kind == TF_PY_MEM_MALLOC && seen[3].u.alloc.size == 8);
}

static void test_replaced_at_preinit(void **state)
{
	(void)state;
	run_child(replaced_at_preinit);
}

/* Once the interpreter is initialised the next request queues the GC hook,
 * which appends a callback to gc.callbacks; CPython calls it at the start
 * and the stop of each pass. */
static void gc_passes(void)
{
	fake_start("3.10.12", START_PYMALLOC);
	start_trace(tr_python_setup());
	dom_free(OBJ, dom_malloc(OBJ, 8));
	CHECK(!py.pending); /* not before the interpreter is initialised */
	py.initialized = 1;
	dom_free(OBJ, dom_malloc(OBJ, 8));
	CHECK(py.pending);
	CHECK(py.pending(py.pending_arg) == 0); /* the main thread, between two bytecodes */
	CHECK(py.gc_callback && py.gc_callback->ml_meth);
	fobj gen = {.value = 2}, collected = {.value = 7}, unc = {.value = 1}, zero = {.value = 0};
	fobj start = {.text = "start"}, stop = {.text = "stop"};
	fobj info_start = {.items = {&gen, &zero, &zero}}, info_stop = {.items = {&gen, &collected, &unc}};
	fobj args_start = {.items = {&start, &info_start}}, args_stop = {.items = {&stop, &info_stop}};
	CHECK(py.gc_callback->ml_meth(NULL, &args_start) == &_Py_NoneStruct);
	CHECK(py.gc_callback->ml_meth(NULL, &args_stop) == &_Py_NoneStruct);
	finish_and_read();
	CHECK(nseen == 7);
	CHECK(seen[5].kind == TF_GC_START && seen[5].u.gc.generation == 2);
	CHECK(seen[6].kind == TF_GC_STOP && seen[6].u.gc.generation == 2 &&
	      seen[6].u.gc.collected == 7 && seen[6].u.gc.uncollectable == 1);
}

static void test_gc_passes(void **state)
{
	(void)state;
	run_child(gc_passes);
}

/* The interpreter initialised again (tracer/tr_python.c, "initialised
 * again"): the pending call registers a Py_AtExit function, which arms the
 * malloc wrappers' look.  From 3.12 the new initialisation finds the
 * domains and the arena allocator reset: they are wrapped again before its
 * first request, which comes after a py_init record; up to 3.11 the
 * wrappers stay, and the first request through them writes the record.
 * Either way the GC hook is asked for again, and each round's requests
 * are recorded. */
static void initialised_again(const char *version, bool reset, bool malloc_later)
{
	fake_start(version, START_PYMALLOC);
	py.current_name = "pymalloc";
	start_trace(tr_python_setup());
	for (unsigned round = 1; round <= 3; round++) {
		if (round > 1) {
			fake_finalize_and_init(reset);
			CHECK(tr_python_watch);
			tr_python_look_free(); /* a free looks not: 3.12 frees the lock then */
			CHECK(!reset || py.dom[OBJ].malloc == o_pymalloc);
			tr_python_look(); /* a malloc of the new initialisation */
			CHECK(py.dom[OBJ].malloc != o_pymalloc); /* the tracer's, again */
			CHECK(py.arena.alloc != a_alloc);
			if (malloc_later) { /* its pre-initialisation: PYTHONMALLOC=malloc */
				PyMemAllocatorEx plain = {&domain_ids[MEM], o_malloc, o_calloc,
							  o_realloc, o_free};
				PyMem_SetAllocator(MEM, &plain);
				plain.ctx = &domain_ids[OBJ];
				PyMem_SetAllocator(OBJ, &plain);
				py.current_name = "malloc";
				tr_python_look();
				CHECK(py.dom[OBJ].malloc != o_malloc); /* wrapped once more */
			}
		}
		dom_free(OBJ, dom_malloc(OBJ, 8 * round));
		CHECK(!tr_python_watch);
		py.initialized = 1;
		dom_free(MEM, dom_malloc(MEM, 100 * round));
		CHECK(py.pending); /* the GC hook, each round */
		CHECK(py.pending(py.pending_arg) == 0);
		CHECK(py.gc_callback && py.at_exit);
		void *a = py.arena.alloc(py.arena.ctx, 1 << 20);
		py.arena.free(py.arena.ctx, a, 1 << 20);
	}
	CHECK(py.served[OBJ] == 6 && py.served[MEM] == 6 && py.arenas_served == 6);
	finish_and_read();
	CHECK(nnames == 1 && nseen == 1 + 3 * 6 + 2);
	const char *later = malloc_later ? "malloc" : "pymalloc";
	int k = 1;
	for (unsigned round = 1; round <= 3; round++) {
		if (round > 1) {
			CHECK(seen[k].kind == TF_PY_INIT && seen[k].u.py_init.number == round);
			CHECK(seen[k].u.py_init.allocator.len == strlen(later) &&
			      !memcmp(seen[k].u.py_init.allocator.ptr, later, strlen(later)));
			k++;
		}
		CHECK(seen[k].kind == TF_PY_OBJ_MALLOC && seen[k].u.alloc.size == 8 * round);
		CHECK(seen[k + 2].kind == TF_PY_MEM_MALLOC && seen[k + 2].u.alloc.size == 100 * round);
		CHECK(seen[k + 4].kind == TF_ARENA_ALLOC && seen[k + 5].kind == TF_ARENA_FREE);
		k += 6;
	}
}

static void initialised_again_3_12(void)
{
	initialised_again("3.12.1", true, false);
}

static void initialised_again_3_11(void)
{
	initialised_again("3.11.7", false, false);
}

/* 3.13 with PYTHONMALLOC=malloc set before the second initialisation: the
 * reset domains, then malloc's, each wrapped; py_init names malloc. */
static void initialised_again_malloc(void)
{
	initialised_again("3.13.0", true, true);
}

static void test_initialised_again(void **state)
{
	(void)state;
	run_child(initialised_again_3_12);
	run_child(initialised_again_3_11);
	run_child(initialised_again_malloc);
}

/* ---- subinterpreters' heaps (3.12+) ----
 * The fake runtime: _PyRuntime with its main interpreter and the head of
 * its list of interpreters where tracer/tr_pylayout.h says, interpreters
 * and thread states as bytes at those offsets; this thread's state is
 * what PyThreadState_GetUnchecked answers (NULL: none, as in the other
 * cases, which then never see a heap record). */
#define FAKE_INTERP 16384 /* bytes of a fake PyInterpreterState, past every offset */
char _PyRuntime[131072] __attribute__((aligned(64)));
static char *fake_tstate;
static char *fake_main; /* PyInterpreterState_Main's answer */

void *PyThreadState_GetUnchecked(void)
{
	return fake_tstate;
}

void *PyThreadState_GetInterpreter(void *tstate)
{
	return *(void **)((char *)tstate + 16);
}

void *PyInterpreterState_Main(void)
{
	return fake_main;
}

#define PUT(p, off, type, v) (*(type *)((char *)(p) + (off)) = (v))

/* A thread on interpreter interp; for 3.13 obmalloc points at state, for
 * 3.12 the state is in the interpreter and legacy sets use_main_obmalloc. */
static char tstate_on[64] __attribute__((aligned(8)));
static void run_on(char *interp)
{
	PUT(tstate_on, 16, char *, interp); /* ts_interp, 3.12 and 3.13 */
	fake_tstate = tstate_on;
}

static void heaps_seen(int *n, uint64_t *states, uint64_t *blocks)
{
	*n = 0;
	for (int i = 0; i < nseen; i++)
		if (seen[i].kind == TF_HEAP) {
			states[*n] = seen[i].u.heap.state;
			blocks[*n] = seen[i].u.heap.block;
			(*n)++;
		}
}

/* Before another interpreter exists, no heap record; a request on an
 * isolated subinterpreter's state gets one before it, naming the state and
 * the block that ends it, once; back on the main interpreter one naming
 * it (0); a legacy subinterpreter, on the main state, none; an arena of a
 * subinterpreter comes after its heap record. */
static void heaps_of(const char *version, bool state_ptr, bool layout_right)
{
	static char sub[FAKE_INTERP] __attribute__((aligned(64)));
	static char legacy[FAKE_INTERP] __attribute__((aligned(64)));
	static char sub_state[256] __attribute__((aligned(64)));
	static char main_state[256] __attribute__((aligned(64)));
	const uint32_t head = state_ptr ? 632 : 40, mainoff = state_ptr ? 88352 : 76392;
	const uint32_t flags = state_ptr ? 8440 : 1712, obm = state_ptr ? 10800 : 3960;
	char *main_interp = _PyRuntime + mainoff;
	fake_main = layout_right ? main_interp : _PyRuntime + 64; /* elsewhere: another layout */
	memset(_PyRuntime, 0, sizeof(_PyRuntime));
	memset(sub, 0, sizeof(sub));
	memset(legacy, 0, sizeof(legacy));
	PUT(_PyRuntime, head, char *, main_interp);
	if (state_ptr) {
		PUT(main_interp, obm, char *, main_state);
		PUT(sub, obm, char *, sub_state);
		PUT(legacy, obm, char *, main_state);
	} else {
		PUT(legacy, flags, unsigned long, 1ul << 5);
	}
	fake_start(version, START_PYMALLOC);
	start_trace(tr_python_setup());
	run_on(main_interp);
	dom_free(OBJ, dom_malloc(OBJ, 8));
	PUT(_PyRuntime, head, char *, sub); /* a subinterpreter exists */
	dom_free(OBJ, dom_malloc(OBJ, 8)); /* still on the main one */
	run_on(sub);
	void *a = py.arena.alloc(py.arena.ctx, 1 << 20);
	void *o = dom_malloc(OBJ, 16);
	dom_free(OBJ, o);
	run_on(main_interp);
	dom_free(MEM, dom_malloc(MEM, 24));
	run_on(legacy);
	dom_free(OBJ, dom_malloc(OBJ, 8));
	run_on(sub);
	py.arena.free(py.arena.ctx, a, 1 << 20);
	fake_tstate = NULL; /* no thread state: as it was */
	dom_free(OBJ, dom_malloc(OBJ, 8));
	finish_and_read();
	int n;
	uint64_t states[8], blocks[8];
	heaps_seen(&n, states, blocks);
	if (!layout_right) { /* found wrong: never looked at again, no record */
		CHECK(n == 0 && nseen == 15);
		return;
	}
	const uint64_t want = state_ptr ? (uintptr_t)sub_state : (uintptr_t)sub + obm;
	const uint64_t block = state_ptr ? (uintptr_t)sub_state : (uintptr_t)sub;
	/* the legacy interpreter's requests were the main state's, and the
	 * last, with no thread state, the heap's the thread was on */
	CHECK(n == 3 && nseen == 18);
	CHECK(states[0] == want && blocks[0] == block);
	CHECK(states[1] == 0 && blocks[1] == 0);
	CHECK(states[2] == want && blocks[2] == block);
	/* where they are: the first before the arena, after the main's four */
	CHECK(seen[5].kind == TF_HEAP && seen[6].kind == TF_ARENA_ALLOC);
	CHECK(seen[7].kind == TF_PY_OBJ_MALLOC && seen[8].kind == TF_PY_OBJ_FREE);
	CHECK(seen[9].kind == TF_HEAP && seen[10].kind == TF_PY_MEM_MALLOC);
	CHECK(seen[12].kind == TF_PY_OBJ_MALLOC && seen[13].kind == TF_PY_OBJ_FREE);
	CHECK(seen[14].kind == TF_HEAP && seen[15].kind == TF_ARENA_FREE);
	CHECK(seen[5].u.heap.tid == seen[7].thread);
}

static void heaps_3_12(void)
{
	heaps_of("3.12.1 (main)", false, true);
}

static void heaps_3_13(void)
{
	heaps_of("3.13.0 (main)", true, true);
}

/* A build whose runtime is not where the table says (the interpreter's
 * own PyInterpreterState_Main answers otherwise): no heap record. */
static void heaps_other_layout(void)
{
	heaps_of("3.13.0 (main)", true, false);
}

/* Before 3.12 every interpreter shares the main one's state: whatever the
 * runtime holds, no heap record. */
static void heaps_3_11(void)
{
	memset(_PyRuntime, 0xab, sizeof(_PyRuntime));
	fake_start("3.11.7 (main)", START_PYMALLOC);
	start_trace(tr_python_setup());
	fake_tstate = tstate_on;
	dom_free(OBJ, dom_malloc(OBJ, 8));
	finish_and_read();
	int n;
	uint64_t states[8], blocks[8];
	heaps_seen(&n, states, blocks);
	CHECK(n == 0 && nseen == 3);
}

static void test_heaps(void **state)
{
	(void)state;
	run_child(heaps_3_12);
	run_child(heaps_3_13);
	run_child(heaps_3_11);
	run_child(heaps_other_layout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_cpython_3_8),
	    cmocka_unit_test(test_domains_and_arenas),
	    cmocka_unit_test(test_arenas_3_9),
	    cmocka_unit_test(test_allocator_names),
	    cmocka_unit_test(test_under_debug_hooks),
	    cmocka_unit_test(test_initialised_again),
	    cmocka_unit_test(test_replaced_at_preinit),
	    cmocka_unit_test(test_gc_passes),
	    cmocka_unit_test(test_heaps),
	};
	return cmocka_run_group_tests_name("tr_python", tests, NULL, NULL);
}

/*
 * tr_python.c - CPython recording (allocator/MODEL.md §4, §9, §12).
 *
 * When the process exports CPython 3.8+'s allocator API (found with dlsym:
 * libpython is never linked):
 *  - the MEM and OBJ allocator domains are wrapped, chaining to what served
 *    them, so pymalloc keeps doing the work and every request is recorded
 *    with its domain (py_mem_* / py_obj_* records); requests pymalloc hands
 *    to raw malloc also appear as malloc-layer events.  Under CPython's
 *    debug hooks (-X dev, PYTHONMALLOC=debug) the wrapper sits between the
 *    hooks and the allocator they wrap: what is recorded is what pymalloc
 *    serves, the hooks' padded requests, so that the model sees the same.
 *  - When: the library constructor, which runs before the interpreter
 *    starts, wraps the domains as they are (the interpreter's built-in
 *    default).  Pre-initialisation may replace them (PYTHONMALLOC, dev
 *    mode), and allocates only through the RAW domain, that is C malloc:
 *    so until the interpreter's first MEM/OBJ request the malloc-family
 *    wrappers call tr_python_settle(), which looks whether OBJ is still
 *    as the tracer left it and, if not, wraps what replaced it.  That
 *    re-wrap, or the first request through the constructor's wrapper,
 *    settles the domains: a python_allocator record names what serves
 *    them, before the first Python-layer event.
 *  - the arena allocator is wrapped (PyObject_SetArenaAllocator, left alone
 *    by pre-initialisation); requests of exactly the arena size of this
 *    version are pymalloc arenas (3.11+ also allocates thread frame-stack
 *    chunks of 16 KiB and up through it: those are not recorded as arenas);
 *  - the first request after Py_IsInitialized() queues a pending call
 *    (Py_AddPendingCall), which the main thread runs at a bytecode
 *    boundary, a safe point: it appends a C callback to gc.callbacks,
 *    which records gc_start / gc_stop with generation, collected,
 *    uncollectable, and registers one with atexit, which records
 *    py_finalize when the interpreter begins to finalise (atexit runs
 *    the tracer's last, after the program's own handlers);
 *  - an interpreter finalised and initialised again is followed: a
 *    Py_AtExit function arms the look of the malloc-family wrappers again,
 *    the domains and the arena allocator are wrapped again where the new
 *    initialisation reset them, and its first request writes py_init
 *    (see ---- initialised again ----);
 *  - from 3.12, isolated subinterpreters have an obmalloc state (heap) of
 *    their own: before a Python-layer request or arena record of a thread
 *    whose heap is not the one its last such record was for, a heap
 *    record names it (tr_pylayout.h says how pymalloc finds it).  While no
 *    interpreter but the main one has ever existed, that costs one load
 *    and compare (heap_check).
 * It also exports arenatrace_snapshot(label), which records a snapshot with
 * the text of _PyObject_DebugMallocStats at that point (taking the GIL),
 * and arenatrace_mark(label).
 *
 * Invariants: the allocator a wrapper chains to keeps serving its domain
 * (the wrapper only records); a request is recorded after the call and a
 * free before it, and domain calls hold the GIL, so the Python layer is in
 * the order of the calls; the python_allocator record precedes the first
 * Python-layer event of every trace (a forked child's too); nothing here
 * allocates from the traced heaps, and tr_busy is set only around the
 * tracer's own work, so that pymalloc's own calls to malloc are recorded.
 */
#include "tr_internal.h"
#include "tr_pylayout.h"
#include "tr_python.h"
#include "tr_ucache.h"
#include "tr_pystack.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

/* CPython's debug hooks (PYTHONMALLOC=debug, -X dev): the ctx of a hooked
 * domain points at one of these, and alloc is the allocator the hooks
 * wrap (Objects/obmalloc.c, the same from 3.8 to 3.13). */
typedef struct {
	char api_id; /* 'r', 'm', 'o': the domain */
	py_mem_allocator alloc;
} py_debug_api;

typedef struct {
	const char *ml_name;
	void *ml_meth;
	int ml_flags;
	const char *ml_doc;
} py_method_def;

enum { PYMEM_DOMAIN_RAW = 0, PYMEM_DOMAIN_MEM = 1, PYMEM_DOMAIN_OBJ = 2, METH_VARARGS = 1 };

typedef void py_object;

static struct {
	void (*get_allocator)(int, py_mem_allocator *);
	void (*set_allocator)(int, py_mem_allocator *);
	void (*get_arena)(py_arena_allocator *);
	void (*set_arena)(py_arena_allocator *);
	const char *(*allocator_name)(void); /* _PyMem_GetCurrentAllocatorName, may be NULL */
	int (*add_pending_call)(int (*)(void *), void *);
	int (*gil_ensure)(void);
	void (*gil_release)(int);
	int (*is_finalizing)(void); /* may be NULL */
	int (*is_initialized)(void);
	int (*at_exit)(void (*)(void)); /* Py_AtExit */
	py_object *(*import)(const char *);
	py_object *(*getattr)(py_object *, const char *);
	int (*list_append)(py_object *, py_object *);
	py_object *(*cfunction_new)(py_method_def *, py_object *, py_object *);
	py_object *(*tuple_pack)(long n, ...);
	py_object *(*call_object)(py_object *callable, py_object *args);
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
	int id;       /* PYMEM_DOMAIN_* */
	char api_id;  /* its debug hooks' id */
	tf_kind malloc, calloc, realloc, free;
	py_mem_allocator orig;   /* what the wrapper chains to */
	py_mem_allocator *inner; /* the debug hooks' slot the wrapper sits in; NULL: the domain */
	py_mem_allocator top;    /* the domain as the wrapper left it */
} domain;

static domain mem = {PYMEM_DOMAIN_MEM, 'm', TF_PY_MEM_MALLOC, TF_PY_MEM_CALLOC,
		     TF_PY_MEM_REALLOC, TF_PY_MEM_FREE, {0}, NULL, {0}};
static domain obj = {PYMEM_DOMAIN_OBJ, 'o', TF_PY_OBJ_MALLOC, TF_PY_OBJ_CALLOC,
		     TF_PY_OBJ_REALLOC, TF_PY_OBJ_FREE, {0}, NULL, {0}};
static py_arena_allocator orig_arena;
static size_t arena_size;
/* allocator/MODEL.md §1: 256 KiB arenas up to 3.9 (and on 32-bit), 1 MiB from 3.10 */
#define ARENA_SIZE_TO_3_9 (256u << 10)
#define ARENA_SIZE (1u << 20)
#define VERSION_MAX 31
#define STR(x) STR_(x)
#define STR_(x) #x
static char version[VERSION_MAX + 1]; /* set once the hooks are in: this is CPython 3.8+ */
static char allocator[24];            /* the python_allocator record's name */
static const char debug_suffix[] = "_debug"; /* of an allocator name under the debug hooks */

/* What the domain wrappers still have to do before recording (see
 * first_requests); 0 soon after the interpreter starts.  P_REINIT: the
 * interpreter finalised, and the next initialisation (if any) has not
 * made its first request yet (see ---- initialised again ----). */
enum { P_SETTLE = 1, P_ANNOUNCE = 2, P_GC = 4, P_REINIT = 8 };
static int pending;
int tr_python_watch;  /* TR_WATCH_*, read by the malloc-family wrappers */
static int settling;  /* a spinlock over wrapping, settling and announcing */
static unsigned inits = 1; /* the initialisations seen: the py_init record's number */

/* ---- allocator domains ---- */

/* Recording around a domain call: the nested raw malloc that pymalloc may
 * make is recorded too, so tr_busy is set only around the tracer's own work,
 * not across the original call.  Domain calls are made with the GIL held,
 * so they are serialised: recording after the call keeps the global order. */
#define RECORDING (!tr_busy && tr_recording())

/* ---- heaps: whose obmalloc state a request is for (3.12+) ----
 * heap_watch points at _PyRuntime.interpreters.head, which is the main
 * interpreter (heap_expect) while no other interpreter exists; before
 * 3.12 (one state for all) at heap_quiet, which never differs.  Once a
 * thread's heap has been another interpreter's, heap_expect is a value
 * head never has, and every request looks (heap_changed): a thread that
 * goes back to the main interpreter's heap must say so.  tls_heap is the
 * heap the thread's last record was for: 0, the main interpreter's, at
 * the start of every trace. */
static const uintptr_t heap_quiet = 0;
static const uintptr_t *heap_watch = &heap_quiet;
static uintptr_t heap_expect;
#define HEAP_LOOK_ALWAYS ((uintptr_t)1) /* no interpreter lives at address 1 */
static const tr_pyheap_layout *HL;
static char *runtime;                  /* &_PyRuntime */
static void *(*heap_tstate)(void);     /* this thread's current state, or NULL */
static void *(*ts_interp_of)(void *);  /* PyThreadState_GetInterpreter */
static void *(*main_interp_of)(void);  /* PyInterpreterState_Main */
static int heap_checked;               /* the layout was found right (1) or wrong (-1) */
static __thread uintptr_t tls_heap __attribute__((tls_model("initial-exec")));

#define FIELD(p, off, type) (*(type *)((char *)(p) + (off)))

/* The thread's heap as pymalloc's get_state() finds it: 0 for the main
 * interpreter's; 1 when there is none to tell (no thread state, a state
 * not set up yet or gone), which leaves the thread's heap as it was.
 * *block is the malloc-family block whose free ends it: the interpreter
 * in 3.12 (PyMem_RawCalloc'd, the state inside), the state in 3.13 (one
 * of its own). */
static uintptr_t heap_now(uintptr_t *block)
{
	void *ts = heap_tstate();
	char *interp = ts ? FIELD(ts, HL->ts_interp, char *) : NULL;
	if (!interp)
		return 1;
	char *main = runtime + HL->rt_main_interp;
	uintptr_t state, main_state;
	if (HL->state_ptr) {
		state = FIELD(interp, HL->is_obmalloc, uintptr_t);
		main_state = FIELD(main, HL->is_obmalloc, uintptr_t);
	} else {
		bool own = interp == main || !(FIELD(interp, HL->is_feature_flags, unsigned long) &
					       TR_RTFLAGS_USE_MAIN_OBMALLOC);
		state = (uintptr_t)(own ? interp : main) + HL->is_obmalloc;
		main_state = (uintptr_t)main + HL->is_obmalloc;
	}
	if (!state)
		return 1;
	*block = HL->state_ptr ? state : state - HL->is_obmalloc;
	return state == main_state ? 0 : state;
}

/* The first time there is a thread state to look at: whether the layout is
 * this interpreter's, as its own functions (without side effects) answer
 * for the thread's interpreter and the main one.  If not (a build the
 * table does not describe), heaps are not looked at again. */
static bool heap_layout_ok(void)
{
	int c = __atomic_load_n(&heap_checked, __ATOMIC_ACQUIRE);
	if (c)
		return c > 0;
	void *ts = heap_tstate();
	void *m = main_interp_of();
	if (!ts || !m)
		return false; /* not yet: no record either */
	bool ok = ts_interp_of(ts) == FIELD(ts, HL->ts_interp, void *) &&
		  m == runtime + HL->rt_main_interp;
	if (!ok) {
		__atomic_store_n(&heap_watch, &heap_quiet, __ATOMIC_RELAXED);
		__atomic_store_n(&heap_expect, 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&heap_checked, ok ? 1 : -1, __ATOMIC_RELEASE);
	return ok;
}

static __attribute__((noinline, cold)) void heap_changed(void)
{
	if (!heap_layout_ok())
		return;
	uintptr_t block = 0, h = heap_now(&block);
	if (h == 1 || h == tls_heap)
		return;
	if (h)
		__atomic_store_n(&heap_expect, HEAP_LOOK_ALWAYS, __ATOMIC_RELAXED);
	tls_heap = h;
	int e = errno; /* the request's, for the program */
	tf_record rec = {.kind = TF_HEAP};
	int lk = tr_lock();
	rec.u.heap = (tf_heap){tr_thread_id_locked(), h, h ? block : 0};
	tr_put_locked(&rec);
	tr_unlock(lk);
	tr_after_unlock();
	errno = e;
}

/* Before a Python-layer record, with tr_busy set. */
static inline void heap_check(void)
{
	const uintptr_t *watch = __atomic_load_n(&heap_watch, __ATOMIC_RELAXED);
	if (__builtin_expect(__atomic_load_n(watch, __ATOMIC_RELAXED) !=
				     __atomic_load_n(&heap_expect, __ATOMIC_RELAXED),
			     0))
		heap_changed();
}

static void heap_setup(int minor)
{
	HL = tr_pyheap_of(minor);
	runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
	if (!(*(void **)&heap_tstate = dlsym(RTLD_DEFAULT, "PyThreadState_GetUnchecked")))
		*(void **)&heap_tstate = dlsym(RTLD_DEFAULT, "_PyThreadState_UncheckedGet");
	*(void **)&ts_interp_of = dlsym(RTLD_DEFAULT, "PyThreadState_GetInterpreter");
	*(void **)&main_interp_of = dlsym(RTLD_DEFAULT, "PyInterpreterState_Main");
	/* debug builds lay the states out otherwise (as tr_pystack.c finds them) */
	bool debug = dlsym(RTLD_DEFAULT, "_Py_RefTotal") || dlsym(RTLD_DEFAULT, "_Py_GetRefTotal") ||
		     dlsym(RTLD_DEFAULT, "_Py_GetGlobalRefTotal");
	if (!HL || !runtime || !heap_tstate || !ts_interp_of || !main_interp_of || debug ||
	    sizeof(void *) != 8)
		return; /* before 3.12: one heap for every interpreter */
	heap_expect = (uintptr_t)(runtime + HL->rt_main_interp);
	heap_watch = (const uintptr_t *)(runtime + HL->rt_interp_head);
}

/* Inlined into the hooks: the stack cache's key is where the interpreter
 * called the hook from (tr_ucache.h). */
static inline __attribute__((always_inline)) void **capture(void **buf, int *k)
{
	tr_busy = 1;
	void **ips = tr_capture(&TR_UKEY_HERE(), buf, k);
	tr_busy = 0;
	return ips;
}

static void record(tf_kind kind, tf_alloc *a, void **ips, int k)
{
	tr_busy = 1;
	heap_check();
	tr_event(kind, a, ips, k);
	tr_busy = 0;
}

/* Before a request is recorded: one flag test, once the first requests
 * have done what they had to. */
static void first_requests(void);
static inline void before_request(void)
{
	if (__builtin_expect(__atomic_load_n(&pending, __ATOMIC_RELAXED), 0))
		first_requests();
}

static void *d_malloc(void *ctx, size_t n)
{
	domain *d = ctx;
	if (!RECORDING)
		return d->orig.malloc(d->orig.ctx, n);
	before_request();
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
	before_request();
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
	before_request();
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
	if (RECORDING && p) {
		before_request();
		record(d->free, &(tf_alloc){.addr = (uintptr_t)p}, NULL, 0);
	}
	d->orig.free(d->orig.ctx, p);
}

/* ---- arenas ---- */

static void record_arena(tf_kind kind, void *p, size_t size)
{
	if (!RECORDING)
		return;
	tr_busy = 1;
	heap_check();
	tf_record rec = {.kind = kind};
	rec.u.arena = (tf_arena){(uintptr_t)p, size};
	tr_put(&rec);
	tr_busy = 0;
}

/* 3.11+ also takes the threads' frame-stack chunks from the arena
 * allocator (through _PyObject_VirtualAlloc), in powers of two from
 * 16 KiB: a function with some 70,000 locals gets a chunk of exactly the
 * arena size.  pymalloc's new_arena calls the allocator from one place,
 * and its first arena comes before any chunk that large, so an
 * arena-sized request is an arena when it returns there (arena_caller,
 * the first one's return address).  The chunks of that size are noted
 * (at most CHUNKS_NOTED at once: beyond, their frees are taken for
 * arenas'), so that their frees are not recorded either.  All under the
 * GIL, which the arena allocator's callers hold. */
#define CHUNKS_NOTED 64
static void *arena_caller;
static void *big_chunks[CHUNKS_NOTED];

static void note_chunk(void *p)
{
	for (int i = 0; i < CHUNKS_NOTED; i++)
		if (!big_chunks[i]) {
			big_chunks[i] = p;
			return;
		}
}

static bool was_chunk(void *p)
{
	for (int i = 0; p && i < CHUNKS_NOTED; i++)
		if (big_chunks[i] == p) {
			big_chunks[i] = NULL;
			return true;
		}
	return false;
}

static __attribute__((noinline)) void *a_alloc(void *ctx, size_t size)
{
	(void)ctx;
	void *caller = __builtin_return_address(0);
	void *p = orig_arena.alloc(orig_arena.ctx, size);
	if (size != arena_size)
		return p;
	if (!arena_caller)
		arena_caller = caller;
	if (caller == arena_caller)
		record_arena(TF_ARENA_ALLOC, p, size);
	else if (p)
		note_chunk(p);
	return p;
}

static void a_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	if (size == arena_size && !was_chunk(p))
		record_arena(TF_ARENA_FREE, p, size);
	orig_arena.free(orig_arena.ctx, p, size);
}

/* Puts a_alloc and a_free in the arena allocator's place, chaining to what
 * is there, unless they are there already. */
static void wrap_arena(void)
{
	py_arena_allocator cur, ours = {NULL, a_alloc, a_free};
	py.get_arena(&cur);
	if (cur.alloc == a_alloc)
		return;
	orig_arena = cur;
	py.set_arena(&ours);
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

/* atexit's callback, which CPython runs when it begins to finalise; the
 * tracer's was registered first, so it runs after the program's own. */
static py_object *exit_callback(py_object *self, py_object *args)
{
	(void)self, (void)args;
	if (tr_recording()) {
		tf_record rec = {.kind = TF_PY_FINALIZE};
		int busy = tr_busy;
		tr_busy = 1;
		tr_put(&rec);
		tr_busy = busy;
	}
	py.incref(py.none);
	return py.none;
}

static py_method_def exit_method = {"arenatrace_exit_callback", (void *)exit_callback,
				    METH_VARARGS, NULL};

/* atexit.register(exit_callback) */
static void hook_exit(void)
{
	py_object *atexit = py.import("atexit");
	py_object *reg = atexit ? py.getattr(atexit, "register") : NULL;
	py_object *fn = reg ? py.cfunction_new(&exit_method, NULL, NULL) : NULL;
	py_object *args = fn ? py.tuple_pack(1, fn) : NULL;
	py_object *got = args ? py.call_object(reg, args) : NULL;
	if (!got)
		py.err_clear();
	py_object *refs[] = {got, args, fn, reg, atexit};
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (refs[i])
			py.decref(refs[i]);
}

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

static void finalised(void);

/* Queued with Py_AddPendingCall: the main thread runs it between two
 * bytecodes, with the GIL, where importing gc is safe.  Once per
 * initialisation: each one has its own gc module, atexit module and
 * Py_AtExit list. */
static int gc_hook_call(void *arg)
{
	(void)arg;
	hook_gc();
	if (py.tuple_pack && py.call_object)
		hook_exit();
	if (py.at_exit && py.at_exit(finalised) < 0)
		tr_say("CPython's Py_AtExit list is full: a later Py_Initialize in this process "
		       "would not be recorded");
	return 0;
}

/* ---- where the wrappers go, and when ---- */

/* Puts the wrapper in d: under CPython's debug hooks when they are on
 * (debug; ctx is then their py_debug_api), else in the domain itself. */
static void wrap(domain *d, bool debug)
{
	py_mem_allocator cur, ours = {d, d_malloc, d_calloc, d_realloc, d_free};
	py.get_allocator(d->id, &cur);
	py_debug_api *api = cur.ctx;
	d->inner = debug && api && api->api_id == d->api_id ? &api->alloc : NULL;
	d->orig = d->inner ? *d->inner : cur;
	if (d == &obj) /* the hooks' blocks start with two words of theirs */
		tr_pyobj_header = d->inner ? 2 * sizeof(size_t) : 0;
	if (d->inner)
		*d->inner = ours;
	else
		py.set_allocator(d->id, &ours);
	py.get_allocator(d->id, &d->top);
}

/* Whether d is still as the wrapper left it. */
static bool in_place(const domain *d)
{
	py_mem_allocator cur;
	py.get_allocator(d->id, &cur);
	return !memcmp(&cur, &d->top, sizeof(cur)) && (!d->inner || d->inner->malloc == d_malloc);
}

/* The name CPython gives its built-in default allocators, which is what
 * the constructor finds (nothing else can have changed them yet), told
 * apart as _PyMem_GetCurrentAllocatorName does; that cannot be called so
 * early (3.12 takes a lock that does not exist yet).  Debug hooks show in
 * ctx (a debug build's default); malloc serves OBJ when OBJ's functions
 * are RAW's, which are malloc's. */
static const char *default_allocator(bool *debug)
{
	py_mem_allocator raw, o;
	py.get_allocator(PYMEM_DOMAIN_RAW, &raw);
	py.get_allocator(PYMEM_DOMAIN_OBJ, &o);
	const py_debug_api *r = raw.ctx, *b = o.ctx;
	*debug = r && b && r->api_id == 'r' && b->api_id == 'o';
	bool plain_malloc = *debug ? b->alloc.malloc == r->alloc.malloc : o.malloc == raw.malloc;
	return plain_malloc ? (*debug ? "malloc_debug" : "malloc")
			    : (*debug ? "pymalloc_debug" : "pymalloc");
}

static void settle_lock(void)
{
	while (__atomic_exchange_n(&settling, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void settle_unlock(void)
{
	__atomic_store_n(&settling, 0, __ATOMIC_RELEASE);
}

/* The domains are final: their allocator is named in the trace, and the
 * malloc-family wrappers stop looking.  Under settling. */
static void settle_locked(void)
{
	tf_record rec = {.kind = TF_PYTHON_ALLOCATOR};
	rec.u.python_allocator = (tf_bytes){allocator, strlen(allocator)};
	int busy = tr_busy;
	tr_busy = 1;
	tr_put(&rec);
	tr_busy = busy;
	__atomic_and_fetch(&tr_python_watch, ~TR_WATCH_SETTLE, __ATOMIC_RELAXED);
	__atomic_and_fetch(&pending, ~(P_SETTLE | P_ANNOUNCE), __ATOMIC_RELEASE);
}

/* ---- initialised again ----
 * A program that embeds CPython may call Py_FinalizeEx and then
 * Py_Initialize again, in the same process.  What a new initialisation
 * resets differs by version (cli/CLI.md, "What cannot be exact"): up to
 * 3.11 the allocator domains, the arena allocator and pymalloc's state are
 * static variables of Objects/obmalloc.c that outlive it, and the
 * tracer's wrappers stay in place; from 3.12 they are part of _PyRuntime,
 * which _PyRuntimeState_Init copies back from its initial value when it
 * runs again: the domains and the arena allocator are CPython's defaults
 * again (and in 3.12 the main interpreter's pymalloc state starts empty,
 * while 3.13 keeps it in a static of its own).  Pre-initialisation may
 * also replace the domains again (PYTHONMALLOC) in any version.  And each
 * initialisation has its own gc and atexit modules, and Py_AtExit list.
 *
 * So each time the pending call hooks GC and atexit, it also registers
 * finalised() with Py_AtExit, which CPython calls at the end of
 * Py_FinalizeEx, after the interpreter's teardown.  From there the
 * malloc-family wrappers look again (TR_WATCH_REINIT: malloc, calloc and
 * realloc only, since 3.12's _PyRuntimeState_Fini then frees the lock
 * PyMem_GetAllocator takes, through free) whether OBJ is as the tracer
 * left it; if not, the new domains and the arena allocator are wrapped as
 * at the start (twice in 3.12+ when PYTHONMALLOC is set: the runtime's
 * reset, then pre-initialisation).  The first request through a wrapper,
 * new or still in place, writes the py_init record, naming what serves
 * the domains then: the requests after it are the new initialisation's.
 * The GC hook is asked for again. */

/* CPython's Py_AtExit callback: the interpreter has finalised.  Nothing
 * of CPython may be called here. */
static void finalised(void)
{
	__atomic_or_fetch(&pending, P_REINIT | P_GC, __ATOMIC_RELEASE);
	__atomic_or_fetch(&tr_python_watch, TR_WATCH_REINIT, __ATOMIC_RELAXED);
}

/* A new initialisation's first request is next (through a wrapper): the
 * arena allocator is wrapped again if it is not ours any more, and py_init
 * written.  Under settling. */
static void reinit_locked(void)
{
	wrap_arena();
	inits++;
	tf_record rec = {.kind = TF_PY_INIT};
	rec.u.py_init = (tf_py_init){inits, {allocator, strlen(allocator)}};
	int busy = tr_busy;
	tr_busy = 1;
	tr_put(&rec);
	tr_busy = busy;
	__atomic_and_fetch(&tr_python_watch, ~TR_WATCH_REINIT, __ATOMIC_RELAXED);
	__atomic_and_fetch(&pending, ~P_REINIT, __ATOMIC_RELEASE);
}

/* From the malloc-family wrappers until the domains settle (and again from
 * the end of a finalisation to the next initialisation's first request):
 * if pre-initialisation (or a new initialisation) replaced OBJ, what
 * replaced MEM and OBJ is wrapped as CPython names it, before the
 * interpreter's first request.  _PyMem_SetupAllocators sets RAW, MEM,
 * OBJ, then the debug hooks, and allocates nothing meanwhile, so no call
 * here sees it half done.  Allocates nothing; a caller that finds another
 * thread here goes on. */
void tr_python_settle(void)
{
	if (tr_busy || __atomic_exchange_n(&settling, 1, __ATOMIC_ACQUIRE))
		return;
	int e = errno;
	tr_busy = 1;
	if (__atomic_load_n(&tr_python_watch, __ATOMIC_RELAXED) && !in_place(&obj)) {
		const char *name = py.allocator_name ? py.allocator_name() : NULL;
		if (name) {
			size_t n = strlen(name), k = sizeof(debug_suffix) - 1;
			bool debug = n > k && !strcmp(name + n - k, debug_suffix);
			wrap(&mem, debug);
			wrap(&obj, debug);
		} else {
			/* the program's own allocators: wrapping them might record
			 * twice what reaches the constructor's wrapper through them */
			tr_say("CPython's MEM/OBJ allocators were replaced by ones it does not "
			       "name; the trace's Python layer has only what still reaches "
			       "the tracer's hook");
		}
		snprintf(allocator, sizeof(allocator), "%s", name ? name : "unknown");
		/* a new initialisation: 3.12+ reset the domains, and its
		 * pre-initialisation may replace them once more; its first
		 * request writes py_init, naming what serves them then */
		if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) & P_REINIT)
			wrap_arena();
		else
			settle_locked();
	}
	tr_busy = 0;
	errno = e;
	settle_unlock();
}

/* The first requests through a wrapper (with the GIL): the domains are
 * settled, since the wrapper serves them; after fork the child's trace
 * needs its own python_allocator record; once the interpreter is
 * initialised the GC hook is asked for (again at the next request if the
 * queue of pending calls is full). */
static __attribute__((noinline, cold)) void first_requests(void)
{
	int p = __atomic_load_n(&pending, __ATOMIC_ACQUIRE);
	if (p & (P_SETTLE | P_ANNOUNCE)) {
		settle_lock();
		if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) & (P_SETTLE | P_ANNOUNCE))
			settle_locked();
		settle_unlock();
	}
	if (p & P_REINIT) {
		settle_lock();
		if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) & P_REINIT)
			reinit_locked();
		settle_unlock();
	}
	if ((p & P_GC) && py.is_initialized() && py.add_pending_call(gc_hook_call, NULL) == 0)
		__atomic_and_fetch(&pending, ~P_GC, __ATOMIC_RELEASE);
}

/* A forked child writes a trace of its own. */
static void after_fork_child(void)
{
	settling = 0; /* the thread that held it is not in the child */
	tls_heap = 0; /* the child's trace starts with the main interpreter's heap */
	if (!(pending & P_SETTLE))
		pending |= P_ANNOUNCE;
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
	SYM(allocator_name, "_PyMem_GetCurrentAllocatorName");
	SYM(add_pending_call, "Py_AddPendingCall");
	SYM(gil_ensure, "PyGILState_Ensure");
	SYM(gil_release, "PyGILState_Release");
	if (!SYM(is_finalizing, "Py_IsFinalizing")) /* public from 3.13, _Py_ before */
		SYM(is_finalizing, "_Py_IsFinalizing");
	SYM(is_initialized, "Py_IsInitialized");
	SYM(at_exit, "Py_AtExit");
	SYM(import, "PyImport_ImportModule");
	SYM(getattr, "PyObject_GetAttrString");
	SYM(list_append, "PyList_Append");
	SYM(cfunction_new, "PyCFunction_NewEx");
	SYM(tuple_pack, "PyTuple_Pack");
	SYM(call_object, "PyObject_CallObject");
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
			 (void **)&py.add_pending_call, (void **)&py.is_initialized,
			 (void **)&py.gil_ensure,    (void **)&py.gil_release,
			 (void **)&py.import,        (void **)&py.getattr,
			 (void **)&py.list_append,   (void **)&py.cfunction_new,
			 (void **)&py.decref,        (void **)&py.incref,
			 (void **)&py.tuple_getitem, (void **)&py.unicode_utf8,
			 (void **)&py.dict_getitem,  (void **)&py.long_as_long,
			 (void **)&py.err_clear,     (void **)&py.none};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!*need[i])
			return NULL;
	arena_size = minor <= 9 || sizeof(void *) == 4 ? ARENA_SIZE_TO_3_9 : ARENA_SIZE;
	bool debug;
	snprintf(allocator, sizeof(allocator), "%s", default_allocator(&debug));
	wrap(&mem, debug);
	wrap(&obj, debug);
	wrap_arena();
	pending = P_SETTLE | P_GC;
	tr_python_watch = TR_WATCH_SETTLE;
	pthread_atfork(NULL, NULL, after_fork_child);
	sscanf(get_version(), "%" STR(VERSION_MAX) "s", version);
	tr_pystack_setup(minor);
	heap_setup(minor);
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
 * the FILE is not recorded).  They need the GIL, which the caller may not
 * hold (ctypes.CDLL releases it; a thread the program started in C never
 * had it): PyGILState_Ensure takes it in any case, as a C callback into
 * Python does, outside tr_busy so that what it allocates is recorded as
 * the program's.  Not before the interpreter runs, nor while it finalises
 * (a thread waiting for the GIL then is ended). */
EXPORT void arenatrace_snapshot(const char *label);
EXPORT void arenatrace_snapshot(const char *label)
{
	if (!tr_recording() || tr_busy)
		return;
	bool stats = version[0] && py.debug_malloc_stats && py.is_initialized() &&
		     !(py.is_finalizing && py.is_finalizing());
	int gil = stats ? py.gil_ensure() : 0;
	tr_busy = 1;
	char *text = NULL;
	size_t len = 0;
	int fd = stats ? memfd_create("arenatrace-stats", MFD_CLOEXEC) : -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
	if (f) {
		/* _PyObject_DebugMallocStats prints nothing unless pymalloc
		 * serves OBJ directly, or right under the debug hooks
		 * (_PyMem_PymallocEnabled): for the call, which allocates
		 * nothing, OBJ is that again, without the wrapper nor what may
		 * wrap the domain since (tracemalloc); the GIL keeps every other
		 * request out meanwhile. */
		py_mem_allocator top, slot = {0};
		py.get_allocator(PYMEM_DOMAIN_OBJ, &top);
		if (obj.inner) {
			slot = *obj.inner;
			*obj.inner = obj.orig;
		}
		py.set_allocator(PYMEM_DOMAIN_OBJ, obj.inner ? &obj.top : &obj.orig);
		py.debug_malloc_stats(f);
		if (obj.inner)
			*obj.inner = slot;
		py.set_allocator(PYMEM_DOMAIN_OBJ, &top);
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
	if (stats)
		py.gil_release(gil);
}

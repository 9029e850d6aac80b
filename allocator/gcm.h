/*
 * gcm.h - the model of CPython's object lifetimes: reference counting with
 * immediate deallocation, and the generational cyclic collector as
 * allocator/MODEL.md §9 specifies it for 3.8-3.13 (CPython
 * Modules/gcmodule.c, Python/gc.c in 3.13).
 *
 * Objects have a size, are containers (GC objects, like lists) or not
 * (like bytes), and hold references to other objects as a multiset; only
 * containers hold references.  The caller holds "external" references
 * (the program's variables).  An object whose reference count reaches
 * zero is deallocated at once and drops its own references, which may
 * deallocate more (a cascade).  Cycles are freed only by collections.
 *
 * Pure and deterministic: no I/O, all state in one handle, memory
 * proportional to the objects that are live (slots of freed objects are
 * reused).  Every block comes from and goes back through the caller's
 * hooks, so a pymalloc model (pym.h) can stand behind them.
 *
 * The eval breaker (3.12+).  In 3.12 and 3.13 a container allocation
 * that crosses threshold 0 only schedules a collection, which runs at the
 * interpreter's next eval-breaker check.  An object-graph workload has no
 * bytecode, so with params.scheduled the model keeps the collection
 * pending until the caller calls gcm_run_scheduled(), and the simulator
 * calls it after each workload statement: the newly created object is
 * then already tracked and examined (and survives), as in 3.12+ where it
 * is bound to its variable before the next check; in 3.8-3.11 the
 * collection runs inside the allocation and the new object is not
 * examined.  As in _Py_RunGC, a pending collection whose collector was
 * disabled meanwhile does not run, and the generation is chosen from the
 * counts when it runs.
 *
 * Finalizers, weak references and the free lists of list/dict/tuple are
 * not modelled: every unreachable object is collectable, so uncollectable
 * is always 0, and every container allocation moves the gen-0 count.
 */
#ifndef ARENATRACE_GCM_H
#define ARENATRACE_GCM_H

#include <stdbool.h>
#include <stdint.h>

#define GCM_NGEN 3 /* NUM_GENERATIONS */

/* Errors: negative codes, one table (gcm_strerror). */
enum {
	GCM_OK = 0,
	GCM_E_NOMEM = -1,     /* the model's own memory */
	GCM_E_ARG = -2,       /* no such object, or a generation outside 0..2 */
	GCM_E_NOTCONT = -3,   /* references can only start at a container */
	GCM_E_NOREF = -4,     /* unlink: no such reference */
	GCM_E_NOEXT = -5,     /* decref: the caller holds no reference */
	GCM_E_ALLOC = -6,     /* the allocation hook failed */
	GCM_E_LIMIT = -7,     /* a reference count or object count over 2^32 - 2 */
};
const char *gcm_strerror(int err);

typedef struct gcm_params {
	uint32_t threshold[GCM_NGEN]; /* gc.get_threshold() at start */
	bool scheduled;               /* 3.12+: the trigger only schedules (above) */
} gcm_params;

/* Defaults of an interpreter version ("3.12.1", "3.8"): thresholds
 * (700, 10, 10) for 3.8-3.12 and (2000, 10, 10) for 3.13.0
 * (pycore_runtime_init.h @ 3.13); scheduled collections from 3.12
 * (gh-97922).  NULL or a version outside 3.8-3.13: 3.13's. */
void gcm_params_for_version(const char *version, gcm_params *out);

/* Where objects' memory comes from.  alloc returns 0 with *addr set, or a
 * negative code (gcm_new then fails with GCM_E_ALLOC); free never fails.
 * gc_start and gc_stop bracket every collection, as gc.callbacks see it
 * (may be NULL). */
typedef struct gcm_hooks {
	int (*alloc)(void *ctx, uint64_t size, uint64_t *addr);
	void (*free)(void *ctx, uint64_t addr, uint64_t size);
	void (*gc_start)(void *ctx, int generation);
	void (*gc_stop)(void *ctx, int generation, uint64_t collected, uint64_t uncollectable);
	void *ctx;
} gcm_hooks;

typedef struct gcm gcm;

/* An object.  Valid while the caller holds an external reference to it;
 * afterwards the number may name another object.  0 is never an object. */
typedef uint32_t gcm_obj;

/* Creates a model; *out owned by the caller (gcm_free).  hooks->alloc and
 * hooks->free are required. */
int gcm_create(gcm **out, const gcm_params *p, const gcm_hooks *hooks);
/* Frees the model without deallocating its objects through the hooks.
 * NULL is a no-op. */
void gcm_free(gcm *g);

/* A new object of size bytes with one external reference.  A container
 * counts as a GC allocation: gen-0 count + 1, which may start (3.8-3.11)
 * or schedule (3.12+) a collection. */
int gcm_new(gcm *g, uint64_t size, bool container, gcm_obj *out);
/* One external reference more or less; the last reference gone
 * deallocates the object (and cascades). */
int gcm_incref(gcm *g, gcm_obj o);
int gcm_decref(gcm *g, gcm_obj o);
/* from (a container) gets one more reference to to, or loses one. */
int gcm_link(gcm *g, gcm_obj from, gcm_obj to);
int gcm_unlink(gcm *g, gcm_obj from, gcm_obj to);

/* gc.collect(generation): *found (may be NULL) = collected + uncollectable,
 * 0 when a collection is already running.  Runs even when disabled. */
int gcm_collect(gcm *g, int generation, uint64_t *found);
/* The eval-breaker check (3.12+): runs the scheduled collection, if any
 * and the collector is still enabled.  A no-op in 3.8-3.11 mode. */
void gcm_run_scheduled(gcm *g);
/* gc.enable() / gc.disable(). */
void gcm_enable(gcm *g, bool on);
/* gc.set_threshold(t0, t1, t2); t0 = 0 disables automatic collection. */
void gcm_set_threshold(gcm *g, const uint32_t t[GCM_NGEN]);
/* gc.freeze(): every tracked object into the permanent generation, which
 * collections ignore; the counts become 0.  gc.unfreeze(): back into the
 * oldest generation. */
void gcm_freeze(gcm *g);
void gcm_unfreeze(gcm *g);

typedef struct gcm_stats {
	uint32_t threshold[GCM_NGEN];
	uint64_t count[GCM_NGEN];         /* gc.get_count() */
	uint64_t collections[GCM_NGEN];   /* gc.get_stats()[g]["collections"] */
	uint64_t collected[GCM_NGEN];     /*   ["collected"] */
	uint64_t uncollectable[GCM_NGEN]; /*   ["uncollectable"] */
	uint64_t long_lived_total, long_lived_pending;
	uint64_t gen_size[GCM_NGEN + 1];  /* objects per generation, the last one permanent */
	bool enabled, pending;            /* pending: a scheduled collection (3.12+) */
	uint64_t live_objects, live_bytes;
	uint64_t peak_objects, peak_bytes;
	uint64_t created, created_containers;
	/* deallocations: by reference counting outside collections, and
	 * inside collections (cycles and what only they kept alive) */
	uint64_t freed_rc_objects, freed_rc_bytes;
	uint64_t freed_gc_objects, freed_gc_bytes;
} gcm_stats;
void gcm_get_stats(const gcm *g, gcm_stats *st);

/* The object's reference count (external + from objects), 0 if dead. */
uint32_t gcm_refcount(const gcm *g, gcm_obj o);

/* Checks every invariant (expensive: O(objects + references)).  Returns
 * NULL or a description of the first violation (static string). */
const char *gcm_check(const gcm *g);

#endif

/*
 * gcm.c - reference counting and CPython's generational cyclic collector
 * (MODEL.md §9; CPython Modules/gcmodule.c 3.8-3.12,
 * Python/gc.c 3.13: collect_generations / gc_select_generation, collect /
 * gc_collect_main, update_refs, subtract_refs, move_unreachable,
 * delete_garbage).  Our own code; the words are CPython's.
 *
 * Objects live in one slot array; ids 1..NLISTS-1 are the heads of the
 * intrusive doubly linked lists (generations 0-2, the permanent
 * generation, a collection's unreachable set), objects start at FIRST.
 * A dying object is untracked and pushed on an intrusive stack (through
 * its next link), so a cascade of deallocations, however long, needs no
 * memory and no recursion.
 *
 * The invariants are written next to the struct fields they relate, and
 * gcm_check() verifies them (MODEL.md §13).
 */
#include "gcm.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	L_NONE = 0,                 /* not tracked: non-containers */
	L_GEN0 = 1,                 /* L_GEN0 + g: generation g */
	L_OLDEST = L_GEN0 + GCM_NGEN - 1, /* the oldest generation */
	L_PERM = L_GEN0 + GCM_NGEN, /* permanent generation (gc.freeze) */
	L_UNREACH,                  /* unreachable set of the running collection */
	NLISTS,                     /* list heads are the ids 1..NLISTS-1 */
	FIRST = 8,                  /* first object id (>= NLISTS) */
	L_FREE = 0xff,              /* a free slot */
};
_Static_assert(FIRST >= NLISTS, "objects start after the list heads");
#define MAX_SLOTS 0xfffffff0u /* slots and reference counts stay clear of 2^32 */
#define MAX_RC 0xfffffff0u
#define FIRST_SLOTS 64        /* the slot array's first size */
#define FIRST_REFS 4          /* a container's first room for references */

/* Interpreter versions the defaults know (3.MINOR_FIRST to 3.MINOR_LAST),
 * and the changes among them (MODEL.md §9). */
#define MINOR_FIRST 8
#define MINOR_LAST 13
#define MINOR_SCHEDULED 12     /* gh-97922: collections wait for the eval breaker */
#define MINOR_THRESHOLD_2000 13 /* threshold0 700 -> 2000 */
#define THRESHOLD0_OLD 700     /* _PyGC_InitState (3.8-3.10), pycore_runtime_init.h (3.11, 3.12) */
#define THRESHOLD0_NEW 2000    /* pycore_runtime_init.h @ 3.13.0 */
#define THRESHOLD_OLDER 10     /* threshold1 and threshold2, in every version */
/* A full collection waits until long_lived_pending reaches 1/4 of
 * long_lived_total (collect_generations, gc_select_generation). */
#define LONG_LIVED_DIVISOR 4

/* An object slot.  A live object (list != L_FREE, outside a cascade):
 *   rc == ext + the times it appears in the refs of live objects, rc > 0;
 *   container iff list is a generation or L_PERM (or L_UNREACH during a
 *     collection), and only a container has refs (nrefs <= cap);
 *   every refs entry names a live object.
 * A free slot: list == L_FREE, on the free_slot chain through next. */
typedef struct obj {
	uint64_t addr;  /* from the alloc hook */
	uint64_t size;  /* bytes asked of it */
	uint32_t rc;    /* reference count: ext + references from objects, <= MAX_RC */
	uint32_t ext;   /* the caller's references, <= rc */
	uint32_t prev, next; /* list links (next: free-slot and dying chains too) */
	uint32_t *refs; /* outgoing references, a multiset (containers only) */
	uint32_t nrefs, cap;
	int64_t gc_refs; /* scratch of a collection: rc - references from the young set, >= 0 */
	uint8_t list;   /* L_*: which list holds it */
	bool container;
} obj;

/* The model.  Between calls:
 *   lsize[l] == the objects on list l, and L_UNREACH is empty;
 *   Σ lsize over the generations and L_PERM == live containers;
 *   st.live_objects, st.live_bytes == the live slots and their sizes;
 *   st.created == st.live_objects + st.freed_rc_objects + st.freed_gc_objects;
 *   dying == 0 and collecting is false;
 *   pending only when p.scheduled. */
struct gcm {
	gcm_params p;
	gcm_hooks h;
	obj *o;            /* slots; o[1..NLISTS-1] are list heads */
	uint32_t n, cap;   /* slots used (ids < n), allocated; FIRST <= n <= cap */
	uint32_t free_slot; /* chain of free slots through next, 0 = none */
	uint64_t lsize[NLISTS]; /* objects on each list */
	uint32_t dying;    /* stack of objects to deallocate, 0 = empty */
	uint32_t threshold[GCM_NGEN];
	uint64_t count[GCM_NGEN]; /* gen 0: container allocations less deallocations
				   * (stopping at 0) since its last collection; gen g > 0:
				   * collections of gen g - 1 since the last of gen g */
	bool enabled, collecting, pending;
	uint64_t long_lived_total;   /* survivors of the last full collection */
	uint64_t long_lived_pending; /* survivors of gen-1 collections since then */
	gcm_stats st;      /* collections, deallocations, live and peak */
};

const char *gcm_strerror(int err)
{
	switch (err) {
	case GCM_OK: return "success";
	case GCM_E_NOMEM: return "out of memory";
	case GCM_E_ARG: return "no such object or generation";
	case GCM_E_NOTCONT: return "only containers hold references";
	case GCM_E_NOREF: return "no such reference";
	case GCM_E_NOEXT: return "no external reference to drop";
	case GCM_E_ALLOC: return "the allocator refused the object";
	case GCM_E_LIMIT: return "reference or object count over the model's limit";
	}
	return "unknown error";
}

void gcm_params_for_version(const char *version, gcm_params *out)
{
	int major = 0, minor = 0;
	if (!version || sscanf(version, "%d.%d", &major, &minor) != 2 || major != 3 ||
	    minor < MINOR_FIRST || minor > MINOR_LAST)
		minor = MINOR_LAST;
	*out = (gcm_params){
	    .threshold = {minor >= MINOR_THRESHOLD_2000 ? THRESHOLD0_NEW : THRESHOLD0_OLD,
			  THRESHOLD_OLDER, THRESHOLD_OLDER},
	    .scheduled = minor >= MINOR_SCHEDULED};
}

/* ---- lists ---- */

static void list_init(gcm *g, uint32_t head)
{
	g->o[head].prev = g->o[head].next = head;
	g->o[head].list = (uint8_t)head;
}

static void list_unlink(gcm *g, uint32_t id)
{
	obj *x = &g->o[id];
	assert(x->list != L_NONE && x->list != L_FREE);
	g->o[x->prev].next = x->next;
	g->o[x->next].prev = x->prev;
	g->lsize[x->list]--;
	x->list = L_NONE;
}

static void list_append(gcm *g, uint32_t head, uint32_t id)
{
	obj *x = &g->o[id];
	assert(x->list == L_NONE);
	x->prev = g->o[head].prev;
	x->next = head;
	g->o[x->prev].next = id;
	g->o[head].prev = id;
	x->list = (uint8_t)head;
	g->lsize[head]++;
}

static void list_move(gcm *g, uint32_t id, uint32_t head)
{
	list_unlink(g, id);
	list_append(g, head, id);
}

/* Appends every object of from to to (gc_list_merge). */
static void list_merge(gcm *g, uint32_t from, uint32_t to)
{
	while (g->o[from].next != from)
		list_move(g, g->o[from].next, to);
}

/* ---- slots ---- */

int gcm_create(gcm **out, const gcm_params *p, const gcm_hooks *hooks)
{
	*out = NULL;
	if (!p || !hooks || !hooks->alloc || !hooks->free)
		return GCM_E_ARG;
	gcm *g = calloc(1, sizeof(*g));
	if (!g)
		return GCM_E_NOMEM;
	g->cap = FIRST_SLOTS;
	g->o = calloc(g->cap, sizeof(obj));
	if (!g->o) {
		free(g);
		return GCM_E_NOMEM;
	}
	g->p = *p;
	g->h = *hooks;
	g->n = FIRST;
	for (uint32_t l = 1; l < NLISTS; l++)
		list_init(g, l);
	memcpy(g->threshold, p->threshold, sizeof(g->threshold));
	g->enabled = true;
	*out = g;
	return GCM_OK;
}

void gcm_free(gcm *g)
{
	if (!g)
		return;
	for (uint32_t i = FIRST; i < g->n; i++)
		free(g->o[i].refs);
	free(g->o);
	free(g);
}

static bool alive(const gcm *g, gcm_obj id)
{
	return id >= FIRST && id < g->n && g->o[id].list != L_FREE;
}

/* A free slot (cleared), or 0 when there is no memory for one. */
static uint32_t slot_new(gcm *g)
{
	uint32_t id = g->free_slot;
	if (id) {
		g->free_slot = g->o[id].next;
	} else {
		if (g->n == g->cap) {
			if (g->cap >= MAX_SLOTS / 2)
				return 0;
			obj *o = realloc(g->o, 2 * (size_t)g->cap * sizeof(obj));
			if (!o)
				return 0;
			g->o = o;
			g->cap *= 2;
		}
		id = g->n++;
	}
	memset(&g->o[id], 0, sizeof(obj));
	return id;
}

static void slot_release(gcm *g, uint32_t id)
{
	obj *x = &g->o[id];
	free(x->refs);
	memset(x, 0, sizeof(*x));
	x->list = L_FREE;
	x->next = g->free_slot;
	g->free_slot = id;
}

/* ---- deallocation ---- */

/* x's reference count reached 0: untrack it (PyObject_GC_UnTrack) and
 * queue it. */
static void dying_push(gcm *g, uint32_t id)
{
	obj *x = &g->o[id];
	assert(x->rc == 0);
	if (x->list != L_NONE)
		list_unlink(g, id);
	x->list = L_NONE;
	x->next = g->dying;
	g->dying = id;
}

static void drop_ref(gcm *g, uint32_t id)
{
	assert(g->o[id].rc > 0);
	if (--g->o[id].rc == 0)
		dying_push(g, id);
}

/* Deallocates the queued objects: each drops its references (queueing
 * those that die of it), then its block goes back through the hook, and
 * a container's PyObject_GC_Del lowers the gen-0 count. */
static void run_deallocs(gcm *g)
{
	while (g->dying) {
		uint32_t id = g->dying;
		obj *x = &g->o[id];
		g->dying = x->next;
		while (x->nrefs) {
			drop_ref(g, x->refs[--x->nrefs]);
			x = &g->o[id];
		}
		if (x->container && g->count[0] > 0)
			g->count[0]--;
		g->h.free(g->h.ctx, x->addr, x->size);
		g->st.live_objects--;
		g->st.live_bytes -= x->size;
		if (g->collecting) {
			g->st.freed_gc_objects++;
			g->st.freed_gc_bytes += x->size;
		} else {
			g->st.freed_rc_objects++;
			g->st.freed_rc_bytes += x->size;
		}
		slot_release(g, id);
	}
}

/* ---- the collector ---- */

/* collect(generation): MODEL.md §9 "Collecting generation g". */
static uint64_t collect(gcm *g, int gen)
{
	uint32_t young = L_GEN0 + (uint32_t)gen;
	uint32_t old = gen + 1 < GCM_NGEN ? young + 1 : young;
	g->collecting = true;
	if (g->h.gc_start)
		g->h.gc_start(g->h.ctx, gen);
	if (gen + 1 < GCM_NGEN)
		g->count[gen + 1]++;
	for (int i = 0; i <= gen; i++)
		g->count[i] = 0;
	for (uint32_t l = L_GEN0; l < young; l++)
		list_merge(g, l, young);

	/* update_refs, subtract_refs: what is left of each count once the
	 * references from inside the young set are taken out is the number
	 * of references from outside it */
	for (uint32_t id = g->o[young].next; id != young; id = g->o[id].next)
		g->o[id].gc_refs = g->o[id].rc;
	for (uint32_t id = g->o[young].next; id != young; id = g->o[id].next)
		for (uint32_t k = 0; k < g->o[id].nrefs; k++) {
			obj *r = &g->o[g->o[id].refs[k]];
			if (r->list == young)
				r->gc_refs--;
		}
	/* move_unreachable: objects referenced from outside stay in young;
	 * the others are unreachable unless an object that stays refers to
	 * them, and the scan of young reaches the objects it appends too */
	for (uint32_t id = g->o[young].next, nx; id != young; id = nx) {
		nx = g->o[id].next;
		assert(g->o[id].gc_refs >= 0);
		if (g->o[id].gc_refs == 0)
			list_move(g, id, L_UNREACH);
	}
	for (uint32_t id = g->o[young].next; id != young; id = g->o[id].next)
		for (uint32_t k = 0; k < g->o[id].nrefs; k++) {
			uint32_t r = g->o[id].refs[k];
			if (g->o[r].list == L_UNREACH)
				list_move(g, r, young);
		}

	/* survivors move up a generation; the long-lived bookkeeping */
	uint64_t survivors = g->lsize[young];
	if (young != old) {
		if (gen == GCM_NGEN - 2)
			g->long_lived_pending += survivors;
		list_merge(g, young, old);
	} else {
		g->long_lived_pending = 0;
		g->long_lived_total = survivors;
	}

	/* delete_garbage: clear each unreachable object's references while
	 * holding one to it; those that die are deallocated on the way, one
	 * still alive after its clear goes to the old generation */
	uint64_t m = g->lsize[L_UNREACH];
	while (g->o[L_UNREACH].next != L_UNREACH) {
		uint32_t id = g->o[L_UNREACH].next;
		g->o[id].rc++;
		while (g->o[id].nrefs) {
			obj *x = &g->o[id];
			drop_ref(g, x->refs[--x->nrefs]);
			run_deallocs(g);
		}
		drop_ref(g, id);
		run_deallocs(g);
		if (alive(g, id) && g->o[id].list == L_UNREACH)
			list_move(g, id, old);
	}
	g->st.collections[gen]++;
	g->st.collected[gen] += m;
	if (g->h.gc_stop)
		g->h.gc_stop(g->h.ctx, gen, m, 0);
	g->collecting = false;
	return m;
}

/* collect_generations / gc_select_generation: the oldest generation whose
 * count is over its threshold, but a full collection only once the
 * objects that survived gen-1 collections since the last one reach a
 * quarter of those that survived it. */
static void collect_generations(gcm *g)
{
	for (int i = GCM_NGEN - 1; i >= 0; i--) {
		if (g->count[i] <= g->threshold[i])
			continue;
		if (i == GCM_NGEN - 1 && g->long_lived_pending < g->long_lived_total / LONG_LIVED_DIVISOR)
			continue;
		collect(g, i);
		return;
	}
}

/* ---- the API ---- */

int gcm_new(gcm *g, uint64_t size, bool container, gcm_obj *out)
{
	*out = 0;
	uint32_t id = slot_new(g);
	if (!id)
		return GCM_E_NOMEM;
	uint64_t addr = 0;
	if (g->h.alloc(g->h.ctx, size, &addr) < 0) {
		slot_release(g, id);
		return GCM_E_ALLOC;
	}
	obj *x = &g->o[id];
	x->addr = addr;
	x->size = size;
	x->rc = x->ext = 1;
	x->container = container;
	g->st.created++;
	g->st.live_objects++;
	g->st.live_bytes += size;
	if (g->st.live_objects > g->st.peak_objects)
		g->st.peak_objects = g->st.live_objects;
	if (g->st.live_bytes > g->st.peak_bytes)
		g->st.peak_bytes = g->st.live_bytes;
	if (container) {
		/* _PyObject_GC_Alloc / _PyObject_GC_Link: the new object is not
		 * tracked yet, so a collection run here does not see it */
		g->st.created_containers++;
		g->count[0]++;
		if (g->count[0] > g->threshold[0] && g->enabled && g->threshold[0] &&
		    !g->collecting) {
			if (g->p.scheduled)
				g->pending = true;
			else
				collect_generations(g);
		}
		list_append(g, L_GEN0, id);
	}
	*out = id;
	return GCM_OK;
}

int gcm_incref(gcm *g, gcm_obj o)
{
	if (!alive(g, o))
		return GCM_E_ARG;
	if (g->o[o].rc >= MAX_RC)
		return GCM_E_LIMIT;
	g->o[o].rc++;
	g->o[o].ext++;
	return GCM_OK;
}

int gcm_decref(gcm *g, gcm_obj o)
{
	if (!alive(g, o))
		return GCM_E_ARG;
	if (!g->o[o].ext)
		return GCM_E_NOEXT;
	g->o[o].ext--;
	drop_ref(g, o);
	run_deallocs(g);
	return GCM_OK;
}

int gcm_link(gcm *g, gcm_obj from, gcm_obj to)
{
	if (!alive(g, from) || !alive(g, to))
		return GCM_E_ARG;
	obj *f = &g->o[from];
	if (!f->container)
		return GCM_E_NOTCONT;
	if (g->o[to].rc >= MAX_RC)
		return GCM_E_LIMIT;
	if (f->nrefs == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : FIRST_REFS;
		if (cap < f->cap)
			return GCM_E_LIMIT;
		uint32_t *r = realloc(f->refs, cap * sizeof(uint32_t));
		if (!r)
			return GCM_E_NOMEM;
		f->refs = r;
		f->cap = cap;
	}
	f->refs[f->nrefs++] = to;
	g->o[to].rc++;
	return GCM_OK;
}

int gcm_unlink(gcm *g, gcm_obj from, gcm_obj to)
{
	if (!alive(g, from) || !alive(g, to))
		return GCM_E_ARG;
	obj *f = &g->o[from];
	/* the last one, as list.remove would find the first: either keeps
	 * the multiset the same */
	for (uint32_t k = f->nrefs; k-- > 0;) {
		if (f->refs[k] != to)
			continue;
		memmove(&f->refs[k], &f->refs[k + 1], (f->nrefs - k - 1) * sizeof(uint32_t));
		f->nrefs--;
		drop_ref(g, to);
		run_deallocs(g);
		return GCM_OK;
	}
	return f->container ? GCM_E_NOREF : GCM_E_NOTCONT;
}

int gcm_collect(gcm *g, int generation, uint64_t *found)
{
	if (found)
		*found = 0;
	if (generation < 0 || generation >= GCM_NGEN)
		return GCM_E_ARG;
	if (g->collecting)
		return GCM_OK;
	uint64_t m = collect(g, generation);
	if (found)
		*found = m;
	return GCM_OK;
}

void gcm_run_scheduled(gcm *g)
{
	if (!g->pending)
		return;
	g->pending = false;
	if (g->enabled && !g->collecting)
		collect_generations(g);
}

void gcm_enable(gcm *g, bool on)
{
	g->enabled = on;
}

void gcm_set_threshold(gcm *g, const uint32_t t[GCM_NGEN])
{
	memcpy(g->threshold, t, sizeof(g->threshold));
}

void gcm_freeze(gcm *g)
{
	/* every count becomes 0: seen on 3.8-3.13 with gc.get_count() */
	for (int i = 0; i < GCM_NGEN; i++) {
		list_merge(g, L_GEN0 + (uint32_t)i, L_PERM);
		g->count[i] = 0;
	}
}

void gcm_unfreeze(gcm *g)
{
	list_merge(g, L_PERM, L_OLDEST);
}

void gcm_get_stats(const gcm *g, gcm_stats *st)
{
	*st = g->st;
	memcpy(st->threshold, g->threshold, sizeof(st->threshold));
	memcpy(st->count, g->count, sizeof(st->count));
	for (int i = 0; i <= GCM_NGEN; i++)
		st->gen_size[i] = g->lsize[L_GEN0 + i];
	st->long_lived_total = g->long_lived_total;
	st->long_lived_pending = g->long_lived_pending;
	st->enabled = g->enabled;
	st->pending = g->pending;
}

uint32_t gcm_refcount(const gcm *g, gcm_obj o)
{
	return alive(g, o) ? g->o[o].rc : 0;
}

/* ---- invariants ---- */

static const char *check_lists(const gcm *g)
{
	for (uint32_t l = 1; l < NLISTS; l++) {
		uint64_t k = 0;
		for (uint32_t id = g->o[l].next, prev = l; id != l; prev = id, id = g->o[id].next) {
			if (id >= g->n || g->o[id].prev != prev)
				return "list: broken links";
			if (id < FIRST || g->o[id].list != l)
				return "list: an object on a list its field does not name";
			if (!g->o[id].container)
				return "list: a non-container is tracked";
			if (++k > g->n)
				return "list: a cycle";
		}
		if (k != g->lsize[l])
			return "list: size differs from its count";
	}
	if (g->lsize[L_UNREACH] && !g->collecting)
		return "unreachable set not empty outside a collection";
	return NULL;
}

const char *gcm_check(const gcm *g)
{
	if (g->dying)
		return "deallocations left queued";
	const char *why = check_lists(g);
	if (why)
		return why;
	uint32_t *in = calloc(g->n, sizeof(uint32_t));
	if (!in)
		return "check: out of memory";
	uint64_t live = 0, bytes = 0, containers = 0, nfree = 0;
	why = NULL;
	for (uint32_t id = FIRST; id < g->n && !why; id++) {
		const obj *x = &g->o[id];
		if (x->list == L_FREE) {
			nfree++;
			continue;
		}
		live++;
		bytes += x->size;
		containers += x->container;
		if (x->rc == 0)
			why = "a live object with reference count 0";
		else if (x->ext > x->rc)
			why = "more external references than references";
		else if (x->container != (x->list >= L_GEN0 && x->list <= L_PERM))
			why = "a container not in a generation, or a non-container in one";
		else if (x->nrefs > x->cap || (!x->container && x->nrefs))
			why = "references: count over capacity, or held by a non-container";
		for (uint32_t k = 0; k < x->nrefs && !why; k++) {
			if (!alive(g, x->refs[k]))
				why = "a reference to a dead object";
			else
				in[x->refs[k]]++;
		}
	}
	/* rc = ext + references from objects */
	for (uint32_t id = FIRST; id < g->n && !why; id++)
		if (g->o[id].list != L_FREE && g->o[id].rc != (uint64_t)g->o[id].ext + in[id])
			why = "reference count differs from external + internal references";
	free(in);
	if (why)
		return why;
	uint64_t chain = 0;
	for (uint32_t id = g->free_slot; id; id = g->o[id].next)
		if (id < FIRST || id >= g->n || g->o[id].list != L_FREE || ++chain > nfree)
			return "free slots: broken chain";
	if (chain != nfree)
		return "free slots: chain misses some";
	if (live != g->st.live_objects || bytes != g->st.live_bytes)
		return "live objects or bytes differ from the statistics";
	uint64_t tracked = 0;
	for (uint32_t l = L_GEN0; l <= L_PERM; l++)
		tracked += g->lsize[l];
	if (containers != tracked)
		return "tracked objects differ from the containers";
	if (g->st.created != live + g->st.freed_rc_objects + g->st.freed_gc_objects)
		return "created != live + freed";
	if (g->pending && !g->p.scheduled)
		return "a scheduled collection without the eval-breaker mode";
	if (g->collecting)
		return "collecting outside a collection";
	return NULL;
}

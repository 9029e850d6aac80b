/*
 * pym.h - the model of CPython's small-object allocator (pymalloc /
 * obmalloc): arenas, pools and blocks, request for request, as
 * allocator/MODEL.md specifies it (§n below refers to it).
 *
 * Pure and deterministic: no I/O, all state in one handle, O(1) per
 * operation, memory proportional to the arenas, pools and raw blocks
 * held.  Arenas go where the caller's source says, or where the model's
 * mmap-like rule puts them (§4); requests pymalloc refuses go to a
 * large-object layer that only accounts their bytes (§2).
 */
#ifndef ARENATRACE_PYM_H
#define ARENATRACE_PYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors: negative codes, one table (pym_strerror). */
enum {
	PYM_OK = 0,
	PYM_E_NOMEM = -1,     /* the model's own memory */
	PYM_E_PARAMS = -2,    /* invalid parameters or profile name */
	PYM_E_UNKNOWN = -3,   /* free/realloc of an address the model does not hold */
	PYM_E_NOARENA = -4,   /* the arena source gave no base address */
	PYM_E_ARENA = -5,     /* an arena base overlaps a live arena */
};
const char *pym_strerror(int err);

typedef struct pym_params {
	char name[32];           /* "cpython-3.12" or "custom" */
	uint32_t arena_size;     /* ARENA_SIZE, bytes */
	uint32_t pool_size;      /* POOL_SIZE, bytes, a power of two */
	uint32_t align_shift;    /* ALIGNMENT_SHIFT: blocks are multiples of 1 << shift */
	uint32_t threshold;      /* SMALL_REQUEST_THRESHOLD */
	uint32_t pool_overhead;  /* POOL_OVERHEAD (48 on 64-bit) */
	bool keep_empty_arena;   /* 3.9+: keep the last wholly free arena (bpo-37257) */
	uint32_t radix_bits;     /* address_in_range radix tree: 0 none, 48 (3.10), 64 (3.11+) */
} pym_params;

/* Parameters of a profile name: "cpython-3.8" … "cpython-3.13", or
 * "custom:arena=SIZE,pool=SIZE,align=N,threshold=N,keep-empty=0|1,radix=0|48|64"
 * (sizes take K/M; keys not named keep cpython-3.13's; sizes are powers of
 * two, as ARENA_BITS and POOL_BITS make them, pools at most 64 KiB, §1). */
int pym_params_from_name(const char *name, pym_params *out);
/* The profile for an interpreter version string ("3.11.7"), or the newest
 * when the version is NULL, empty or outside 3.8–3.13. */
void pym_params_for_version(const char *version, pym_params *out);
/* Profile names, NULL-terminated, for --help. */
extern const char *const pym_profile_names[];

typedef struct pym pym;

/* Where arena memory comes from: returns the base address of a new arena
 * of `size` bytes, 0 if the allocation fails, or PYM_ARENA_BUILTIN for the
 * model's own placement.  Called when pymalloc calls _PyObject_Arena.alloc. */
#define PYM_ARENA_BUILTIN UINT64_MAX
typedef uint64_t (*pym_arena_source)(void *ctx, uint64_t size);
/* Told of every arena allocated (released = false) and freed. */
typedef void (*pym_arena_event)(void *ctx, uint64_t base, bool released);

typedef struct pym_hooks {
	pym_arena_source source; /* NULL: the built-in placement, always */
	pym_arena_event event;   /* may be NULL */
	void *ctx;
} pym_hooks;

/* Creates a model; *out owned by the caller (pym_free).  hooks may be NULL. */
int pym_create(pym **out, const pym_params *p, const pym_hooks *hooks);
void pym_free(pym *m);
const pym_params *pym_get_params(const pym *m);

/* The allocation API of one domain (MEM and OBJ share one allocator, §2):
 * 0 or a negative error, results in *out.  Raw blocks (the large-object
 * layer) get addresses from a private range no arena can take. */
int pym_malloc(pym *m, uint64_t n, uint64_t *out);
int pym_calloc(pym *m, uint64_t nelem, uint64_t elsize, uint64_t *out);
int pym_realloc(pym *m, uint64_t p, uint64_t n, uint64_t *out);
/* *was_pymalloc (may be NULL) tells whether p was a pymalloc block. */
int pym_free_block(pym *m, uint64_t p, bool *was_pymalloc);

/* The same with the raw block's address chosen by the caller (replay: the
 * real allocator's), where _PyObject_Malloc fell back to PyMem_RawMalloc. */
int pym_malloc_at(pym *m, uint64_t n, uint64_t raw_addr, uint64_t *out);
int pym_realloc_at(pym *m, uint64_t p, uint64_t n, uint64_t raw_addr, uint64_t *out);

/* CPython 3.12's new initialisation of the interpreter (MODEL.md §4): the
 * state is as pym_create made it again, but for the raw blocks, which
 * stay; the arenas held are forgotten: never used nor released again, no
 * address in them the model's (pym_owns), counted in no figure but the
 * held bytes.  0 or PYM_E_NOMEM. */
int pym_forget(pym *m);

/* O(1) figures for per-request metrics: arenas held now, and bytes held
 * from the system (arenas, those forgotten included, + the large-object
 * layer's requested bytes). */
uint64_t pym_arenas_current(const pym *m);
uint64_t pym_held_bytes(const pym *m);

/* O(1) usage for the waste split, whose equation these terms satisfy (§13). */
typedef struct pym_usage {
	uint64_t block_bytes;  /* Σ block size of the blocks in use */
	uint64_t pools_used;   /* pools with blocks in use */
	uint64_t empty_arenas; /* wholly free arenas kept */
	uint64_t arenas;       /* arenas held */
	uint64_t raw_bytes;    /* the large-object layer's requested bytes */
	uint64_t forgotten_arenas; /* of the states before pym_forget: held, never used again */
} pym_usage;
/* pym_held_bytes from the usage, for a model of that arena size: inline,
 * for the replay's reading after every request. */
static inline uint64_t pym_usage_held(const pym_usage *u, uint64_t arena_size)
{
	return (u->arenas + u->forgotten_arenas) * arena_size + u->raw_bytes;
}
void pym_get_usage(const pym *m, pym_usage *u);
/* The same figures in place, valid as long as the model: read per request,
 * where a copy's wide loads of just-stored fields would stall. */
const pym_usage *pym_usage_of(const pym *m);

/* One live arena's use, for arena lifelines. */
typedef struct pym_arena_use {
	uint64_t base;
	uint32_t pools_total;  /* ntotalpools */
	uint32_t pools_used;   /* pools with blocks in use */
	uint64_t block_bytes;  /* Σ size of its blocks in use */
} pym_arena_use;
/* Calls fn for every live arena, in no particular order; O(arenas × pools). */
void pym_each_arena(const pym *m, void (*fn)(void *ctx, const pym_arena_use *u), void *ctx);

/* Whether p lies in a live arena (address_in_range, §7). */
bool pym_owns(const pym *m, uint64_t p);
/* The base of the live arena holding p, or 0. */
uint64_t pym_arena_base(const pym *m, uint64_t p);
/* The index of the live arena holding p (0 .. pym_arena_slots - 1), or -1:
 * a small dense number for tables by arena, the arena's while it lives. */
int32_t pym_arena_index(const pym *m, uint64_t p);
uint32_t pym_arena_slots(const pym *m);
/* The base of arena index i (a live arena's pym_arena_index). */
uint64_t pym_arena_address(const pym *m, int32_t i);

#define PYM_MAX_CLASSES 128
/* Everything _PyObject_DebugMallocStats prints (§8). */
typedef struct pym_stats {
	uint32_t nclasses;
	uint64_t class_pools[PYM_MAX_CLASSES];  /* pools with count > 0 */
	uint64_t class_blocks[PYM_MAX_CLASSES]; /* blocks in use */
	uint64_t class_avail[PYM_MAX_CLASSES];  /* NUMBLOCKS * pools - in use */
	uint64_t arenas_total;     /* ntimes_arena_allocated */
	uint64_t arenas_current;   /* narenas_currently_allocated */
	uint64_t arenas_highwater;
	uint64_t bytes_allocated;  /* Σ in use × size */
	uint64_t bytes_available;  /* Σ avail × size */
	uint64_t unused_pools;     /* Σ arena nfreepools */
	uint64_t pool_headers;     /* POOL_OVERHEAD × pools in use */
	uint64_t quantization;
	uint64_t arena_alignment;  /* POOL_SIZE × arenas not pool-aligned */
	uint64_t map_mid, map_bot; /* radix tree nodes (radix_bits != 0) */
	uint64_t raw_blocks;       /* large-object layer: live blocks */
	uint64_t raw_bytes;        /*   and their requested bytes */
} pym_stats;
void pym_get_stats(const pym *m, pym_stats *st);
/* The pymalloc part of sys._debugmallocstats() for these parameters, as
 * CPython prints it.  Returns the length (snprintf semantics). */
size_t pym_format_stats(const pym_params *p, const pym_stats *st, char *buf, size_t cap);

/* Checks every invariant of the state (§13; expensive): NULL, or the
 * first violation's description (a static string). */
const char *pym_check(const pym *m);

#endif

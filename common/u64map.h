/*
 * u64map.h - the project's one hash table: 64-bit keys, each with a
 * record of `words` 64-bit values stored inline beside it, so a lookup is
 * one probe and usually one cache line.  Used by the pymalloc model's
 * page and arena maps, the replay's address maps, the tracer's stack
 * tables and the symbolizer's caches.
 *
 * Open addressing with linear probing and deletion by backward shift (no
 * tombstones), at most 5/8 full.  Memory comes from a u64map_mem, so the
 * tracer can keep its tables off the traced program's heap.
 *
 * Invariants: a slot's first word is its key + 1, 0 when the slot is
 * empty; the key UINT64_MAX (whose key + 1 would be 0) has the slot after
 * the last one; every record is reachable from its key's home slot
 * without crossing an empty slot; live * 8 <= cap * 5.
 */
#ifndef ARENATRACE_U64MAP_H
#define ARENATRACE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct u64map_mem {
	/* bytes of zeroes, or NULL when out of memory */
	void *(*alloc)(void *ctx, size_t bytes);
	/* gives back [off, off + len) of a table of `bytes` that alloc made:
	 * the pieces of one table come in order, and the last ends at bytes */
	void (*release)(void *ctx, void *table, size_t bytes, size_t off, size_t len);
	void *ctx;
} u64map_mem;

/* calloc and free */
extern const u64map_mem u64map_heap;
/* calloc and free below a MiB; above, mappings of their own, given back
 * in steps while the map grows (the old and the new table of a map of
 * 100 M records are not both resident) */
extern const u64map_mem u64map_pages;

typedef struct u64map {
	uint64_t *t;          /* (cap + 1) slots of stride words */
	size_t cap;           /* slots, a power of two (0 before the first insert) */
	size_t live;          /* records */
	unsigned stride;      /* 1 + values per record */
	unsigned shift;       /* 64 - log2(cap) */
	const u64map_mem *mem;
} u64map;

/* An empty map of `words` values per key (at least 1); nothing allocated. */
void u64map_init(u64map *m, unsigned words, const u64map_mem *mem);
/* Frees the table; the map is empty again and can be used on. */
void u64map_clear(u64map *m);

/* The slot where key's probe starts (its home), for prefetching:
 * &m->t[u64map_home(m, key) * m->stride].  cap must not be 0. */
static inline size_t u64map_home(const u64map *m, uint64_t key)
{
	return (size_t)(((key + 1) * 0x9E3779B97F4A7C15ull) >> m->shift);
}

/* The values of key's first record, or NULL. */
static inline uint64_t *u64map_find(const u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	if (key == UINT64_MAX) {
		uint64_t *s = &m->t[m->cap * m->stride];
		return s[0] ? s + 1 : NULL;
	}
	for (size_t i = u64map_home(m, key);; i = (i + 1) & (m->cap - 1)) {
		uint64_t *s = &m->t[i * m->stride];
		if (s[0] == key + 1)
			return s + 1;
		if (!s[0])
			return NULL;
	}
}

/* The values of key's next record after `after` (a record of key), or
 * NULL: the records of a key inserted several times. */
uint64_t *u64map_find_next(const u64map *m, uint64_t key, const uint64_t *after);

/* A new record for key, its values zero; NULL when out of memory.  It
 * does not look for key: a key inserted twice has two records (at most
 * one for UINT64_MAX).  Values returned before may move. */
uint64_t *u64map_insert(u64map *m, uint64_t key);

/* Room for `more` records more: the next `more` inserts need no memory.
 * false when out of memory (the map is as it was). */
bool u64map_reserve(u64map *m, size_t more);

/* key's first record, made (values zero, *made true) when there is none;
 * NULL when out of memory. */
uint64_t *u64map_get(u64map *m, uint64_t key, bool *made);

/* key's first value set to v (its record made when there is none), for
 * maps of one word per key; false when out of memory. */
bool u64map_put(u64map *m, uint64_t key, uint64_t v);

/* Removes key's first record, if there is one. */
void u64map_del(u64map *m, uint64_t key);

/* Removes the record whose values are vals (from find or insert).  Values
 * returned before may move. */
void u64map_remove(u64map *m, uint64_t *vals);

/* Walks the records: start with *pos = 0; each call gives one record's
 * key and values and returns true, then false at the end.  The map must
 * not change meanwhile. */
bool u64map_next(const u64map *m, size_t *pos, uint64_t *key, uint64_t **vals);

#endif

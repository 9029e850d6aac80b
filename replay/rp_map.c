/*
 * rp_map.c - the engine's two hash tables: a small map of 64-bit keys
 * (arena records, pinning's passes) and the address map of live blocks,
 * whose random accesses are most of a replay's cache misses.
 *
 * Invariants: a slot's key word is its key + 2, 0 when empty (and, in the
 * small map, 1 when deleted); the address map has no deleted slots, every
 * live key is reachable from its home slot without crossing an empty one,
 * and live * 8 <= cap * 5.
 */
#include "rp_internal.h"

#include <stdlib.h>
#include <sys/mman.h>

uint64_t *rp_xfind(const xmap *x, uint64_t k)
{
	if (!x->cap)
		return NULL;
	for (size_t i = xslot(k + 2, x->cap);; i = (i + 1) & (x->cap - 1)) {
		if (x->k[i] == k + 2)
			return &x->v[i];
		if (!x->k[i])
			return NULL;
	}
}

bool rp_xput(xmap *x, uint64_t k, uint64_t v)
{
	uint64_t *have = rp_xfind(x, k);
	if (have) {
		*have = v;
		return true;
	}
	if ((x->used + 1) * 2 > x->cap) {
		/* grow, or only drop the deleted slots when few are live */
		size_t cap = !x->cap ? 256 : x->live * 4 > x->cap ? x->cap * 2 : x->cap;
		xmap n = {calloc(cap, 8), malloc(cap * 8), cap, 0, 0};
		if (!n.k || !n.v)
			return free(n.k), free(n.v), false;
		for (size_t i = 0; i < x->cap; i++)
			if (x->k[i] > 1)
				rp_xput(&n, x->k[i] - 2, x->v[i]);
		free(x->k), free(x->v);
		*x = n;
	}
	size_t i = xslot(k + 2, x->cap);
	while (x->k[i] > 1)
		i = (i + 1) & (x->cap - 1);
	x->used += !x->k[i];
	x->live++;
	x->k[i] = k + 2, x->v[i] = v;
	return true;
}

void rp_xdel(xmap *x, uint64_t k)
{
	uint64_t *v = rp_xfind(x, k);
	if (v) {
		x->k[v - x->v] = 1;
		x->live--;
	}
}

void rp_xfree(xmap *x)
{
	free(x->k), free(x->v);
	memset(x, 0, sizeof(*x));
}

/* ---- the address map: real address -> size, stack, time, each model's block ----
 * One open-addressing table with the record inline (stride words per slot:
 * key + 2, requested size, stack id and allocation time, one model address
 * per model), so a request costs one probe whatever the number of models.
 * Linear probing with deletion by backward shift: no tombstones, so the
 * table stays at most 5/8 full of live blocks and as small as it can be
 * (its random accesses are most of a replay's cache misses). */

/* Tables of a MiB or more are mappings of their own, so that growing
 * gives the old table's memory back while its entries move: the old and
 * the new table at once made most of the peak RSS of a replay of 100 M
 * live blocks. */
#define BIG_TABLE (1u << 20)
#define RELEASE_STEP (2u << 20) /* the old table is let go in steps of this */

static void *table_alloc(size_t bytes)
{
	if (bytes < BIG_TABLE)
		return calloc(1, bytes);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p; /* zero-filled */
}

/* Frees a table but its first `gone` bytes, already unmapped. */
void rp_table_free(void *p, size_t bytes, size_t gone)
{
	if (!p)
		return;
	if (bytes < BIG_TABLE)
		free(p);
	else if (bytes > gone)
		munmap((char *)p + gone, bytes - gone);
}

size_t rp_amap_bytes(const amap *m)
{
	return m->cap * m->stride * sizeof(uint64_t);
}

/* A new slot for key (not in the map); NULL when out of memory.  Slots
 * returned earlier may move. */
uint64_t *rp_amap_insert(amap *m, uint64_t key)
{
	if ((m->live + 1) * 8 > m->cap * 5) {
		size_t cap = m->cap ? m->cap * 2 : 1024, old = rp_amap_bytes(m), gone = 0;
		uint64_t *t = table_alloc(cap * m->stride * sizeof(uint64_t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			const uint64_t *o = &m->t[i * m->stride];
			if (o[A_KEY]) {
				size_t j = xslot(o[A_KEY], cap);
				while (t[j * m->stride])
					j = (j + 1) & (cap - 1);
				memcpy(&t[j * m->stride], o, m->stride * sizeof(uint64_t));
			}
			size_t read = (i + 1) * m->stride * sizeof(uint64_t);
			if (old >= BIG_TABLE && read - gone >= RELEASE_STEP) {
				size_t upto = read & ~(size_t)(RELEASE_STEP - 1);
				munmap((char *)m->t + gone, upto - gone);
				gone = upto;
			}
		}
		rp_table_free(m->t, old, gone);
		m->t = t;
		m->cap = cap;
	}
	size_t i = xslot(key + 2, m->cap);
	while (m->t[i * m->stride])
		i = (i + 1) & (m->cap - 1);
	uint64_t *s = &m->t[i * m->stride];
	m->live++;
	memset(s, 0, m->stride * sizeof(uint64_t));
	s[A_KEY] = key + 2;
	return s;
}

/* Deletes a slot: the later slots of its run whose home is not between
 * the hole and themselves move back into the hole. */
void rp_amap_del(amap *m, uint64_t *slot)
{
	size_t mask = m->cap - 1, hole = (size_t)(slot - m->t) / m->stride;
	for (size_t j = hole;;) {
		j = (j + 1) & mask;
		uint64_t *s = &m->t[j * m->stride];
		if (!s[A_KEY])
			break;
		size_t home = xslot(s[A_KEY], m->cap);
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			memcpy(&m->t[hole * m->stride], s, m->stride * sizeof(uint64_t));
			hole = j;
		}
	}
	m->t[hole * m->stride + A_KEY] = 0;
	m->live--;
}

/* ---- state ---- */


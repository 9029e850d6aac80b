/*
 * pym_table.c - the pymalloc model's address tables (pym_internal.h): a
 * u64 -> u64 hash map with tombstones, for arena slots, raw blocks and
 * radix tree nodes, and the page map from pool pages to pool ids, whose
 * lookup is inline in pym_internal.h.
 *
 * Invariants: a map's used * 2 <= cap and live <= used; the page map's
 * n * 2 <= capacity, and every key sits in the probe run from its home
 * slot (backward-shift deletion keeps it so without tombstones).
 */
#include "pym_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAP_FIRST_CAP 64

/* ---- the u64 map ---- */

static size_t map_slot(uint64_t k, size_t cap)
{
	return (size_t)((k * PYM_FIB_HASH) >> 23) & (cap - 1);
}

uint64_t *pym_map_find(const pym_map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	key += MAP_KEY_BIAS;
	for (size_t i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->k[i] == key)
			return &m->v[i];
		if (m->k[i] == MAP_EMPTY)
			return NULL;
	}
}

/* Rehashes into a table twice as large, or as large when tombstones are
 * most of the used slots. */
static bool map_grow(pym_map *m)
{
	pym_map n = {0};
	n.cap = m->cap ? (m->live * 4 > m->cap ? m->cap * 2 : m->cap) : MAP_FIRST_CAP;
	n.k = calloc(n.cap, sizeof(uint64_t));
	n.v = malloc(n.cap * sizeof(uint64_t));
	if (!n.k || !n.v) {
		free(n.k), free(n.v);
		return false;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->k[i] > MAP_DELETED)
			pym_map_put(&n, m->k[i] - MAP_KEY_BIAS, m->v[i]);
	free(m->k), free(m->v);
	*m = n;
	return true;
}

bool pym_map_put(pym_map *m, uint64_t key, uint64_t v)
{
	uint64_t *p = pym_map_find(m, key);
	if (p) {
		*p = v;
		return true;
	}
	if ((m->used + 1) * 2 > m->cap && !map_grow(m))
		return false;
	key += MAP_KEY_BIAS;
	size_t i = map_slot(key, m->cap);
	while (m->k[i] > MAP_DELETED)
		i = (i + 1) & (m->cap - 1);
	m->used += m->k[i] == MAP_EMPTY;
	m->live++;
	m->k[i] = key, m->v[i] = v;
	return true;
}

void pym_map_del(pym_map *m, uint64_t key)
{
	uint64_t *p = pym_map_find(m, key);
	if (p) {
		m->k[p - m->v] = MAP_DELETED;
		m->live--;
	}
}

void pym_map_free(pym_map *m)
{
	free(m->k), free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- the page map ---- */

bool pym_page_init(pym_page_map *t, unsigned bits)
{
	t->e = calloc((size_t)1 << bits, sizeof(pym_page_slot));
	t->mask = ((size_t)1 << bits) - 1;
	t->shift = 64 - bits;
	t->n = 0;
	return t->e != NULL;
}

void pym_page_put_new(pym_page_map *t, uint64_t page, int32_t id)
{
	size_t i = pym_page_home(t, page);
	while (t->e[i].page)
		i = (i + 1) & t->mask;
	t->e[i] = (pym_page_slot){page, id};
	t->n++;
}

bool pym_page_reserve(pym_page_map *t, size_t more)
{
	if ((t->n + more) * 2 <= t->mask + 1)
		return true;
	unsigned bits = 64 - t->shift;
	while ((t->n + more) * 2 > (size_t)1 << bits)
		bits++;
	pym_page_map n;
	if (!pym_page_init(&n, bits))
		return false;
	for (size_t i = 0; i <= t->mask; i++)
		if (t->e[i].page)
			pym_page_put_new(&n, t->e[i].page, t->e[i].id);
	free(t->e);
	*t = n;
	return true;
}

void pym_page_del(pym_page_map *t, uint64_t page)
{
	size_t i = pym_page_home(t, page);
	while (t->e[i].page != page) {
		if (!t->e[i].page)
			return;
		i = (i + 1) & t->mask;
	}
	/* backward shift: pull later entries of the run into the hole unless
	 * their home lies cyclically in (hole, their slot] */
	for (size_t j = i;;) {
		j = (j + 1) & t->mask;
		if (!t->e[j].page)
			break;
		size_t h = pym_page_home(t, t->e[j].page);
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!stays) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].page = 0;
	t->n--;
}

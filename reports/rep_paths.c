/*
 * rep_paths.c - the trie of frame lines (rep_paths.h): nodes in arrays,
 * their lines in one pool, found again through an open-addressing table
 * keyed by (parent, line).
 *
 * Invariants: slots holds every node's id once, at or after its hash's
 * home (linear probing), and is at most half full; a node's parent is
 * an earlier node or 0.
 */
#include "rep_paths.h"

#include <stdlib.h>
#include <string.h>

struct rep_paths {
	uint32_t n, cap;          /* nodes, and room for them */
	uint32_t *parent, *off, *len;
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *slots;          /* node ids, 0 empty */
	uint32_t nslots;          /* a power of two */
};

/* Eight bytes a step (a frame line is some 60 bytes, and callsites.csv
 * hashes every line of every call site's stack), each word mixed by a
 * multiply and the high half folded back. */
static uint64_t hash(uint32_t parent, const char *s, size_t len)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	uint64_t h = (parent ^ ((uint64_t)len << 32)) * k;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	uint64_t tail = 0;
	if (len > i)
		memcpy(&tail, s + i, len - i);
	h = (h ^ tail) * k;
	return h ^ (h >> 29);
}

rep_paths *rep_paths_new(void)
{
	rep_paths *p = calloc(1, sizeof(*p));
	if (p && !(p->slots = calloc(p->nslots = 1024, sizeof(*p->slots)))) {
		free(p);
		p = NULL;
	}
	return p;
}

void rep_paths_free(rep_paths *p)
{
	if (!p)
		return;
	free(p->parent), free(p->off), free(p->len), free(p->pool), free(p->slots);
	free(p);
}

static int same(const rep_paths *p, uint32_t id, uint32_t parent, const char *s, size_t len)
{
	return p->parent[id - 1] == parent && p->len[id - 1] == len &&
	       !memcmp(p->pool + p->off[id - 1], s, len);
}

/* Doubles the table; 0 out of memory. */
static int rehash(rep_paths *p)
{
	uint32_t n = 2 * p->nslots, *s = calloc(n, sizeof(*s));
	if (!s)
		return 0;
	for (uint32_t id = 1; id <= p->n; id++) {
		uint64_t h = hash(p->parent[id - 1], p->pool + p->off[id - 1], p->len[id - 1]);
		uint32_t i = (uint32_t)h & (n - 1);
		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = id;
	}
	free(p->slots);
	p->slots = s;
	p->nslots = n;
	return 1;
}

/* Room for one more node of len bytes; 0 out of memory. */
static int room(rep_paths *p, size_t len)
{
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? 2 * p->cap : 1024;
		uint32_t *a = realloc(p->parent, cap * sizeof(*a));
		if (!a)
			return 0;
		p->parent = a;
		if (!(a = realloc(p->off, cap * sizeof(*a))))
			return 0;
		p->off = a;
		if (!(a = realloc(p->len, cap * sizeof(*a))))
			return 0;
		p->len = a;
		p->cap = cap;
	}
	if (p->pool_len + len > p->pool_cap) {
		size_t cap = p->pool_cap ? 2 * p->pool_cap : 1 << 16;
		while (cap < p->pool_len + len)
			cap *= 2;
		char *q = realloc(p->pool, cap);
		if (!q)
			return 0;
		p->pool = q;
		p->pool_cap = cap;
	}
	return 2 * (p->n + 1) <= p->nslots || rehash(p);
}

uint32_t rep_paths_add(rep_paths *p, uint32_t parent, const char *line, size_t len)
{
	if (parent > p->n || p->n == UINT32_MAX - 1 || len > UINT32_MAX - p->pool_len)
		return 0; /* the pool's offsets are 32-bit */
	const uint64_t h = hash(parent, line, len);
	for (uint32_t i = (uint32_t)h & (p->nslots - 1); p->slots[i]; i = (i + 1) & (p->nslots - 1))
		if (same(p, p->slots[i], parent, line, len))
			return p->slots[i];
	if (!room(p, len))
		return 0;
	uint32_t i = (uint32_t)h & (p->nslots - 1); /* the table may have grown */
	while (p->slots[i])
		i = (i + 1) & (p->nslots - 1);
	const uint32_t id = ++p->n;
	p->parent[id - 1] = parent;
	p->off[id - 1] = (uint32_t)p->pool_len;
	p->len[id - 1] = (uint32_t)len;
	if (len)
		memcpy(p->pool + p->pool_len, line, len);
	p->pool_len += len;
	p->slots[i] = id;
	return id;
}

uint32_t rep_paths_count(const rep_paths *p)
{
	return p->n;
}

uint32_t rep_paths_parent(const rep_paths *p, uint32_t id)
{
	return id && id <= p->n ? p->parent[id - 1] : 0;
}

const char *rep_paths_line(const rep_paths *p, uint32_t id, size_t *len)
{
	if (!id || id > p->n) {
		*len = 0;
		return "";
	}
	*len = p->len[id - 1];
	return p->pool + p->off[id - 1];
}

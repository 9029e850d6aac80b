/*
 * u64map.c - the hash table of u64map.h: growth, insertion, removal by
 * backward shift, iteration, and the two memory sources.
 */
#include "u64map.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FIRST_CAP 64             /* slots of a map's first table */
#define BIG_TABLE (1u << 20)     /* u64map_pages: tables this large are mappings */
#define RELEASE_STEP (2u << 20)  /* a growing map lets its old table go in steps of this */

/* A zeroed table written now, not calloc'd: calloc leaves a large block as
 * the kernel's zero page, which the first probe maps read-only and the
 * first insertion then copies, flushing the TLB of every other CPU that
 * runs one of the process's threads (replay runs two). */
static void *heap_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	void *p = malloc(bytes);
	return p ? memset(p, 0, bytes) : NULL;
}

static void heap_release(void *ctx, void *table, size_t bytes, size_t off, size_t len)
{
	(void)ctx;
	if (off + len == bytes)
		free(table);
}

const u64map_mem u64map_heap = {heap_alloc, heap_release, NULL};

static void *pages_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	if (bytes < BIG_TABLE)
		return calloc(1, bytes);
	/* populated: written pages from the start, for the reason heap_alloc says */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p; /* zero-filled */
}

static void pages_release(void *ctx, void *table, size_t bytes, size_t off, size_t len)
{
	(void)ctx;
	if (bytes < BIG_TABLE) {
		if (off + len == bytes)
			free(table);
	} else if (len) {
		munmap((char *)table + off, len);
	}
}

const u64map_mem u64map_pages = {pages_alloc, pages_release, NULL};

void u64map_init(u64map *m, unsigned words, const u64map_mem *mem)
{
	*m = (u64map){.stride = 1 + (words ? words : 1), .mem = mem};
}

static size_t table_bytes(const u64map *m, size_t cap)
{
	return (cap + 1) * m->stride * sizeof(uint64_t);
}

void u64map_clear(u64map *m)
{
	if (m->t) {
		const size_t bytes = table_bytes(m, m->cap);
		m->mem->release(m->mem->ctx, m->t, bytes, 0, bytes);
	}
	*m = (u64map){.stride = m->stride, .mem = m->mem};
}

static unsigned log2_of(size_t cap)
{
	unsigned n = 0;
	while (((size_t)1 << n) < cap)
		n++;
	return n;
}

/* Twice the slots (FIRST_CAP at first); the old table is given back as its
 * records move.  false when out of memory (the map is as it was). */
static bool grow(u64map *m)
{
	const size_t cap = m->cap ? 2 * m->cap : FIRST_CAP, w = m->stride;
	const size_t old_bytes = m->t ? table_bytes(m, m->cap) : 0;
	uint64_t *t = m->mem->alloc(m->mem->ctx, table_bytes(m, cap));
	if (!t)
		return false;
	const unsigned shift = 64 - log2_of(cap);
	size_t gone = 0; /* bytes of the old table given back */
	for (size_t i = 0; i < m->cap; i++) {
		const uint64_t *o = &m->t[i * w];
		if (o[0]) {
			size_t j = (size_t)((o[0] * 0x9E3779B97F4A7C15ull) >> shift);
			while (t[j * w])
				j = (j + 1) & (cap - 1);
			memcpy(&t[j * w], o, w * sizeof(uint64_t));
		}
		const size_t read = (i + 1) * w * sizeof(uint64_t);
		if (read - gone >= RELEASE_STEP) {
			const size_t upto = read & ~(size_t)(RELEASE_STEP - 1);
			m->mem->release(m->mem->ctx, m->t, old_bytes, gone, upto - gone);
			gone = upto;
		}
	}
	if (m->t) { /* the key UINT64_MAX keeps its slot after the last */
		memcpy(&t[cap * w], &m->t[m->cap * w], w * sizeof(uint64_t));
		m->mem->release(m->mem->ctx, m->t, old_bytes, gone, old_bytes - gone);
	}
	m->t = t;
	m->cap = cap;
	m->shift = shift;
	return true;
}

bool u64map_reserve(u64map *m, size_t more)
{
	while ((m->live + more) * 8 > m->cap * 5)
		if (!grow(m))
			return false;
	return true;
}

uint64_t *u64map_insert(u64map *m, uint64_t key)
{
	if ((m->live + 1) * 8 > m->cap * 5 && !grow(m))
		return NULL;
	const size_t w = m->stride;
	uint64_t *s;
	if (key == UINT64_MAX) {
		s = &m->t[m->cap * w];
		if (s[0])
			return NULL; /* one record at most */
	} else {
		size_t i = u64map_home(m, key);
		while (m->t[i * w])
			i = (i + 1) & (m->cap - 1);
		s = &m->t[i * w];
	}
	memset(s, 0, w * sizeof(uint64_t));
	s[0] = key + 1 ? key + 1 : 1; /* UINT64_MAX's slot only needs to be used */
	m->live++;
	return s + 1;
}

uint64_t *u64map_get(u64map *m, uint64_t key, bool *made)
{
	uint64_t *v = u64map_find(m, key);
	*made = !v;
	return v ? v : u64map_insert(m, key);
}

bool u64map_put(u64map *m, uint64_t key, uint64_t v)
{
	bool made;
	uint64_t *p = u64map_get(m, key, &made);
	if (p)
		*p = v;
	return p != NULL;
}

void u64map_del(u64map *m, uint64_t key)
{
	uint64_t *p = u64map_find(m, key);
	if (p)
		u64map_remove(m, p);
}

uint64_t *u64map_find_next(const u64map *m, uint64_t key, const uint64_t *after)
{
	if (key == UINT64_MAX)
		return NULL;
	const size_t w = m->stride;
	for (size_t i = ((size_t)(after - 1 - m->t) / w + 1) & (m->cap - 1);;
	     i = (i + 1) & (m->cap - 1)) {
		uint64_t *s = &m->t[i * w];
		if (s[0] == key + 1)
			return s + 1;
		if (!s[0])
			return NULL;
	}
}

void u64map_remove(u64map *m, uint64_t *vals)
{
	const size_t w = m->stride, mask = m->cap - 1;
	size_t hole = (size_t)(vals - 1 - m->t) / w;
	m->live--;
	if (hole == m->cap) { /* the key UINT64_MAX */
		m->t[hole * w] = 0;
		return;
	}
	/* the later records of the run whose home is not cyclically in
	 * (hole, their slot] move back into the hole */
	for (size_t j = hole;;) {
		j = (j + 1) & mask;
		uint64_t *s = &m->t[j * w];
		if (!s[0])
			break;
		const size_t home = (size_t)((s[0] * 0x9E3779B97F4A7C15ull) >> m->shift);
		const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			memcpy(&m->t[hole * w], s, w * sizeof(uint64_t));
			hole = j;
		}
	}
	m->t[hole * w] = 0;
}

bool u64map_next(const u64map *m, size_t *pos, uint64_t *key, uint64_t **vals)
{
	for (; m->cap && *pos <= m->cap; (*pos)++) {
		uint64_t *s = &m->t[*pos * m->stride];
		if (!s[0])
			continue;
		*key = *pos == m->cap ? UINT64_MAX : s[0] - 1;
		*vals = s + 1;
		(*pos)++;
		return true;
	}
	return false;
}

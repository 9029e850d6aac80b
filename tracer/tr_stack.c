/*
 * tr_stack.c - interning call stacks as a prefix tree (FORMAT.md §4.3).
 *
 * A node is (parent id, ip); an open-addressing hash table maps it to its
 * id.  A stack is interned from its outermost frame inwards, writing a
 * STACK record for each new node; its leaf is the event's stack id.
 *
 * A one-entry cache per thread skips everything when a thread allocates
 * from the same stack twice in a row, the common case in loops.  Past it,
 * most events still come from a stack seen before, so a second table maps
 * a hash of the whole stack to its leaf: one hash over the frames and a
 * walk up the leaf's parents to confirm the match (the nodes are kept by
 * id), instead of one table probe per frame.  All memory is mmap'd;
 * everything runs under tr_lock.
 */
#include "tr_internal.h"

#include <string.h>

typedef struct node_slot {
	uint64_t ip;
	uint32_t parent; /* parent id */
	uint32_t id;     /* 0 = empty slot */
} node_slot;

typedef struct stack_slot {
	uint64_t hash; /* of the whole stack (hash_stack) */
	uint32_t leaf; /* 0 = empty slot */
	uint32_t n;    /* frames */
} stack_slot;

typedef struct node {
	uint64_t ip;
	uint64_t parent;
} node;

static struct {
	node_slot *slots; /* (parent, ip) -> id */
	size_t cap;       /* power of two */
	size_t count;     /* used slots; count <= cap / 2 */
	stack_slot *stacks; /* whole stack -> leaf */
	size_t scap, scount; /* as cap and count */
	node *nodes;      /* by id: ip and parent, nodes[0] unused */
	size_t ncap;      /* entries of nodes */
	uint32_t gen;     /* bumped on reset: invalidates the thread caches */
} S = {.gen = 1};

static __thread struct {
	uint32_t gen, leaf;
	int n;
	void *ips[TR_MAX_DEPTH];
} cache __attribute__((tls_model("initial-exec")));

#define GOLDEN 0x9E3779B97F4A7C15ull /* 2^64 / the golden ratio: Fibonacci hashing */
#define NODES_FIRST (1u << 14)  /* slots of the first node table, entries of the first node list */
#define STACKS_FIRST (1u << 12) /* slots of the first whole-stack table */

static inline size_t slot_of(uint32_t parent, uint64_t ip, size_t mask)
{
	uint64_t h = (ip ^ ((uint64_t)parent << 32 | parent)) * GOLDEN;
	return (size_t)(h >> 20) & mask;
}

static inline uint64_t hash_stack(void *const *ips, int n)
{
	uint64_t h = (uint64_t)n;
	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)ips[i]) * GOLDEN;
	return h ^ h >> 29;
}

/* Where a used slot's probe starts in a table of mask + 1 slots; EMPTY
 * for an empty slot. */
#define EMPTY SIZE_MAX
typedef size_t (*home_fn)(const void *slot, size_t mask);

static size_t node_home(const void *slot, size_t mask)
{
	const node_slot *e = slot;
	return e->id ? slot_of(e->parent, e->ip, mask) : EMPTY;
}

static size_t stack_home(const void *slot, size_t mask)
{
	const stack_slot *e = slot;
	return e->leaf ? (size_t)e->hash & mask : EMPTY;
}

/* Doubles a table of *cap slots of size bytes (first slots when it has
 * none), moving each used slot to its place in the new one, which it
 * returns; NULL when out of memory (the table stays as it was). */
static void *grow(void *table, size_t *cap, size_t first, size_t size, home_fn home)
{
	size_t ncap = *cap ? *cap * 2 : first;
	char *t = tr_mmap_alloc(NULL, ncap * size); /* fresh mappings are zero: every slot empty */
	if (!t)
		return NULL;
	for (size_t i = 0; i < *cap; i++) {
		const char *e = (const char *)table + i * size;
		size_t j = home(e, ncap - 1);
		if (j == EMPTY)
			continue;
		while (home(t + j * size, ncap - 1) != EMPTY)
			j = (j + 1) & (ncap - 1);
		memcpy(t + j * size, e, size);
	}
	tr_mmap_free(NULL, table);
	*cap = ncap;
	return t;
}

static bool grow_nodes(void)
{
	node_slot *t = grow(S.slots, &S.cap, NODES_FIRST, sizeof(node_slot), node_home);
	if (!t)
		return false;
	S.slots = t;
	return true;
}

static bool grow_stacks(void)
{
	stack_slot *t = grow(S.stacks, &S.scap, STACKS_FIRST, sizeof(stack_slot), stack_home);
	if (!t)
		return false;
	S.stacks = t;
	return true;
}

/* Keeps node id's ip and parent, for stack_is. */
static bool keep_node(uint32_t id, uint32_t parent, uint64_t ip)
{
	if (id >= S.ncap) {
		size_t ncap = S.ncap ? S.ncap * 2 : NODES_FIRST;
		while (ncap <= id)
			ncap *= 2;
		node *t = tr_mmap_alloc(NULL, ncap * sizeof(node));
		if (!t)
			return false;
		if (S.nodes)
			memcpy(t, S.nodes, S.ncap * sizeof(node));
		tr_mmap_free(NULL, S.nodes);
		S.nodes = t;
		S.ncap = ncap;
	}
	S.nodes[id] = (node){ip, parent};
	return true;
}

/* The id of (parent, ip), adding it (and its STACK record) if new. */
static uint32_t intern_node(uint32_t parent, uint64_t ip, tr_put_fn put)
{
	if ((S.count + 1) * 2 > S.cap && !grow_nodes())
		return 0;
	size_t mask = S.cap - 1, j = slot_of(parent, ip, mask);
	for (; S.slots[j].id; j = (j + 1) & mask)
		if (S.slots[j].ip == ip && S.slots[j].parent == parent)
			return S.slots[j].id;
	tf_record rec = {.kind = TF_STACK};
	rec.u.node.parent = parent;
	rec.u.node.ip = ip;
	if (put(&rec) < 0 || rec.u.node.id > UINT32_MAX ||
	    !keep_node((uint32_t)rec.u.node.id, parent, ip))
		return 0;
	S.slots[j] = (node_slot){ip, parent, (uint32_t)rec.u.node.id}; /* the writer's id */
	S.count++;
	return S.slots[j].id;
}

/* Whether the path from leaf up to the root is ips[0..n). */
static bool stack_is(uint32_t leaf, void *const *ips, int n)
{
	uint64_t id = leaf;
	for (int i = 0; i < n; i++) {
		if (!id || S.nodes[id].ip != (uint64_t)(uintptr_t)ips[i])
			return false;
		id = S.nodes[id].parent;
	}
	return id == 0;
}

/* The leaf of ips[0..n), interning it if new. */
static uint32_t find_stack(void *const *ips, int n, tr_put_fn put)
{
	uint64_t h = hash_stack(ips, n);
	size_t mask = S.scap - 1;
	for (size_t j = (size_t)h & mask; S.stacks && S.stacks[j].leaf; j = (j + 1) & mask)
		if (S.stacks[j].hash == h && S.stacks[j].n == (uint32_t)n &&
		    stack_is(S.stacks[j].leaf, ips, n))
			return S.stacks[j].leaf;
	uint32_t id = 0;
	for (int i = n - 1; i >= 0; i--) {
		id = intern_node(id, (uint64_t)(uintptr_t)ips[i], put);
		if (!id)
			return 0;
	}
	/* remember the whole stack (without room, it is found the slow way) */
	if ((S.scount + 1) * 2 > S.scap && !grow_stacks())
		return id;
	mask = S.scap - 1;
	size_t j = (size_t)h & mask;
	while (S.stacks[j].leaf)
		j = (j + 1) & mask;
	S.stacks[j] = (stack_slot){h, id, (uint32_t)n};
	S.scount++;
	return id;
}

uint64_t tr_stacks_intern(void *const *ips, int n, tr_put_fn put)
{
	if (n <= 0)
		return 0;
	if (cache.gen == S.gen && cache.n == n && !memcmp(cache.ips, ips, (size_t)n * sizeof(*ips)))
		return cache.leaf;
	uint32_t leaf = find_stack(ips, n, put);
	if (!leaf)
		return 0;
	cache.gen = S.gen;
	cache.n = n;
	cache.leaf = leaf;
	memcpy(cache.ips, ips, (size_t)n * sizeof(*ips));
	return leaf;
}

void tr_stacks_reset(void)
{
	tr_mmap_free(NULL, S.slots);
	tr_mmap_free(NULL, S.stacks);
	tr_mmap_free(NULL, S.nodes);
	uint32_t gen = S.gen;
	memset(&S, 0, sizeof(S));
	S.gen = gen + 1;
}

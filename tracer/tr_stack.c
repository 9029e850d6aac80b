/*
 * tr_stack.c - interning call stacks as a prefix tree (FORMAT.md §4.3).
 *
 * A node is (parent id, ip); an open-addressing hash table maps it to its
 * id.  A stack is interned from its outermost frame inwards, writing a
 * STACK record for each new node; its leaf is the event's stack id.  A
 * one-entry cache per thread skips the walk when a thread allocates from
 * the same stack twice in a row, the common case in loops.  All memory
 * is mmap'd; everything runs under tr_lock.
 */
#include "tr_internal.h"

#include <string.h>

typedef struct node_slot {
	uint64_t ip;
	uint32_t parent; /* parent id */
	uint32_t id;     /* 0 = empty slot */
} node_slot;

static struct {
	node_slot *slots;
	size_t cap;   /* power of two */
	size_t count; /* used slots; count <= cap / 2 */
	uint32_t gen; /* bumped on reset: invalidates the thread caches */
} S = {.gen = 1};

static __thread struct {
	uint32_t gen, leaf;
	int n;
	void *ips[TR_MAX_DEPTH];
} cache __attribute__((tls_model("initial-exec")));

static inline size_t slot_of(uint32_t parent, uint64_t ip, size_t mask)
{
	uint64_t h = (ip ^ ((uint64_t)parent << 32 | parent)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & mask;
}

static bool grow(void)
{
	size_t cap = S.cap ? S.cap * 2 : 1u << 14;
	node_slot *t = tr_mmap_alloc(NULL, cap * sizeof(node_slot));
	if (!t)
		return false; /* fresh mappings are zero: every slot empty */
	for (size_t i = 0; i < S.cap; i++) {
		node_slot e = S.slots[i];
		if (!e.id)
			continue;
		size_t j = slot_of(e.parent, e.ip, cap - 1);
		while (t[j].id)
			j = (j + 1) & (cap - 1);
		t[j] = e;
	}
	tr_mmap_free(NULL, S.slots);
	S.slots = t;
	S.cap = cap;
	return true;
}

/* The id of (parent, ip), adding it (and its STACK record) if new. */
static uint32_t intern_node(uint32_t parent, uint64_t ip, tr_put_fn put)
{
	if ((S.count + 1) * 2 > S.cap && !grow())
		return 0;
	size_t mask = S.cap - 1, j = slot_of(parent, ip, mask);
	for (; S.slots[j].id; j = (j + 1) & mask)
		if (S.slots[j].ip == ip && S.slots[j].parent == parent)
			return S.slots[j].id;
	tf_record rec = {.kind = TF_STACK};
	rec.u.node.parent = parent;
	rec.u.node.ip = ip;
	if (put(&rec) < 0)
		return 0;
	S.slots[j] = (node_slot){ip, parent, (uint32_t)rec.u.node.id}; /* the writer's id */
	S.count++;
	return S.slots[j].id;
}

uint64_t tr_stacks_intern(void *const *ips, int n, tr_put_fn put)
{
	if (cache.gen == S.gen && cache.n == n && !memcmp(cache.ips, ips, (size_t)n * sizeof(*ips)))
		return cache.leaf;
	uint32_t id = 0;
	for (int i = n - 1; i >= 0; i--) {
		id = intern_node(id, (uint64_t)(uintptr_t)ips[i], put);
		if (!id)
			return 0;
	}
	cache.gen = S.gen;
	cache.n = n;
	cache.leaf = id;
	memcpy(cache.ips, ips, (size_t)n * sizeof(*ips));
	return id;
}

void tr_stacks_reset(void)
{
	tr_mmap_free(NULL, S.slots);
	S.slots = NULL;
	S.cap = S.count = 0;
	S.gen++;
}

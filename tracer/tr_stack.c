/*
 * tr_stack.c - interning call stacks as a prefix tree (FORMAT.md §4.3).
 *
 * A node is (parent id, ip); a hash table (common/u64map.h) maps a hash
 * of the pair to the nodes with that hash, each with its ip, parent and
 * id.  A stack is interned from its outermost frame inwards, writing a
 * STACK record for each new node; its leaf is the event's stack id.
 *
 * A one-entry cache per thread skips everything when a thread allocates
 * from the same stack twice in a row, the common case in loops.  Past it,
 * most events still come from a stack seen before, so a second table maps
 * a hash of the whole stack to its leaf: one hash over the frames and a
 * walk up the leaf's parents to confirm the match (the nodes are kept by
 * id), instead of one table probe per frame.  A deep stack that leaves
 * the thread's last one only in a few inner frames is interned from the
 * last one's node where it leaves it (from_last).  All memory is mmap'd
 * (the tables' too, through tr_map_mem); everything runs under tr_lock.
 *
 * Python frames (tr_pystack.h) are frames like the others, with the code
 * object's address in them: a node of one is also bound to the code's
 * py_code id, written (once per code object) before the node's record.
 * When a code object is freed (tr_stacks_code_freed), its address may
 * come back as another code object's: it is forgotten, and the caches,
 * which know frames by address only, are emptied of the stacks they hold
 * (a new generation), so the next stack with that address interns its
 * nodes again and finds the new code's id.
 *
 * Invariants: every node id 1..count has one record in the node table,
 * under the hash of its (parent, ip), and nodes[id] holds the same pair
 * (and a Python frame's code id); a whole-stack record of the current
 * generation names a leaf whose path to the root is a stack of that hash and
 * length; a code address in the code table is a live code object's, with
 * the id its py_code record has.
 */
#include "tr_internal.h"
#include "tr_pystack.h"
#include "u64map.h"

#include <string.h>

typedef struct node {
	uint64_t ip;
	uint32_t parent;
	uint32_t code; /* a Python frame's py_code id, else 0 */
} node;

/* The tables' memory: mappings of their own, off the traced heap. */
static void *map_alloc(void *ctx, size_t bytes)
{
	return tr_mmap_alloc(ctx, bytes); /* fresh mappings are zero */
}

static void map_release(void *ctx, void *table, size_t bytes, size_t off, size_t len)
{
	if (off + len == bytes)
		tr_mmap_free(ctx, table);
}

static const u64map_mem tr_map_mem = {map_alloc, map_release, NULL};

enum { N_IP, N_PARENT_ID }; /* a node's values: its ip; its parent id << 32 | its id */
enum { W_LEAF, W_GEN };      /* a whole stack's: its frames << 32 | its leaf; its generation */

uint32_t tr_stacks_codes;

static struct {
	u64map nodes_by; /* hash of (parent, ip) -> ip, parent and id */
	u64map stacks;   /* hash of a whole stack -> its frames, leaf and generation */
	u64map codes;    /* a live code object's address -> its py_code id */
	uint32_t code_ids; /* py_code ids given */
	bool ready;
	node *nodes;     /* by id: ip and parent, nodes[0] unused */
	size_t ncap;     /* entries of nodes */
	uint32_t gen;    /* bumped on reset and when a code object known here dies:
			  * invalidates the thread caches and the whole stacks */
} S = {.gen = 1};

/* The thread's last stack; of a deep one, each frame's node too, by its
 * distance from the outermost frame (ids[0] is the root's child), so that
 * a stack that shares its outer frames is interned from where it leaves
 * them (tr_stacks_intern). */
static __thread struct {
	uint32_t gen, leaf;
	int n;
	bool has_ids; /* ids[0..n) are the nodes of ips[n-1..0] */
	void *ips[TR_MAX_DEPTH];
	uint32_t ids[TR_MAX_DEPTH];
} cache __attribute__((tls_model("initial-exec")));

#define GOLDEN 0x9E3779B97F4A7C15ull /* 2^64 / the golden ratio: Fibonacci hashing */
#define NODES_FIRST (1u << 14)  /* entries of the first node list */

/* Keys are never UINT64_MAX, which a table holds once only. */
static inline uint64_t node_key(uint32_t parent, uint64_t ip)
{
	uint64_t k = (ip * GOLDEN) ^ ((uint64_t)parent << 32 | parent);
	return k == UINT64_MAX ? k - 1 : k;
}

static inline uint64_t hash_stack(void *const *ips, int n)
{
	uint64_t h = (uint64_t)n;
	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)ips[i]) * GOLDEN;
	h ^= h >> 29;
	return h == UINT64_MAX ? h - 1 : h;
}

static void tables_ready(void)
{
	if (S.ready)
		return;
	u64map_init(&S.nodes_by, 2, &tr_map_mem);
	u64map_init(&S.stacks, 2, &tr_map_mem);
	u64map_init(&S.codes, 1, &tr_map_mem);
	S.ready = true;
}

/* Keeps node id's ip, parent and code, for stack_is. */
static bool keep_node(uint32_t id, uint32_t parent, uint64_t ip, uint32_t code)
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
	S.nodes[id] = (node){ip, parent, code};
	return true;
}

/* The py_code id of the live code object at addr, writing its record if
 * it is new here; 0 when it cannot be had. */
static uint32_t code_id(uintptr_t addr, tr_put_fn put)
{
	uint64_t *v = u64map_find(&S.codes, addr);
	if (v)
		return (uint32_t)*v;
	tf_record rec = {.kind = TF_PY_CODE};
	if (!tr_pystack_code(addr, &rec.u.py_code))
		return 0;
	rec.u.py_code.id = S.code_ids + 1;
	if (!(v = u64map_insert(&S.codes, addr)))
		return 0;
	if (put(&rec) < 0) {
		u64map_remove(&S.codes, v);
		return 0;
	}
	*v = ++S.code_ids;
	tr_stacks_codes++;
	return S.code_ids;
}

void tr_stacks_code_freed(uint64_t addr)
{
	uint64_t *v = S.ready ? u64map_find(&S.codes, addr) : NULL;
	if (!v)
		return;
	u64map_remove(&S.codes, v);
	tr_stacks_codes--;
	S.gen++; /* the whole stacks and the threads' last ones may hold the address */
}

/* The id of (parent, ip), adding it (and its STACK record) if new. */
static uint32_t intern_node(uint32_t parent, uint64_t ip, tr_put_fn put)
{
	uint32_t code = 0;
	if (tr_is_pyf(ip) && !(code = code_id(tr_pyf_code(ip), put)))
		return 0;
	const uint64_t key = node_key(parent, ip);
	for (uint64_t *v = u64map_find(&S.nodes_by, key); v; v = u64map_find_next(&S.nodes_by, key, v))
		if (v[N_IP] == ip && (uint32_t)(v[N_PARENT_ID] >> 32) == parent &&
		    S.nodes[(uint32_t)v[N_PARENT_ID]].code == code)
			return (uint32_t)v[N_PARENT_ID];
	/* its record first: a node whose STACK record is written is in the table */
	uint64_t *v = u64map_insert(&S.nodes_by, key);
	if (!v)
		return 0;
	tf_record rec = {.kind = TF_STACK};
	rec.u.node.parent = parent;
	rec.u.node.ip = code ? tr_pyf_offset(ip) : ip;
	rec.u.node.code = code;
	if (put(&rec) < 0 || rec.u.node.id > UINT32_MAX ||
	    !keep_node((uint32_t)rec.u.node.id, parent, ip, code)) {
		u64map_remove(&S.nodes_by, v);
		return 0;
	}
	const uint32_t id = (uint32_t)rec.u.node.id; /* the writer's id */
	v[N_IP] = ip;
	v[N_PARENT_ID] = (uint64_t)parent << 32 | id;
	return id;
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
	tables_ready();
	const uint64_t h = hash_stack(ips, n);
	uint64_t *stale = NULL; /* an entry of an earlier generation for this stack */
	for (uint64_t *v = u64map_find(&S.stacks, h); v; v = u64map_find_next(&S.stacks, h, v))
		if ((uint32_t)(v[W_LEAF] >> 32) == (uint32_t)n && stack_is((uint32_t)v[W_LEAF], ips, n)) {
			if (v[W_GEN] == S.gen)
				return (uint32_t)v[W_LEAF];
			stale = v;
			break;
		}
	uint32_t id = 0;
	for (int i = n - 1; i >= 0; i--) {
		id = intern_node(id, (uint64_t)(uintptr_t)ips[i], put);
		if (!id)
			return 0;
	}
	/* remember the whole stack (without room, it is found the slow way) */
	uint64_t *v = stale ? stale : u64map_insert(&S.stacks, h);
	if (v) {
		v[W_LEAF] = (uint64_t)(uint32_t)n << 32 | id;
		v[W_GEN] = S.gen;
	}
	return id;
}

/* A stack at least DEEP frames deep whose frames differ from the thread's
 * last stack in at most FEW inner ones is interned from the node where they
 * leave it: FEW node probes, against a hash over all its frames and a walk
 * up its whole path.  (For shallow stacks, whose inner frames change on
 * nearly every event, node probes, each a cache miss, cost as much as the
 * whole-stack lookup: tests/bench/pywork.py was no faster.)  A Python
 * before 3.11, a dozen calls deep, allocates under some 70 frames, of which
 * the leaf's Python frame changes. */
#define DEEP 24
#define FEW 4

/* The nodes of the leaf's path into cache.ids, for the next stack. */
static void keep_ids(uint32_t leaf, int n)
{
	uint32_t id = leaf;
	for (int k = n - 1; k >= 0; k--) {
		cache.ids[k] = id;
		id = S.nodes[id].parent;
	}
	cache.has_ids = true;
}

/* The leaf of ips[0..n) interned from the outer frames it shares with the
 * thread's last stack, or 0 when it shares too few (or out of memory). */
static uint32_t from_last(void *const *ips, int n, tr_put_fn put)
{
	const int m = cache.n;
	int c = 0; /* outer frames shared */
	while (c < n && c < m && ips[n - 1 - c] == cache.ips[m - 1 - c])
		c++;
	if (n - c > FEW || !c)
		return 0;
	uint32_t id = cache.ids[c - 1];
	for (int k = c; k < n; k++) {
		if (!(id = intern_node(id, (uint64_t)(uintptr_t)ips[n - 1 - k], put))) {
			cache.has_ids = false; /* ids[c..k) are this stack's, not the last one's */
			return 0;
		}
		cache.ids[k] = id;
	}
	return id;
}

uint64_t tr_stacks_intern(void *const *ips, int n, tr_put_fn put)
{
	if (n <= 0)
		return 0;
	if (cache.gen == S.gen && cache.n == n && !memcmp(cache.ips, ips, (size_t)n * sizeof(*ips)))
		return cache.leaf;
	uint32_t leaf = 0;
	const bool deep = n >= DEEP;
	if (deep && cache.gen == S.gen && cache.has_ids)
		leaf = from_last(ips, n, put); /* its ids are kept: ids[0..n) */
	if (!leaf) {
		if (!(leaf = find_stack(ips, n, put)))
			return 0;
		cache.has_ids = false;
		if (deep)
			keep_ids(leaf, n);
	}
	cache.gen = S.gen;
	cache.n = n;
	cache.leaf = leaf;
	memcpy(cache.ips, ips, (size_t)n * sizeof(*ips));
	return leaf;
}

void tr_stacks_reset(void)
{
	if (S.ready) {
		u64map_clear(&S.nodes_by);
		u64map_clear(&S.stacks);
		u64map_clear(&S.codes);
	}
	tr_stacks_codes = 0;
	tr_mmap_free(NULL, S.nodes);
	uint32_t gen = S.gen;
	memset(&S, 0, sizeof(S));
	S.gen = gen + 1;
}

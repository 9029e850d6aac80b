/*
 * synth.c - writes a synthetic trace of a churn workload with the trace
 * library: the bundled workload of `make demo`, the input of the format
 * benchmark and of golden tests.  Deterministic for a given seed.
 *
 * The workload: `slots` live slots, each step frees a random slot (if
 * used) and allocates into it; 95% of sizes 1..512 bytes, 5% up to 64 KiB;
 * malloc mostly, some calloc/realloc/aligned calls; two call sites per
 * thread by default.  Addresses come from a small model of a size-class
 * allocator (LIFO free lists, bump pointer), which is what makes real traces
 * predictable.  With --python it adds pymalloc-layer events, arenas, GC
 * passes and a snapshot.  --sites N gives each thread N call sites (leaf
 * stack nodes; slot s allocates from site s mod N) and --marks N spreads N
 * marks (snapshots with --python) evenly over the run: the reports' tests
 * use both for traces with many call sites and marks.
 *
 * --pinning writes another workload instead, the shape `make demo` shows,
 * small and exact for the reports' golden tests: `slots` blocks built from
 * two call sites, a generation-0 GC pass freeing every 50th, then all but
 * every 20th block of the first site freed in a scattered order, and a
 * full GC pass freeing half the survivors and those of the last quarter;
 * one microsecond per event.
 */
#include "tf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct opts {
	const char *out;
	uint64_t events, seed, slots;
	uint64_t sites, marks; /* call sites per thread; marks over the run */
	unsigned threads;
	int level;
	bool python, exact_time, pinning;
} opts;

/* xorshift64*: small, fast, deterministic everywhere */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* ---- a tiny size-class allocator model for plausible addresses ---- */
#define NCLASS (64 + 17) /* 16-byte classes to 1 KiB, then 4 KiB ones to 68 KiB */
typedef struct heap {
	uint64_t top; /* bump pointer */
	struct {
		uint64_t *a;
		size_t n, cap;
	} free[NCLASS]; /* LIFO free lists */
} heap;

static unsigned size_class(uint64_t size)
{
	size += 16; /* a header, as most allocators have */
	return size <= 1024 ? (unsigned)((size + 15) / 16) - 1
			    : 64 + (unsigned)((size - 1024 + 4095) / 4096);
}

static uint64_t class_bytes(unsigned c)
{
	return c < 64 ? (c + 1) * 16u : 1024 + (c - 64) * 4096u;
}

static uint64_t heap_alloc(heap *h, uint64_t size)
{
	unsigned c = size_class(size);
	if (h->free[c].n)
		return h->free[c].a[--h->free[c].n];
	uint64_t a = h->top + 16;
	h->top += class_bytes(c);
	return a;
}

static void heap_free(heap *h, uint64_t a, uint64_t size)
{
	unsigned c = size_class(size);
	if (h->free[c].n == h->free[c].cap) {
		size_t cap = h->free[c].cap ? 2 * h->free[c].cap : 64;
		uint64_t *p = realloc(h->free[c].a, cap * sizeof(*p));
		if (!p) {
			fprintf(stderr, "atr-synth: out of memory\n");
			exit(1);
		}
		h->free[c].a = p, h->free[c].cap = cap;
	}
	h->free[c].a[h->free[c].n++] = a;
}

static void heap_release(heap *h)
{
	for (unsigned c = 0; c < NCLASS; c++)
		free(h->free[c].a);
}

static uint64_t pick_size(void)
{
	uint64_t r = rnd() % 100;
	if (r < 95)
		return 1 + rnd() % (r < 60 ? 64 : 512);
	return 513 + rnd() % (65536 - 512);
}

/* ---- the trace ---- */

typedef struct gen {
	tf_writer *w;
	tf_record rec;
	uint64_t time;
	uint64_t nsites;
	uint64_t *sites; /* leaf stack ids: [thread * nsites + site] */
} gen;

static int put(gen *g, tf_kind kind, uint32_t thread)
{
	g->rec.kind = kind;
	g->rec.thread = thread;
	g->rec.time = g->time;
	int rc = tf_writer_put(g->w, &g->rec);
	if (rc < 0)
		fprintf(stderr, "atr-synth: writing: %s\n", tf_strerror(rc));
	memset(&g->rec.u, 0, sizeof(g->rec.u));
	return rc;
}

static uint64_t node(gen *g, uint64_t parent, uint64_t ip)
{
	g->rec.u.node.parent = parent;
	g->rec.u.node.ip = ip;
	g->rec.kind = TF_STACK;
	g->rec.time = g->time;
	tf_writer_put(g->w, &g->rec);
	uint64_t id = g->rec.u.node.id;
	memset(&g->rec.u, 0, sizeof(g->rec.u));
	return id;
}

static int prologue(gen *g, const opts *o)
{
	static const char *const names[] = {"main", "worker"};
	uint8_t seg[32];
	size_t n = 0;
	n += tf_put_varint(seg + n, 0);
	n += tf_put_varint(seg + n, 0x2000);
	n += tf_put_varint(seg + n, 5); /* r-x */
	n += tf_put_varint(seg + n, 0x4000);
	n += tf_put_varint(seg + n, 0x800);
	n += tf_put_varint(seg + n, 6); /* rw- */
	g->rec.u.module = (tf_module){1, 0x555555554000, {"/usr/bin/synthetic", 18},
				      {"\x12\x34\x56\x78", 4}, {(const char *)seg, n}};
	put(g, TF_MODULE, 1);
	g->rec.u.module = (tf_module){2, 0x7ffff7d80000, {"/lib/x86_64-linux-gnu/libc.so.6", 31},
				      {"", 0}, {(const char *)seg, n}};
	put(g, TF_MODULE, 1);
	for (unsigned t = 1; t <= o->threads; t++) {
		g->rec.u.thread = (tf_thread){t, 1000 + t, {names[t > 1], strlen(names[t > 1])}};
		put(g, TF_THREAD, t);
		uint64_t root = node(g, 0, 0x555555555100);
		uint64_t mid = node(g, root, 0x555555555200 + t * 0x10);
		uint64_t *site = &g->sites[t * g->nsites];
		site[0] = node(g, mid, 0x555555555300);
		if (g->nsites > 1)
			site[1] = node(g, mid, 0x555555555400);
		for (uint64_t k = 2; k < g->nsites; k++) /* more, inside the executable */
			site[k] = node(g, mid, 0x555555555500 + k % 128 * 0x10);
	}
	return 0;
}

static void python_events(gen *g, uint64_t i, uint32_t t, heap *py)
{
	static uint64_t live[256];
	uint64_t k = rnd() % 256;
	if (live[k]) {
		g->rec.u.alloc.addr = live[k];
		put(g, TF_PY_OBJ_FREE, t);
		heap_free(py, live[k], 32);
	}
	g->rec.u.alloc.size = 32;
	g->rec.u.alloc.addr = live[k] = heap_alloc(py, 32);
	put(g, TF_PY_OBJ_MALLOC, t);
	if (i % 5000 == 0) {
		g->rec.u.arena = (tf_arena){0x7ffff6000000 + (i / 5000 % 8) * 0x100000, 1 << 20};
		put(g, TF_ARENA_ALLOC, t);
	}
	if (i % 7001 == 7000) {
		g->rec.u.gc.generation = i % 3;
		put(g, TF_GC_START, t);
		g->rec.u.gc = (tf_gc){i % 3, i % 17, 0};
		put(g, TF_GC_STOP, t);
	}
}

static void step(gen *g, const opts *o, uint64_t i, heap *h, uint64_t *addr, uint64_t *size,
		 heap *py)
{
	uint64_t s = rnd() % o->slots;
	uint32_t t = (uint32_t)(1 + (i / 64) % o->threads); /* runs per thread */
	const uint64_t site = g->sites[t * g->nsites + s % g->nsites];
	g->rec.u.alloc.stack = site;
	g->time += 20 + rnd() % 60;
	if (addr[s] && rnd() % 8 == 0) { /* grow or shrink in place or move */
		uint64_t ns = pick_size();
		uint64_t na = size_class(ns) == size_class(size[s]) ? addr[s] : heap_alloc(h, ns);
		if (na != addr[s])
			heap_free(h, addr[s], size[s]);
		g->rec.u.alloc.old = addr[s];
		g->rec.u.alloc.size = ns;
		g->rec.u.alloc.addr = na;
		put(g, TF_REALLOC, t);
		addr[s] = na, size[s] = ns;
		return;
	}
	if (addr[s]) {
		g->rec.u.alloc.addr = addr[s];
		put(g, TF_FREE, t);
		heap_free(h, addr[s], size[s]);
		addr[s] = 0;
		g->rec.u.alloc.stack = site;
	}
	uint64_t ns = pick_size(), r = rnd() % 100;
	uint64_t na = heap_alloc(h, ns);
	g->rec.u.alloc.size = ns;
	g->rec.u.alloc.addr = na;
	if (r < 90) {
		put(g, TF_MALLOC, t);
	} else if (r < 98) {
		g->rec.u.alloc.nmemb = 1;
		put(g, TF_CALLOC, t);
	} else {
		g->rec.u.alloc.align = 64;
		put(g, r == 98 ? TF_POSIX_MEMALIGN : TF_ALIGNED_ALLOC, t);
	}
	addr[s] = na, size[s] = ns;
	if (o->python)
		python_events(g, i, t, py);
}

/* --pinning: one microsecond, then free(*addr) (size bytes). */
static void free_block(gen *g, heap *h, uint64_t *addr, uint64_t size)
{
	g->time += 1000;
	g->rec.u.alloc.addr = *addr;
	put(g, TF_FREE, 1);
	heap_free(h, *addr, size);
	*addr = 0;
}

static void pinning_workload(gen *g, const opts *o, heap *h)
{
	uint64_t *addr = calloc(o->slots, sizeof(uint64_t)), *size = calloc(o->slots, 8);
	uint64_t *order = calloc(o->slots, sizeof(uint64_t));
	if (!addr || !size || !order) {
		fprintf(stderr, "atr-synth: out of memory\n");
		exit(1);
	}
	const uint64_t *site = &g->sites[1 * g->nsites];
	for (uint64_t i = 0; i < o->slots; i++) { /* build */
		bool b = i % 3 == 2;
		size[i] = b ? 300 + rnd() % 200 : 48 + rnd() % 112;
		addr[i] = heap_alloc(h, size[i]);
		g->time += 1000;
		g->rec.u.alloc = (tf_alloc){.stack = site[b], .addr = addr[i], .size = size[i]};
		put(g, TF_MALLOC, 1);
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) { /* drop most, in a scattered order */
			for (uint64_t i = 0; i < o->slots; i++)
				order[i] = i;
			for (uint64_t i = o->slots - 1; i > 0; i--) {
				uint64_t j = rnd() % (i + 1), t = order[i];
				order[i] = order[j], order[j] = t;
			}
			for (uint64_t k = 0; k < o->slots; k++) {
				uint64_t i = order[k];
				if (addr[i] && (i % 20 || i % 3 == 2))
					free_block(g, h, &addr[i], size[i]);
			}
		}
		/* a GC pass: generation 0 frees every 50th, then a full one half the
		 * survivors and all of the last quarter (their arenas go) */
		g->time += 1000;
		g->rec.u.gc.generation = pass ? 2 : 0;
		put(g, TF_GC_START, 1);
		uint64_t freed = 0;
		for (uint64_t i = 0; i < o->slots; i++) {
			if (!addr[i] || (pass ? i % 40 && i < o->slots / 4 * 3 : i % 50 != 1))
				continue;
			free_block(g, h, &addr[i], size[i]);
			freed++;
		}
		g->time += 1000;
		g->rec.u.gc = (tf_gc){pass ? 2 : 0, freed, 0};
		put(g, TF_GC_STOP, 1);
	}
	free(addr), free(size), free(order);
}

static int run(const opts *o, int fd)
{
	char argv[] = "atr-synth\0--synthetic\0";
	tf_header h = {.pid = 4242, .ppid = 1, .start_real_ns = 1700000000000000000ull,
		       .start_mono_ns = 1000000, .page_size = 4096, .pointer_size = 8,
		       .clock = {"CLOCK_MONOTONIC", 15}, .tool_version = {ARENATRACE_VERSION,
									  strlen(ARENATRACE_VERSION)},
		       .exe = {"/usr/bin/synthetic", 18}, .argv = {argv, sizeof(argv) - 1},
		       .python = {o->python ? "3.12.1" : "", o->python ? 6 : 0}};
	tf_writer_opts wo = {.fd = fd, .level = o->level, .exact_time = o->exact_time};
	gen g = {.nsites = o->pinning && o->sites < 2 ? 2 : o->sites};
	g.sites = calloc((o->threads + 1) * g.nsites, sizeof(uint64_t));
	if (!g.sites) {
		fprintf(stderr, "atr-synth: out of memory\n");
		return 1;
	}
	int rc = tf_writer_create(&g.w, &wo, &h);
	if (rc < 0) {
		fprintf(stderr, "atr-synth: %s\n", tf_strerror(rc));
		return 1;
	}
	heap hp = {.top = 0x555555560000};
	heap py = {.top = 0x7ffff6000000};
	uint64_t *addr = calloc(o->slots, sizeof(uint64_t));
	uint64_t *size = calloc(o->slots, sizeof(uint64_t));
	if (!addr || !size) {
		fprintf(stderr, "atr-synth: out of memory\n");
		return 1;
	}
	prologue(&g, o);
	if (o->pinning)
		pinning_workload(&g, o, &hp);
	for (uint64_t i = 0; i < o->events && !o->pinning; i++) {
		step(&g, o, i, &hp, addr, size, &py);
		/* the default 3 marks are the quarters of the run, and say so */
		const uint64_t every = o->events / (o->marks + 1) + 1;
		if (o->marks && i && i % every == 0) {
			char label[32];
			int n = snprintf(label, sizeof(label), "%s %llu",
					 o->marks == 3 ? "quarter" : "mark",
					 (unsigned long long)(i / every));
			g.rec.u.label.label = (tf_bytes){label, (size_t)n};
			if (o->python) {
				g.rec.u.label.text = (tf_bytes){"Small block threshold = 512, in 32 "
								"size classes.\n", 49};
				put(&g, TF_SNAPSHOT, 1);
			} else
				put(&g, TF_MARK, 1);
		}
	}
	rc = tf_writer_finish(g.w, TF_END_EXIT, 0, 0);
	if (rc < 0)
		fprintf(stderr, "atr-synth: writing %s: %s\n", o->out, tf_strerror(rc));
	tf_writer_free(g.w);
	heap_release(&hp), heap_release(&py), free(addr), free(size), free(g.sites);
	return rc < 0;
}

static int usage(void)
{
	fputs("usage: atr-synth -o FILE [--events N] [--seed S] [--slots N] [--threads N]\n"
	      "                 [--sites N] [--marks N] [--python] [--level L] [--exact-time]\n"
	      "                 [--pinning]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	opts o = {.events = 1000000, .seed = 1, .slots = 65536, .threads = 1, .sites = 2,
		  .marks = 3};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-o") && v)
			o.out = v, i++;
		else if (!strcmp(a, "--events") && v)
			o.events = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--seed") && v)
			o.seed = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--slots") && v)
			o.slots = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--threads") && v)
			o.threads = (unsigned)strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--sites") && v)
			o.sites = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--marks") && v)
			o.marks = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--level") && v)
			o.level = atoi(v), i++;
		else if (!strcmp(a, "--python"))
			o.python = true;
		else if (!strcmp(a, "--exact-time"))
			o.exact_time = true;
		else if (!strcmp(a, "--pinning"))
			o.pinning = true;
		else
			return usage();
	}
	if (!o.out || !o.slots || o.threads < 1 || o.threads > 63 || !o.sites || o.sites > 1u << 24)
		return usage();
	rng_state = o.seed * 0x9E3779B97F4A7C15ull + 1;
	int fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "atr-synth: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	int rc = run(&o, fd);
	if (close(fd) < 0 && !rc) {
		fprintf(stderr, "atr-synth: %s: %s\n", o.out, strerror(errno));
		rc = 1;
	}
	return rc;
}

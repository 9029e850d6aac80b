/*
 * tf_testutil.c - see tf_testutil.h.
 */
#include "tf_testutil.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t tgen_rand(tgen *g)
{
	/* splitmix64 */
	uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void tgen_init(tgen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed;
	g->next_node = 1;
	g->blob_every = 5000;
}

static uint64_t rnd_addr(tgen *g)
{
	uint64_t r = tgen_rand(g) % 16;
	if (r == 0)
		return 0;
	if (r < 6 && g->nrecent)
		return g->recent[tgen_rand(g) % (g->nrecent < 8 ? g->nrecent : 8)];
	if (r < 11) /* near the previous ones, aligned */
		return 0x555555550000 + (tgen_rand(g) % (1u << 20)) * 16;
	if (r < 14) /* unaligned */
		return 0x7f0000000000 + tgen_rand(g) % (1ull << 32);
	return tgen_rand(g) | 1; /* anywhere in 64 bits */
}

static uint64_t rnd_num(tgen *g)
{
	uint64_t r = tgen_rand(g);
	switch (r % 8) {
	case 0: return 0;
	case 1: return UINT64_MAX - (r >> 60);
	case 2: return r;
	default: return (r >> 8) % 600;
	}
}

static tf_bytes rnd_blob(tgen *g, unsigned slot, size_t max)
{
	size_t n = tgen_rand(g) % (max + 1);
	for (size_t i = 0; i < n; i++)
		g->blob[slot][i] = (char)tgen_rand(g);
	return (tf_bytes){g->blob[slot], n};
}

static const tf_kind alloc_kinds[] = {
    TF_MALLOC,        TF_CALLOC,        TF_REALLOC,         TF_REALLOCARRAY,  TF_FREE,
    TF_POSIX_MEMALIGN, TF_ALIGNED_ALLOC, TF_MEMALIGN,       TF_VALLOC,        TF_PVALLOC,
    TF_PY_MEM_MALLOC, TF_PY_MEM_CALLOC, TF_PY_MEM_REALLOC,  TF_PY_MEM_FREE,   TF_PY_OBJ_MALLOC,
    TF_PY_OBJ_CALLOC, TF_PY_OBJ_REALLOC, TF_PY_OBJ_FREE,    TF_FREE,          TF_MALLOC};
static const tf_kind rare_kinds[] = {TF_THREAD, TF_THREAD_NAME, TF_STACK,    TF_MODULE,
				     TF_MODULE_UNLOAD, TF_MARK,  TF_SNAPSHOT, TF_FORK,
				     TF_ARENA_ALLOC, TF_ARENA_FREE, TF_GC_START, TF_GC_STOP,
				     TF_PYTHON_ALLOCATOR, TF_PY_FINALIZE, TF_PY_INIT, TF_HEAP};
static const tf_kind blob_kinds[] = {TF_MODULE, TF_SNAPSHOT, TF_THREAD, TF_FORK};

/* Sets every field the kind encodes, leaves the rest zero. */
static void fill(tgen *g, tf_record *rec)
{
	const tf_kinddef *d = &tf_kinds[rec->kind];
	bool big = tf_kind_is_event(rec->kind) ? false : (tgen_rand(g) % 4 == 0);
	unsigned slot = 0;
	for (unsigned i = 0; i < d->nfields; i++) {
		const tf_field *f = &d->fields[i];
		switch (f->fc) {
		case TF_FC_B:
			TF_BYTES(rec, f) = rnd_blob(g, slot++ % 3, big ? 4096 : 40);
			break;
		case TF_FC_ANEW:
		case TF_FC_AOLD:
			TF_U64(rec, f) = rnd_addr(g);
			break;
		case TF_FC_PARENT:
			TF_U64(rec, f) = tgen_rand(g) % g->next_node;
			break;
		case TF_FC_IP:
			TF_U64(rec, f) = tgen_rand(g) % 3 ? 0x555555554000 + tgen_rand(g) % 65536
							   : tgen_rand(g);
			break;
		default:
			TF_U64(rec, f) = rnd_num(g);
		}
	}
	if (d->flags & TF_RF_STACK)
		rec->u.alloc.stack = tgen_rand(g) % g->next_node;
	if (rec->kind == TF_SWITCH || rec->kind == TF_TIME)
		rec->u.module_unload = 0;
}

void tgen_next(tgen *g, tf_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	uint64_t r = tgen_rand(g);
	if (r % g->blob_every == 0)
		rec->kind = blob_kinds[(r >> 20) % 4];
	else if (r % 97 == 0)
		rec->kind = rare_kinds[(r >> 20) % (sizeof(rare_kinds) / sizeof(rare_kinds[0]))];
	else
		rec->kind = alloc_kinds[(r >> 20) % (sizeof(alloc_kinds) / sizeof(alloc_kinds[0]))];
	uint64_t dt = tgen_rand(g);
	g->time += dt % 16 == 0 ? dt % 5000000 : dt % 200;
	rec->time = g->time;
	rec->thread = (r >> 40) % 64 == 0 ? (uint32_t)(1 + (r >> 50) % 9) : 1;
	if ((r >> 46) % 1024 == 0)
		rec->thread = UINT32_MAX;
	fill(g, rec);
}

void tgen_accepted(tgen *g, const tf_record *rec)
{
	if (rec->kind == TF_STACK)
		g->next_node = rec->u.node.id + 1;
	if (tf_kind_is_malloc_fn(rec->kind) || tf_kind_is_python_fn(rec->kind))
		if (rec->u.alloc.addr)
			g->recent[g->nrecent++ % 8] = rec->u.alloc.addr;
}

bool trec_equal(const tf_record *want, const tf_record *got, uint64_t quantum, char *why,
		size_t whylen)
{
	if (want->kind != got->kind) {
		snprintf(why, whylen, "kind %u != %u", got->kind, want->kind);
		return false;
	}
	const tf_kinddef *d = &tf_kinds[want->kind];
	if ((d->flags & TF_RF_EVENT) && want->thread != got->thread) {
		snprintf(why, whylen, "%s: thread %u != %u", d->name, got->thread, want->thread);
		return false;
	}
	bool time_ok = quantum ? got->time <= want->time && want->time - got->time < quantum
			       : got->time == want->time;
	if (!time_ok) {
		snprintf(why, whylen, "%s: time %llu vs %llu", d->name,
			 (unsigned long long)got->time, (unsigned long long)want->time);
		return false;
	}
	for (unsigned i = 0; i < d->nfields; i++) {
		const tf_field *f = &d->fields[i];
		if (f->fc == TF_FC_B) {
			tf_bytes a = TF_BYTES(want, f), b = TF_BYTES(got, f);
			if (a.len != b.len || (a.len && memcmp(a.ptr, b.ptr, a.len))) {
				snprintf(why, whylen, "%s: byte field %u differs", d->name, i);
				return false;
			}
		} else if (TF_U64(want, f) != TF_U64(got, f)) {
			snprintf(why, whylen, "%s: field %u: %llx != %llx", d->name, i,
				 (unsigned long long)TF_U64(got, f),
				 (unsigned long long)TF_U64(want, f));
			return false;
		}
	}
	if (want->kind == TF_STACK && want->u.node.id != got->u.node.id) {
		snprintf(why, whylen, "stack id differs");
		return false;
	}
	return true;
}

tf_header theader(void)
{
	static char argv[] = "prog\0-x\0";
	return (tf_header){.pid = 77,
			   .ppid = 1,
			   .start_real_ns = 1700000000123456789ull,
			   .start_mono_ns = 42,
			   .page_size = 4096,
			   .pointer_size = 8,
			   .clock = {"CLOCK_MONOTONIC", 15},
			   .tool_version = {"test", 4},
			   .exe = {"/bin/prog", 9},
			   .argv = {argv, sizeof(argv) - 1},
			   .python = {"", 0}};
}

int tmp_fd(void)
{
	return memfd_create("tf-test", MFD_CLOEXEC);
}

int tbuf_from_fd(int fd, tbuf *out)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return -1;
	out->len = (size_t)sb.st_size;
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data)
		return -1;
	return pread(fd, out->data, out->len, 0) == (ssize_t)out->len ? 0 : -1;
}

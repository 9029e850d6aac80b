/*
 * rp_replay.c - `arenatrace replay`: streams a trace's Python-layer requests
 * (MEM and OBJ domains) through the pymalloc model (allocator/pym.h).
 *
 * The model takes each new arena's base address from the trace's
 * arena_alloc records (CPython traces carry the real ones, recorded just
 * before the request that needed the arena), so pool alignment matches the
 * real process; without them it places arenas itself.  Every address the
 * model hands out for a pymalloc block is compared with the one the real
 * interpreter returned; raw (large-object) requests keep the real address.
 *
 *   --stats            print the model's final state as sys._debugmallocstats()
 *   --check-snapshots  compare the model with each snapshot record's text
 *                      (PYMALLOC.md §12), line by line; exit 1 on a mismatch
 *                      or when the trace has no snapshot
 */
#include "pym.h"
#include "rp_cli.h"
#include "rp_replay.h"
#include "tf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char replay_usage[] =
    "usage: arenatrace replay [--model PROFILE] [--layer auto|python|malloc] [--stats]\n"
    "                         [--check-snapshots] TRACE\n"
    "  Replays the trace's allocator requests through the pymalloc model.\n"
    "  --model PROFILE     cpython-3.8 ... cpython-3.13, or custom parameters:\n"
    "                      custom:arena=SIZE,pool=SIZE,align=N,threshold=N,keep-empty=0|1,\n"
    "                      radix=0|48|64 (sizes with K or M; keys left out keep\n"
    "                      cpython-3.13's values). Default: the interpreter version\n"
    "                      recorded in the trace, else cpython-3.13.\n"
    "  --layer L           python: the CPython MEM/OBJ domain requests (addresses\n"
    "                      checked against the interpreter's); malloc: the malloc\n"
    "                      family, as if pymalloc served the program; auto (default):\n"
    "                      python for CPython traces, else malloc\n"
    "  --stats             print the model's final state in the layout of\n"
    "                      sys._debugmallocstats() (its pymalloc part)\n"
    "  --check-snapshots   at every snapshot record, compare the model's statistics\n"
    "                      with the real allocator's text; print each differing line\n"
    "                      and end with 'snapshots: N checked, M mismatched'\n"
    "  Exit status: 0, 1 if a snapshot mismatched or none was checked, 2 bad input.\n";

#define QCAP 64

/* real address -> model address, for blocks where the two differ */
typedef struct xmap {
	uint64_t *k, *v;
	size_t cap, used;
} xmap;

typedef struct replay {
	pym *m;
	uint64_t queue[QCAP]; /* arena bases recorded but not yet used */
	unsigned qhead, qlen;
	bool saw_arenas;      /* the trace records arenas: take bases from it */
	uint64_t arena_mismatch, addr_mismatch, anomalies, requests, snapshots, snap_bad;
	xmap x;
	FILE *out;
	bool malloc_layer; /* the malloc family goes through the model, not the Python domains */
} replay;

/* ---- translation map (open addressing, key+1, tombstone = 1) ---- */

static size_t xslot(uint64_t k, size_t cap)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 21) & (cap - 1);
}

static uint64_t *xfind(const xmap *x, uint64_t k)
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

static bool xput(xmap *x, uint64_t k, uint64_t v)
{
	if ((x->used + 1) * 2 > x->cap) {
		xmap n = {calloc(x->cap ? x->cap * 2 : 256, 8), malloc((x->cap ? x->cap * 2 : 256) * 8),
			  x->cap ? x->cap * 2 : 256, 0};
		if (!n.k || !n.v)
			return free(n.k), free(n.v), false;
		for (size_t i = 0; i < x->cap; i++)
			if (x->k[i] > 1)
				xput(&n, x->k[i] - 2, x->v[i]);
		free(x->k), free(x->v);
		*x = n;
	}
	size_t i = xslot(k + 2, x->cap);
	while (x->k[i] > 1 && x->k[i] != k + 2)
		i = (i + 1) & (x->cap - 1);
	x->used += !x->k[i];
	x->k[i] = k + 2, x->v[i] = v;
	return true;
}

static void xdel(xmap *x, uint64_t k)
{
	uint64_t *v = xfind(x, k);
	if (v)
		x->k[v - x->v] = 1;
}

/* Notes the model's answer m for a request the real allocator answered
 * with `real`. */
static void answered(replay *r, uint64_t real, uint64_t mdl)
{
	xdel(&r->x, real);
	if (mdl != real) {
		if (r->addr_mismatch++ < 5)
			rp_error("replay: model returned 0x%" PRIx64 " where the interpreter got "
				 "0x%" PRIx64,
				 mdl, real);
		xput(&r->x, real, mdl);
	}
}

/* ---- arenas ---- */

/* The model wants an arena: the next base the trace recorded, or (a trace
 * without arena records, or more arenas than the interpreter took) the
 * model's own placement. */
static uint64_t arena_source(void *ctx, uint64_t size)
{
	replay *r = ctx;
	(void)size;
	if (!r->qlen) {
		r->arena_mismatch += r->saw_arenas;
		return PYM_ARENA_BUILTIN;
	}
	uint64_t base = r->queue[r->qhead];
	r->qhead = (r->qhead + 1) % QCAP;
	r->qlen--;
	return base;
}

static void on_arena_alloc(replay *r, uint64_t base)
{
	r->saw_arenas = true;
	if (r->qlen == QCAP) {
		r->arena_mismatch++;
		return;
	}
	r->queue[(r->qhead + r->qlen++) % QCAP] = base;
}

/* ---- requests ---- */

enum op { OP_NONE, OP_ALLOC, OP_REALLOC, OP_FREE };

/* What a record asks of the allocator in this layer; *n is the size. */
static enum op classify(const tf_record *rec, bool malloc_layer, uint64_t *n)
{
	const tf_alloc *a = &rec->u.alloc;
	*n = a->size;
	if (malloc_layer ? !tf_kind_is_malloc_fn(rec->kind) : !tf_kind_is_python_fn(rec->kind))
		return OP_NONE;
	switch (rec->kind) {
	case TF_FREE:
	case TF_PY_MEM_FREE:
	case TF_PY_OBJ_FREE:
		return OP_FREE;
	case TF_REALLOC:
	case TF_PY_MEM_REALLOC:
	case TF_PY_OBJ_REALLOC:
		return OP_REALLOC;
	case TF_REALLOCARRAY:
		if (__builtin_mul_overflow(a->nmemb, a->size, n))
			*n = UINT64_MAX;
		return OP_REALLOC;
	case TF_CALLOC:
	case TF_PY_MEM_CALLOC:
	case TF_PY_OBJ_CALLOC:
		if (__builtin_mul_overflow(a->nmemb, a->size, n))
			*n = UINT64_MAX;
		return OP_ALLOC;
	default: /* malloc, valloc, pvalloc, the aligned ones (pymalloc has no alignment) */
		return OP_ALLOC;
	}
}

/* The model's block for a real address; false if the model holds none
 * (the malloc layer maps every block; the Python layer only those whose
 * address differs from the interpreter's). */
static bool model_of(replay *r, uint64_t real, uint64_t *out)
{
	uint64_t *v = xfind(&r->x, real);
	if (v) {
		*out = *v;
		return true;
	}
	*out = real;
	return !r->malloc_layer;
}

/* The model answered `mdl` where the real allocator returned `real`. */
static void placed(replay *r, uint64_t real, uint64_t mdl)
{
	if (r->malloc_layer) {
		if (!xput(&r->x, real, mdl))
			r->anomalies++;
	} else {
		answered(r, real, mdl);
	}
}

static void request(replay *r, const tf_record *rec)
{
	const tf_alloc *a = &rec->u.alloc;
	uint64_t n, out = 0, old;
	/* in the Python layer raw blocks keep the interpreter's address */
	uint64_t raw = r->malloc_layer ? 0 : a->addr;
	int rc = 0;
	switch (classify(rec, r->malloc_layer, &n)) {
	case OP_NONE:
		return;
	case OP_ALLOC:
		r->requests++;
		if (!a->addr)
			return; /* the real request failed */
		if (r->malloc_layer && xfind(&r->x, a->addr)) {
			r->anomalies++; /* an allocation over a live address */
			return;
		}
		rc = pym_malloc_at(r->m, n, raw, &out);
		if (!rc)
			placed(r, a->addr, out);
		break;
	case OP_REALLOC:
		r->requests++;
		if (!a->addr && n)
			return; /* failed: the old block stays */
		if (a->old && !model_of(r, a->old, &old)) {
			r->anomalies++; /* realloc of a block the trace never showed */
			return;
		}
		rc = pym_realloc_at(r->m, a->old ? old : 0, n, raw, &out);
		if (!rc) {
			xdel(&r->x, a->old);
			if (a->addr)
				placed(r, a->addr, out);
		}
		break;
	case OP_FREE:
		r->requests++;
		if (!a->addr)
			return;
		if (!model_of(r, a->addr, &old)) {
			r->anomalies++; /* free of an unknown block */
			return;
		}
		rc = pym_free_block(r->m, old, NULL);
		xdel(&r->x, a->addr);
	}
	if (rc < 0)
		r->anomalies++;
}

/* ---- snapshots ---- */

static void check_snapshot(replay *r, const tf_record *rec, char *buf, size_t cap)
{
	pym_stats st;
	pym_get_stats(r->m, &st);
	size_t len = pym_format_stats(pym_get_params(r->m), &st, buf, cap);
	if (len >= cap)
		len = cap - 1;
	const char *want = rec->u.label.text.ptr, *wend = want + rec->u.label.text.len;
	const char *got = buf, *gend = buf + len;
	bool bad = false;
	while (want < wend || got < gend) {
		const char *we = memchr(want, '\n', (size_t)(wend - want)), *ge = memchr(got, '\n', (size_t)(gend - got));
		size_t wl = (size_t)((we ? we : wend) - want), gl = (size_t)((ge ? ge : gend) - got);
		if (wl != gl || memcmp(want, got, wl)) {
			if (!bad)
				fprintf(r->out, "snapshot %.*s:\n", (int)rec->u.label.label.len,
					rec->u.label.label.ptr);
			fprintf(r->out, "  expected: %.*s\n  model:    %.*s\n", (int)wl, want, (int)gl,
				got);
			bad = true;
		}
		want = we ? we + 1 : wend;
		got = ge ? ge + 1 : gend;
	}
	r->snapshots++;
	r->snap_bad += bad;
}

static int parse_args(int argc, char **argv, rp_replay_opts *o, const char **path)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model") && i + 1 < argc)
			o->model = argv[++i];
		else if (!strcmp(argv[i], "--layer") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "auto"))
				o->layer = RP_LAYER_AUTO;
			else if (!strcmp(v, "python"))
				o->layer = RP_LAYER_PYTHON;
			else if (!strcmp(v, "malloc"))
				o->layer = RP_LAYER_MALLOC;
			else {
				rp_error("replay: --layer takes auto, python or malloc");
				return -1;
			}
		}
		else if (!strcmp(argv[i], "--stats"))
			o->stats = true;
		else if (!strcmp(argv[i], "--check-snapshots"))
			o->check = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		else if (argv[i][0] == '-' && argv[i][1]) {
			rp_error("replay: unknown option '%s'", argv[i]);
			return -1;
		} else if (*path) {
			rp_error("replay: one trace at a time");
			return -1;
		} else
			*path = argv[i];
	}
	if (!*path) {
		rp_error("replay: no trace given (arenatrace replay --help)");
		return -1;
	}
	return 0;
}

int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path,
		  rp_replay_result *res)
{
	pym_params params;
	if (o->model && pym_params_from_name(o->model, &params) < 0) {
		rp_error("replay: unknown or invalid model '%s' (arenatrace replay --help)", o->model);
		return RP_EXIT_USAGE;
	}
	replay r = {.out = o->out};
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	tf_record rec;
	int rc = 0, status = RP_EXIT_OK;
	while (buf && (rc = tf_reader_next(rd, &rec)) > 0) {
		if (rec.kind == TF_HEADER) {
			/* auto: the Python domains when the trace is CPython's */
			r.malloc_layer = o->layer == RP_LAYER_MALLOC ||
					 (o->layer == RP_LAYER_AUTO && !rec.u.header.python.len);
			if (!o->model)
				pym_params_for_version(rec.u.header.python.len ? rec.u.header.python.ptr
									       : NULL,
						       &params);
			pym_hooks hooks = {arena_source, NULL, &r};
			if (pym_create(&r.m, &params, &hooks) < 0) {
				rp_error("replay: out of memory");
				rc = -1;
				break;
			}
		} else if (!r.m) {
			continue;
		} else if (rec.kind == TF_ARENA_ALLOC && rec.u.arena.addr && !r.malloc_layer) {
			on_arena_alloc(&r, rec.u.arena.addr);
		} else if (tf_kind_is_python_fn(rec.kind) || tf_kind_is_malloc_fn(rec.kind)) {
			request(&r, &rec);
		} else if (rec.kind == TF_SNAPSHOT && o->check) {
			check_snapshot(&r, &rec, buf, cap);
		}
	}
	if (!buf) {
		rp_error("replay: out of memory");
		status = RP_EXIT_USAGE;
	} else if (rc < 0) {
		if (rc != -1)
			rp_error("%s: %s", path, tf_reader_error(rd));
		status = RP_EXIT_USAGE;
	} else if (r.m) {
		const pym_params *p = pym_get_params(r.m);
		if (o->stats) {
			pym_stats st;
			pym_get_stats(r.m, &st);
			size_t len = pym_format_stats(p, &st, buf, cap);
			fwrite(buf, 1, len < cap ? len : cap - 1, o->out);
		}
		if (r.malloc_layer)
			fprintf(stderr,
				"replay: model %s, malloc layer: %" PRIu64 " requests, %" PRIu64
				" anomalies\n",
				p->name, r.requests, r.anomalies);
		else
			fprintf(stderr,
				"replay: model %s, %" PRIu64 " requests, %" PRIu64
				" addresses unlike the interpreter's, %" PRIu64
				" arena mismatches, %" PRIu64 " anomalies\n",
				p->name, r.requests, r.addr_mismatch, r.arena_mismatch, r.anomalies);
		if (o->check) {
			fprintf(o->out, "snapshots: %" PRIu64 " checked, %" PRIu64 " mismatched\n",
				r.snapshots, r.snap_bad);
			if (!r.snapshots || r.snap_bad)
				status = RP_EXIT_CHECK;
		}
	}
	if (res)
		*res = (rp_replay_result){r.requests,  r.anomalies, r.addr_mismatch, r.arena_mismatch,
					  r.snapshots, r.snap_bad,  r.malloc_layer};
	pym_free(r.m);
	free(r.x.k), free(r.x.v), free(buf);
	return status;
}

int rp_cmd_replay(int argc, char **argv)
{
	rp_replay_opts o = {.out = stdout};
	const char *path = NULL;
	int rc = parse_args(argc, argv, &o, &path);
	if (rc) {
		if (rc > 0)
			fputs(replay_usage, stdout);
		return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
	}
	pym_params params;
	if (o.model && pym_params_from_name(o.model, &params) < 0) {
		rp_error("replay: unknown or invalid model '%s' (arenatrace replay --help)", o.model);
		return RP_EXIT_USAGE;
	}
	tf_reader *rd;
	char err[512];
	if (tf_reader_open_file(&rd, path, err, sizeof(err)) < 0) {
		rp_error("%s", err);
		return RP_EXIT_USAGE;
	}
	int status = rp_replay_run(rd, &o, path, NULL);
	tf_reader_free(rd);
	return status;
}

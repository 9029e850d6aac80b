/*
 * rp_engine.c - the replay engine's run: a record at a time, the header
 * makes the models, each allocator request goes through the trace's own
 * bookkeeping (what does not add up is an anomaly every model skips), then
 * through every model and --system's allocator; snapshots are compared,
 * and at the end every model's result is made (rp_replay.h).
 *
 * Layers: python feeds the CPython MEM/OBJ domain requests; malloc feeds
 * the malloc family, as if pymalloc served the program.  A forked child's
 * chain of traces and re-initialisations are rp_lifecycle.c's, other
 * interpreters' heaps rp_heaps.c's.
 *
 * Invariants: the address map holds exactly the trace's live blocks (and
 * --gc off's withheld ones, at keys from WITHHELD_KEY0 up); live_bytes is
 * the sum of their requested sizes; every model has seen the same
 * requests, so a block's model address in its slot is that model's block.
 */
#include "rp_internal.h"
#include "tf_summary.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESSES_TOLD 3      /* addresses unlike the interpreter's told to the observer */
#define PROGRESS_EVERY 0xffff /* records between progress calls, less one */
#define STATS_TEXT_MAX (1u << 16) /* bytes of a model's statistics text */

static int fail(replay *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What served the interpreter (the first python_allocator record, before
 * any Python-layer request): when it is not pymalloc, no model's address
 * is compared with the interpreter's, and every model places its arenas
 * itself. */
static void on_python_allocator(replay *r, const tf_bytes *name)
{
	rp_facts *f = &r->facts;
	if (f->python_allocator[0])
		return;
	snprintf(f->python_allocator, sizeof(f->python_allocator), "%.*s", (int)name->len,
		 name->ptr);
	rp_printable(f->python_allocator);
	if (tf_pymalloc_served(f->python_allocator))
		return;
	r->not_pymalloc = true;
	for (int i = 0; i < r->n; i++)
		r->mr[i].recorded_bases = false;
}

/* ---- requests ---- */

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
	case TF_CALLOC:
	case TF_PY_MEM_CALLOC:
	case TF_PY_OBJ_CALLOC:
		if (__builtin_mul_overflow(a->nmemb, a->size, n))
			*n = UINT64_MAX;
		return rec->kind == TF_REALLOCARRAY ? OP_REALLOC : OP_ALLOC;
	default: /* malloc, valloc, pvalloc, the aligned ones (pymalloc has no alignment) */
		return OP_ALLOC;
	}
}

/* One request on one model; old is the model's block freed or reallocated
 * (old_n bytes requested), real the address the real allocator returned.
 * Returns the model's block (0 for a free or a refused request).  Inlined
 * in request(): it runs for every model after every request, and a call
 * saved and restored as many registers as it has instructions of its own
 * on the commonest path. */
static inline __attribute__((always_inline)) uint64_t apply(replay *r, model_run *mr, enum op op,
							    uint64_t old, uint64_t old_n,
							    uint64_t n, uint64_t real)
{
	/* in the Python layer raw blocks keep the interpreter's address */
	uint64_t raw = r->malloc_layer ? 0 : real, out = 0;
	int rc = 0;
	bool was_pymalloc = false;
	switch (op) {
	case OP_ALLOC:
		rc = pym_malloc_at(mr->m, n, raw, &out);
		break;
	case OP_REALLOC:
		was_pymalloc = old && pym_owns(mr->m, old);
		rc = pym_realloc_at(mr->m, old, n, raw, &out);
		break;
	case OP_FREE:
		rc = pym_free_block(mr->m, old, &was_pymalloc);
		if (rc < 0) /* unknown to the model: counted by where it lies */
			was_pymalloc = pym_owns(mr->m, old);
		break;
	case OP_NONE:
		break;
	}
	if (was_pymalloc)
		mr->py_live -= old_n;
	if (rc < 0) {
		mr->errors++;
		return 0;
	}
	if (op == OP_FREE || !out)
		return 0;
	if (pym_owns(mr->m, out))
		mr->py_live += n;
	if (out != real && !r->malloc_layer && mr->recorded_bases && !r->facts.parent_missing &&
	    mr->addr_mismatch++ < ADDRESSES_TOLD && r->cfg.obs.on_address)
		r->cfg.obs.on_address(r->cfg.obs.ctx, pym_get_params(mr->m)->name, out, real);
	return out;
}

static void anomaly(replay *r, uint64_t *count, int kind, uint64_t addr)
{
	if (!(*count)++)
		r->examples[kind] = addr;
}

/* For rp_heaps.c, which replays subinterpreters' heaps the same way. */
enum op rp_request_op(const tf_record *rec, uint64_t *n)
{
	return classify(rec, false, n);
}

uint64_t rp_model_apply(replay *r, model_run *mr, enum op op, uint64_t old, uint64_t old_n,
			uint64_t n, uint64_t real)
{
	return apply(r, mr, op, old, old_n, n, real);
}

void rp_anomaly(replay *r, int kind, uint64_t addr)
{
	uint64_t *count[] = {&r->free_unknown, &r->realloc_unknown, &r->alloc_over_live};
	anomaly(r, count[kind], kind, addr);
}

/* One request; returns the block's id there (0 for a free). */
static uint64_t system_request(replay *r, enum op op, uint64_t old, uint64_t old_n, uint64_t n)
{
	switch (op) {
	case OP_ALLOC:
		return rp_sys_alloc(r->sysrun, n);
	case OP_REALLOC:
		return rp_sys_realloc(r->sysrun, old, old_n, n);
	case OP_FREE:
		rp_sys_free(r->sysrun, old, old_n);
		break;
	case OP_NONE:
		break;
	}
	return 0;
}

static void request(replay *r, const tf_record *rec)
{
	const tf_alloc *a = &rec->u.alloc;
	uint64_t n, old_n = 0, old_m[MAX_MODELS + 1] = {0}, *slot;
	enum op op = classify(rec, r->malloc_layer, &n);
	if (op == OP_NONE)
		return;
	r->cur_realloc = op == OP_REALLOC; /* realloc(p, 0) that frees included */
	if (rec->time > r->at_next_time) /* a moment at a time this request is past */
		rp_moments_before_time(r, rec->time);
	r->requests++;
	/* inside a GC pass, on the collecting thread: its frees are the collector's */
	const bool gc_now = r->in_gc && rec->thread == r->gc_thread;
	const bool by_gc = gc_now && op == OP_FREE;
	/* the trace's own bookkeeping first: what does not add up is skipped */
	uint64_t gone = op == OP_FREE ? a->addr : op == OP_REALLOC ? a->old : 0;
	if ((op == OP_ALLOC && !a->addr) || (op == OP_REALLOC && !a->addr && n) ||
	    (op == OP_FREE && !a->addr))
		return; /* a failed request (a realloc's old block stays), or free(NULL) */
	/* a block over a live one (a realloc that moves included): the
	 * trace missed a free; the old block of such a realloc stays */
	if ((op == OP_ALLOC || (op == OP_REALLOC && a->addr && a->addr != gone)) &&
	    u64map_find(&r->live, a->addr)) {
		anomaly(r, &r->alloc_over_live, RP_ANOMALY_ALLOC_OVER_LIVE, a->addr);
		return;
	}
	if (gone) {
		if (!(slot = u64map_find(&r->live, gone))) {
			if (r->facts.parent_missing) /* a block from before the child's trace */
				r->inherited_unknown++;
			else if (op == OP_FREE)
				anomaly(r, &r->free_unknown, RP_ANOMALY_FREE_UNKNOWN, gone);
			else
				anomaly(r, &r->realloc_unknown, RP_ANOMALY_REALLOC_UNKNOWN, gone);
			return;
		}
		old_n = slot[A_SIZE];
		const uint64_t old_sw = slot[A_STACK]; /* stack and allocation time */
		rp_site_free(r, word_stack(old_sw), old_n);
		memcpy(old_m, &slot[A_MODEL], (size_t)(r->n + r->system) * sizeof(uint64_t));
		r->live_bytes -= old_n;
		u64map_remove(&r->live, slot);
		if (by_gc && r->any_gc_off)
			rp_withhold(r, old_n, old_sw, old_m);
	}
	if (op == OP_REALLOC && !a->addr)
		op = OP_FREE; /* realloc(p, 0) returned NULL: p was freed */
	slot = NULL;
	if (op != OP_FREE && a->addr) {
		if (!(slot = u64map_insert(&r->live, a->addr))) {
			r->oom++;
			return;
		}
		slot[A_SIZE] = n == UINT64_MAX ? 0 : n;
		const uint64_t stack = a->stack <= STACK_ID_MAX ? a->stack : 0;
		slot[A_STACK] = stack_word(stack, rec->time);
		r->live_bytes += slot[A_SIZE];
		rp_site_alloc(r, stack, n);
	}
	/* time-weighted measures use the interval the previous state lasted */
	uint64_t dt = rec->time >= r->last_time ? rec->time - r->last_time : 0;
	r->last_time = rec->time;
	if (r->live_bytes >= r->peak_live)
		r->peak_live = r->live_bytes;
	if (by_gc) {
		r->pass.freed.objects++;
		r->pass.freed.bytes += old_n;
	}
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &r->mr[i];
		if (by_gc && mr->gc_off) { /* kept: its block stays in the model */
			mr->gc.withheld.objects++;
			mr->gc.withheld.bytes += old_n;
			rp_measure(r, mr, dt);
			continue;
		}
		uint64_t arenas = op == OP_ALLOC ? 0 : mr->usage->arenas;
		uint64_t out = apply(r, mr, op, old_m[i], old_n, n, a->addr);
		if (slot)
			slot[A_MODEL + i] = out;
		if (op != OP_ALLOC && mr->usage->arenas < arenas) {
			uint64_t released = arenas - mr->usage->arenas;
			if (gc_now)
				mr->gc.arenas_released_in_gc += released;
			else
				mr->gc.arenas_released_outside += released;
			if (gc_now && i == 0)
				r->pass.arenas_released += released;
		}
		if (op == OP_FREE) {
			rp_freed *f = by_gc ? &mr->gc.by_gc : &mr->gc.by_refcount;
			f->objects++;
			f->bytes += old_n;
		}
		rp_measure(r, mr, dt);
	}
	if (r->system) {
		uint64_t id = system_request(r, op, old_m[r->n], old_n, n);
		if (slot)
			slot[A_MODEL + r->n] = id;
	}
	if (++r->tick_filled >= r->tick_step)
		rp_take_tick(r);
}

/* ---- GC passes ---- */

static void check_snapshot(replay *r, const tf_record *rec, char *buf, size_t cap)
{
	/* no pymalloc state to compare with */
	if (r->not_pymalloc || r->facts.parent_missing || r->reinit_apart) {
		r->snap_unchecked++;
		return;
	}
	pym_stats st;
	pym_get_stats(r->mr[0].m, &st);
	size_t len = pym_format_stats(pym_get_params(r->mr[0].m), &st, buf, cap);
	if (len >= cap)
		len = cap - 1;
	const char *want = rec->u.label.text.ptr, *wend = want + rec->u.label.text.len;
	const char *got = buf, *gend = buf + len;
	bool bad = false;
	while (want < wend || got < gend) {
		const char *we = memchr(want, '\n', (size_t)(wend - want));
		const char *ge = memchr(got, '\n', (size_t)(gend - got));
		size_t wl = (size_t)((we ? we : wend) - want), gl = (size_t)((ge ? ge : gend) - got);
		if (wl != gl || memcmp(want, got, wl)) {
			if (r->cfg.obs.on_snapshot_line)
				r->cfg.obs.on_snapshot_line(r->cfg.obs.ctx, &rec->u.label.label, !bad,
							    want, wl, got, gl);
			bad = true;
		}
		want = we ? we + 1 : wend;
		got = ge ? ge + 1 : gend;
	}
	r->snapshots++;
	r->snap_bad += bad;
}

/* ---- pinning ---- */

void rp_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The header's facts, cut to their fields' sizes. */
void rp_facts_from_header(rp_facts *f, const tf_header *h)
{
	snprintf(f->exe, sizeof(f->exe), "%.*s", (int)h->exe.len, h->exe.ptr);
	snprintf(f->python, sizeof(f->python), "%.*s", (int)h->python.len, h->python.ptr);
	snprintf(f->tool_version, sizeof(f->tool_version), "%.*s", (int)h->tool_version.len,
		 h->tool_version.ptr);
	size_t n = h->argv.len < sizeof(f->argv) - 1 ? h->argv.len : sizeof(f->argv) - 1;
	memcpy(f->argv, h->argv.ptr, n);
	for (size_t i = 0; i < n; i++)
		if (!f->argv[i])
			f->argv[i] = ' ';
	/* control characters would act on a terminal: shown as '?' */
	rp_printable(f->argv);
	rp_printable(f->exe);
	while (n && f->argv[n - 1] == ' ')
		n--;
	f->argv[n] = 0;
	f->pid = h->pid;
	f->ppid = h->ppid;
	f->start_real_ns = h->start_real_ns;
	snprintf(f->fork_from, sizeof(f->fork_from), "%.*s", (int)h->fork_from.len,
		 h->fork_from.ptr);
	rp_printable(f->fork_from);
	f->fork_at = h->fork_at;
}

/* Whether a model's addresses and arenas are the interpreter's to compare
 * with (RP_COMPARED), or why not (RP_NC_*). */
static int compared_of(const replay *r, const model_run *mr)
{
	if (r->malloc_layer)
		return RP_NC_MALLOC_LAYER;
	if (r->not_pymalloc)
		return RP_NC_NOT_PYMALLOC;
	if (mr->gc_off)
		return RP_NC_GC_OFF;
	if (r->facts.parent_missing)
		return RP_NC_FORKED;
	if (r->facts.other_heap_lost)
		return RP_NC_HEAPS_LOST;
	pym_params rec;
	pym_params_for_version(r->facts.python, &rec);
	if (!r->facts.python[0] || strcmp(rec.name, pym_get_params(mr->m)->name))
		return RP_NC_PROFILE;
	if (r->reinit_apart)
		return RP_NC_REINIT;
	return mr->recorded_bases ? RP_COMPARED : RP_NC_ARENA_SIZE;
}

const char *rp_not_compared(const rp_replay_result *res, const rp_model_result *m, char *buf,
			    size_t cap)
{
	const rp_facts *x = &res->facts;
	switch (m->compared) {
	case RP_COMPARED:
		return NULL;
	case RP_NC_MALLOC_LAYER:
		snprintf(buf, cap, "the malloc layer has no interpreter's addresses");
		break;
	case RP_NC_NOT_PYMALLOC:
		snprintf(buf, cap, "%s served the interpreter, not pymalloc", x->python_allocator);
		break;
	case RP_NC_PROFILE:
		if (x->python[0])
			snprintf(buf, cap, "not the recorded interpreter's profile (CPython %s)",
				 x->python);
		else
			snprintf(buf, cap, "no interpreter version recorded");
		break;
	case RP_NC_GC_OFF:
		snprintf(buf, cap, "a --gc off twin places its arenas itself");
		break;
	case RP_NC_REINIT:
		return rp_reinit_why(x, buf, cap);
	case RP_NC_HEAPS_LOST:
		snprintf(buf, cap,
			 "%" PRIu64 " requests and arenas of subinterpreters' heaps not replayed "
			 "(more than %d at once, or no memory)",
			 x->other_heap_lost, RP_HEAPS_LIVE_MAX);
		break;
	case RP_NC_FORKED:
		snprintf(buf, cap, "a forked child replayed without its parent's trace");
		break;
	default:
		snprintf(buf, cap, "the trace's arenas are not of this profile's size");
		break;
	}
	return buf;
}

const char *rp_model_label(const rp_model_result *m, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", m->profile, m->gc_off ? " gc-off" : "");
	return buf;
}

/* "cpython-3.8,custom:arena=512K,pool=8K,cpython-3.12": a custom spec's
 * own commas separate its keys, so a token with '=' continues the spec
 * before it. */
static int parse_models(const char *list, pym_params *p, int *n)
{
	char specs[MAX_MODELS][512], buf[1024];
	int k = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strchr(t, '=') && !strchr(t, ':') && k) {
			size_t len = strlen(specs[k - 1]);
			snprintf(specs[k - 1] + len, sizeof(specs[0]) - len, ",%s", t);
		} else if (k < MAX_MODELS) {
			snprintf(specs[k++], sizeof(specs[0]), "%s", t);
		} else {
			return -1;
		}
	}
	for (*n = 0; *n < k; (*n)++)
		if (pym_params_from_name(specs[*n], &p[*n]) < 0)
			return -1;
	return k ? 0 : -1;
}

/* ---- read-ahead ----
 * Records are decoded up to RA ahead of the one replayed, and the address
 * map's slots of their addresses are prefetched, so that the cache misses
 * of a large live set overlap instead of queueing one per request.  Only
 * requests are read past: any other record may point into the reader's
 * buffers, which the next read reuses, so reading resumes once it has been
 * replayed.  The records are replayed in their order all the same. */

#define RA 16

typedef struct readahead {
	tf_reader *rd;
	tf_record rec[RA];
	unsigned head, len;
	bool taken; /* rec[head] was handed out: dropped at the next call */
	bool hold;  /* the newest record is no request: read no further */
	int rc;     /* the reader's last result */
} readahead;

/* The next record to replay: 1 and *out, 0 at the end, < 0 the reader's error
 * (after every record before it). */
static int ra_next(readahead *ra, const u64map *live, tf_record **out)
{
	if (ra->taken) {
		ra->head = (ra->head + 1) % RA;
		ra->taken = false;
		if (!--ra->len)
			ra->hold = false;
	}
	while (ra->len < RA && !ra->hold && ra->rc > 0) {
		tf_record *n = &ra->rec[(ra->head + ra->len) % RA];
		if ((ra->rc = tf_reader_next(ra->rd, n)) <= 0)
			break;
		ra->len++;
		if (!tf_kind_is_malloc_fn(n->kind) && !tf_kind_is_python_fn(n->kind)) {
			ra->hold = true;
		} else if (live->cap) {
			/* the slots of addr and old, and the slot after each (a
			 * probe or a deletion's backward shift reads on into
			 * the next); written out here: GCC drops a call to a
			 * function that only prefetches, as if it had no effect */
			const uint64_t keys[2] = {n->u.alloc.addr, n->u.alloc.old};
			const size_t w = live->stride;
			for (int k = 0; k < 1 + (keys[1] != 0); k++) {
				const uint64_t *s = &live->t[u64map_home(live, keys[k]) * w];
				__builtin_prefetch(s);
				__builtin_prefetch(s + 2 * w - 1);
			}
		}
	}
	if (!ra->len)
		return ra->rc;
	*out = &ra->rec[ra->head];
	ra->taken = true;
	return 1;
}

/* ---- the engine ---- */

const char *rp_strerror(int code)
{
	switch (code) {
	case RP_OK:
		return "no error";
	case RP_E_NOMEM:
		return "out of memory";
	case RP_E_MODEL:
		return "unknown or invalid model";
	case RP_E_MODELS:
		return "too many models";
	case RP_E_READ:
		return "the trace could not be read to its end";
	case RP_E_SYSTEM:
		return "the allocator's process failed";
	case RP_E_STATE:
		return "a call out of order";
	case RP_E_SHORT:
		return "a parent's trace ends before the fork";
	case RP_E_MARKS:
		return "more marks than marks_stop";
	case RP_E_STOPPED:
		return "stopped by the replay that followed it";
	default:
		return "unknown error";
	}
}

/* Stops the replay with code and its message; returns code. */
static int fail(replay *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(replay *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->failed = code;
	return code;
}

int rp_engine_create(rp_engine **out, const rp_config *cfg)
{
	*out = NULL;
	pym_params params[MAX_MODELS];
	int nparams = 0;
	if (cfg->model && parse_models(cfg->model, params, &nparams) < 0)
		return RP_E_MODEL;
	if (cfg->gc_off && 2 * nparams > MAX_MODELS)
		return RP_E_MODELS;
	replay *r = calloc(1, sizeof(*r));
	if (!r)
		return RP_E_NOMEM;
	r->buf_cap = STATS_TEXT_MAX;
	if (!(r->buf = malloc(r->buf_cap))) {
		free(r);
		return RP_E_NOMEM;
	}
	r->cfg = *cfg;
	r->cfg.model = NULL; /* parsed: the caller's string may go */
	if (cfg->nat > RP_MOMENTS_MAX) {
		free(r->buf), free(r);
		return RP_E_MODELS;
	}
	if (cfg->nat > 0) {
		if (!(r->at = malloc((size_t)cfg->nat * sizeof(rp_at)))) {
			free(r->buf), free(r);
			return RP_E_NOMEM;
		}
		memcpy(r->at, cfg->at, (size_t)cfg->nat * sizeof(rp_at));
	}
	r->cfg.at = r->at;
	r->cfg.nat = cfg->nat > 0 ? cfg->nat : 0;
	memcpy(r->params, params, sizeof(params));
	r->nparams = nparams;
	*out = r;
	return RP_OK;
}

/* The header: the layer, and the models (from the trace's interpreter
 * version unless the caller named them). */
static int start(replay *r, const tf_record *rec)
{
	const rp_config *o = &r->cfg;
	const char *py = rec->u.header.python.len ? rec->u.header.python.ptr : NULL;
	rp_facts_from_header(&r->facts, &rec->u.header);
	r->facts.inits = py ? 1 : 0;
	r->origin_mono = rec->u.header.start_mono_ns;
	/* a child's trace replayed from its own start: what it inherited is unknown */
	r->facts.parent_missing = rec->u.header.fork_from.len > 0;
	r->tick_step = 1;
	/* auto: the Python domains when the trace is CPython's */
	r->malloc_layer = o->layer == RP_LAYER_MALLOC || (o->layer == RP_LAYER_AUTO && !py);
	if (!r->nparams)
		pym_params_for_version(py, &r->params[r->nparams++]);
	/* --gc off: each model, then its twin without the collector */
	const int runs = o->gc_off ? 2 * r->nparams : r->nparams;
	r->system = o->system;
	r->any_gc_off = o->gc_off;
	r->next_withheld = WITHHELD_KEY0;
	u64map_init(&r->live, A_MODEL + (unsigned)runs + r->system, &u64map_pages);
	char why[256];
	if (r->system && rp_sys_start(&r->sysrun, why, sizeof(why)) < 0)
		return fail(r, RP_E_SYSTEM, "%s", why);
	for (int i = 0; i < runs; i++) {
		model_run *mr = &r->mr[i];
		mr->r = r;
		u64map_init(&mr->arena_idx, 1, &u64map_heap);
		u64map_init(&mr->xc_lives, 1, &u64map_heap);
		mr->gc_off = o->gc_off && (i & 1);
		mr->recorded_bases = !r->malloc_layer && !mr->gc_off;
		/* a lead's result is for its moments: no time series */
		mr->series = o->lead ? NULL : calloc(1, sizeof(rp_series));
		pym_hooks hooks = {rp_arena_source, rp_on_model_arena, mr};
		const pym_params *pp = &r->params[o->gc_off ? i / 2 : i];
		if ((!o->lead && !mr->series) || pym_create(&mr->m, pp, &hooks) < 0) {
			free(mr->series);
			mr->series = NULL;
			return fail(r, RP_E_NOMEM, "out of memory");
		}
		rp_model_ready(mr);
		r->n++;
	}
	int rc = rp_moments_start(r);
	return rc < 0 ? fail(r, rc, rc == RP_E_NOMEM ? "out of memory" : "too many moments") : RP_OK;
}

/* Once a heap record has named another interpreter's heap: whether rec is
 * that heap's (its thread's request, arena_alloc or snapshot, or an
 * arena_free of one of its arenas), which rp_heaps.c replays through the
 * heap's own models; a malloc-family free may end a heap. */
static bool set_aside(replay *r, const tf_record *rec)
{
	if (tf_kind_is_python_fn(rec->kind))
		return rp_heap_request(r, rec);
	if (rec->kind == TF_ARENA_ALLOC && rec->u.arena.addr)
		return rp_heap_arena_alloc(r, rec);
	if (rec->kind == TF_ARENA_FREE && rec->u.arena.addr)
		return rp_heap_arena_free(r, rec);
	if (rec->kind == TF_FREE && rec->u.alloc.addr)
		rp_heap_block_freed(r, rec->u.alloc.addr);
	if (rec->kind == TF_SNAPSHOT && r->cfg.check && rp_heap_snapshot_elsewhere(r, rec)) {
		r->snap_elsewhere++;
		return true;
	}
	return false;
}

int rp_engine_feed(rp_engine *r, const tf_record *rec)
{
	if (r->failed)
		return r->failed;
	if (r->finished)
		return fail(r, RP_E_STATE, "a record after the end");
	tf_record moved;
	if (__builtin_expect(r->joining, 0) && rec->kind == TF_HEADER && r->n) {
		rp_join(r, &rec->u.header);
		return RP_OK;
	}
	if (__builtin_expect(r->shift.on, 0))
		rec = rp_shifted(r, rec, &moved);
	r->events += tf_kind_is_event(rec->kind);
	if (rec->time > r->max_time && tf_kind_is_event(rec->kind))
		r->max_time = rec->time;
	if (rec->kind == TF_HEADER)
		return start(r, rec);
	if (!r->n)
		return RP_OK; /* nothing before the header */
	if (rec->kind == TF_PYTHON_ALLOCATOR) {
		on_python_allocator(r, &rec->u.python_allocator);
	} else if (rec->kind == TF_PY_INIT) {
		if (rp_on_py_init(r, &rec->u.py_init) < 0)
			return fail(r, RP_E_NOMEM, "out of memory");
	} else if (r->heaps.any && !r->malloc_layer && set_aside(r, rec)) {
		/* another interpreter's heap: replayed by its own models (rp_heaps.c) */
	} else if (rec->kind == TF_ARENA_ALLOC && rec->u.arena.addr && !r->malloc_layer) {
		rp_on_arena_alloc(r, &rec->u.arena);
	} else if (rec->kind == TF_ARENA_FREE && rec->u.arena.addr && !r->malloc_layer) {
		rp_xcheck_arena_free(r, &rec->u.arena);
	} else if (tf_kind_is_python_fn(rec->kind) || tf_kind_is_malloc_fn(rec->kind)) {
		request(r, rec);
		rp_xcheck_after_request(r);
		if (r->requests >= r->at_next_request)
			rp_moments_after_request(r);
		if (r->cfg.lead && !(r->requests & LEAD_EVERY) && r->requests != r->lead_told) {
			r->lead_told = r->requests;
			if (!rp_lead_publish(r->cfg.lead, r))
				return fail(r, RP_E_STOPPED, "stopped: the replay that followed ended");
		}
	} else if (rec->kind == TF_MARK) {
		if (r->cfg.marks_stop && r->nmarks >= r->cfg.marks_stop)
			return fail(r, RP_E_MARKS, "more than %u marks: ranking them needs a first replay",
				    r->cfg.marks_stop);
		rp_moments_on_mark(r, &rec->u.label.label);
	} else if (rec->kind == TF_PY_FINALIZE) {
		r->in_teardown = true;
		rp_moments_on_exit(r);
	} else if (rec->kind == TF_GC_START || rec->kind == TF_GC_STOP) {
		rp_on_gc(r, rec);
	} else if (rec->kind == TF_SNAPSHOT && r->cfg.check) {
		check_snapshot(r, rec, r->buf, r->buf_cap);
	} else if (rec->kind == TF_HEAP) {
		rp_heap_record(r, &rec->u.heap);
	} else if (rec->kind == TF_STACK) {
		/* a lead's candidates need no stacks: nor their memory */
		if (!r->cfg.lead || r->cfg.lead_stacks)
			rp_on_stack_node(r, &rec->u.node);
	} else if (rec->kind == TF_MODULE || rec->kind == TF_MODULE_UNLOAD) {
		/* counted whether or not a symbolizer takes them; the largest
		 * ids fed (of modules, code objects, threads) are the next
		 * joined trace's shift (rp_lifecycle.c) */
		r->facts.modules += rec->kind == TF_MODULE;
		if (rec->kind == TF_MODULE && rec->u.module.id > r->max_module)
			r->max_module = rec->u.module.id;
		if (r->cfg.obs.on_module)
			r->cfg.obs.on_module(r->cfg.obs.ctx, rec, r->nnodes);
	} else if (rec->kind == TF_PY_CODE) {
		if (rec->u.py_code.id > r->max_code)
			r->max_code = rec->u.py_code.id;
		if (r->cfg.obs.on_py_code)
			r->cfg.obs.on_py_code(r->cfg.obs.ctx, rec);
	} else if (rec->kind == TF_THREAD) {
		r->sys.threads++;
		if (rec->u.thread.tid > r->max_thread)
			r->max_thread = rec->u.thread.tid;
	} else if (rec->kind == TF_END) {
		r->facts.complete = true;
		r->facts.end_kind = rec->u.end.clean;
		r->facts.exit_status = rec->u.end.exit_status;
		r->facts.dropped = rec->u.end.dropped;
	}
	return RP_OK;
}

/* The records of rd up to its limit-th event (UINT64_MAX: all); *fed the
 * events fed. */
static int run_segment(replay *r, tf_reader *rd, uint64_t limit, uint64_t *fed)
{
	readahead *ra = malloc(sizeof(*ra));
	if (!ra)
		return fail(r, RP_E_NOMEM, "out of memory");
	*ra = (readahead){.rd = rd, .rc = 1};
	tf_record *rec = NULL;
	uint64_t nrec = 0, events = 0;
	int rc;
	while ((rc = ra_next(ra, &r->live, &rec)) > 0) {
		if (tf_kind_is_event(rec->kind) && events++ == limit)
			break; /* the first event after the fork: the child's trace goes on */
		if (rec->kind == TF_END && limit != UINT64_MAX)
			break; /* an ancestor's end is not the replay's */
		int e = rp_engine_feed(r, rec);
		if (e < 0) {
			free(ra);
			return e;
		}
		if (r->cfg.obs.on_progress && (++nrec & PROGRESS_EVERY) == 0)
			r->cfg.obs.on_progress(r->cfg.obs.ctx, rd, r->events);
	}
	free(ra);
	*fed = events < limit ? events : limit;
	if (events < limit && rc < 0)
		return fail(r, RP_E_READ, "%s", tf_reader_error(rd));
	return RP_OK;
}

int rp_engine_run(rp_engine *r, tf_reader *rd)
{
	uint64_t fed;
	return run_segment(r, rd, UINT64_MAX, &fed);
}

int rp_engine_run_chain(rp_engine *r, tf_reader *const *rds, const uint64_t *until, int n)
{
	for (int i = 0; i < n; i++) {
		const uint64_t limit = i < n - 1 ? until[i] : UINT64_MAX;
		uint64_t fed;
		r->joining = i > 0;
		r->segment = i;
		int rc = run_segment(r, rds[i], limit, &fed);
		if (rc < 0)
			return rc;
		if (i < n - 1 && fed < limit)
			return fail(r, RP_E_SHORT,
				    "the parent's trace holds %" PRIu64
				    " events, not the %" PRIu64 " its child's header says it had at the fork",
				    fed, limit);
	}
	return RP_OK;
}

int rp_engine_finish(rp_engine *r)
{
	if (r->failed)
		return r->failed;
	if (r->finished)
		return fail(r, RP_E_STATE, "finished twice");
	r->finished = true;
	if (!r->n)
		return RP_OK; /* no header: a result without models */
	rp_moments_end(r);
	rp_replay_result *res = &r->result;
	*res = (rp_replay_result){
	    .events = r->events,
	    .requests = r->requests,
	    .free_unknown = r->free_unknown,
	    .realloc_unknown = r->realloc_unknown,
	    .alloc_over_live = r->alloc_over_live,
	    .inherited_unknown = r->inherited_unknown,
	    .peak_live = r->peak_live,
	    .live_end = r->live_bytes,
	    .snapshots = r->snapshots,
	    .snapshots_mismatched = r->snap_bad,
	    .snapshots_unchecked = r->snap_unchecked,
	    .snapshots_elsewhere = r->snap_elsewhere,
	    .malloc_layer = r->malloc_layer,
	    .compared = !r->malloc_layer && !r->not_pymalloc,
	    .nmodels = r->n,
	    .gc_unfinished = r->gc_unfinished + r->in_gc,
	    .npasses = r->npasses,
	    .passes = r->passes,
	    .nmarks = r->nmarks,
	    .nmarks_kept = r->nmarks_kept,
	    .marks = r->marks,
	    .has_exit = r->has_exit,
	    .exit_request = r->exit_request,
	    .exit_time = r->exit_time,
	};
	memcpy(res->gc_passes, r->gc_passes, sizeof(res->gc_passes));
	memcpy(res->examples, r->examples, sizeof(res->examples));
	int rc = RP_OK;
	char why[256];
	if (r->system && rp_sys_end(r->sysrun, &r->sys, why, sizeof(why)) < 0) {
		/* the result stands, without its --system part */
		snprintf(r->msg, sizeof(r->msg), "%s", why);
		rc = RP_E_SYSTEM;
	} else if (r->system) {
		res->has_system = true;
		res->system = r->sys;
	}
	r->sysrun = NULL;
	rp_pin *pins = NULL;
	size_t npins = 0;
	rp_heaps_end(r); /* their models' exactness, into the main heap's models' */
	for (int i = 0; i < r->n; i++) {
		rp_arenas_end(r, &r->mr[i]);
		rp_xcheck_end(&r->mr[i]);
		rp_model_result_of(r, &r->mr[i], &res->models[i], i ? NULL : &pins, &npins);
		res->models[i].recorded_bases = r->mr[i].recorded_bases;
		res->models[i].compared = compared_of(r, &r->mr[i]);
	}
	res->callsites = r->callsites = rp_callsites_end(r, pins, npins, &res->ncallsites);
	free(pins);
	r->facts.threads = r->sys.threads;
	r->facts.stack_nodes = r->nnodes;
	r->facts.span_ns = r->max_time;
	res->facts = r->facts;
	res->nnodes = r->nnodes;
	res->node_parent = r->node_parent;
	res->node_ip = r->node_ip;
	for (int i = 0; r->cfg.stats && i < r->n; i++) {
		pym_stats st;
		pym_get_stats(r->mr[i].m, &st);
		size_t len = pym_format_stats(pym_get_params(r->mr[i].m), &st, r->buf, r->buf_cap);
		len = len < r->buf_cap ? len : r->buf_cap - 1;
		if ((r->stats[i] = malloc(len + 1))) {
			memcpy(r->stats[i], r->buf, len);
			r->stats[i][len] = '\0';
		}
		res->models[i].stats = r->stats[i];
	}
	return rc;
}

const rp_replay_result *rp_engine_result(const rp_engine *r)
{
	return r && r->finished && !r->failed ? &r->result : NULL;
}

int rp_engine_segment(const rp_engine *r)
{
	return r->segment;
}

const char *rp_engine_error(const rp_engine *r)
{
	return r ? r->msg : "";
}

void rp_engine_trim(rp_engine *r)
{
	if (!r || !r->finished)
		return;
	u64map_clear(&r->live);
	rp_sites_free(r);
}

void rp_engine_free(rp_engine *r)
{
	if (!r)
		return;
	if (r->sysrun) { /* a replay that failed: the allocator's process ends too */
		rp_system unused;
		char why[256];
		rp_sys_end(r->sysrun, &unused, why, sizeof(why));
	}
	for (int i = 0; i < r->n; i++) {
		pym_free(r->mr[i].m);
		free(r->mr[i].series);
		free(r->mr[i].arenas.a);
		u64map_clear(&r->mr[i].arena_idx);
		rp_xcheck_free(&r->mr[i]);
		free(r->stats[i]);
		/* the ranked stacks: each moment's, and the end's (pin_peak is a moment's) */
		for (int k = 0; k < r->mr[i].nmoments; k++)
			rp_moment_release(&r->mr[i].moments[k]);
		free(r->mr[i].moments);
		if (r->finished && i < r->result.nmodels)
			free((void *)(uintptr_t)r->result.models[i].pinning.ranked);
	}
	free(r->at), free(r->at_taken), free(r->marks);
	free(r->callsites);
	rp_sites_free(r);
	u64map_clear(&r->live);
	free(r->node_parent), free(r->node_ip);
	free(r->passes);
	free(r->buf);
	rp_heaps_free(r);
	free(r);
}

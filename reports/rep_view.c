/*
 * rep_view.c - stacks as the reports show them (rep_view.h): a stack's
 * frames in the order and with the folding of the mode, named through the
 * sink's namer, and stacks grouped by their Python frames into rows.
 *
 * A stack is walked from its leaf node up the result's node table (node
 * id n is [n - 1]); at most VIEW_DEPTH frames are kept, and at most
 * MAX_DEPTH nodes followed, so a cycle in a damaged tree ends.  In python
 * mode a stack with Python frames shows them in the order they were
 * called from the leaf outwards (innermost first), its native frames
 * folded after them; a stack without any shows its native frames.
 *
 * Grouping (python mode only): a stack's key is the sequence of its Python
 * frames as (code id, line), a frame whose line is unknown as (code id,
 * offset); stacks are in one group when their sequences are equal, which
 * is checked frame by frame (the hash only finds the candidates).  A
 * group is numbered by its first stack, so rows keep the order of the
 * stacks they came from where their figures tie.
 */
#include "rep_view.h"
#include "u64map.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_PER_FRAME 16 /* lines the namer may give one return address */
#define MAX_DEPTH 4096     /* nodes followed up a stack: a cycle in a damaged tree ends */
#define VIEW_DEPTH 512     /* frames of a stack kept (the tracer records at most 256) */

int rep_view_mode(const rep_input *in)
{
	if (!in->res->facts.py_nodes)
		return REP_STACKS_NATIVE;
	return in->stacks == REP_STACKS_HYBRID || in->stacks == REP_STACKS_NATIVE ? in->stacks
										  : REP_STACKS_PYTHON;
}

/* The frames of stack `leaf`, leaf first, into fr (VIEW_DEPTH); their count. */
static int walk(const rp_replay_result *res, uint64_t leaf, uint64_t *fr)
{
	int n = 0;
	for (uint64_t id = leaf, hops = 0; id && id <= res->nnodes && n < VIEW_DEPTH && hops < MAX_DEPTH;
	     id = res->node_parent[id - 1], hops++)
		fr[n++] = res->node_ip[id - 1];
	return n;
}

/* A stack's frames in the mode's order: the shown ones first (*nshown),
 * then the folded ones; returns the total. */
static int arrange(const rep_input *in, uint64_t leaf, uint64_t *out, int *nshown)
{
	uint64_t fr[VIEW_DEPTH];
	const int n = walk(in->res, leaf, fr), mode = rep_view_mode(in);
	int npy = 0;
	for (int i = 0; i < n; i++)
		npy += tf_is_py_frame(fr[i]);
	int k = 0;
	if (mode == REP_STACKS_HYBRID || (mode == REP_STACKS_PYTHON && !npy)) {
		memcpy(out, fr, (size_t)n * sizeof(*fr));
		*nshown = n;
		return n;
	}
	/* python: the Python frames, then the native ones folded; native: those only */
	const bool py_first = mode == REP_STACKS_PYTHON;
	for (int i = 0; i < n; i++)
		if (tf_is_py_frame(fr[i]) == py_first)
			out[k++] = fr[i];
	*nshown = k;
	for (int i = 0; i < n && py_first; i++)
		if (!tf_is_py_frame(fr[i]))
			out[k++] = fr[i];
	return k;
}

static bool describe(const rep_input *in, uint64_t frame, rep_pyframe *out)
{
	memset(out, 0, sizeof(*out));
	return in->py && in->py(in->namer_ctx, frame, out);
}

void rep_view_lines(const rep_input *in, uint64_t leaf, int max, int max_folded,
		    void (*fn)(void *ctx, const rep_vline *line), void *ctx)
{
	uint64_t fr[VIEW_DEPTH];
	int nshown;
	const int n = arrange(in, leaf, fr, &nshown);
	int shown = 0, folded = 0;
	char text[64];
	for (int i = 0; i < n; i++) {
		const bool fold = i >= nshown;
		int *count = fold ? &folded : &shown;
		const int cap = fold ? max_folded : max;
		if (*count >= cap) {
			if (fold || max_folded <= 0)
				break;
			i = nshown - 1; /* the shown lines are done: on to the folded ones */
			continue;
		}
		rep_vline l = {.frame = fr[i], .python = tf_is_py_frame(fr[i]), .folded = fold};
		const char *names[NAMES_PER_FRAME];
		int k = in->namer ? in->namer(in->namer_ctx, fr[i], leaf, names, NAMES_PER_FRAME) : 0;
		if (l.python) {
			rep_pyframe pf;
			describe(in, fr[i], &pf);
			l.origin = pf.origin;
			k = k > 1 ? 1 : k;
		}
		if (k <= 0 && l.python)
			snprintf(text, sizeof(text), "unknown Python frame (code %" PRIu64 ", offset %" PRIu64 ")",
				 tf_py_frame_code(fr[i]), tf_py_frame_offset(fr[i]));
		else if (k <= 0)
			snprintf(text, sizeof(text), "0x%" PRIx64, fr[i]);
		if (k <= 0) {
			names[0] = text;
			k = 1;
		}
		for (int j = 0; j < k && *count < cap; j++, (*count)++) {
			l.text = names[j];
			fn(ctx, &l);
		}
	}
}

typedef struct text_fn {
	void (*fn)(void *ctx, const char *line);
	void *ctx;
} text_fn;

static void text_line(void *ctx, const rep_vline *l)
{
	const text_fn *t = ctx;
	t->fn(t->ctx, l->text);
}

void rep_stack_frames(const rep_input *in, uint64_t stack, int max,
		      void (*fn)(void *ctx, const char *line), void *ctx)
{
	text_fn t = {fn, ctx};
	rep_view_lines(in, stack, max, 0, text_line, &t);
}

int rep_view_folded(const rep_input *in, uint64_t leaf)
{
	if (rep_view_mode(in) != REP_STACKS_PYTHON)
		return 0;
	uint64_t fr[VIEW_DEPTH];
	int nshown;
	const int n = arrange(in, leaf, fr, &nshown);
	return nshown && tf_is_py_frame(fr[0]) ? n - nshown : 0;
}

int rep_view_pyframes(const rep_input *in, uint64_t leaf, uint64_t *frames, rep_pyframe *out,
		      int max)
{
	uint64_t fr[VIEW_DEPTH];
	const int n = walk(in->res, leaf, fr);
	int k = 0;
	for (int i = 0; i < n && k < max; i++) {
		if (!tf_is_py_frame(fr[i]))
			continue;
		if (frames)
			frames[k] = fr[i];
		describe(in, fr[i], &out[k++]);
	}
	return k;
}

bool rep_view_program_frame(const rep_input *in, uint64_t leaf, char *text, size_t cap)
{
	uint64_t fr[VIEW_DEPTH];
	const int n = walk(in->res, leaf, fr);
	rep_pyframe pf;
	for (int i = 0; i < n; i++) {
		if (!tf_is_py_frame(fr[i]) || !describe(in, fr[i], &pf) ||
		    pf.origin != REP_ORIGIN_PROGRAM)
			continue;
		const char *names[NAMES_PER_FRAME];
		const int k = in->namer ? in->namer(in->namer_ctx, fr[i], leaf, names, NAMES_PER_FRAME) : 0;
		if (k <= 0)
			return false;
		snprintf(text, cap, "%s", names[0]);
		return true;
	}
	return false;
}

/* ---- grouping ---- */

/* A stack's key: two words per Python frame, innermost first: its code
 * id with bit KEY_LINE set when the second word is its line, else the
 * second word is its offset.  Returns the words. */
#define KEY_LINE (1ull << 40)
static int stack_key(const rep_input *in, uint64_t leaf, uint64_t *key, u64map *lines)
{
	uint64_t fr[VIEW_DEPTH];
	const int n = walk(in->res, leaf, fr);
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (!tf_is_py_frame(fr[i]))
			continue;
		/* a frame's line, looked up once: stacks share most of their frames */
		bool made = false;
		uint64_t *v = u64map_get(lines, fr[i], &made), line = v && !made ? v[0] : 0;
		if (!v || made) {
			rep_pyframe pf;
			line = describe(in, fr[i], &pf) ? pf.line : 0;
			if (v)
				v[0] = line;
		}
		key[k++] = tf_py_frame_code(fr[i]) | (line ? KEY_LINE : 0);
		key[k++] = line ? line : tf_py_frame_offset(fr[i]);
	}
	return k;
}

static uint64_t hash_words(const uint64_t *w, int n)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ull ^ (h >> 29);
	return h == UINT64_MAX ? h - 1 : h; /* the map holds one record at most there */
}

/* The words of a group's record in the candidates' map: its number, and
 * where its key is in the pool of keys, and how long. */
enum { G_GROUP, G_KEY, G_LEN, G_WORDS };

int64_t rep_view_group(const rep_input *in, const uint64_t *stacks, size_t n, uint32_t *group)
{
	if (rep_view_mode(in) != REP_STACKS_PYTHON) {
		for (size_t i = 0; i < n; i++)
			group[i] = (uint32_t)i;
		return (int64_t)n;
	}
	uint64_t *key = malloc(2 * VIEW_DEPTH * sizeof(uint64_t));
	if (!key)
		return REP_E_NOMEM;
	u64map seen, lines;
	u64map_init(&seen, G_WORDS, &u64map_heap);
	u64map_init(&lines, 1, &u64map_heap); /* Python frame -> its line, 0 unknown */
	uint64_t *pool = NULL; /* every group's key, one after the other */
	size_t used = 0, cap = 0;
	int64_t ngroups = 0;
	for (size_t i = 0; i < n; i++) {
		const int len = stack_key(in, stacks[i], key, &lines);
		if (!len) { /* no Python frame: a row of its own */
			group[i] = (uint32_t)ngroups++;
			continue;
		}
		const uint64_t h = hash_words(key, len);
		uint64_t *v = u64map_find(&seen, h);
		for (; v; v = u64map_find_next(&seen, h, v))
			if (v[G_LEN] == (uint64_t)len &&
			    !memcmp(key, pool + v[G_KEY], (size_t)len * sizeof(*key)))
				break;
		if (v) {
			group[i] = (uint32_t)v[G_GROUP];
			continue;
		}
		if (used + (size_t)len > cap) {
			size_t c = cap ? 2 * cap : 4096;
			while (c < used + (size_t)len)
				c *= 2;
			uint64_t *p = realloc(pool, c * sizeof(*p));
			if (!p) {
				ngroups = REP_E_NOMEM;
				break;
			}
			pool = p;
			cap = c;
		}
		if (!(v = u64map_insert(&seen, h))) {
			ngroups = REP_E_NOMEM;
			break;
		}
		memcpy(pool + used, key, (size_t)len * sizeof(*key));
		v[G_GROUP] = (uint64_t)ngroups;
		v[G_KEY] = used;
		v[G_LEN] = (uint64_t)len;
		used += (size_t)len;
		group[i] = (uint32_t)ngroups++;
	}
	u64map_clear(&seen);
	u64map_clear(&lines);
	free(pool);
	free(key);
	return ngroups;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int row_cmp(const void *a, const void *b)
{
	const rep_site_row *x = a, *y = b;
	if (x->c.bytes != y->c.bytes)
		return x->c.bytes < y->c.bytes ? 1 : -1;
	return x->c.stack < y->c.stack ? -1 : x->c.stack > y->c.stack;
}

/* A malloc'd copy of n rows (n > 0), or NULL. */
static rep_site_row *rows_copy(const rep_site_row *rows, uint64_t n)
{
	rep_site_row *c = malloc((size_t)n * sizeof(*c));
	if (c)
		memcpy(c, rows, (size_t)n * sizeof(*c));
	return c;
}

void rep_view_memo_free(rep_view_memo *m)
{
	free(m->rows);
	free(m->stacks);
	free(m->group);
	*m = (rep_view_memo){0};
}

void rep_view_memo_forget_rows(rep_view_memo *m)
{
	free(m->rows);
	m->rows = NULL;
	m->n = 0;
}

/* The memo's grouping, when it is of these stacks in this mode. */
static bool kept_grouping(const rep_view_memo *memo, int mode, const uint64_t *stacks, size_t n)
{
	return memo && memo->group && memo->group_mode == mode && memo->nstacks == n &&
	       !memcmp(memo->stacks, stacks, n * sizeof(*stacks));
}

int rep_view_sites(const rep_input *in, rep_site_row **rows, uint64_t *n)
{
	const rp_replay_result *res = in->res;
	*rows = NULL;
	*n = 0;
	if (!res->ncallsites)
		return REP_OK;
	rep_view_memo *memo = in->memo;
	const int mode = rep_view_mode(in);
	if (memo && memo->rows && memo->mode == mode) {
		if (!(*rows = rows_copy(memo->rows, memo->n)))
			return REP_E_NOMEM;
		*n = memo->n;
		return REP_OK;
	}
	const size_t count = (size_t)res->ncallsites;
	rep_site_row *out = calloc(count, sizeof(*out));
	uint64_t *stacks = malloc(count * sizeof(*stacks));
	uint32_t *group = malloc(count * sizeof(*group));
	int64_t ngroups = out && stacks && group ? 0 : REP_E_NOMEM;
	for (size_t i = 0; ngroups == 0 && i < count; i++)
		stacks[i] = res->callsites[i].stack;
	if (ngroups == 0 && kept_grouping(memo, mode, stacks, count)) {
		memcpy(group, memo->group, count * sizeof(*group));
		ngroups = memo->ngroups;
	} else if (ngroups == 0) {
		ngroups = rep_view_group(in, stacks, count, group);
	}
	if (ngroups < 0) {
		free(out), free(stacks), free(group);
		return REP_E_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		const rp_callsite *c = &res->callsites[i];
		rep_site_row *r = &out[group[i]];
		if (!r->nstacks++) { /* the first, which allocated the most of them */
			r->c = *c;
			continue;
		}
		r->c.allocs += c->allocs;
		r->c.bytes += c->bytes;
		r->c.live_peak += c->live_peak;
		r->c.live_end += c->live_end;
		r->c.blocks_end += c->blocks_end;
		r->c.arenas = max64(r->c.arenas, c->arenas);
	}
	if ((size_t)ngroups < count) /* rows merged: ranked again */
		qsort(out, (size_t)ngroups, sizeof(*out), row_cmp);
	if (memo && !memo->group) { /* the grouping kept: the memo owns them now */
		memo->stacks = stacks;
		memo->group = group;
		memo->nstacks = count;
		memo->ngroups = ngroups;
		memo->group_mode = mode;
	} else {
		free(stacks), free(group);
	}
	*rows = out;
	*n = (uint64_t)ngroups;
	if (memo && !memo->rows && ngroups > 0 && (memo->rows = rows_copy(out, *n))) {
		memo->n = *n; /* out of memory: not kept, computed again next time */
		memo->mode = mode;
	}
	return REP_OK;
}

/* Rows of a table of at most MAX items: the sort keys and their order. */
typedef struct ranked {
	uint64_t k1, k2; /* larger first */
	int first;       /* the row's first item: ties keep the items' order */
	int row;
} ranked;

static int ranked_cmp(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? 1 : -1;
	if (x->k2 != y->k2)
		return x->k2 < y->k2 ? 1 : -1;
	return x->first - y->first;
}

/* Groups n (at most RP_RANKED_STACKS) stacks; group[]
 * as rep_view_group; out of memory, every stack a group of its own. */
static int small_group(const rep_input *in, const uint64_t *stacks, int n, uint32_t *group)
{
	int64_t g = rep_view_group(in, stacks, (size_t)n, group);
	if (g >= 0)
		return (int)g;
	for (int i = 0; i < n; i++)
		group[i] = (uint32_t)i;
	return n;
}

/* The pins a table's rows come from: in python mode the replay's longer
 * ranking when it kept one (a row may merge many), else the table's own. */
static const rp_pin *pins_of(const rep_input *in, const rp_pinning *pn, int *n)
{
	const bool more = rep_view_mode(in) == REP_STACKS_PYTHON && pn->ranked && pn->nranked > 0;
	*n = more ? pn->nranked : pn->nstacks < RP_PIN_STACKS ? pn->nstacks : RP_PIN_STACKS;
	return more ? pn->ranked : pn->stacks;
}

/* What a pinning table's rows and a moment's leak rows are made by alike:
 * items of isize bytes (their stack id at offset stack) summed into rows
 * of rsize bytes by add() (first: the row's first item, which it copies),
 * ranked when rows merged by the uint64_t at offset k1 of a row, then k2
 * (NO_KEY: none), the first max of them. */
typedef struct row_kind {
	size_t isize, rsize, stack, k1, k2;
	int max;
	void (*add)(void *row, const void *item, bool first);
} row_kind;
#define NO_KEY SIZE_MAX

static uint64_t u64_at(const void *p, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)p + off, sizeof(v));
	return v;
}

static int merge_rows(const rep_input *in, const void *items, int n, const row_kind *k, void *rows)
{
	const char *it = items;
	uint64_t stacks[RP_RANKED_STACKS] = {0};
	uint32_t group[RP_RANKED_STACKS];
	n = n < RP_RANKED_STACKS ? n : RP_RANKED_STACKS;
	for (int i = 0; i < n; i++)
		stacks[i] = u64_at(it + (size_t)i * k->isize, k->stack);
	const int ng = small_group(in, stacks, n, group);
	char *tmp = calloc((size_t)(ng ? ng : 1), k->rsize);
	ranked *order = calloc((size_t)(ng ? ng : 1), sizeof(*order));
	bool *started = calloc((size_t)(ng ? ng : 1), sizeof(*started)); /* a row has its first */
	if (!tmp || !order || !started) { /* out of memory: the items as the replay ranked them */
		free(tmp), free(order), free(started);
		const int out = n < k->max ? n : k->max;
		memset(rows, 0, (size_t)out * k->rsize);
		for (int i = 0; i < out; i++)
			k->add((char *)rows + (size_t)i * k->rsize, it + (size_t)i * k->isize, true);
		return out;
	}
	for (int i = 0; i < n; i++) {
		const uint32_t g = group[i];
		k->add(tmp + g * k->rsize, it + (size_t)i * k->isize, !started[g]);
		started[g] = true;
	}
	free(started);
	for (int g = 0; g < ng; g++) {
		const char *row = tmp + (size_t)g * k->rsize;
		order[g] = (ranked){u64_at(row, k->k1), k->k2 == NO_KEY ? 0 : u64_at(row, k->k2), g, g};
	}
	if (ng < n) /* rows merged: ranked again, as the replay ranks them */
		qsort(order, (size_t)ng, sizeof(*order), ranked_cmp);
	const int out = ng < k->max ? ng : k->max;
	for (int g = 0; g < out; g++)
		memcpy((char *)rows + (size_t)g * k->rsize, tmp + (size_t)order[g].row * k->rsize, k->rsize);
	free(tmp), free(order);
	return out;
}

static void pin_add(void *row, const void *item, bool first)
{
	rep_pin_row *r = row;
	const rp_pin *p = item;
	if (r->nstacks < RP_PIN_STACKS)
		r->stacks[r->nstacks] = p->stack;
	r->nstacks++;
	if (first) {
		r->pin = *p;
		return;
	}
	r->pin.arenas = max64(r->pin.arenas, p->arenas);
	r->pin.blocks += p->blocks;
	r->pin.bytes += p->bytes;
	r->pin.first_ns = p->first_ns < r->pin.first_ns ? p->first_ns : r->pin.first_ns;
	r->pin.last_ns = max64(r->pin.last_ns, p->last_ns);
}

int rep_view_pins(const rep_input *in, const rp_pinning *pn, rep_pin_row rows[RP_PIN_STACKS])
{
	static const row_kind kind = {sizeof(rp_pin), sizeof(rep_pin_row), offsetof(rp_pin, stack),
				      offsetof(rep_pin_row, pin.arenas), offsetof(rep_pin_row, pin.bytes),
				      RP_PIN_STACKS, pin_add};
	int n;
	const rp_pin *pins = pins_of(in, pn, &n);
	return merge_rows(in, pins, n, &kind, rows);
}

/* As pins_of, for a moment's leaks. */
static const rp_leak *leaks_of(const rep_input *in, const rp_moment *m, int *n)
{
	const bool more = rep_view_mode(in) == REP_STACKS_PYTHON && m->leaks_ranked &&
			  m->nleaks_ranked > 0;
	*n = more ? m->nleaks_ranked : m->nleaks < RP_LEAK_STACKS ? m->nleaks : RP_LEAK_STACKS;
	return more ? m->leaks_ranked : m->leaks;
}

static void leak_add(void *row, const void *item, bool first)
{
	rep_leak_row *r = row;
	const rp_leak *l = item;
	if (r->nstacks < RP_LEAK_STACKS)
		r->stacks[r->nstacks] = l->stack;
	r->nstacks++;
	if (first) {
		r->leak = *l;
		return;
	}
	r->leak.blocks += l->blocks;
	r->leak.bytes += l->bytes;
	r->leak.arenas = max64(r->leak.arenas, l->arenas);
}

int rep_view_leaks(const rep_input *in, const rp_moment *m, rep_leak_row rows[RP_LEAK_STACKS])
{
	static const row_kind kind = {sizeof(rp_leak), sizeof(rep_leak_row), offsetof(rp_leak, stack),
				      offsetof(rep_leak_row, leak.bytes), NO_KEY, RP_LEAK_STACKS,
				      leak_add};
	int n;
	const rp_leak *leaks = leaks_of(in, m, &n);
	return merge_rows(in, leaks, n, &kind, rows);
}

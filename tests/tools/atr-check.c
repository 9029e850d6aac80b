/*
 * atr-check.c - consistency checks over a recorded trace, for the tracer's
 * end-to-end tests.
 *
 *  - Live sets, per layer (malloc family; Python domains): an allocation
 *    returning an address that is still live, or a free/realloc of an
 *    address that is not, is an anomaly.  With --after-mark LABEL only
 *    anomalies after that mark count (earlier, the process was starting up
 *    and may free what was allocated before tracing began).
 *  - Snapshots: the arenas alive and allocated so far, counted from the
 *    arena records, must equal the "# arenas allocated current" and
 *    "# arenas allocated total" lines of the snapshot's text.
 * Prints one "key value" line per figure; exit 1 if anything is off.
 * usage: atr-check [--after-mark LABEL] TRACE
 */
#include "tf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct set {
	uint64_t *k; /* 0 empty, 1 tombstone */
	size_t cap, used;
} set;

static size_t h(uint64_t k, size_t mask)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

static void grow(set *s);
static bool has(const set *s, uint64_t k)
{
	if (!s->cap)
		return false;
	for (size_t i = h(k, s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->k[i] == k)
			return true;
		if (!s->k[i])
			return false;
	}
}

static void add(set *s, uint64_t k)
{
	if ((s->used + 1) * 2 > s->cap)
		grow(s);
	size_t i = h(k, s->cap - 1);
	while (s->k[i] > 1)
		i = (i + 1) & (s->cap - 1);
	s->k[i] = k;
	s->used++;
}

static void del(set *s, uint64_t k)
{
	for (size_t i = h(k, s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->k[i] == k) {
			s->k[i] = 1;
			return;
		}
		if (!s->k[i])
			return;
	}
}

static void grow(set *s)
{
	set n = {calloc(s->cap ? s->cap * 2 : 1024, sizeof(uint64_t)), s->cap ? s->cap * 2 : 1024, 0};
	if (!n.k) {
		fprintf(stderr, "atr-check: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->k[i] > 1)
			add(&n, s->k[i]);
	free(s->k);
	*s = n;
}

typedef struct layer {
	set live;
	uint64_t over_live, free_unknown;
} layer;

static void alloc_ev(layer *L, uint64_t a, bool count)
{
	if (!a)
		return;
	if (has(&L->live, a)) {
		L->over_live += count;
		return;
	}
	add(&L->live, a);
}

static void free_ev(layer *L, uint64_t a, bool count)
{
	if (!a)
		return;
	if (!has(&L->live, a)) {
		L->free_unknown += count;
		return;
	}
	del(&L->live, a);
}

static long stat_line(const char *text, size_t len, const char *label)
{
	char buf[1 << 16];
	size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
	memcpy(buf, text, n);
	buf[n] = 0;
	const char *p = strstr(buf, label);
	if (!p || !(p = strchr(p, '=')))
		return -1;
	long v = 0;
	for (p++; *p && *p != '\n'; p++)
		if (*p >= '0' && *p <= '9')
			v = v * 10 + (*p - '0');
	return v;
}

int main(int argc, char **argv)
{
	const char *mark = NULL, *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--after-mark") && i + 1 < argc)
			mark = argv[++i];
		else
			path = argv[i];
	}
	if (!path) {
		fprintf(stderr, "usage: atr-check [--after-mark LABEL] TRACE\n");
		return 2;
	}
	tf_reader *r;
	char err[512];
	if (tf_reader_open_file(&r, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "atr-check: %s\n", err);
		return 2;
	}
	layer L[2] = {0};
	bool counting = mark == NULL;
	uint64_t arenas_live = 0, arenas_total = 0, snaps = 0, snap_bad = 0, gc = 0, events = 0;
	tf_record rec;
	int rc;
	while ((rc = tf_reader_next(r, &rec)) > 0) {
		const tf_alloc *a = &rec.u.alloc;
		int li = tf_kind_is_python_fn(rec.kind);
		events += tf_kind_is_event(rec.kind);
		switch (rec.kind) {
		case TF_MARK:
			if (mark && rec.u.label.label.len == strlen(mark) &&
			    !memcmp(rec.u.label.label.ptr, mark, strlen(mark)))
				counting = true;
			break;
		case TF_FREE:
		case TF_PY_MEM_FREE:
		case TF_PY_OBJ_FREE:
			free_ev(&L[li], a->addr, counting);
			break;
		case TF_REALLOC:
		case TF_REALLOCARRAY:
		case TF_PY_MEM_REALLOC:
		case TF_PY_OBJ_REALLOC:
			if (!a->addr && a->size && a->old)
				break; /* failed: the old block stays */
			free_ev(&L[li], a->old, counting);
			alloc_ev(&L[li], a->addr, counting);
			break;
		case TF_ARENA_ALLOC:
			arenas_live += a->addr != 0, arenas_total += a->addr != 0;
			break;
		case TF_ARENA_FREE:
			arenas_live--;
			break;
		case TF_GC_STOP:
			gc++;
			break;
		case TF_SNAPSHOT: {
			long cur = stat_line(rec.u.label.text.ptr, rec.u.label.text.len,
					     "# arenas allocated current");
			long tot = stat_line(rec.u.label.text.ptr, rec.u.label.text.len,
					     "# arenas allocated total");
			snaps++;
			if (cur != (long)arenas_live || tot != (long)arenas_total) {
				snap_bad++;
				printf("snapshot %.*s: text says %ld current / %ld total, trace "
				       "%" PRIu64 " / %" PRIu64 "\n",
				       (int)rec.u.label.label.len, rec.u.label.label.ptr, cur, tot,
				       arenas_live, arenas_total);
			}
			break;
		}
		default:
			if (tf_kind_is_malloc_fn(rec.kind) || tf_kind_is_python_fn(rec.kind))
				alloc_ev(&L[li], a->addr, counting);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "atr-check: %s: %s\n", path, tf_reader_error(r));
		return 2;
	}
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	printf("complete %d\nevents %" PRIu64 "\n", st.complete, events);
	printf("malloc_alloc_over_live %" PRIu64 "\nmalloc_free_unknown %" PRIu64 "\n",
	       L[0].over_live, L[0].free_unknown);
	printf("python_alloc_over_live %" PRIu64 "\npython_free_unknown %" PRIu64 "\n",
	       L[1].over_live, L[1].free_unknown);
	printf("snapshots %" PRIu64 "\nsnapshots_mismatched %" PRIu64 "\ngc_passes %" PRIu64 "\n",
	       snaps, snap_bad, gc);
	tf_reader_free(r);
	return (L[0].over_live || L[0].free_unknown || L[1].over_live || L[1].free_unknown ||
		snap_bad || (mark && !counting))
		   ? 1
		   : 0;
}

/*
 * tf_writer.c - encodes records into per-stream buffers and turns them into
 * zstd frames.
 *
 * The buffers of the frame being built are the writer's own, or a sink's
 * (tf_sink: the tracer shares them with its drain process, which
 * compresses and writes).  After every call that adds records the writer
 * publishes how long each stream is (tf_commit), so what is complete can be
 * taken while more is added.  With its own buffers the writer compresses a
 * frame (tf_framer: one independent frame with a content checksum) when it
 * holds frame_bytes or more, or on tf_writer_flush, and writes it with
 * write(2).  No stdio, no locks: the caller serialises calls.  All memory
 * comes from opts->mem, including zstd's, so the tracer can keep it off the
 * traced heap.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced: custom memory */
#include "tf_internal.h"

#include <errno.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Room kept in every stream beyond the frame target: the most one record
 * can put in a stream, byte fields aside (16 fields of 11 bytes). */
#define TF_SLACK 256
#define TF_MAX_TARGET (2u << 20)
#define TF_HEAD_MAX (TF_MAGIC_LEN + 11 * (TF_NSTREAMS + 1)) /* magic, count, lengths */

struct tf_writer {
	int fd;
	int err;          /* first error; once set, nothing more is written */
	bool finished;    /* END written */
	bool started;     /* the first frame (with the magic) was written */
	uint64_t quantum; /* ns */
	uint64_t next_time; /* st.time + quantum (at least + 1): a TIME record is due */
	uint8_t *s[TF_NSTREAMS]; /* the frame being built, one buffer per stream */
	uint8_t *p[TF_NSTREAMS]; /* write position in each: s[i] + bytes used */
	size_t cap[TF_NSTREAMS];
	size_t total, target; /* total = bytes used in all streams */
	tf_commit *commit;    /* published after each call: the sink's, or own_commit */
	uint64_t seq;         /* commit->seq, kept here: only this writer changes it */
	tf_commit own_commit;
	tf_sink sink;         /* sink.swap == NULL: compress and write to fd */
	uint8_t shape[TF_NKINDS]; /* TF_SH_* of the event kinds tf_writer_put_alloc takes */
	tf_framer *framer;    /* compression, without a sink */
	tf_mem mem;
	tf_state st;
	uint32_t lo[2][2][TF_RING]; /* low halves of st.layer[i].allocd ([i][0]) and .freed ([i][1]) */
	/* Counted once per frame or per uncommon record, not per event: */
	uint64_t raw_flushed;  /* bytes_raw of the frames written */
	uint64_t recs_flushed; /* records (tags) in the frames written, schema included */
	uint64_t nonevents;    /* records that are not events, schema included */
	tf_writer_stats stats; /* threads, stacks, bytes_compressed, frames */
};

struct tf_framer {
	ZSTD_CCtx *cctx;
	uint8_t *zbuf; /* the compressed frame */
	size_t zcap;
	tf_mem mem;
};

static void *default_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void default_free(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

static const tf_mem default_mem = {default_alloc, default_free, NULL};

size_t tf_stream_cap(size_t frame_bytes, int stream)
{
	size_t target = frame_bytes ? frame_bytes : TF_DEFAULT_FRAME;
	/* the header's six byte fields may each be TF_MAX_BLOB long */
	return target + TF_SLACK + (stream == TF_S_BYTES ? 6 * (TF_MAX_BLOB + 10) : 0);
}

/* ---- commits ---- */

/* The lengths of the streams now, as the current commit slot. */
static inline void publish(tf_writer *w)
{
	uint64_t seq = w->seq + 1;
	uint32_t *len = w->commit->len[seq & 1];
	/* unrolled: this runs after every record, and the loop's count and test
	 * were as many instructions again as the lengths */
#pragma GCC unroll 8
	for (int i = 0; i < TF_NSTREAMS; i++)
		len[i] = (uint32_t)(w->p[i] - w->s[i]);
	__atomic_store_n(&w->commit->seq, seq, __ATOMIC_RELEASE);
	w->seq = seq;
}

void tf_commit_read(const tf_commit *c, uint32_t len[TF_NSTREAMS])
{
	/* The writer rewrites slot seq & 1 only when it publishes seq + 2:
	 * a copy taken while seq stayed the same is whole. */
	for (;;) {
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		for (int i = 0; i < TF_NSTREAMS; i++)
			len[i] = __atomic_load_n(&c->len[seq & 1][i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) == seq)
			return;
	}
}

/* ---- frames ---- */

int tf_framer_create(tf_framer **out, int level, size_t max_content, const tf_mem *mem)
{
	*out = NULL;
	mem = mem ? mem : &default_mem;
	tf_framer *f = mem->alloc(mem->ctx, sizeof(*f));
	if (!f)
		return TF_E_NOMEM;
	memset(f, 0, sizeof(*f));
	f->mem = *mem;
	ZSTD_customMem cm = {mem->alloc, mem->free, mem->ctx};
	int err = 0;
	f->cctx = ZSTD_createCCtx_advanced(cm);
	if (!f->cctx)
		err = TF_E_NOMEM;
	else if (ZSTD_isError(ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_compressionLevel,
						     level ? level : TF_DEFAULT_LEVEL)) ||
		 ZSTD_isError(ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_checksumFlag, 1)))
		err = TF_E_ARG;
	else if (max_content &&
		 !(f->zbuf = mem->alloc(mem->ctx, f->zcap = ZSTD_compressBound(max_content))))
		err = TF_E_NOMEM;
	if (err) {
		tf_framer_free(f);
		return err;
	}
	*out = f;
	return 0;
}

void tf_framer_free(tf_framer *f)
{
	if (!f)
		return;
	ZSTD_freeCCtx(f->cctx);
	if (f->zbuf)
		f->mem.free(f->mem.ctx, f->zbuf);
	f->mem.free(f->mem.ctx, f);
}

/* The frame: [magic] nstreams lengths streams (FORMAT.md §1.1). */
long tf_framer_compress(tf_framer *f, bool first, const uint8_t *const s[TF_NSTREAMS],
			const uint32_t len[TF_NSTREAMS], const uint8_t **out)
{
	uint8_t head[TF_HEAD_MAX];
	size_t h = 0, total = 0;
	if (first) {
		memcpy(head, TF_MAGIC, TF_MAGIC_LEN);
		h = TF_MAGIC_LEN;
	}
	h += tf_put_uv(head + h, TF_NSTREAMS);
	for (int i = 0; i < TF_NSTREAMS; i++) {
		h += tf_put_uv(head + h, len[i]);
		total += len[i];
	}
	size_t need = ZSTD_compressBound(h + total);
	if (need > f->zcap) {
		if (f->zbuf)
			f->mem.free(f->mem.ctx, f->zbuf);
		f->zcap = 0;
		if (!(f->zbuf = f->mem.alloc(f->mem.ctx, need)))
			return TF_E_NOMEM;
		f->zcap = need;
	}
	ZSTD_outBuffer o = {f->zbuf, f->zcap, 0};
	size_t rc = ZSTD_CCtx_setPledgedSrcSize(f->cctx, h + total);
	for (int i = -1; i < TF_NSTREAMS && !ZSTD_isError(rc); i++) {
		ZSTD_inBuffer in = {i < 0 ? head : s[i], i < 0 ? h : len[i], 0};
		ZSTD_EndDirective end = i == TF_NSTREAMS - 1 ? ZSTD_e_end : ZSTD_e_continue;
		do
			rc = ZSTD_compressStream2(f->cctx, &o, &in, end);
		while (!ZSTD_isError(rc) && (in.pos < in.size || (end == ZSTD_e_end && rc)));
	}
	if (ZSTD_isError(rc)) {
		ZSTD_CCtx_reset(f->cctx, ZSTD_reset_session_only);
		return ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation ? TF_E_NOMEM : TF_E_ARG;
	}
	*out = f->zbuf;
	return (long)o.pos;
}

/* ---- output ---- */

static int write_all(tf_writer *w, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = ENOSPC;
			return w->err = TF_E_IO;
		}
		p += k;
		n -= (size_t)k;
		w->stats.bytes_compressed += (size_t)k;
	}
	return 0;
}

/* ---- encoding ---- */

static uint8_t *put_bytes(uint8_t *p, tf_bytes b)
{
	size_t len = b.len > TF_MAX_BLOB ? TF_MAX_BLOB : b.len;
	p += tf_put_uv(p, len);
	if (len)
		memcpy(p, b.ptr, len);
	return p + len;
}

/* Bit j set when lo[j] == key (16 slots). */
static inline unsigned lo_match(const uint32_t *lo, uint32_t key)
{
#ifdef __SSE2__
	__m128i k = _mm_set1_epi32((int)key);
	const __m128i *v = (const __m128i *)lo;
	__m128i e0 = _mm_cmpeq_epi32(_mm_loadu_si128(v), k);
	__m128i e1 = _mm_cmpeq_epi32(_mm_loadu_si128(v + 1), k);
	__m128i e2 = _mm_cmpeq_epi32(_mm_loadu_si128(v + 2), k);
	__m128i e3 = _mm_cmpeq_epi32(_mm_loadu_si128(v + 3), k);
	__m128i all = _mm_packs_epi16(_mm_packs_epi32(e0, e1), _mm_packs_epi32(e2, e3));
	return (unsigned)_mm_movemask_epi8(all);
#else
	unsigned mask = 0;
	for (unsigned j = 0; j < TF_RING; j++)
		mask |= (unsigned)(lo[j] == key) << j;
	return mask;
#endif
}

/* Ring code of a (1 = newest entry) or 0.  The low halves of the entries
 * (lo) are compared all at once; the few slots that match there are then
 * checked in full, and the newest match wins: the mask is rotated so that
 * the newest slot is its top bit. */
static inline uint64_t ring_find(const uint64_t *ring, const uint32_t *lo, unsigned pos,
				 uint64_t a)
{
	_Static_assert(TF_RING == 16, "mask arithmetic assumes 16 slots");
	unsigned mask = lo_match(lo, (uint32_t)a);
	for (unsigned m = mask; m; m &= m - 1)
		if (ring[__builtin_ctz(m)] != a)
			mask &= ~(1u << __builtin_ctz(m));
	if (!mask)
		return 0;
	unsigned rot = ((mask << (TF_RING - pos)) | (mask >> pos)) & 0xffff;
	unsigned k = 31 - (unsigned)__builtin_clz(rot); /* slot (pos + k) % 16 */
	return TF_AC_RING1 + (TF_RING - 1 - k);
}

/* FORMAT.md §4.2: NULL, a hit in the opposite ring, or the address as its
 * offset from the layer's fixed base (in 16-byte units when aligned), or an
 * escape.  A fixed base, not the previous address: an address that comes
 * back (freed after its allocation, reused after its free) repeats its
 * bytes, which zstd finds; the base only makes them shorter. */
static inline __attribute__((always_inline)) uint8_t *put_addr(uint8_t *p, tf_writer *w,
								unsigned layer, uint64_t a,
								bool is_new)
{
	if (!a) {
		*p = TF_AC_NULL;
		return p + 1;
	}
	tf_layer *L = &w->st.layer[layer];
	uint32_t *lo_allocd = w->lo[layer][0], *lo_freed = w->lo[layer][1];
	uint64_t code = is_new ? ring_find(L->freed, lo_freed, L->fpos, a)
			       : ring_find(L->allocd, lo_allocd, L->apos, a);
	bool abs = false;
	if (!code) {
		uint64_t d = a - L->base;
		uint64_t z = tf_zigzag((int64_t)d);
		if (!(d & 15))
			code = TF_AC_VALUE + (tf_zigzag((int64_t)d >> 4) << 1);
		else if (!(z >> 62))
			code = TF_AC_VALUE + (z << 1 | 1);
		else
			abs = true, code = TF_AC_ABS;
		if (!L->base)
			L->base = a;
	}
	p += tf_put_uv(p, code);
	if (abs)
		p += tf_put_uv(p, a);
	if (is_new) {
		lo_allocd[L->apos] = (uint32_t)a;
		tf_ring_push(L->allocd, &L->apos, a);
	} else {
		lo_freed[L->fpos] = (uint32_t)a;
		tf_ring_push(L->freed, &L->fpos, a);
	}
	return p;
}

static inline size_t used(const tf_writer *w, int i)
{
	return (size_t)(w->p[i] - w->s[i]);
}

/* Any record, driven by its field table. */
static void encode(tf_writer *w, unsigned tag, const tf_record *rec)
{
	const tf_kinddef *d = &tf_kinds[tag];
	uint8_t *k0 = w->p[TF_S_STACKS], *a0 = w->p[TF_S_ADDRS];
	uint8_t *n0 = w->p[TF_S_NUMS], *b0 = w->p[TF_S_BYTES];
	uint8_t *k = k0, *a = a0, *n = n0, *b = b0;
	*w->p[TF_S_TAGS]++ = (uint8_t)tag;
	for (unsigned i = 0; i < d->nfields; i++) {
		const tf_field *f = &d->fields[i];
		uint64_t v = TF_U64(rec, f);
		switch (f->fc) {
		case TF_FC_U:
			n += tf_put_uv(n, v);
			break;
		case TF_FC_S:
			n += tf_put_uv(n, tf_zigzag((int64_t)v));
			break;
		case TF_FC_B:
			b = put_bytes(b, TF_BYTES(rec, f));
			break;
		case TF_FC_K:
			k += tf_put_uv(k, v);
			break;
		case TF_FC_ANEW:
		case TF_FC_AOLD:
			a = put_addr(a, w, d->layer, v, f->fc == TF_FC_ANEW);
			break;
		case TF_FC_PARENT:
			k += tf_put_uv(k, rec->u.node.id - v);
			break;
		case TF_FC_IP:
			n += tf_put_uv(n, tf_zigzag((int64_t)(v - w->st.last_ip)));
			w->st.last_ip = v;
			break;
		}
	}
	w->p[TF_S_STACKS] = k, w->p[TF_S_ADDRS] = a, w->p[TF_S_NUMS] = n, w->p[TF_S_BYTES] = b;
	w->total += (size_t)(1 + (k - k0) + (a - a0) + (n - n0) + (b - b0));
	w->nonevents += !(d->flags & TF_RF_EVENT);
}

/* A TIME or SWITCH record: encode()'s bytes for their one field (a number,
 * FORMAT.md §4.1), without its loop over the field table.  Threads that
 * take turns put a SWITCH before nearly every event (tests/bench/xthreads),
 * all of it under the tracer's lock. */
static void encode_state(tf_writer *w, unsigned tag, uint64_t v)
{
	*w->p[TF_S_TAGS]++ = (uint8_t)tag;
	const size_t len = tf_put_uv(w->p[TF_S_NUMS], v);
	w->p[TF_S_NUMS] += len;
	w->total += 1 + len;
	w->nonevents++;
}

/* TIME and SWITCH records before an event, as needed (FORMAT.md §4.1). */
static __attribute__((noinline)) void put_state(tf_writer *w, uint32_t thread, uint64_t time)
{
	if (time > w->st.time && time - w->st.time >= w->quantum) {
		encode_state(w, TF_TIME, time - w->st.time);
		w->st.time = time;
		uint64_t step = w->quantum ? w->quantum : 1;
		w->next_time = w->st.time + step < w->st.time ? UINT64_MAX : w->st.time + step;
	}
	if (thread != w->st.thread) {
		encode_state(w, TF_SWITCH, thread);
		w->st.thread = thread;
	}
}

static inline void event_state(tf_writer *w, uint32_t thread, uint64_t time)
{
	if (__builtin_expect(time >= w->next_time || thread != w->st.thread, 0))
		put_state(w, thread, time);
}

/* ---- the event fast path (tf_writer_put_alloc) ----
 *
 * shape[] holds each kind's layout (tf_shape_of), so the fast path writes
 * exactly the bytes encode() would. */

/* What tf_writer_put_alloc leaves to tf_writer_put: errors, misuse,
 * kinds of another layout. */
static __attribute__((noinline)) int put_alloc_slow(tf_writer *w, unsigned kind, uint32_t thread,
						    uint64_t time, const tf_alloc *x)
{
	tf_record rec = {.kind = (tf_kind)kind, .thread = thread, .time = time};
	if (kind < TF_NKINDS && (tf_kinds[kind].flags & TF_RF_STACK))
		rec.u.alloc = *x;
	else
		return w->err ? TF_E_FAILED : TF_E_ARG;
	return tf_writer_put(w, &rec);
}

/* The fields after the stack of the kinds that are not a plain malloc or
 * free. */
static __attribute__((noinline)) void put_alloc_fields(tf_writer *w, unsigned sh, uint8_t **ap,
							uint8_t **np, const tf_alloc *x)
{
	unsigned layer = (sh & TF_SH_LAYER1) != 0;
	uint8_t *a = *ap, *n = *np;
	if (sh & TF_SH_OLD)
		a = put_addr(a, w, layer, x->old, false);
	if (sh & (TF_SH_NMEMB | TF_SH_ALIGN))
		n += tf_put_uv(n, sh & TF_SH_NMEMB ? x->nmemb : x->align);
	n += tf_put_uv(n, x->size);
	if (sh & TF_SH_RET)
		n += tf_put_uv(n, x->ret);
	*ap = put_addr(a, w, layer, x->addr, true);
	*np = n;
}

int tf_writer_put_alloc(tf_writer *w, unsigned kind, uint32_t thread, uint64_t time,
			const tf_alloc *x)
{
	unsigned sh = kind < TF_NKINDS ? w->shape[kind] : 0;
	if (__builtin_expect(!sh || w->err || w->finished || x->stack >= w->st.next_node, 0))
		return put_alloc_slow(w, kind, thread, time, x);
	event_state(w, thread, time);
	uint8_t *k0 = w->p[TF_S_STACKS], *a0 = w->p[TF_S_ADDRS], *n0 = w->p[TF_S_NUMS];
	uint8_t *k = k0, *a = a0, *n = n0;
	*w->p[TF_S_TAGS]++ = (uint8_t)kind;
	k += tf_put_uv(k, x->stack);
	/* the commonest shapes inline, layer 0 or 1 a constant in each */
	switch (sh) {
	case TF_SH_EVENT | TF_SH_FREE:
		a = put_addr(a, w, 0, x->addr, false);
		break;
	case TF_SH_EVENT | TF_SH_FREE | TF_SH_LAYER1:
		a = put_addr(a, w, 1, x->addr, false);
		break;
	case TF_SH_EVENT:
		n += tf_put_uv(n, x->size);
		a = put_addr(a, w, 0, x->addr, true);
		break;
	case TF_SH_EVENT | TF_SH_LAYER1:
		n += tf_put_uv(n, x->size);
		a = put_addr(a, w, 1, x->addr, true);
		break;
	default:
		put_alloc_fields(w, sh, &a, &n, x);
	}
	w->p[TF_S_STACKS] = k, w->p[TF_S_ADDRS] = a, w->p[TF_S_NUMS] = n;
	w->total += (size_t)(1 + (k - k0) + (a - a0) + (n - n0));
	publish(w);
	return w->total >= w->target ? tf_writer_flush(w) : 0;
}

static size_t used(const tf_writer *w, int i);

/* Takes a sink's buffers for the next frame. */
static int take_bufs(tf_writer *w, const tf_frame_bufs *b)
{
	for (int i = 0; i < TF_NSTREAMS; i++) {
		if (!b->s[i] || b->cap[i] < tf_stream_cap(w->target, i))
			return TF_E_ARG;
		w->s[i] = w->p[i] = b->s[i];
		w->cap[i] = b->cap[i];
	}
	if (!b->commit)
		return TF_E_ARG;
	w->commit = b->commit;
	w->seq = __atomic_load_n(&b->commit->seq, __ATOMIC_RELAXED);
	publish(w); /* the new frame is empty */
	return 0;
}

/* Ends the frame being built: compressed and written, or handed to the
 * sink (why: TF_SINK_FULL or TF_SINK_LAST). */
static int end_frame(tf_writer *w, int why)
{
	uint64_t recs = used(w, TF_S_TAGS), raw = w->total;
	if (w->sink.swap) {
		tf_frame_bufs b = {.commit = w->commit};
		for (int i = 0; i < TF_NSTREAMS; i++)
			b.s[i] = w->s[i], b.cap[i] = w->cap[i];
		int rc = w->sink.swap(w->sink.ctx, &b, why);
		if (rc < 0)
			return w->err = rc;
		if (why != TF_SINK_LAST && (rc = take_bufs(w, &b)) < 0)
			return w->err = rc;
	} else {
		uint32_t len[TF_NSTREAMS];
		const uint8_t *s[TF_NSTREAMS], *z;
		for (int i = 0; i < TF_NSTREAMS; i++)
			len[i] = (uint32_t)used(w, i), s[i] = w->s[i];
		long n = tf_framer_compress(w->framer, !w->started, s, len, &z);
		if (n < 0)
			return w->err = (int)n;
		int rc = write_all(w, z, (size_t)n);
		if (rc < 0)
			return rc;
		for (int i = 0; i < TF_NSTREAMS; i++)
			w->p[i] = w->s[i];
		publish(w);
	}
	w->raw_flushed += raw;
	w->recs_flushed += recs;
	w->total = 0;
	w->started = true;
	w->stats.frames++;
	return 0;
}

int tf_writer_flush(tf_writer *w)
{
	if (w->err)
		return w->err;
	if (!w->total)
		return 0;
	return end_frame(w, TF_SINK_FULL);
}

/* Makes room for a record whose byte fields take `blob` bytes. */
static int reserve(tf_writer *w, size_t blob)
{
	if (w->err)
		return w->err;
	for (int i = 0; i < TF_NSTREAMS; i++)
		if (used(w, i) + TF_SLACK + (i == TF_S_BYTES ? blob : 0) > w->cap[i])
			return tf_writer_flush(w);
	return 0;
}

/* Bytes the byte fields of rec take, lengths included. */
static size_t blob_size(const tf_kinddef *d, const tf_record *rec)
{
	size_t n = 0;
	if (d->flags & TF_RF_BYTES)
		for (unsigned i = 0; i < d->nfields; i++)
			if (d->fields[i].fc == TF_FC_B) {
				size_t len = TF_BYTES(rec, &d->fields[i]).len;
				n += 10 + (len > TF_MAX_BLOB ? TF_MAX_BLOB : len);
			}
	return n;
}

/* ---- creation: magic, schema, header ---- */

/* Schema record (FORMAT.md §6): count, then per kind its tag, name and
 * field type letters. */
static void encode_schema(tf_writer *w)
{
	uint8_t *n = w->s[TF_S_NUMS], *b = w->s[TF_S_BYTES];
	unsigned count = 0;
	for (unsigned t = 0; t < TF_NKINDS; t++)
		count += tf_kinds[t].name && t != TF_SCHEMA;
	w->s[TF_S_TAGS][0] = TF_SCHEMA;
	n += tf_put_uv(n, count);
	for (unsigned t = 0; t < TF_NKINDS; t++) {
		const tf_kinddef *d = &tf_kinds[t];
		if (!d->name || t == TF_SCHEMA)
			continue;
		char types[TF_MAX_FIELDS];
		for (unsigned i = 0; i < d->nfields; i++)
			types[i] = tf_fc_type(d->fields[i].fc);
		n += tf_put_uv(n, t);
		b = put_bytes(b, (tf_bytes){d->name, strlen(d->name)});
		b = put_bytes(b, (tf_bytes){types, d->nfields});
	}
	w->p[TF_S_TAGS] = w->s[TF_S_TAGS] + 1;
	w->p[TF_S_NUMS] = n;
	w->p[TF_S_BYTES] = b;
	w->total = 1 + used(w, TF_S_NUMS) + used(w, TF_S_BYTES);
	w->nonevents++;
}

int tf_writer_create(tf_writer **out, const tf_writer_opts *o, const tf_header *h)
{
	*out = NULL;
	bool sink = o && o->sink && o->sink->swap;
	if (!o || !h || (!sink && o->fd < 0))
		return TF_E_ARG;
	size_t target = o->frame_bytes ? o->frame_bytes : TF_DEFAULT_FRAME;
	if (target > TF_MAX_TARGET)
		return TF_E_ARG;
	const tf_mem *mem = o->mem ? o->mem : &default_mem;
	tf_writer *w = mem->alloc(mem->ctx, sizeof(*w));
	if (!w)
		return TF_E_NOMEM;
	memset(w, 0, sizeof(*w));
	w->mem = *mem;
	w->fd = o->fd;
	w->quantum = o->exact_time ? 0 : o->quantum_ns ? o->quantum_ns : TF_DEFAULT_QUANTUM;
	w->target = target;
	tf_state_init(&w->st);
	w->next_time = w->quantum ? w->quantum : 1;
	for (unsigned t = 0; t < TF_NKINDS; t++)
		w->shape[t] = tf_shape_of(&tf_kinds[t]);
	int err = 0;
	if (sink) {
		w->sink = *o->sink;
		tf_frame_bufs b;
		memset(&b, 0, sizeof(b));
		err = w->sink.swap(w->sink.ctx, &b, TF_SINK_FIRST);
		if (!err)
			err = take_bufs(w, &b);
	} else {
		size_t content = TF_HEAD_MAX;
		w->commit = &w->own_commit;
		for (int i = 0; i < TF_NSTREAMS && !err; i++) {
			w->cap[i] = tf_stream_cap(target, i);
			content += w->cap[i];
			if (!(w->p[i] = w->s[i] = mem->alloc(mem->ctx, w->cap[i])))
				err = TF_E_NOMEM;
		}
		if (!err)
			err = tf_framer_create(&w->framer, o->level, content, mem);
	}
	if (err) {
		tf_writer_free(w);
		return err;
	}
	encode_schema(w);
	tf_record r = {.kind = TF_HEADER};
	r.u.header = *h;
	r.u.header.version = TF_FORMAT_VERSION;
	r.u.header.quantum_ns = w->quantum;
	encode(w, TF_HEADER, &r);
	publish(w);
	*out = w;
	return 0;
}

void tf_writer_free(tf_writer *w)
{
	if (!w)
		return;
	tf_framer_free(w->framer);
	for (int i = 0; i < TF_NSTREAMS && !w->sink.swap; i++) /* a sink's buffers are its own */
		if (w->s[i])
			w->mem.free(w->mem.ctx, w->s[i]);
	w->mem.free(w->mem.ctx, w);
}

/* ---- records ---- */

int tf_writer_put(tf_writer *w, tf_record *rec)
{
	unsigned tag = rec->kind;
	if (w->err)
		return TF_E_FAILED;
	if (w->finished || tag >= TF_NKINDS || !tf_kinds[tag].name || tag == TF_SCHEMA ||
	    tag == TF_HEADER || tag == TF_TIME || tag == TF_SWITCH || tag == TF_END)
		return TF_E_ARG;
	const tf_kinddef *d = &tf_kinds[tag];
	/* a stack id or parent must name a node already written */
	if ((tag == TF_STACK && rec->u.node.parent >= w->st.next_node) ||
	    ((d->flags & TF_RF_STACK) && rec->u.alloc.stack >= w->st.next_node))
		return TF_E_ARG;
	/* Without byte fields a record (with a TIME and a SWITCH before it) fits
	 * in the slack: total < target after every record, and each stream has
	 * target + TF_SLACK bytes. */
	if (d->flags & TF_RF_BYTES) {
		int err = reserve(w, blob_size(d, rec));
		if (err)
			return err;
	}
	event_state(w, (d->flags & TF_RF_EVENT) ? rec->thread : w->st.thread, rec->time);
	if (tag == TF_STACK)
		rec->u.node.id = w->st.next_node++;
	encode(w, tag, rec);
	publish(w);
	w->stats.threads += tag == TF_THREAD;
	w->stats.stacks += tag == TF_STACK;
	return w->total >= w->target ? tf_writer_flush(w) : 0;
}

int tf_writer_finish(tf_writer *w, unsigned clean, int64_t exit_status, uint64_t dropped)
{
	if (w->err)
		return TF_E_FAILED;
	if (w->finished)
		return TF_E_ARG;
	int err = reserve(w, 0);
	if (err)
		return err;
	tf_record r = {.kind = TF_END};
	tf_writer_stats st;
	tf_writer_get_stats(w, &st);
	r.u.end = (tf_end){clean, exit_status, st.events, st.stacks, st.threads, dropped};
	encode(w, TF_END, &r);
	publish(w);
	w->finished = true;
	return end_frame(w, TF_SINK_LAST);
}

void tf_writer_get_stats(const tf_writer *w, tf_writer_stats *st)
{
	*st = w->stats;
	uint64_t recs = w->recs_flushed + used(w, TF_S_TAGS);
	st->records = recs - 1; /* the schema is not counted */
	st->events = recs - w->nonevents;
	st->bytes_raw = w->raw_flushed + w->total;
}

size_t tf_writer_pending(const tf_writer *w)
{
	return w->total;
}

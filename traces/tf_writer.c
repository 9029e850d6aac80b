/*
 * tf_writer.c - encodes records into a buffer and writes it as zstd frames.
 *
 * One buffer of raw records; when it holds frame_bytes or more (or on
 * tf_writer_flush) it is compressed into one independent frame with a
 * content checksum and written with write(2).  No stdio, no locks: the
 * tracer serialises calls.  All memory comes from opts->mem, including
 * zstd's, so the tracer can keep it off the traced heap.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced: custom memory */
#include "tf_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Worst case of one record: tag, 11 bytes per field (address escape plus
 * absolute), and the header's five byte fields at TF_MAX_BLOB each. */
#define TF_MAX_RECORD (1 + TF_MAX_FIELDS * 11 + 5 * (size_t)TF_MAX_BLOB)

struct tf_writer {
	int fd;
	int err;         /* first error; once set, nothing more is written */
	bool finished;   /* END written */
	uint64_t quantum; /* ns */
	uint8_t *buf;    /* raw records of the frame being built */
	size_t used, target, cap;
	uint8_t *zbuf;   /* compressed frame */
	size_t zcap;
	ZSTD_CCtx *cctx;
	tf_mem mem;
	tf_state st;
	tf_writer_stats stats;
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

/* ---- encoding ---- */

static uint8_t *put_bytes(uint8_t *p, tf_bytes b)
{
	size_t len = b.len > TF_MAX_BLOB ? TF_MAX_BLOB : b.len;
	p += tf_put_uv(p, len);
	if (len)
		memcpy(p, b.ptr, len);
	return p + len;
}

/* Ring code of a (1 = newest entry) or 0.  Branch-free: compares all
 * slots, then picks the newest match by rotating the match mask so that
 * the newest slot is the top bit. */
static inline uint64_t ring_find(const uint64_t *ring, unsigned pos, uint64_t a)
{
	_Static_assert(TF_RING == 16, "mask arithmetic assumes 16 slots");
	unsigned mask = 0;
#pragma GCC unroll 16
	for (unsigned j = 0; j < TF_RING; j++)
		mask |= (unsigned)(ring[j] == a) << j;
	if (!mask)
		return 0;
	unsigned rot = ((mask << (TF_RING - pos)) | (mask >> pos)) & 0xffff;
	unsigned k = 31 - (unsigned)__builtin_clz(rot); /* slot (pos + k) % 16 */
	return TF_AC_RING1 + (TF_RING - 1 - k);
}

/* FORMAT.md §4.2: NULL, a hit in the opposite ring, or a delta from the
 * previous address (in 16-byte units when aligned), or an escape. */
static uint8_t *put_addr(uint8_t *p, tf_layer *L, uint64_t a, bool is_new)
{
	if (!a)
		return p + tf_put_uv(p, TF_AC_NULL);
	uint64_t code = is_new ? ring_find(L->freed, L->fpos, a) : ring_find(L->allocd, L->apos, a);
	bool abs = false;
	if (!code) {
		uint64_t delta = a - L->last;
		if (!(delta & 15)) {
			code = TF_AC_DELTA + (tf_zigzag((int64_t)delta >> 4) << 1);
		} else {
			uint64_t z = tf_zigzag((int64_t)delta);
			if (z >> 62)
				abs = true, code = TF_AC_ABS;
			else
				code = TF_AC_DELTA + (z << 1 | 1);
		}
	}
	p += tf_put_uv(p, code);
	if (abs)
		p += tf_put_uv(p, a);
	L->last = a;
	if (is_new)
		tf_ring_push(L->allocd, &L->apos, a);
	else
		tf_ring_push(L->freed, &L->fpos, a);
	return p;
}

static void encode(tf_writer *w, unsigned tag, const tf_record *rec)
{
	const tf_kinddef *d = &tf_kinds[tag];
	tf_layer *L = &w->st.layer[d->layer];
	uint8_t *p = w->buf + w->used;
	*p++ = (uint8_t)tag;
	for (unsigned i = 0; i < d->nfields; i++) {
		const tf_field *f = &d->fields[i];
		uint64_t v = TF_U64(rec, f);
		switch (f->fc) {
		case TF_FC_U:
			p += tf_put_uv(p, v);
			break;
		case TF_FC_S:
			p += tf_put_uv(p, tf_zigzag((int64_t)v));
			break;
		case TF_FC_B:
			p = put_bytes(p, TF_BYTES(rec, f));
			break;
		case TF_FC_ANEW:
		case TF_FC_AOLD:
			p = put_addr(p, L, v, f->fc == TF_FC_ANEW);
			break;
		case TF_FC_PARENT:
			p += tf_put_uv(p, rec->u.node.id - v);
			break;
		case TF_FC_IP:
			p += tf_put_uv(p, tf_zigzag((int64_t)(v - w->st.last_ip)));
			w->st.last_ip = v;
			break;
		}
	}
	w->stats.bytes_raw += (size_t)(p - (w->buf + w->used));
	w->used = (size_t)(p - w->buf);
	w->stats.records++;
}

static void encode_state(tf_writer *w, unsigned tag, uint64_t v)
{
	tf_record r;
	r.u.module_unload = v;
	encode(w, tag, &r);
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

int tf_writer_flush(tf_writer *w)
{
	if (w->err)
		return w->err;
	if (!w->used)
		return 0;
	size_t z = ZSTD_compress2(w->cctx, w->zbuf, w->zcap, w->buf, w->used);
	if (ZSTD_isError(z))
		return w->err = ZSTD_getErrorCode(z) == ZSTD_error_memory_allocation ? TF_E_NOMEM
										 : TF_E_ARG;
	w->used = 0;
	w->stats.frames++;
	return write_all(w, w->zbuf, z);
}

/* Makes room for a record of at most `need` bytes. */
static int reserve(tf_writer *w, size_t need)
{
	if (w->err)
		return w->err;
	if (w->used + need > w->cap)
		return tf_writer_flush(w);
	return 0;
}

static size_t max_size(const tf_kinddef *d, const tf_record *rec)
{
	size_t n = d->fixed_max;
	if (d->flags & TF_RF_BYTES)
		for (unsigned i = 0; i < d->nfields; i++)
			if (d->fields[i].fc == TF_FC_B)
				n += TF_BYTES(rec, &d->fields[i]).len;
	return n;
}

/* ---- creation: magic, schema, header ---- */

static void encode_schema(tf_writer *w)
{
	uint8_t *p = w->buf + w->used;
	unsigned count = 0;
	for (unsigned t = 0; t < TF_NKINDS; t++)
		count += tf_kinds[t].name && t != TF_SCHEMA;
	*p++ = TF_SCHEMA;
	p += tf_put_uv(p, count);
	for (unsigned t = 0; t < TF_NKINDS; t++) {
		const tf_kinddef *d = &tf_kinds[t];
		if (!d->name || t == TF_SCHEMA)
			continue;
		p += tf_put_uv(p, t);
		p = put_bytes(p, (tf_bytes){d->name, strlen(d->name)});
		p += tf_put_uv(p, d->nfields);
		for (unsigned i = 0; i < d->nfields; i++)
			*p++ = (uint8_t)tf_fc_type(d->fields[i].fc);
	}
	w->stats.bytes_raw += (size_t)(p - (w->buf + w->used));
	w->used = (size_t)(p - w->buf);
}

static int setup_zstd(tf_writer *w, int level)
{
	ZSTD_customMem cm = {w->mem.alloc, w->mem.free, w->mem.ctx};
	w->cctx = ZSTD_createCCtx_advanced(cm);
	if (!w->cctx)
		return TF_E_NOMEM;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)))
		return TF_E_ARG;
	return 0;
}

int tf_writer_create(tf_writer **out, const tf_writer_opts *o, const tf_header *h)
{
	*out = NULL;
	if (!o || !h || o->fd < 0)
		return TF_E_ARG;
	size_t target = o->frame_bytes ? o->frame_bytes : TF_DEFAULT_FRAME;
	if (target > TF_MAX_FRAME - TF_MAX_RECORD)
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
	w->cap = target + TF_MAX_RECORD;
	w->zcap = ZSTD_compressBound(w->cap);
	tf_state_init(&w->st);
	w->buf = mem->alloc(mem->ctx, w->cap);
	w->zbuf = mem->alloc(mem->ctx, w->zcap);
	int err = (!w->buf || !w->zbuf) ? TF_E_NOMEM : setup_zstd(w, o->level ? o->level : 1);
	if (err) {
		tf_writer_free(w);
		return err;
	}
	memcpy(w->buf, TF_MAGIC, TF_MAGIC_LEN);
	w->used = TF_MAGIC_LEN;
	w->stats.bytes_raw = TF_MAGIC_LEN;
	encode_schema(w);
	tf_record r = {.kind = TF_HEADER};
	r.u.header = *h;
	r.u.header.version = TF_FORMAT_VERSION;
	r.u.header.quantum_ns = w->quantum;
	encode(w, TF_HEADER, &r);
	*out = w;
	return 0;
}

void tf_writer_free(tf_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->cctx);
	if (w->buf)
		w->mem.free(w->mem.ctx, w->buf);
	if (w->zbuf)
		w->mem.free(w->mem.ctx, w->zbuf);
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
	/* TIME and SWITCH take at most 2 * 11 bytes together */
	int err = reserve(w, max_size(d, rec) + 2 * TF_FIELD_MAX + 2);
	if (err)
		return err;
	if (rec->time > w->st.time && rec->time - w->st.time >= w->quantum) {
		encode_state(w, TF_TIME, rec->time - w->st.time);
		w->st.time = rec->time;
	}
	if ((d->flags & TF_RF_EVENT) && rec->thread != w->st.thread) {
		encode_state(w, TF_SWITCH, rec->thread);
		w->st.thread = rec->thread;
	}
	if (tag == TF_STACK)
		rec->u.node.id = w->st.next_node++;
	encode(w, tag, rec);
	w->stats.events += (d->flags & TF_RF_EVENT) != 0;
	w->stats.threads += tag == TF_THREAD;
	w->stats.stacks += tag == TF_STACK;
	return w->used >= w->target ? tf_writer_flush(w) : 0;
}

int tf_writer_finish(tf_writer *w, unsigned clean, int64_t exit_status, uint64_t dropped)
{
	if (w->err)
		return TF_E_FAILED;
	if (w->finished)
		return TF_E_ARG;
	int err = reserve(w, 1 + 6 * 11);
	if (err)
		return err;
	tf_record r = {.kind = TF_END};
	r.u.end = (tf_end){clean, exit_status, w->stats.events, w->stats.stacks,
			   w->stats.threads, dropped};
	encode(w, TF_END, &r);
	w->finished = true;
	return tf_writer_flush(w);
}

void tf_writer_get_stats(const tf_writer *w, tf_writer_stats *st)
{
	*st = w->stats;
}

size_t tf_writer_pending(const tf_writer *w)
{
	return w->used;
}

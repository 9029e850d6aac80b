/*
 * tf_decode.c - the reader's records (tf_reader.c loads the frames): the
 * schema, the header, every record of a frame decoded and checked before
 * the first is handed out (FORMAT.md §3, §4), the request fast path, and
 * tf_reader_next.
 *
 * Invariants: a frame's values are in vals in record order, out_val at the
 * next record's first; a frame whose values did not fit is decoded again
 * from `spill` past what vals holds; the prediction state (st) is the
 * writer's after the same records.
 */
#include "tf_rd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- records ---- */

static bool get_u(cursor *c, uint64_t *v)
{
	return tf_get_uv(&c->p, c->end, v);
}

static bool get_bytes(cursor *c, tf_bytes *b)
{
	uint64_t len;
	if (!get_u(c, &len) || len > (uint64_t)(c->end - c->p))
		return false;
	b->ptr = (const char *)c->p;
	b->len = (size_t)len;
	c->p += len;
	return true;
}

/* Skips one field of schema type t. */
static bool skip_field(tf_reader *r, char t)
{
	uint64_t v;
	tf_bytes b;
	int si = tf_type_stream(t);
	if (si < 0)
		return false;
	return t == 'b' ? get_bytes(&r->cur[si], &b) : get_u(&r->cur[si], &v);
}

static bool get_addr(cursor *c, tf_layer *L, bool is_new, uint64_t *out)
{
	uint64_t code, a;
	if (!get_u(c, &code))
		return false;
	if (code == TF_AC_NULL) {
		*out = 0;
		return true;
	}
	if (code < TF_AC_ABS) {
		const uint64_t *ring = is_new ? L->freed : L->allocd;
		unsigned pos = is_new ? L->fpos : L->apos;
		a = ring[(pos + TF_RING - 1 - (code - TF_AC_RING1)) % TF_RING];
	} else if (code == TF_AC_ABS) {
		if (!get_u(c, &a))
			return false;
	} else {
		uint64_t u = code - TF_AC_VALUE;
		int64_t v = tf_unzigzag(u >> 1);
		a = L->base + ((u & 1) ? (uint64_t)v : (uint64_t)v << 4);
	}
	if (!a)
		return false; /* NULL has its own code; an empty ring slot is never hit */
	if (code >= TF_AC_ABS && !L->base)
		L->base = a;
	if (is_new)
		tf_ring_push(L->allocd, &L->apos, a);
	else
		tf_ring_push(L->freed, &L->fpos, a);
	*out = a;
	return true;
}

/* Decodes the fields of a tag this library knows, per the file's schema:
 * fields the file adds are skipped, fields it lacks stay zero. */
static bool decode_known(tf_reader *r, unsigned tag, tf_record *rec)
{
	const tf_kinddef *d = &tf_kinds[tag];
	const file_kind *fk = &r->kinds[tag];
	tf_layer *L = &r->st.layer[d->layer];
	cursor *k = &r->cur[TF_S_STACKS], *a = &r->cur[TF_S_ADDRS];
	cursor *n = &r->cur[TF_S_NUMS], *b = &r->cur[TF_S_BYTES];
	for (unsigned i = 0; i < fk->nfields; i++) {
		if (i >= d->nfields) {
			if (!skip_field(r, fk->types[i]))
				return false;
			continue;
		}
		const tf_field *f = &d->fields[i];
		uint64_t v;
		switch (f->fc) {
		case TF_FC_U:
			if (!get_u(n, &TF_U64(rec, f)))
				return false;
			break;
		case TF_FC_S:
			if (!get_u(n, &v))
				return false;
			TF_U64(rec, f) = (uint64_t)tf_unzigzag(v);
			break;
		case TF_FC_B:
			if (!get_bytes(b, &TF_BYTES(rec, f)))
				return false;
			break;
		case TF_FC_K:
			if (!get_u(k, &TF_U64(rec, f)))
				return false;
			break;
		case TF_FC_ANEW:
		case TF_FC_AOLD:
			if (!get_addr(a, L, f->fc == TF_FC_ANEW, &TF_U64(rec, f)))
				return false;
			break;
		case TF_FC_PARENT: /* id - parent, in 1..id */
			if (!get_u(k, &v) || v == 0 || v > rec->u.node.id)
				return false;
			TF_U64(rec, f) = rec->u.node.id - v;
			break;
		case TF_FC_IP:
			if (!get_u(n, &v))
				return false;
			r->st.last_ip += (uint64_t)tf_unzigzag(v);
			TF_U64(rec, f) = r->st.last_ip;
			break;
		}
	}
	return true;
}

/* State updates and semantic checks after decoding.  false = malformed. */
static bool apply(tf_reader *r, unsigned tag, tf_record *rec)
{
	uint64_t v = rec->u.module_unload;
	switch (tag) {
	case TF_TIME:
		if (v > UINT64_MAX - r->st.time)
			return false;
		r->st.time += v;
		break;
	case TF_SWITCH:
		if (v > UINT32_MAX)
			return false;
		r->st.thread = (uint32_t)v;
		break;
	case TF_END: /* totals must agree with what was read: a cheap integrity check */
		if (rec->u.end.events != r->events || rec->u.end.stacks != r->st.next_node - 1 ||
		    rec->u.end.threads != r->threads)
			return false;
		r->stage = ST_ENDED;
		r->status.complete = true;
		break;
	case TF_THREAD:
		r->threads++;
		break;
	default:
		if ((tf_kinds[tag].flags & TF_RF_STACK) && rec->u.alloc.stack >= r->st.next_node)
			return false; /* names a stack node not yet written */
	}
	r->events += (tf_kinds[tag].flags & TF_RF_EVENT) != 0;
	rec->time = r->st.time;
	rec->thread = r->st.thread;
	return true;
}

static int malformed(tf_reader *r, const char *what)
{
	if (r->raw)
		return tf_rd_fail(r, TF_E_CORRUPT, "malformed %s (record %" PRIu64 ")", what,
			    r->frame_records);
	return tf_rd_fail(r, TF_E_CORRUPT,
		    "malformed %s (record %" PRIu64 " of the frame at byte %" PRIu64 ")", what,
		    r->frame_records, r->frame_off);
}

static int malformed_record(tf_reader *r, unsigned tag)
{
	char what[MAX_NAME + 16];
	const char *name = tf_reader_kind_name(r, tag);
	snprintf(what, sizeof(what), "%s record", name ? name : "?");
	return malformed(r, what);
}

/* The shape of a kind the fast path decodes: a request (tf_shape_of)
 * whose fields in the file are exactly this library's; else 0. */
static uint8_t request_shape(const tf_kinddef *d, const file_kind *fk)
{
	uint8_t sh = tf_shape_of(d);
	return (sh & TF_SH_EVENT) && fk->nfields == d->nfields ? sh : 0;
}

/* The fast path of decode_known and apply for requests (most records of
 * any trace): their field values, in the order of their fields (stack,
 * [old], [nmemb | align], size, [ret], result; or stack and pointer for a
 * free), into v, from the stacks, numbers and addresses cursors k, n and
 * a; nodes is the next stack node's id.  Returns how many, or 0 when the
 * record is malformed.  The caller counts the event. */
static inline __attribute__((always_inline)) int
decode_request(tf_reader *r, unsigned shape, cursor *k, cursor *n, cursor *a, uint64_t nodes,
	       uint64_t *v)
{
	tf_layer *L = &r->st.layer[(shape & TF_SH_LAYER1) != 0];
	if (!get_u(k, &v[0]) || v[0] >= nodes)
		return 0;
	if (shape & TF_SH_FREE)
		return get_addr(a, L, false, &v[1]) ? 2 : 0;
	int i = 1;
	if ((shape & TF_SH_OLD) && !get_addr(a, L, false, &v[i++]))
		return 0;
	if ((shape & (TF_SH_NMEMB | TF_SH_ALIGN)) && !get_u(n, &v[i++]))
		return 0;
	if (!get_u(n, &v[i++]) || ((shape & TF_SH_RET) && !get_u(n, &v[i++])))
		return 0;
	return get_addr(a, L, true, &v[i++]) ? i : 0;
}

/* The schema record (FORMAT.md §6): count, then per kind its tag (numbers),
 * name and field type letters (bytes). */
static bool parse_schema(tf_reader *r)
{
	cursor *n = &r->cur[TF_S_NUMS], *b = &r->cur[TF_S_BYTES];
	uint64_t count;
	if (!get_u(n, &count) || count > TF_NKINDS)
		return false;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t tag;
		tf_bytes name, types;
		if (!get_u(n, &tag) || tag >= TF_NKINDS || tag == TF_SCHEMA ||
		    r->kinds[tag].present || !get_bytes(b, &name) || name.len > MAX_NAME ||
		    !get_bytes(b, &types) || types.len > MAX_SCHEMA_FIELDS)
			return false;
		file_kind *fk = &r->kinds[tag];
		fk->present = true;
		fk->nfields = (uint8_t)types.len;
		memcpy(fk->name, name.ptr, name.len);
		fk->name[name.len] = 0;
		memcpy(fk->types, types.ptr, types.len);
		const tf_kinddef *d = &tf_kinds[tag];
		for (unsigned i = 0; i < types.len; i++) {
			char t = fk->types[i];
			if (tf_type_stream(t) < 0)
				return false;
			/* a known record keeps its field types; newer files may only append */
			if (d->name && i < d->nfields && t != tf_fc_type(d->fields[i].fc))
				return false;
		}
		r->shape[tag] = request_shape(d, fk);
	}
	/* the records every reader needs to make sense of a file */
	return r->kinds[TF_HEADER].present && r->kinds[TF_END].present &&
	       r->kinds[TF_TIME].present && r->kinds[TF_SWITCH].present &&
	       r->kinds[TF_STACK].present;
}

static bool keep_header(tf_reader *r, const tf_record *rec)
{
	const tf_header *h = &rec->u.header;
	tf_bytes *fields[] = {&r->header.clock, &r->header.tool_version, &r->header.exe,
			      &r->header.argv, &r->header.python, &r->header.exec_from,
			      &r->header.fork_from};
	size_t total = 0;
	r->header = *h;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		total += fields[i]->len + 1;
	free(r->header_mem);
	r->header_mem = malloc(total);
	if (!r->header_mem)
		return false;
	char *p = r->header_mem;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i]->len) /* a field an older writer left out is {NULL, 0} */
			memcpy(p, fields[i]->ptr, fields[i]->len);
		p[fields[i]->len] = 0;
		fields[i]->ptr = p;
		p += fields[i]->len + 1;
	}
	return true;
}

/* Reads a frame's prologue: the magic (first frame only), then the stream
 * table (FORMAT.md §1); sets the stream cursors. */
static int open_frame(tf_reader *r)
{
	cursor c = {r->frame, r->frame + r->frame_len};
	if (r->stage == ST_MAGIC) {
		if (r->frame_len < TF_MAGIC_LEN || memcmp(c.p, TF_MAGIC, TF_MAGIC_LEN))
			return tf_rd_fail(r, TF_E_NOT_TRACE,
				    r->raw ? "not an arenatrace frame (bad magic)"
					   : "not an arenatrace trace (zstd data without the "
					     "arenatrace magic)");
		c.p += TF_MAGIC_LEN;
		r->stage = ST_SCHEMA;
	}
	uint64_t n, len[TF_MAX_STREAMS];
	if (!get_u(&c, &n) || n < TF_NSTREAMS || n > TF_MAX_STREAMS)
		return malformed(r, "stream table");
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (!get_u(&c, &len[i]) || len[i] > r->frame_len)
			return malformed(r, "stream table");
		total += len[i];
	}
	if (total != (uint64_t)(c.end - c.p))
		return malformed(r, "stream table (lengths do not add up to the frame)");
	for (int i = 0; i < TF_NSTREAMS; i++) {
		r->cur[i] = (cursor){c.p, c.p + len[i]};
		c.p += len[i];
	}
	r->frame_open = true;
	r->frame_records = 0;
	return 0;
}

/* At the end of a frame's tags every stream must be used up (streams past
 * the ones v1 defines are ignored). */
static int check_used_up(tf_reader *r)
{
	for (int i = 0; i < TF_NSTREAMS; i++)
		if (r->cur[i].p != r->cur[i].end)
			return malformed(r, "frame (a stream has bytes no record used)");
	return 0;
}

/* A byte field's value among a record's values: its offset in the frame
 * and its length, 32 bits each (a frame is at most TF_MAX_FRAME bytes). */
static uint64_t bytes_value(const tf_reader *r, tf_bytes b)
{
	return (uint64_t)((const uint8_t *)b.ptr - r->frame) << 32 | b.len;
}

/* Decodes and checks the frame's next record, its tag included, into v
 * (at most TF_MAX_FIELDS values: the fields of its kind this library
 * knows and the file has, in the kind's order).  Returns how many,
 * SCHEMA_READ for the schema record (which is not handed out), or an
 * error. */
#define SCHEMA_READ (TF_MAX_FIELDS + 1)
static int decode_one(tf_reader *r, uint64_t *v)
{
	cursor *tags = &r->cur[TF_S_TAGS];
	unsigned tag = *tags->p++;
	r->frame_records++;
	if (r->stage == ST_ENDED)
		return malformed(r, "trace (a record after the end record)");
	if (r->stage == ST_SCHEMA) {
		if (tag != TF_SCHEMA || !parse_schema(r))
			return malformed(r, "or missing schema record");
		r->stage = ST_HEADER;
		return SCHEMA_READ;
	}
	if (tag == TF_SCHEMA || !r->kinds[tag].present) {
		char what[48];
		snprintf(what, sizeof(what), "record: undeclared tag 0x%02x", tag);
		return malformed(r, what);
	}
	if ((r->stage == ST_HEADER) != (tag == TF_HEADER))
		return malformed(r, tag == TF_HEADER ? "trace: a second header record"
						     : "trace: the header record is missing");
	if (r->shape[tag]) {
		int n = decode_request(r, r->shape[tag], &r->cur[TF_S_STACKS], &r->cur[TF_S_NUMS],
				       &r->cur[TF_S_ADDRS], r->st.next_node, v);
		r->events++;
		return n ? n : malformed_record(r, tag);
	}
	if (!tf_kinds[tag].name) { /* unknown: skip by the file's schema */
		for (unsigned i = 0; i < r->kinds[tag].nfields; i++)
			if (!skip_field(r, r->kinds[tag].types[i]))
				return malformed_record(r, tag);
		r->status.unknown_records++;
		return 0;
	}
	/* fields the file lacks read 0: a request's are all in u.alloc, and
	 * clearing all of a record costs more than decoding a request */
	tf_record rec;
	if (tf_kinds[tag].flags & (TF_RF_MALLOC | TF_RF_PYTHON))
		rec.u.alloc = (tf_alloc){0};
	else
		memset(&rec, 0, sizeof(rec));
	if (tag == TF_STACK)
		rec.u.node.id = r->st.next_node;
	if (!decode_known(r, tag, &rec) || !apply(r, tag, &rec))
		return malformed_record(r, tag);
	if (tag == TF_STACK)
		r->st.next_node++;
	if (tag == TF_HEADER) {
		if (rec.u.header.version != TF_FORMAT_VERSION)
			return tf_rd_fail(r, TF_E_VERSION,
				    "unsupported trace format version %" PRIu64
				    " (this reader knows %d)",
				    rec.u.header.version, TF_FORMAT_VERSION);
		if (!keep_header(r, &rec))
			return tf_rd_fail(r, TF_E_NOMEM, "out of memory");
		r->stage = ST_RECORDS;
		return 0; /* handed out from the kept copy */
	}
	const tf_kinddef *d = &tf_kinds[tag];
	unsigned nf = r->kinds[tag].nfields < d->nfields ? r->kinds[tag].nfields : d->nfields;
	for (unsigned i = 0; i < nf; i++) {
		const tf_field *f = &d->fields[i];
		v[i] = f->fc == TF_FC_B ? bytes_value(r, TF_BYTES(&rec, f)) : TF_U64(&rec, f);
	}
	return (int)nf;
}

/* The record of tag from its values (decode_one's), at the hand-out
 * state, for a kind outside the fast path; returns how many values it
 * took. */
static unsigned fill_other(tf_reader *r, unsigned tag, const uint64_t *v, tf_record *rec)
{
	const tf_kinddef *d = &tf_kinds[tag];
	unsigned n = 0;
	/* every field the record does not set reads 0; a request clears only
	 * its own part (a full clear costs a fifth of the decoding) */
	if (d->flags & (TF_RF_MALLOC | TF_RF_PYTHON))
		rec->u.alloc = (tf_alloc){0};
	else
		memset(rec, 0, sizeof(*rec));
	rec->kind = (tf_kind)tag;
	if (tag == TF_HEADER) {
		rec->u.header = r->header;
	} else if (d->name) {
		n = r->kinds[tag].nfields < d->nfields ? r->kinds[tag].nfields : d->nfields;
		for (unsigned i = 0; i < n; i++) {
			const tf_field *f = &d->fields[i];
			if (f->fc == TF_FC_B)
				TF_BYTES(rec, f) = (tf_bytes){(const char *)r->frame + (v[i] >> 32),
							      v[i] & 0xffffffffu};
			else
				TF_U64(rec, f) = v[i];
		}
		if (tag == TF_TIME)
			r->out_time += rec->u.module_unload;
		else if (tag == TF_SWITCH)
			r->out_thread = (uint32_t)rec->u.module_unload;
		else if (tag == TF_STACK)
			rec->u.node.id = r->out_node++;
	}
	rec->time = r->out_time;
	rec->thread = r->out_thread;
	return n;
}

/* The record of tag from its values: requests here, the commonest two
 * shapes (malloc and free) first. */
static inline __attribute__((always_inline)) unsigned fill(tf_reader *r, unsigned tag,
							  const uint64_t *v, tf_record *rec)
{
	const unsigned shape = r->shape[tag];
	if (!shape)
		return fill_other(r, tag, v, rec);
	tf_alloc *a = &rec->u.alloc;
	*a = (tf_alloc){0};
	a->stack = v[0];
	rec->kind = (tf_kind)tag;
	rec->time = r->out_time;
	rec->thread = r->out_thread;
	if (shape & TF_SH_FREE) {
		a->addr = v[1];
		return 2;
	}
	if (!(shape & (TF_SH_OLD | TF_SH_NMEMB | TF_SH_ALIGN | TF_SH_RET))) {
		a->size = v[1];
		a->addr = v[2];
		return 3;
	}
	unsigned n = 1;
	if (shape & TF_SH_OLD)
		a->old = v[n++];
	if (shape & TF_SH_NMEMB)
		a->nmemb = v[n++];
	else if (shape & TF_SH_ALIGN)
		a->align = v[n++];
	a->size = v[n++];
	if (shape & TF_SH_RET)
		a->ret = v[n++];
	a->addr = v[n++];
	return n;
}

static void save_state(const tf_reader *r, decode_state *s)
{
	memcpy(s->cur, r->cur, sizeof(s->cur));
	s->st = r->st;
	s->stage = r->stage;
	s->events = r->events;
	s->threads = r->threads;
	s->frame_records = r->frame_records;
	s->unknown_records = r->status.unknown_records;
}

static void restore_state(tf_reader *r, const decode_state *s)
{
	memcpy(r->cur, s->cur, sizeof(r->cur));
	r->st = s->st;
	r->stage = s->stage;
	r->events = s->events;
	r->threads = s->threads;
	r->frame_records = s->frame_records;
	r->status.unknown_records = s->unknown_records;
}

/* Room for one more record's values; false when vals is at VALS_MAX (or
 * cannot grow past VALS_MIN's first allocation: *err). */
static bool vals_room(tf_reader *r, int *err)
{
	if (r->nvals + TF_MAX_FIELDS <= r->vals_cap)
		return true;
	if (r->vals_cap >= VALS_MAX)
		return false;
	size_t cap = r->vals_cap ? 2 * r->vals_cap : VALS_MIN;
	uint64_t *p = realloc(r->vals, cap * sizeof(*p));
	if (!p) {
		if (!r->vals_cap)
			*err = tf_rd_fail(r, TF_E_NOMEM, "out of memory for a frame's records");
		return false;
	}
	r->vals = p;
	r->vals_cap = cap;
	return true;
}

/* The fast path of check_frame: requests, while vals has room for them;
 * stops at any other record, or when vals is full, or at the end of the
 * tags.  Cursors and counters are kept in locals here (the values' stores
 * would make the compiler reload them from r after each). */
static int check_requests(tf_reader *r)
{
	cursor *tags = &r->cur[TF_S_TAGS];
	cursor k = r->cur[TF_S_STACKS], n = r->cur[TF_S_NUMS], a = r->cur[TF_S_ADDRS];
	const uint8_t *tp = tags->p, *const tend = tags->end;
	const uint64_t nodes = r->st.next_node; /* requests add none */
	uint64_t *v = r->vals + r->nvals;
	uint64_t *const vend = r->vals + r->vals_cap - 6; /* room for one more */
	bool bad = false;
	while (tp < tend && v <= vend) {
		const unsigned shape = r->shape[*tp];
		if (!shape)
			break;
		tp++;
		const int got = decode_request(r, shape, &k, &n, &a, nodes, v);
		if (!got) {
			bad = true;
			break;
		}
		v += got;
	}
	const uint64_t done = (uint64_t)(tp - tags->p);
	r->frame_records += done;
	r->events += done;
	tags->p = tp;
	r->cur[TF_S_STACKS] = k, r->cur[TF_S_NUMS] = n, r->cur[TF_S_ADDRS] = a;
	r->nvals = (size_t)(v - r->vals);
	return bad ? malformed_record(r, tp[-1]) : 0;
}

/* Decodes and checks every record of the open frame, keeping their values
 * (up to VALS_MAX; the decoder's state there, if it fills); the frame's
 * records are handed out only once this returned 0. */
static int check_records(tf_reader *r)
{
	cursor *tags = &r->cur[TF_S_TAGS];
	r->nvals = 0;
	r->out_tag = r->out_end = tags->p; /* nothing to hand out until checked */
	r->out_time = r->st.time;
	r->out_thread = r->st.thread;
	r->out_node = r->st.next_node;
	r->spilled = r->resumed = false;
	const uint8_t *kept_end = NULL; /* the tags of the records kept end here */
	while (tags->p < tags->end) {
		if (r->stage == ST_RECORDS && !r->spilled && r->vals_cap) {
			if (check_requests(r) < 0)
				return r->err;
			if (tags->p == tags->end)
				break;
		}
		int err = 0;
		if (!r->spilled && !vals_room(r, &err)) {
			if (err)
				return err;
			save_state(r, &r->spill);
			r->spilled = true;
			kept_end = tags->p;
		}
		if (r->spilled) { /* checked, not kept */
			uint64_t scratch[TF_MAX_FIELDS];
			int n = decode_one(r, scratch);
			if (n < 0)
				return n;
			continue;
		}
		int n = decode_one(r, r->vals + r->nvals);
		if (n < 0)
			return n;
		if (n == SCHEMA_READ) { /* the first record; not handed out */
			r->out_tag = tags->p;
			continue;
		}
		r->nvals += (size_t)n;
	}
	if (check_used_up(r) < 0)
		return r->err;
	/* checked whole: its records can go out */
	r->out_end = r->spilled ? kept_end : tags->p;
	r->out_val = r->vals;
	return 0;
}

/* check_records; a frame it rejects leaves the status as it was (an end
 * record in it did not end the trace). */
static int check_frame(tf_reader *r)
{
	const tf_reader_status before = r->status;
	int rc = check_records(r);
	if (rc < 0) {
		r->status.complete = before.complete;
		r->status.unknown_records = before.unknown_records;
	}
	return rc;
}

/* The frame was handed out whole: the next one is loaded. */
static void close_frame(tf_reader *r)
{
	r->frame_open = false;
	r->have_frame = false;
}

/* tf_reader_next but for the records of a checked frame: loads, checks
 * and hands out the next frame, or the rest of one too big for vals. */
static __attribute__((noinline)) int next_slow(tf_reader *r, tf_record *rec)
{
	if (r->err)
		return r->err;
	for (;;) {
		if (r->out_tag < r->out_end) { /* the checked frame's records, from their values */
			r->out_val += fill(r, *r->out_tag++, r->out_val, rec);
			return 1;
		}
		if (r->spilled && !r->resumed) { /* the rest of the frame, decoded again */
			restore_state(r, &r->spill);
			r->resumed = true;
		}
		if (r->resumed && r->cur[TF_S_TAGS].p < r->cur[TF_S_TAGS].end) {
			uint64_t v[TF_MAX_FIELDS];
			int n = decode_one(r, v);
			if (n < 0)
				return n; /* not reached: the frame was checked */
			if (n == SCHEMA_READ)
				continue; /* not reached: the schema is the first record */
			fill(r, r->cur[TF_S_TAGS].p[-1], v, rec);
			return 1;
		}
		if (r->frame_open)
			close_frame(r);
		if (!r->have_frame) {
			int k = tf_rd_load_frame(r);
			if (k < 0)
				return k;
			if (k == 0) {
				if (r->stage > ST_HEADER)
					return 0;
				if (r->status.truncated)
					return tf_rd_fail(r, TF_E_TRUNCATED,
						    "trace truncated at byte %" PRIu64
						    " before its header",
						    r->status.truncated_at);
				return tf_rd_fail(r, TF_E_TRUNCATED, "trace ends before its header");
			}
		}
		if (open_frame(r) < 0 || check_frame(r) < 0)
			return r->err;
	}
}

int tf_reader_next(tf_reader *r, tf_record *rec)
{
	/* most calls: the next record of a checked frame (after an error,
	 * out_tag == out_end) */
	if (__builtin_expect(r->out_tag < r->out_end, 1)) {
		r->out_val += fill(r, *r->out_tag++, r->out_val, rec);
		return 1;
	}
	return next_slow(r, rec);
}

/*
 * tf_reader.c - pull reader: zstd frames in, one record per call out.
 *
 * A frame is decompressed whole (at most TF_MAX_FRAME bytes) and its
 * checksum verified before any of its records is returned, so corrupt
 * data is an error, never a wrong record.  A file that ends inside a frame
 * is read up to the last complete frame and flagged truncated.  Memory is
 * bounded: one input chunk, one frame, the header's copies.
 */
#include "tf_internal.h"

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

#define IN_CHUNK (256u << 10)
#define MAX_SCHEMA_FIELDS 64
#define MAX_NAME 64
#define TF_MAX_STREAMS 16 /* streams a frame may have; v1 writes TF_NSTREAMS */

enum stage { ST_MAGIC, ST_SCHEMA, ST_HEADER, ST_RECORDS, ST_ENDED };

typedef struct cursor {
	const uint8_t *p, *end;
} cursor;

typedef struct file_kind {
	bool present;
	uint8_t shape; /* the fast path's: a plain malloc or free shape (tf_shape_of), else 0 */
	uint8_t nfields;
	char types[MAX_SCHEMA_FIELDS];
	char name[MAX_NAME + 1];
} file_kind;

struct tf_reader {
	/* input: an fd, or compressed bytes in memory, or raw records */
	int fd;
	bool raw;
	const uint8_t *in;
	size_t in_len, in_pos;
	uint8_t *in_buf; /* fd mode: owned chunk */
	bool in_eof;
	uint64_t in_off; /* file offset of in[0] */
	ZSTD_DStream *dctx;
	/* the current frame's decompressed records */
	uint8_t *frame_buf; /* owned, NULL in raw mode */
	size_t frame_cap;
	const uint8_t *frame;
	size_t frame_len;
	uint64_t frame_off; /* file offset where the frame starts */
	bool have_frame;
	bool frame_open;              /* its stream table was read */
	cursor cur[TF_NSTREAMS];      /* read positions in the frame's streams */
	uint64_t frame_records;       /* records read from this frame */
	enum stage stage;
	tf_state st;
	file_kind kinds[TF_NKINDS];
	tf_header header;
	char *header_mem; /* copies of the header's byte fields */
	tf_reader_status status;
	uint64_t events, threads; /* checked against the END record */
	int err;
	char msg[320];
};

static int fail(tf_reader *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return r->err = err;
}

static uint64_t in_offset(const tf_reader *r)
{
	return r->in_off + r->in_pos;
}

/* ---- opening ---- */

static tf_reader *reader_new(void)
{
	tf_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fd = -1;
	tf_state_init(&r->st);
	return r;
}

static int setup_dctx(tf_reader *r)
{
	r->dctx = ZSTD_createDStream();
	if (!r->dctx)
		return TF_E_NOMEM;
	/* frames are at most TF_MAX_FRAME, so no window needs to be larger */
	if (ZSTD_isError(ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, 24)))
		return TF_E_ARG;
	return 0;
}

int tf_reader_open_mem(tf_reader **out, const void *buf, size_t len)
{
	*out = NULL;
	if (!len)
		return TF_E_EMPTY;
	tf_reader *r = reader_new();
	if (!r)
		return TF_E_NOMEM;
	int err = setup_dctx(r);
	if (err) {
		tf_reader_free(r);
		return err;
	}
	r->in = buf;
	r->in_len = len;
	r->in_eof = true;
	*out = r;
	return 0;
}

int tf_reader_open_raw(tf_reader **out, const void *buf, size_t len)
{
	*out = NULL;
	tf_reader *r = reader_new();
	if (!r)
		return TF_E_NOMEM;
	r->raw = true;
	r->frame = buf;
	r->frame_len = len;
	r->have_frame = true;
	*out = r;
	return 0;
}

int tf_reader_open_file(tf_reader **out, const char *path, char *errbuf, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int err = 0;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err = TF_E_IO;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(sb.st_mode)) {
		err = TF_E_IO;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: is a directory", path);
	} else if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
		err = TF_E_EMPTY;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: empty file (0 bytes)", path);
	}
	tf_reader *r = err ? NULL : reader_new();
	if (!err && !r)
		err = TF_E_NOMEM;
	if (!err && (err = setup_dctx(r)) == 0) {
		r->in_buf = malloc(IN_CHUNK);
		if (!r->in_buf)
			err = TF_E_NOMEM;
	}
	if (err) {
		if (errbuf && err == TF_E_NOMEM)
			snprintf(errbuf, errlen, "%s: out of memory", path);
		tf_reader_free(r);
		if (fd >= 0)
			close(fd);
		return err;
	}
	r->fd = fd;
	r->in = r->in_buf;
	*out = r;
	return 0;
}

void tf_reader_free(tf_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDStream(r->dctx);
	free(r->in_buf);
	free(r->frame_buf);
	free(r->header_mem);
	free(r);
}

const char *tf_reader_error(const tf_reader *r)
{
	return r->err ? r->msg : "";
}

void tf_reader_get_status(const tf_reader *r, tf_reader_status *st)
{
	*st = r->status;
}

const tf_header *tf_reader_header(const tf_reader *r)
{
	return r->stage > ST_HEADER ? &r->header : NULL;
}

const char *tf_reader_kind_name(const tf_reader *r, unsigned tag)
{
	if (tag >= TF_NKINDS)
		return NULL;
	if (r->kinds[tag].present)
		return r->kinds[tag].name;
	return tf_kinds[tag].name;
}

/* ---- frames ---- */

/* fd mode: more input.  Returns 0, or TF_E_IO. */
static int refill(tf_reader *r)
{
	if (r->in_eof)
		return 0;
	r->in_off += r->in_len;
	r->in_pos = r->in_len = 0;
	for (;;) {
		ssize_t n = read(r->fd, r->in_buf, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(r, TF_E_IO, "read error at byte %" PRIu64 ": %s", r->in_off,
				    strerror(errno));
		if (n == 0)
			r->in_eof = true;
		r->in_len = (size_t)n;
		return 0;
	}
}

static int grow_frame(tf_reader *r)
{
	if (r->frame_cap > TF_MAX_FRAME)
		return fail(r, TF_E_TOO_LARGE,
			    "frame at byte %" PRIu64 " decompresses to more than %u bytes",
			    r->frame_off, TF_MAX_FRAME);
	size_t cap = r->frame_cap ? r->frame_cap * 2 : (1u << 20);
	if (cap > TF_MAX_FRAME + 1)
		cap = TF_MAX_FRAME + 1; /* one byte over the limit detects it */
	uint8_t *p = realloc(r->frame_buf, cap);
	if (!p)
		return fail(r, TF_E_NOMEM, "out of memory for a frame of %zu bytes", cap);
	r->frame_buf = p;
	r->frame_cap = cap;
	return 0;
}

/* Decompresses the next frame.  1: a frame is ready; 0: no more frames
 * (status.truncated says whether the file ended inside one); <0: error. */
static int load_frame(tf_reader *r)
{
	r->frame_len = 0;
	r->have_frame = false;
	if (r->raw)
		return 0;
	r->frame_off = in_offset(r);
	bool started = false; /* bytes of this frame were consumed */
	for (;;) {
		if (r->frame_len == r->frame_cap && grow_frame(r) < 0)
			return r->err;
		if (r->in_pos == r->in_len && r->fd >= 0 && refill(r) < 0)
			return r->err;
		bool no_input = r->in_pos == r->in_len;
		if (no_input && !started)
			return 0; /* clean end between frames */
		ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
		ZSTD_outBuffer out = {r->frame_buf, r->frame_cap, r->frame_len};
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		bool progress = in.pos != r->in_pos || out.pos != r->frame_len;
		r->in_pos = in.pos;
		r->frame_len = out.pos;
		started |= progress;
		if (ZSTD_isError(ret)) {
			if (r->frame_off == 0 && ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown)
				return fail(r, TF_E_NOT_TRACE,
					    "not an arenatrace trace (no zstd frame at byte 0)");
			if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
				return fail(r, TF_E_TOO_LARGE,
					    "frame at byte %" PRIu64 " needs a window over 16 MiB",
					    r->frame_off);
			return fail(r, TF_E_CORRUPT, "corrupt frame at byte %" PRIu64 ": %s",
				    r->frame_off, ZSTD_getErrorName(ret));
		}
		if (r->frame_len > TF_MAX_FRAME)
			return grow_frame(r); /* reports the limit */
		if (ret == 0) {
			r->status.frames++;
			r->status.bytes_compressed = in_offset(r);
			r->status.bytes_raw += r->frame_len;
			if (r->frame_len == 0) { /* a skippable or empty frame */
				r->frame_off = in_offset(r);
				started = false;
				continue;
			}
			r->frame = r->frame_buf;
			r->have_frame = true;
			return 1;
		}
		if (no_input && !progress) { /* the file ends inside this frame */
			r->status.truncated = true;
			r->status.truncated_at = r->frame_off;
			return 0;
		}
	}
}

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
		return fail(r, TF_E_CORRUPT, "malformed %s (record %" PRIu64 ")", what,
			    r->frame_records);
	return fail(r, TF_E_CORRUPT,
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

/* The shape of a kind the fast path decodes: a plain malloc (stack,
 * size, result) or free (stack, pointer) whose fields in the file are
 * exactly this library's; else 0. */
static uint8_t request_shape(const tf_kinddef *d, const file_kind *fk)
{
	uint8_t sh = tf_shape_of(d), plain = sh & ~(uint8_t)TF_SH_LAYER1;
	bool fast = plain == TF_SH_EVENT || plain == (TF_SH_EVENT | TF_SH_FREE);
	return fast && fk->nfields == d->nfields ? sh : 0;
}

/* The fast path of decode_known and apply for the two commonest shapes of
 * request (most records of any trace); false = malformed. */
static inline bool decode_request(tf_reader *r, unsigned tag, unsigned shape, tf_record *rec)
{
	tf_layer *L = &r->st.layer[tf_kinds[tag].layer];
	tf_alloc *a = &rec->u.alloc;
	*a = (tf_alloc){0};
	if (!get_u(&r->cur[TF_S_STACKS], &a->stack) || a->stack >= r->st.next_node)
		return false;
	if (!(shape & TF_SH_FREE)) {
		if (!get_u(&r->cur[TF_S_NUMS], &a->size) ||
		    !get_addr(&r->cur[TF_S_ADDRS], L, true, &a->addr))
			return false;
	} else if (!get_addr(&r->cur[TF_S_ADDRS], L, false, &a->addr)) {
		return false;
	}
	rec->kind = (tf_kind)tag;
	rec->time = r->st.time;
	rec->thread = r->st.thread;
	r->events++;
	return true;
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
		fk->shape = request_shape(d, fk);
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
			      &r->header.argv, &r->header.python, &r->header.exec_from};
	size_t total = 0;
	r->header = *h;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		total += fields[i]->len + 1;
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
			return fail(r, TF_E_NOT_TRACE,
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
static int close_frame(tf_reader *r)
{
	r->frame_open = false;
	r->have_frame = false;
	for (int i = 0; i < TF_NSTREAMS; i++)
		if (r->cur[i].p != r->cur[i].end)
			return malformed(r, "frame (a stream has bytes no record used)");
	return 0;
}

int tf_reader_next(tf_reader *r, tf_record *rec)
{
	if (r->err)
		return r->err;
	for (;;) {
		if (!r->have_frame) {
			int k = load_frame(r);
			if (k < 0)
				return k;
			if (k == 0) {
				if (r->stage > ST_HEADER)
					return 0;
				if (r->status.truncated)
					return fail(r, TF_E_TRUNCATED,
						    "trace truncated at byte %" PRIu64
						    " before its header",
						    r->status.truncated_at);
				return fail(r, TF_E_TRUNCATED, "trace ends before its header");
			}
		}
		if (!r->frame_open && open_frame(r) < 0)
			return r->err;
		cursor *tags = &r->cur[TF_S_TAGS];
		if (tags->p == tags->end) {
			if (close_frame(r) < 0)
				return r->err;
			continue;
		}
		unsigned tag = *tags->p++;
		r->frame_records++;
		if (r->stage == ST_ENDED)
			return malformed(r, "trace (a record after the end record)");
		if (r->stage == ST_SCHEMA) {
			if (tag != TF_SCHEMA || !parse_schema(r))
				return malformed(r, "or missing schema record");
			r->stage = ST_HEADER;
			continue;
		}
		if (tag == TF_SCHEMA || !r->kinds[tag].present) {
			char what[48];
			snprintf(what, sizeof(what), "record: undeclared tag 0x%02x", tag);
			return malformed(r, what);
		}
		if ((r->stage == ST_HEADER) != (tag == TF_HEADER))
			return malformed(r, tag == TF_HEADER ? "trace: a second header record"
							     : "trace: the header record is missing");
		if (r->kinds[tag].shape) {
			if (!decode_request(r, tag, r->kinds[tag].shape, rec))
				return malformed_record(r, tag);
			return 1;
		}
		/* every field the record does not set reads 0; a request clears
		 * only its own part (a full clear costs a fifth of the decoding) */
		if (tf_kinds[tag].flags & (TF_RF_MALLOC | TF_RF_PYTHON)) {
			rec->thread = 0, rec->time = 0;
			rec->u.alloc = (tf_alloc){0};
		} else {
			memset(rec, 0, sizeof(*rec));
		}
		rec->kind = (tf_kind)tag;
		if (!tf_kinds[tag].name) { /* unknown: skip by the file's schema */
			for (unsigned i = 0; i < r->kinds[tag].nfields; i++)
				if (!skip_field(r, r->kinds[tag].types[i]))
					return malformed_record(r, tag);
			r->status.unknown_records++;
			rec->time = r->st.time;
			rec->thread = r->st.thread;
			return 1;
		}
		if (tag == TF_STACK)
			rec->u.node.id = r->st.next_node;
		if (!decode_known(r, tag, rec) || !apply(r, tag, rec))
			return malformed_record(r, tag);
		if (tag == TF_STACK)
			r->st.next_node++;
		if (tag == TF_HEADER) {
			if (rec->u.header.version != TF_FORMAT_VERSION)
				return fail(r, TF_E_VERSION,
					    "unsupported trace format version %" PRIu64
					    " (this reader knows %d)",
					    rec->u.header.version, TF_FORMAT_VERSION);
			if (!keep_header(r, rec))
				return fail(r, TF_E_NOMEM, "out of memory");
			rec->u.header = r->header;
			r->stage = ST_RECORDS;
		}
		return 1;
	}
}

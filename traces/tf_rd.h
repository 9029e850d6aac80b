/*
 * tf_rd.h - what the reader's two files share (tf_reader.c: opening and
 * frames; tf_decode.c: records): the reader's state.  Not for use outside
 * traces/.
 */
#ifndef ARENATRACE_TF_RD_H
#define ARENATRACE_TF_RD_H

#include "tf_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <zstd.h>

#define IN_CHUNK (256u << 10)
#define MAX_SCHEMA_FIELDS 64
#define MAX_NAME 64
#define TF_MAX_STREAMS 16 /* streams a frame may have; v1 writes TF_NSTREAMS */

/* Field values of a frame's records kept for handing them out (8 bytes
 * each, grown as frames need): a value takes a byte of its stream at
 * least, so every frame of this library's writer (2 MiB at most) fits;
 * only larger frames, which the format allows up to TF_MAX_FRAME, spill. */
#define VALS_MIN (64u << 10)
#define VALS_MAX (2u << 20)

enum stage { ST_MAGIC, ST_SCHEMA, ST_HEADER, ST_RECORDS, ST_ENDED };

typedef struct cursor {
	const uint8_t *p, *end;
} cursor;

/* What decoding a record changes: a copy of it is where a frame too big
 * for the value buffer resumes decoding. */
typedef struct decode_state {
	cursor cur[TF_NSTREAMS];
	tf_state st;
	enum stage stage;
	uint64_t events, threads, frame_records, unknown_records;
} decode_state;

typedef struct file_kind {
	bool present;
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
	/* the frame's records, checked, as they are handed out: */
	uint64_t *vals;               /* their field values, in order */
	size_t vals_cap, nvals;       /* allocated, filled */
	const uint64_t *out_val;      /* the next one's first value */
	const uint8_t *out_tag, *out_end; /* its tag; the tags of those kept end here */
	uint64_t out_time, out_node;  /* time, and the next stack node's id, there */
	uint32_t out_thread;
	bool spilled, resumed;        /* vals was full: the rest is decoded again */
	decode_state spill;           /* the decoder where vals ran full */
	enum stage stage;
	tf_state st;
	file_kind kinds[TF_NKINDS];
	/* per tag, the fast path's request shape (request_shape), else 0;
	 * apart from kinds, so that the tags in use share a cache line */
	uint8_t shape[TF_NKINDS];
	tf_header header;
	char *header_mem; /* copies of the header's byte fields */
	tf_reader_status status;
	uint64_t events, threads; /* checked against the END record */
	int err;
	char msg[320];
};

/* Records the error and its message; returns err. */
int tf_rd_fail(tf_reader *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Where the reader is in the input: the file offset of the next byte. */
static inline uint64_t in_offset(const tf_reader *r)
{
	return r->in_off + r->in_pos;
}

/* The next frame decompressed into r->frame (tf_reader.c): 1, 0 at a
 * clean end of the input, or a negative tf_err. */
int tf_rd_load_frame(tf_reader *r);

#endif

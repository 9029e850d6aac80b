/*
 * tf_writer.h - the writer: records in, zstd frames out (to a file descriptor,
 * or buffers handed to a sink), and the framing it shares with the drain.
 */
#ifndef ARENATRACE_TF_WRITER_H
#define ARENATRACE_TF_WRITER_H

#include "tf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- frames ---- */

/* The streams of a frame, in frame order (FORMAT.md §1.1). */
enum { TF_S_TAGS, TF_S_STACKS, TF_S_ADDRS, TF_S_NUMS, TF_S_BYTES, TF_NSTREAMS };

typedef struct tf_mem {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr);
	void *ctx;
} tf_mem;

/* How far the streams of the frame being built hold complete records.  The
 * writer publishes it after every call that adds records, writing the slot
 * len[(seq + 1) & 1] and then seq, so that another thread or process that
 * shares the buffers (the tracer's drain) can take what is complete while
 * records are still being added, and everything up to the last complete
 * record after the writing process died (a process stops between two
 * instructions, and seq is stored by one). */
typedef struct tf_commit {
	uint64_t seq;                 /* publications; len[seq & 1] is the current slot */
	uint32_t len[2][TF_NSTREAMS]; /* bytes of complete records, per stream */
} tf_commit;

/* A consistent copy of c's current lengths, c being written meanwhile. */
void tf_commit_read(const tf_commit *c, uint32_t len[TF_NSTREAMS]);

/* The buffers of a frame being built: one per stream, and its commit. */
typedef struct tf_frame_bufs {
	uint8_t *s[TF_NSTREAMS];
	size_t cap[TF_NSTREAMS]; /* each at least tf_stream_cap(frame_bytes, i) */
	tf_commit *commit;
} tf_frame_bufs;

/* The room stream i needs in a writer whose target frame content is
 * frame_bytes (0 = TF_DEFAULT_FRAME). */
size_t tf_stream_cap(size_t frame_bytes, int stream);

/* Where a writer's frames go instead of being compressed and written to a
 * file descriptor: the tracer hands them to its drain process. */
enum {
	TF_SINK_FIRST, /* fill *b with the buffers of the first frame */
	TF_SINK_FULL,  /* *b is complete (its commit is final): take it, fill *b anew */
	TF_SINK_LAST,  /* *b is complete and ends with the END record: take it */
};
typedef struct tf_sink {
	/* Returns 0 or a negative tf_err; may wait until buffers are free.
	 * A frame handed over may be empty (all lengths 0). */
	int (*swap)(void *ctx, tf_frame_bufs *b, int why);
	void *ctx;
} tf_sink;

/* Compression of frames (FORMAT.md §1): what the writer does with fd, for
 * a sink's other end. */
typedef struct tf_framer tf_framer;
/* level 0 = default; max_content: room made now for frames this large (0:
 * as they come). */
int tf_framer_create(tf_framer **out, int level, size_t max_content, const tf_mem *mem);
/* Compresses streams s[i][0 .. len[i]) as one frame, after the magic when
 * first.  Returns the frame's size, its bytes in *out (valid until the next
 * call), or a negative tf_err. */
long tf_framer_compress(tf_framer *f, bool first, const uint8_t *const s[TF_NSTREAMS],
			const uint32_t len[TF_NSTREAMS], const uint8_t **out);
void tf_framer_free(tf_framer *f);

/* ---- writer ---- */

typedef struct tf_writer tf_writer;

typedef struct tf_writer_opts {
	int fd;             /* output; the writer never closes it; -1 with a sink */
	const tf_sink *sink; /* else frames go here, uncompressed (fd unused) */
	int level;          /* zstd level, 0 = default (1) */
	size_t frame_bytes; /* target frame content, 0 = TF_DEFAULT_FRAME */
	uint64_t quantum_ns; /* min spacing of time records, 0 = TF_DEFAULT_QUANTUM */
	bool exact_time;    /* a time record on every change (quantum 0) */
	const tf_mem *mem;  /* all writer memory comes from here; NULL = malloc */
} tf_writer_opts;

/* Creates a writer and writes the magic, schema and header (header.version,
 * quantum_ns are filled in).  *out is owned by the caller: tf_writer_free. */
int tf_writer_create(tf_writer **out, const tf_writer_opts *opts, const tf_header *h);
/* Appends one record.  time and thread are taken from rec; the writer adds
 * TIME and SWITCH records as needed.  STACK records get the next id, which
 * is returned through rec->u.node.id.  Returns 0 or a negative tf_err; after
 * an I/O error every call fails with TF_E_FAILED and writes nothing. */
int tf_writer_put(tf_writer *w, tf_record *rec);
/* The same for a malloc-family or Python-domain event (kind malloc …
 * pvalloc, py_mem_* or py_obj_*) given by its parts, and faster: the
 * tracer's hot path.  Returns what tf_writer_put would. */
int tf_writer_put_alloc(tf_writer *w, unsigned kind, uint32_t thread, uint64_t time,
			const tf_alloc *a);
/* Compresses what is buffered into one frame and writes it (with a sink:
 * hands the frame over). */
int tf_writer_flush(tf_writer *w);
/* How the process ended, for the END record. */
enum { TF_END_OTHER = 0, TF_END_EXIT = 1, TF_END_EXEC = 2 };
/* Writes an END record (filling events/stacks/threads), flushes.  clean is
 * TF_END_EXIT (exit or return from main, with its status), TF_END_EXEC
 * (the image was replaced by exec) or TF_END_OTHER. */
int tf_writer_finish(tf_writer *w, unsigned clean, int64_t exit_status, uint64_t dropped);
/* Frees the writer without writing anything more.  NULL is a no-op. */
void tf_writer_free(tf_writer *w);

typedef struct tf_writer_stats {
	uint64_t records, events, stacks, threads;
	uint64_t bytes_raw;        /* decompressed bytes produced */
	uint64_t bytes_compressed; /* bytes written to fd (0 with a sink) */
	uint64_t frames;           /* frames written or handed to the sink */
} tf_writer_stats;
void tf_writer_get_stats(const tf_writer *w, tf_writer_stats *st);
/* Bytes buffered but not yet flushed. */
size_t tf_writer_pending(const tf_writer *w);

#endif

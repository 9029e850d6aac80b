/*
 * tf_reader.h - the pull reader: one checked record per call, and the exec link
 * at the end of a trace (FORMAT.md §1.2).
 */
#ifndef ARENATRACE_TF_READER_H
#define ARENATRACE_TF_READER_H

#include "tf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- reader ---- */

typedef struct tf_reader tf_reader;

/* Opens a trace file.  On failure *out is NULL; the message (with path) is
 * in errbuf when given. */
int tf_reader_open_file(tf_reader **out, const char *path, char *errbuf, size_t errlen);
/* Reads a compressed trace held in memory (not copied: must outlive r). */
int tf_reader_open_mem(tf_reader **out, const void *buf, size_t len);
/* Reads an already decompressed record stream (magic first); for fuzzing
 * the record layer and for tests.  Not copied. */
int tf_reader_open_raw(tf_reader **out, const void *buf, size_t len);
/* Next record: 1 and *rec filled, 0 at the end, or a negative tf_err; the
 * error then stays, and tf_reader_error() describes it with its offset. */
int tf_reader_next(tf_reader *r, tf_record *rec);
const char *tf_reader_error(const tf_reader *r);
/* Record name as declared in the file's schema (also for unknown tags). */
const char *tf_reader_kind_name(const tf_reader *r, unsigned tag);
void tf_reader_free(tf_reader *r);

typedef struct tf_reader_status {
	bool complete;             /* the END record was read */
	bool truncated;            /* the file ends inside a frame */
	uint64_t truncated_at;     /* compressed offset of that partial frame */
	uint64_t frames;           /* complete frames decoded */
	uint64_t bytes_compressed; /* bytes of complete frames */
	uint64_t bytes_raw;        /* decompressed bytes of complete frames */
	uint64_t unknown_records;  /* records of unknown tags, skipped */
} tf_reader_status;
void tf_reader_get_status(const tf_reader *r, tf_reader_status *st);
/* The header, valid after the first successful tf_reader_next (it is the
 * first record returned).  Byte fields live as long as the reader. */
const tf_header *tf_reader_header(const tf_reader *r);

/* ---- the exec link (FORMAT.md §1.2) ---- */

#define TF_LINK_MAX 4096 /* longest path a link holds */
/* Appends to trace a link naming next, the trace of the program its
 * process exec'd.  0 or a negative tf_err (errno set for TF_E_IO). */
int tf_link_append(const char *trace, const char *next);
/* The trace a link at the end of trace names, into next: 1, or 0 when
 * trace ends without a link, or a negative tf_err. */
int tf_link_read(const char *trace, char *next, size_t cap);

#endif

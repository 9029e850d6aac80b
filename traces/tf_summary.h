/*
 * tf_summary.h - one pass over a trace, counting what `arenatrace info`
 * reports: header facts, records per kind, calls per function, threads,
 * stacks and the requests whose stacks hold Python frames, modules, time
 * span, sizes, completeness.
 */
#ifndef ARENATRACE_TF_SUMMARY_H
#define ARENATRACE_TF_SUMMARY_H

#include "tf.h"

typedef struct tf_summary {
	tf_header header;   /* byte fields point into `strings` */
	char *strings;      /* owned */
	uint64_t kinds[TF_NKINDS];  /* records per tag (unknown tags included) */
	uint64_t failed[TF_NKINDS]; /* allocation calls that failed */
	uint64_t events;            /* event records */
	uint64_t gc_by_gen[3];      /* gc_stop records per generation 0..2 */
	uint64_t first_ns, last_ns; /* time of the first and last event */
	tf_end end;                 /* valid when status.complete */
	char python_allocator[32];  /* the first python_allocator record's name, "" if none */
	tf_reader_status status;
	uint64_t file_bytes;        /* size of the file */
	uint64_t requests;          /* events of the malloc and Python layers */
	uint64_t py_requests;       /* of those, with a stack holding a Python frame */
	uint8_t *py_nodes;          /* owned: per stack node (id - 1), 1 when a Python
				     * frame is on its way to the root */
	size_t nodes, cap_nodes;
} tf_summary;

/* Reads the whole trace.  0, or a negative tf_err with a one-line message
 * (naming the problem and offset) in err.  Free with tf_summary_free. */
int tf_summarize(const char *path, tf_summary *s, char *err, size_t errlen);
void tf_summary_free(tf_summary *s);

/* Whether pymalloc served CPython's OBJ domain, by the trace's
 * python_allocator name: pymalloc or pymalloc_debug, or "" (no such
 * record: an older writer, whose traces are pymalloc's).  Only then can a
 * pymalloc model's addresses be compared with the interpreter's. */
bool tf_pymalloc_served(const char *python_allocator);

#endif

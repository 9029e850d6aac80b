/*
 * tf.h - arenatrace trace format v1: record types, writer and pull reader
 * (the four headers below; include one of them for less).
 *
 * The byte-level specification is traces/FORMAT.md; this header is its C
 * face.  A trace is a sequence of independent zstd frames whose decompressed
 * concatenation is: magic, schema record, header record, then any records.
 * Both the tracer (writer) and every offline tool (reader) use this library.
 */
#ifndef ARENATRACE_TF_H
#define ARENATRACE_TF_H

#include "tf_kind.h"   /* constants, errors, record kinds, varints */
#include "tf_record.h" /* the records */
#include "tf_writer.h" /* records in, frames out */
#include "tf_reader.h" /* frames in, records out; exec links */

#endif

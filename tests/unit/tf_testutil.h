/*
 * tf_testutil.h - helpers shared by the trace-format unit tests: a seeded
 * generator of random records of every kind, a field-by-field comparison
 * and writing a trace into memory.
 */
#ifndef ARENATRACE_TF_TESTUTIL_H
#define ARENATRACE_TF_TESTUTIL_H

#include "tf_internal.h"

#include <stdio.h>

typedef struct tgen {
	uint64_t rng;
	uint64_t time;
	uint64_t next_node;     /* ids the writer will give */
	uint64_t recent[8];     /* recent addresses, so rings and deltas get hits */
	unsigned nrecent;
	char blob[3][4096];     /* storage behind byte fields of the last record */
	unsigned blob_every;    /* one record in blob_every carries a blob-heavy kind */
} tgen;

void tgen_init(tgen *g, uint64_t seed);
uint64_t tgen_rand(tgen *g);
/* Fills rec with the next random record (never SCHEMA/HEADER/TIME/SWITCH/END). */
void tgen_next(tgen *g, tf_record *rec);
/* After the writer accepted rec (STACK ids are assigned by the writer). */
void tgen_accepted(tgen *g, const tf_record *rec);

/* true if a and b hold the same kind, thread and encoded fields; time
 * must match exactly when quantum == 0, else lie in [b.time, b.time+quantum). */
bool trec_equal(const tf_record *want, const tf_record *got, uint64_t quantum, char *why,
		size_t whylen);

/* A header with fixed, recognisable values. */
tf_header theader(void);

/* Writes records to an anonymous file; returns its contents (malloc'd). */
typedef struct tbuf {
	uint8_t *data;
	size_t len;
} tbuf;
int tbuf_from_fd(int fd, tbuf *out);
int tmp_fd(void);

#endif

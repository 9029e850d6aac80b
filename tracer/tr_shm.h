/*
 * tr_shm.h - the memory a traced process shares with its drain process.
 *
 * The traced process (libarenatrace.so) never compresses or writes its
 * trace: it encodes records into the stream buffers of a set (FORMAT.md
 * §1.1) in a memfd it shares with one arenatrace-drain process, publishing
 * after every record how far each stream is complete (tf_commit).  The
 * drain, started by the process with the memfd as descriptor TR_SHM_FD (3)
 * and the trace file as TR_TRACE_FD (4), compresses and writes:
 *  - every set the process hands over (state READY), in order, then gives
 *    it back (FREE);
 *  - every TR_CUT_MS, the complete part of the set being filled (a cut),
 *    so the file is never much behind the program;
 *  - when the process is gone (exit, exec, a signal, SIGKILL), whatever
 *    is complete: nothing is lost to a crash.
 * Sets are filled in the order 0, 1, .. nsets - 1, 0 ..; the drain takes
 * them in the same order.  The process waits for a FREE set when all are
 * full (the drain is behind), and at its end until the drain is done.
 *
 * Who writes what: the process writes state FILLING/READY, last, the
 * commit of the set it fills, bell, end_*; the drain writes state
 * FREE (after zeroing the commit), done, error, heartbeat.  Futex words
 * are waited on and woken across the two processes (shared futexes).
 */
#ifndef ARENATRACE_TR_SHM_H
#define ARENATRACE_TR_SHM_H

#include "tf.h"

#include <limits.h>
#include <stdint.h>

#define TR_SHM_MAGIC 0x314d485352544161ull /* "aATRSHM1" */
#define TR_SHM_SETS 3
#define TR_CUT_MS 100 /* the drain writes what is complete at least this often */
#define TR_HEARTBEAT_MS 50 /* the drain bumps heartbeat at least this often */
#define TR_DRAIN_SILENT_MS 10000 /* the process gives up on a drain without a beat this long */
#define TR_DRAIN_START_MS 10000  /* and on a drain that does not say it runs in this time */
/* The drain's descriptors, as the process starts it. */
enum { TR_SHM_FD = 3, TR_TRACE_FD = 4 };

enum { TR_SET_FREE, TR_SET_FILLING, TR_SET_READY };
enum { TR_DONE_NOT = 0, TR_DONE_OK = 1, TR_DONE_FAILED = 2 };

typedef struct tr_shm_set {
	uint32_t state;             /* TR_SET_*; futex word (the process waits for FREE) */
	uint32_t last;              /* the set ends with the END record */
	uint64_t off[TF_NSTREAMS];  /* each stream's buffer, from the start of the region */
	uint64_t cap[TF_NSTREAMS];  /* its size */
	tf_commit commit;           /* how much of each stream is complete */
} tr_shm_set;

typedef struct tr_shm {
	uint64_t magic;        /* TR_SHM_MAGIC */
	uint64_t size;         /* bytes of the region */
	uint32_t pid;          /* the traced process */
	uint32_t nsets;        /* TR_SHM_SETS */
	uint32_t bell;         /* futex word, bumped when a set is handed over */
	uint32_t done;         /* futex word: TR_DONE_*, set by the drain at its end */
	uint32_t drain_pid;    /* set by the drain */
	int32_t error;         /* errno of the drain's failed write, else 0 */
	uint64_t heartbeat;    /* bumped by the drain at least every TR_HEARTBEAT_MS */
	int32_t end_clean;     /* TF_END_* of the END record, -1 before it */
	int32_t exit_status;   /* with TF_END_EXIT */
	char path[PATH_MAX];   /* the trace file, absolute */
	char exe[PATH_MAX];    /* the program (/proc/self/exe) */
	tr_shm_set set[TR_SHM_SETS];
} tr_shm;

/* The region's layout: the header, then each set's streams, page-aligned. */
static inline uint64_t tr_shm_round(uint64_t n)
{
	return (n + 4095) & ~(uint64_t)4095;
}

static inline uint64_t tr_shm_layout(tr_shm *m)
{
	uint64_t at = tr_shm_round(sizeof(tr_shm));
	for (unsigned k = 0; k < TR_SHM_SETS; k++)
		for (int i = 0; i < TF_NSTREAMS; i++) {
			if (m) {
				m->set[k].off[i] = at;
				m->set[k].cap[i] = tf_stream_cap(0, i);
			}
			at += tr_shm_round(tf_stream_cap(0, i));
		}
	return at;
}

/* The registry (ARENATRACE_REGISTRY, the record launcher's): the drain
 * appends one line when it starts a trace and one when it ends it, each
 * written with one write(2) to a file opened O_APPEND:
 *   B <tab> pid <tab> drain pid <tab> path
 *   E <tab> pid <tab> how <tab> events <tab> cpu <tab> path <tab> exe
 * how is "exit N", "exec", "killed" (the process ended without an END
 * record), "other" or "error: MESSAGE"; events counts the event records
 * written (their tags), "-" after an error; cpu is the drain's own CPU
 * time in seconds (user + system).
 * Tabs, newlines and '%' in paths are written as %09, %0a and %25. */

#endif

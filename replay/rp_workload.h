/*
 * rp_workload.h - object-graph workloads (traces/workloads/README.md):
 * the parser, and the simulation of a parsed workload through the
 * refcount/GC model (allocator/gcm.h) and the pymalloc model
 * (allocator/pym.h), optionally written as a trace.
 */
#ifndef ARENATRACE_RP_WORKLOAD_H
#define ARENATRACE_RP_WORKLOAD_H

#include "gcm.h"
#include "tf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits that keep any input bounded in memory and time. */
#define RP_WL_MAX_DEPTH 8             /* nested repeat blocks */
#define RP_WL_MAX_COUNT 1000000000ull /* iterations of one repeat */
#define RP_WL_MAX_EXEC 50000000ull    /* statements run, repeats expanded */
#define RP_WL_MAX_NAME 64             /* bytes of a name as written */
#define RP_WL_MAX_SIZE (1ull << 30)   /* bytes of one object */
#define RP_WL_MAX_THRESHOLD 1000000000ull
#define RP_WL_RETURNS 100             /* explicit collect() results kept */

enum rp_wl_op {
	RP_WL_NEW,       /* new NAME SIZE container|plain */
	RP_WL_REF,       /* ref FROM TO */
	RP_WL_UNREF,     /* unref FROM TO */
	RP_WL_DROP,      /* drop NAME */
	RP_WL_ALIAS,     /* alias NEW OLD */
	RP_WL_COLLECT,   /* collect [GEN] */
	RP_WL_THRESHOLD, /* threshold T0 [T1 [T2]] */
	RP_WL_FREEZE,
	RP_WL_UNFREEZE,
	RP_WL_ENABLE,
	RP_WL_DISABLE,
	RP_WL_REPEAT,    /* repeat N ... end */
	RP_WL_END,
};

typedef struct rp_wl_stmt {
	uint8_t op;       /* enum rp_wl_op */
	uint8_t depth;    /* repeat blocks around it */
	uint8_t nargs;    /* numbers given (threshold: 1-3; collect: 0-1) */
	bool container;   /* new: a container */
	uint32_t line;
	uint32_t name[2]; /* offsets of NUL-ended names in rp_workload.names */
	uint64_t num[3];  /* new: size; collect: generation; threshold: T0-T2; repeat: count */
	uint32_t jump;    /* repeat: index of its end; end: index of its repeat */
} rp_wl_stmt;

typedef struct rp_workload {
	rp_wl_stmt *s;
	size_t n;
	char *names;       /* names as written, each NUL-ended */
	size_t names_len;
	uint64_t executed; /* statements a run executes (repeats expanded) */
} rp_workload;

/* Parses text[0..len).  On error returns -1 with "FILE:LINE: message" in
 * err; *out is owned by the caller (rp_workload_free). */
int rp_workload_parse(const char *text, size_t len, const char *file, rp_workload **out,
		      char *err, size_t errlen);
void rp_workload_free(rp_workload *w);

/* ---- simulation ---- */

typedef struct rp_sim_opts {
	const char *profile;   /* pymalloc profile name; NULL: cpython-3.13 */
	bool set_threshold;    /* --threshold */
	uint32_t threshold[GCM_NGEN];
	bool gc_off;           /* --gc off: no collection ever runs */
	tf_writer *trace;      /* NULL: no trace */
	const char *file;      /* the workload's name in messages */
	bool check;            /* gcm_check() after every statement (slow; tests) */
} rp_sim_opts;

typedef struct rp_sim_result {
	char profile[32];
	char python[8];         /* version whose GC rules ran, "3.12" */
	gcm_stats gc;
	uint64_t statements;    /* executed */
	uint64_t explicit_collects;
	uint64_t returns[RP_WL_RETURNS]; /* the first explicit collect() results */
	uint64_t arenas_allocated, arenas_released, arenas_highwater, arenas_current;
	uint64_t arena_size;
	uint64_t peak_held;     /* arena bytes + large-object bytes, at most */
	uint64_t requests;      /* allocations and frees */
	uint64_t records;       /* trace records written */
} rp_sim_result;

/* Runs w.  Returns 0, or -1 with "FILE:LINE: message" (or a message
 * without place) in err. */
int rp_sim_run(const rp_workload *w, const rp_sim_opts *o, rp_sim_result *res, char *err,
	       size_t errlen);

/* Writes the equivalent Python program (see the README). */
void rp_sim_emit_python(const rp_workload *w, const rp_sim_opts *o, FILE *out);

#endif

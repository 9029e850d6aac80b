/*
 * tr_region.h - the traced process's side of the region it shares with its
 * drain process (tr_shm.h): creating it, the trace writer's sink, waiting
 * for the drain, starting it (tr_region.c).  Private to the library.
 */
#ifndef ARENATRACE_TR_REGION_H
#define ARENATRACE_TR_REGION_H

#include "tr_shm.h"

#include <stdbool.h>

/* A new region on a memfd (returned in *fd); NULL on failure (errno). */
tr_shm *tr_region_create(int *fd);
void tr_region_unmap(tr_shm *m);

/* The writer's sink over a region: sets handed to the drain in order, the
 * next one taken when the drain has given it back (tf_sink, ctx a
 * tr_region_sink).  TF_E_IO once the drain failed or is gone. */
typedef struct tr_region_sink {
	tr_shm *shm;
	unsigned cur; /* the set being filled */
} tr_region_sink;
int tr_region_swap(void *ctx, tf_frame_bufs *b, int why);

/* Waits until the drain has written everything (or is gone). */
void tr_region_wait_done(tr_shm *m);

/* Starts the drain program (path) on the region (memfd) and the trace
 * file (tracefd), with registry (may be empty) for the launcher; returns
 * once it runs, detached, or false with errno set. */
bool tr_region_start_drain(tr_shm *m, int memfd, int tracefd, const char *path,
			   const char *registry);

#endif

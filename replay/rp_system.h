/*
 * rp_system.h - `replay --system`: the replayed requests through a real
 * allocator (the replaying process's malloc, so whatever LD_PRELOAD puts
 * first), measured apart from the replay's own memory.
 *
 * The requests go to a process of their own, `arenatrace` run again as
 * `arenatrace __system` with the same environment (so the same allocator),
 * which does nothing but them: its blocks live in a table it maps itself,
 * off the allocator, and it reads its requests from a socket into a buffer
 * of its own.  Its heap figure is its anonymous resident memory (RssAnon)
 * beyond what it had before the first request, less the pages of that
 * table: the memory the allocator holds for the replayed program's blocks,
 * its own metadata included, and nothing of the replay's bookkeeping.
 */
#ifndef ARENATRACE_RP_SYSTEM_H
#define ARENATRACE_RP_SYSTEM_H

#include "rp_result.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rp_sys rp_sys;

/* Starts the allocator's process; *out belongs to the caller (rp_sys_end).
 * 0, or -1 with a message in msg. */
int rp_sys_start(rp_sys **out, char *msg, size_t cap);

/* The requests, in the trace's order.  A block is named by the id that
 * alloc returns (0: nothing was asked for, as for a size that overflowed);
 * a realloc keeps its block's id (or, of id 0, allocates one); old_n is
 * the block's size before. */
uint64_t rp_sys_alloc(rp_sys *s, uint64_t n);
uint64_t rp_sys_realloc(rp_sys *s, uint64_t id, uint64_t old_n, uint64_t n);
void rp_sys_free(rp_sys *s, uint64_t id, uint64_t old_n);

/* Ends the requests, and fills the measures into out (allocator, ops,
 * ns_per_op, heap and resident figures; threads is the caller's).  Frees s
 * whatever happens.  0, or -1 with a message in msg (the process failed). */
int rp_sys_end(rp_sys *s, rp_system *out, char *msg, size_t cap);

/* The allocator's process (`arenatrace __system`): serves the requests
 * on the socket at fd 3, then writes the measures back.  0, or -1 with a
 * message in msg. */
int rp_sys_serve(char *msg, size_t cap);

#endif

/*
 * tr_internal.h - the tracer core, shared by the preload shim (tr_preload.c),
 * the CPython hooks (tr_python.c) and the unit tests.
 *
 * Concurrency: one global lock (tr_lock, lock-free for the owning thread
 * while it is the only one recording; see tr_core.c) orders every record
 * across threads.  A free is recorded before the real free and an allocation after
 * the real call returns, so the free of p always precedes the allocation
 * that reuses p; realloc holds the lock across the real call (see
 * tr_preload.c).  Call stacks are unwound before the lock is taken, so the
 * lock is never held while libunwind takes the loader lock.
 *
 * Re-entrancy: a per-thread flag (tr_busy) is set while the tracer runs on a
 * thread; any allocation made meanwhile (by libunwind, zstd, the real
 * allocator itself, a signal handler) goes straight to the real function,
 * unrecorded.
 *
 * Beside it: tr_env.h (environment, trace names), tr_region.h (the region
 * shared with the drain), tr_modules.h (the module map), tr_python.h.
 */
#ifndef ARENATRACE_TR_INTERNAL_H
#define ARENATRACE_TR_INTERNAL_H

#include "tf.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TR_MAX_DEPTH 256
#define TR_DEFAULT_DEPTH 64
#define TR_MODULE_POLL_MS 40 /* the module map is polled this often (of event time) */
#define TR_COMM_LEN 16 /* a thread's name in the kernel, its NUL included (TASK_COMM_LEN) */

extern __thread int tr_busy __attribute__((tls_model("initial-exec")));

typedef struct tr_config {
	bool stacks;       /* ARENATRACE_STACKS (default 1) */
	bool native_stacks; /* ARENATRACE_NATIVE_STACKS (default 1): 0 keeps Python frames only */
	bool python_stacks; /* ARENATRACE_PYTHON_STACKS (default 1): Python frames in CPython */
	unsigned depth;    /* ARENATRACE_DEPTH (default TR_DEFAULT_DEPTH) */
	bool follow_fork;  /* ARENATRACE_FOLLOW_FORK (default 1) */
	bool python;       /* ARENATRACE_PYTHON auto (default) or off */
	bool fine_clock;   /* ARENATRACE_CLOCK=fine: CLOCK_MONOTONIC, not _COARSE */
	char output[PATH_MAX];   /* ARENATRACE_OUTPUT, may be empty */
	char registry[PATH_MAX]; /* ARENATRACE_REGISTRY: the launcher's list of traces */
	char drain[PATH_MAX];    /* ARENATRACE_DRAIN, else arenatrace-drain beside the library */
} tr_config;

/* Reads the configuration from the environment. */
void tr_config_from_env(tr_config *c);

/* Starts recording into a new trace file (per c->output and the naming
 * rules of tracer/README).  python_version may be NULL.  false if the
 * trace could not be created (one line on stderr says why). */
bool tr_start(const tr_config *c, const char *python_version);
/* Writes the END record and stops; clean is TF_END_EXIT/EXEC/OTHER. */
void tr_finish(unsigned clean, int exit_status);
/* Whether events are being recorded now. */
extern int tr_on __attribute__((visibility("hidden")));
static inline bool tr_recording(void)
{
	return __atomic_load_n(&tr_on, __ATOMIC_RELAXED);
}

/* A call of the program's that the tracer sees but does not record because
 * tracing has not started yet (a constructor of a library initialised
 * before this one; threads it started): the end record counts these events
 * as dropped.  Events after tracing ended or stopped are past the end
 * record, and not counted. */
extern int tr_started __attribute__((visibility("hidden")));
void tr_dropped_early(void);
static inline void tr_unrecorded(void)
{
	if (__builtin_expect(!__atomic_load_n(&tr_started, __ATOMIC_RELAXED), 0))
		tr_dropped_early();
}

/* Takes the lock; returns the token tr_unlock needs. */
int tr_lock(void);
void tr_unlock(int token);

/* Unwinds the caller's stack into buf (TR_CAPTURE_SLOTS entries) and
 * returns where its frames start past the tracer's own (innermost
 * first); *n is their number (0 with --no-stacks).  from: where the
 * tracer's function was called from (TR_UKEY_HERE() in it, tr_ucache.h). */
#define TR_CAPTURE_SKIP 16 /* frames of the tracer's own, at most */
#define TR_CAPTURE_SLOTS (TR_MAX_DEPTH + TR_CAPTURE_SKIP)
struct tr_ukey;
void **tr_capture(const struct tr_ukey *from, void **buf, int *n);

/* Records an allocation-layer event; stack from ips[0..nips), into
 * a->stack.  The _locked form needs tr_lock held. */
void tr_event(tf_kind kind, tf_alloc *a, void **ips, int nips);
void tr_event_locked(tf_kind kind, tf_alloc *a, void **ips, int nips);
/* Any other event (arena, gc, mark, snapshot, fork), no stack. */
void tr_put(tf_record *rec);
void tr_put_locked(tf_record *rec);

/* The calling thread's small id (announcing it with a thread record on
 * first use), for records that name a thread in a field (heap).  Needs
 * tr_lock held. */
uint32_t tr_thread_id_locked(void);

/* What a record's caller does once it has released the lock: the module
 * poll when one is due.  tr_event and tr_put do it themselves. */
void tr_after_unlock(void);

/* Thread renamed (pthread_setname_np / prctl). */
void tr_thread_renamed(pthread_t thread, const char *name);

/* fork/exec handling, called by the shim. */
void tr_fork_prepare(void);
void tr_fork_parent(void);
void tr_fork_child(void);
/* Before exec: the END record.  Returns the path of the trace that ended,
 * for the exec'd program's ARENATRACE_EXEC_FROM, or NULL. */
const char *tr_before_exec(void);
/* In the parent after fork(): a FORK record naming the child's trace. */
void tr_note_fork(pid_t child);

/* Exit: on_exit handler keeps the status; tr_at_unload (the library's
 * destructor) writes the END record. */
void tr_install_exit_handler(void);
void tr_at_unload(void);

/* ---- stack interning (tr_stack.c), under tr_lock ---- */

/* The node id of the stack ips[0..n) (innermost first), writing STACK
 * records for new nodes through put.  0 on failure (out of memory). */
typedef int (*tr_put_fn)(tf_record *rec);
uint64_t tr_stacks_intern(void *const *ips, int n, tr_put_fn put);
/* Forgets every node (a new trace numbers them from 1 again). */
void tr_stacks_reset(void);
/* A block of the OBJ domain is freed: if it is a code object that stacks
 * know, forget it (its address may come back as another code object). */
extern uint32_t tr_stacks_codes __attribute__((visibility("hidden"))); /* code objects known */
void tr_stacks_code_freed(uint64_t addr);

/* ---- memory that never comes from the traced heap ---- */
void *tr_mmap_alloc(void *ctx, size_t size);
void tr_mmap_free(void *ctx, void *ptr);
extern const tf_mem tr_mem;

/* One line on stderr, "arenatrace: ...", with write(2). */
void tr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

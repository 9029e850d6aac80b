/*
 * tr_region.c - the traced process's side of the region it shares with its
 * arenatrace-drain process (tr_shm.h for the protocol): the region on a
 * memfd, the trace writer's sink that hands the drain full sets and waits
 * for free ones, the wait for the drain at the end, and the start of the
 * drain itself.
 *
 * Invariants: sets are handed over in the order 0, 1, 2, 0 .. and a set is
 * filled only once the drain has given it back (state FREE).  A wait for
 * the drain gives up when the drain is gone or has not shown a sign of
 * life for TR_DRAIN_SILENT_MS (a drain stuck on a dead disk), so the
 * program never hangs on its tracer.  The drain is started through a
 * vfork-like clone with signals blocked, and its starter exits at once:
 * the drain is nobody's child in the program, and no SIGCHLD reaches it.
 */
#include "tr_region.h"
#include "tr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long one wait sleeps before it looks again whether the drain lives:
 * for a free set, for the drain's end, for the drain to say it runs. */
#define SET_WAIT_MS 100
#define DONE_WAIT_MS TR_HEARTBEAT_MS
#define START_WAIT_MS 10
#define SPAWN_STACK (64 << 10) /* each of the two children's stacks */
#define SPARE_FD 10  /* the drain's descriptors are moved here first, clear of 0..TR_TRACE_FD */
#define EXEC_FAILED 127 /* a child's exit status when it cannot go on (as the shell's) */

static long futex(uint32_t *word, int op, uint32_t val, unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	return syscall(SYS_futex, word, op, val, ms ? &ts : NULL, NULL, 0);
}

tr_shm *tr_region_create(int *fd)
{
	uint64_t size = tr_shm_layout(NULL);
	*fd = (int)syscall(SYS_memfd_create, "arenatrace", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	if (ftruncate(*fd, (off_t)size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(*fd);
		errno = e;
		return NULL;
	}
	tr_shm *m = p;
	m->magic = TR_SHM_MAGIC;
	m->size = size;
	m->pid = (uint32_t)getpid();
	m->nsets = TR_SHM_SETS;
	m->end_clean = -1;
	tr_shm_layout(m);
	return m;
}

void tr_region_unmap(tr_shm *m)
{
	if (m)
		munmap(m, m->size);
}

/* Whether the drain still runs: it bumps the heartbeat every
 * TR_HEARTBEAT_MS; waits give up after TR_DRAIN_SILENT_MS without one (a
 * drain stuck on a dead disk). */
typedef struct drain_watch {
	uint64_t beat;
	unsigned quiet_ms;
} drain_watch;

static bool drain_alive(const tr_shm *m, drain_watch *dw, unsigned waited_ms)
{
	uint64_t beat = __atomic_load_n(&m->heartbeat, __ATOMIC_RELAXED);
	pid_t dp = (pid_t)__atomic_load_n(&m->drain_pid, __ATOMIC_ACQUIRE);
	if (dp > 0 && kill(dp, 0) < 0 && errno == ESRCH)
		return false;
	if (beat != dw->beat) {
		dw->beat = beat;
		dw->quiet_ms = 0;
		return true;
	}
	dw->quiet_ms += waited_ms;
	return dw->quiet_ms < TR_DRAIN_SILENT_MS;
}

int tr_region_swap(void *ctx, tf_frame_bufs *b, int why)
{
	tr_region_sink *k = ctx;
	tr_shm *m = k->shm;
	if (why != TF_SINK_FIRST) {
		tr_shm_set *s = &m->set[k->cur];
		s->last = why == TF_SINK_LAST;
		__atomic_store_n(&s->state, TR_SET_READY, __ATOMIC_RELEASE);
		__atomic_add_fetch(&m->bell, 1, __ATOMIC_RELEASE);
		futex(&m->bell, FUTEX_WAKE, 1, 0);
		if (why == TF_SINK_LAST)
			return 0;
		k->cur = (k->cur + 1) % TR_SHM_SETS;
	}
	tr_shm_set *s = &m->set[k->cur];
	drain_watch dw = {0, 0};
	for (;;) {
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->error, __ATOMIC_ACQUIRE))
			return TF_E_IO;
		if (st == TR_SET_FREE)
			break;
		if (!drain_alive(m, &dw, SET_WAIT_MS))
			return TF_E_IO;
		futex(&s->state, FUTEX_WAIT, st, SET_WAIT_MS);
	}
	__atomic_store_n(&s->state, TR_SET_FILLING, __ATOMIC_RELEASE);
	for (int i = 0; i < TF_NSTREAMS; i++) {
		b->s[i] = (uint8_t *)m + s->off[i];
		b->cap[i] = s->cap[i];
	}
	b->commit = &s->commit;
	return 0;
}

void tr_region_wait_done(tr_shm *m)
{
	drain_watch dw = {0, 0};
	uint32_t d;
	while ((d = __atomic_load_n(&m->done, __ATOMIC_ACQUIRE)) == TR_DONE_NOT &&
	       drain_alive(m, &dw, DONE_WAIT_MS))
		futex(&m->done, FUTEX_WAIT, d, DONE_WAIT_MS);
}

/* ---- starting the drain ---- */

typedef struct spawn_args {
	int memfd, tracefd;
	const char *path;
	char *const *argv;
	char *stack2;      /* the top of the second child's stack */
	pid_t drain;       /* the drain's pid, written by the first child */
	int err;           /* errno of a failed clone or exec, written by a child */
} spawn_args;

/* The drain itself: it shares our memory until its exec, so it only
 * moves descriptors and execs (no allocation, no lock). */
static int spawn_drain_child(void *arg)
{
	spawn_args *a = arg;
	int m = fcntl(a->memfd, F_DUPFD, SPARE_FD), t = fcntl(a->tracefd, F_DUPFD, SPARE_FD);
	if (m < 0 || t < 0 || dup2(m, TR_SHM_FD) < 0 || dup2(t, TR_TRACE_FD) < 0) {
		a->err = errno;
		syscall(SYS_exit, EXEC_FAILED);
	}
	int null = open("/dev/null", O_RDWR);
	for (int i = STDIN_FILENO; null >= 0 && i <= STDERR_FILENO; i++)
		if (null != i)
			dup2(null, i);
	syscall(SYS_close_range, TR_TRACE_FD + 1u, ~0u, 0u);
	static char *const envp[] = {NULL};
	syscall(SYS_execve, a->path, a->argv, envp);
	a->err = errno;
	syscall(SYS_exit, EXEC_FAILED);
	return EXEC_FAILED;
}

/* Between us and the drain: started with exit signal 0, it starts the
 * drain and exits without ever exec'ing (an exec would make its exit a
 * SIGCHLD to the program), so the drain is orphaned at once: nobody's
 * child in the program. */
static int spawn_middle(void *arg)
{
	spawn_args *a = arg;
	pid_t d = clone(spawn_drain_child, a->stack2, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	if (d < 0)
		a->err = errno;
	a->drain = d;
	syscall(SYS_exit, 0);
	return 0;
}

bool tr_region_start_drain(tr_shm *m, int memfd, int tracefd, const char *path,
			   const char *registry)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	char *argv[] = {(char *)"arenatrace-drain", pid, (char *)registry, NULL};
	size_t stack_size = SPAWN_STACK;
	char *stack = mmap(NULL, 2 * stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return false;
	spawn_args a = {memfd, tracefd, path, argv, stack + 2 * stack_size, -1, 0};
	/* Signals stay blocked in the children (and the drain): no handler of
	 * the program's can run on their stacks. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t middle = clone(spawn_middle, stack + stack_size, CLONE_VM | CLONE_VFORK, &a);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (middle < 0) {
		munmap(stack, 2 * stack_size);
		errno = e;
		return false;
	}
	while (waitpid(middle, NULL, __WALL) < 0 && errno == EINTR)
		;
	munmap(stack, 2 * stack_size);
	if (a.err || a.drain < 0) {
		errno = a.err ? a.err : ECHILD;
		return false;
	}
	/* it says it runs once it holds the region and a pidfd for us */
	for (unsigned waited = 0; !__atomic_load_n(&m->drain_pid, __ATOMIC_ACQUIRE);
	     waited += START_WAIT_MS) {
		if (waited >= TR_DRAIN_START_MS || (kill(a.drain, 0) < 0 && errno == ESRCH)) {
			errno = ECHILD;
			return false;
		}
		futex(&m->drain_pid, FUTEX_WAIT, 0, START_WAIT_MS);
	}
	return true;
}


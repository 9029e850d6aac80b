/*
 * tr_core.c - the trace of this process: its state, the global lock, time,
 * thread ids, the recording of events and other records, and the trace's
 * life: start, a forked child's own trace, the END record at exit, _exit
 * and exec.  File names and the environment are in tr_env.c, the region
 * shared with the drain process and its start in tr_region.c.
 *
 * Invariants:
 *  - Global order: every record is written under one lock (tr_lock), so the
 *    trace is one sequence across threads.  The shim records a free before
 *    the real free and an allocation after the real call, and holds the lock
 *    across a realloc: the free of p is always recorded before the
 *    allocation that reuses p, and no block shows allocated twice.
 *  - Nothing of the tracer's is recorded or comes from the traced heap: its
 *    memory is mmap'd (tr_mem), and tr_busy passes the allocations made
 *    inside it straight to the real functions.
 *  - The traced process never compresses or writes: it encodes records into
 *    memory it shares with an arenatrace-drain process (tr_shm.h), which
 *    writes the file, so a crash or SIGKILL loses nothing that was recorded.
 *    At its end (exit, _exit, exec) the process writes the END record and
 *    waits until the drain has written everything.
 *  - A forked child starts its own trace and drain at its first record: a
 *    child that only execs leaves no trace of its own.  A vfork child (same
 *    memory, another pid) never ends the parent's trace.
 */
#include "tr_internal.h"
#include "tr_pystack.h"
#include "tr_modules.h"
#include "tr_env.h"
#include "tr_region.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef ARENATRACE_VERSION
#define ARENATRACE_VERSION "0.1.0"
#endif

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
/* Threads whose renames are recorded: the first ones to record. */
#define MAX_NAMED 256
#define RENAME_MAX 64 /* bytes of a new thread name recorded, at most */

__thread int tr_busy __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_tid __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_gen __attribute__((tls_model("initial-exec")));

static struct {
	tr_config cfg;
	tf_writer *w;            /* NULL in a forked child until its first record */
	pid_t pid;               /* the process this writer belongs to */
	uint32_t gen;            /* bumped per trace: invalidates thread ids */
	uint32_t nthreads;
	clockid_t clock;
	uint64_t start_mono;
	char path[PATH_MAX];     /* this trace, absolute */
	char want[PATH_MAX];     /* a forked child's name, for its first record */
	char exec_from[PATH_MAX]; /* the trace of the program that exec'd this one */
	char fork_from[PATH_MAX]; /* at a fork: the trace the child's state is in */
	uint64_t fork_at;         /* at a fork: the events of fork_from before it */
	const char *python;      /* version string, or NULL */
	tr_region_sink region;   /* shared with the drain, and the set being filled */
	uint64_t next_poll;      /* event time of the next module-map poll */
	int poll_due;            /* a poll is wanted once the lock is released */
	int exit_status;
	bool exited;
	struct {
		pthread_t thread;
		uint32_t tid;
		uint32_t gen;
	} names[MAX_NAMED];      /* pthread_t -> small id, for renames */
	unsigned nnames;
} T;

/* ---- memory: anonymous mappings, never the traced heap ---- */

/* Before each block, the size of its mapping; the block keeps malloc's
 * alignment. */
#define MAP_HEADER 16

void *tr_mmap_alloc(void *ctx, size_t size)
{
	(void)ctx;
	size_t total = size + MAP_HEADER;
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)p = total;
	return (char *)p + MAP_HEADER;
}

void tr_mmap_free(void *ctx, void *ptr)
{
	(void)ctx;
	if (!ptr)
		return;
	char *base = (char *)ptr - MAP_HEADER;
	munmap(base, *(size_t *)base);
}

const tf_mem tr_mem = {tr_mmap_alloc, tr_mmap_free, NULL};

#define SAY_MAX 512 /* a line on stderr, at most */

void tr_say(const char *fmt, ...)
{
	char buf[SAY_MAX];
	int n = snprintf(buf, sizeof(buf), "arenatrace: ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t k = write(STDERR_FILENO, buf, (size_t)n);
	(void)k;
}

/* ---- lock ----
 *
 * Every record is written under one lock, but the thread that owns the
 * trace (the one that started it; after fork, the forking one) takes it
 * without any atomic read-modify-write while no other program thread
 * records: a locked instruction is a full fence on x86, and on the churn
 * benchmark it cost about 75 ns an event by exposing every cache miss of
 * the allocator underneath.
 *
 * Asymmetric Dekker: the owner marks itself busy with plain stores and then
 * checks req.  Anyone else (another thread's module poll or exit path)
 * takes the spinlock, raises req, runs membarrier
 * (PRIVATE_EXPEDITED), which makes the owner's next load of req see it, and
 * waits until the owner is not busy.  The first program thread other than
 * the owner that records switches the process to the plain spinlock for
 * good (multi).  Without membarrier, the plain spinlock is used from the
 * start.
 */
static struct {
	int spin;     /* spinlock word */
	int busy;     /* the owner is inside its lock-free critical section */
	int req;      /* someone else wants the lock */
	int multi;    /* another program thread records: spinlock only */
	int settled;  /* multi is known to the owner: req/membarrier no longer needed */
} L;
static __thread uint32_t tls_owner __attribute__((tls_model("initial-exec"))); /* == T.gen */

/* Pauses before a waiter yields the CPU instead.  Few: with more recording
 * threads than cores the owner is often descheduled, and spinning only
 * keeps it off the CPU (tests/bench/xthreads, 8 threads on 2 cores, median
 * of 11 interleaved runs: CPU 0.57 s -> 0.30 s without stacks, 0.70 s ->
 * 0.50 s with them, for SPINS 64 -> 4; tests/progs/threads wall 0.47 s ->
 * 0.32 s).  A waiter's yield costs about what a spin until the owner's
 * few-hundred-nanosecond record ends costs. */
#define SPINS 4

static void spin_until_free(int *word)
{
	for (unsigned spins = 0; __atomic_load_n(word, __ATOMIC_ACQUIRE);)
		if (++spins < SPINS)
			__builtin_ia32_pause();
		else
			sched_yield();
}

static void lock_slow(void)
{
	while (__atomic_exchange_n(&L.spin, 1, __ATOMIC_ACQUIRE))
		spin_until_free(&L.spin);
	if (L.settled)
		return;
	__atomic_store_n(&L.req, 1, __ATOMIC_RELAXED);
	syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	spin_until_free(&L.busy);
	if (__atomic_load_n(&L.multi, __ATOMIC_RELAXED))
		L.settled = 1; /* the owner has seen multi: from now on, only the spinlock */
}

static void unlock_slow(void)
{
	if (!L.settled)
		__atomic_store_n(&L.req, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&L.spin, 0, __ATOMIC_RELEASE);
}

static inline __attribute__((always_inline)) int lock_fast(void)
{
	if (tls_owner == T.gen && !__atomic_load_n(&L.multi, __ATOMIC_RELAXED)) {
		__atomic_store_n(&L.busy, 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST); /* compiler barrier only */
		if (!__atomic_load_n(&L.req, __ATOMIC_RELAXED))
			return 1;
		__atomic_store_n(&L.busy, 0, __ATOMIC_RELEASE);
	} else if (tls_owner != T.gen) {
		__atomic_store_n(&L.multi, 1, __ATOMIC_RELAXED);
	}
	lock_slow();
	return 0;
}

static inline __attribute__((always_inline)) void unlock_fast(int token)
{
	if (token) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&L.busy, 0, __ATOMIC_RELEASE);
	} else {
		unlock_slow();
	}
}

int tr_lock(void)
{
	return lock_fast();
}

void tr_unlock(int token)
{
	unlock_fast(token);
}

/* After fork (this is the only thread) and at start: this thread owns. */
static void lock_reset(void)
{
	L.spin = L.busy = L.req = L.multi = 0;
	bool membarrier =
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	L.multi = L.settled = !membarrier;
	tls_owner = T.gen;
}

int tr_on; /* recording (atomic); read by tr_recording() in every wrapper */
int tr_started; /* tr_start has run (atomic): calls passed through since are not counted */
static uint64_t early; /* events before tr_start (atomic): the first trace's dropped */

void tr_dropped_early(void)
{
	__atomic_add_fetch(&early, 1, __ATOMIC_RELAXED);
}

/* ---- time ----
 *
 * Every event reads the clock, so it is read through the vDSO's function
 * directly when the loader knows the vDSO: glibc's clock_gettime adds a
 * call and its checks to the few loads that the coarse clock costs (4.1
 * instead of 5.8 ns a call here). */
typedef int (*clock_fn)(clockid_t, struct timespec *);
static clock_fn read_clock = clock_gettime;

static void find_vdso_clock(void)
{
	void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!vdso)
		return;
	void *f = dlsym(vdso, "__vdso_clock_gettime");
	if (f)
		read_clock = (clock_fn)f;
	dlclose(vdso); /* the vDSO stays mapped: it is never unloaded */
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	if (read_clock(id, &ts) != 0)
		clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now(void)
{
	uint64_t t = clock_ns(T.clock);
	return t > T.start_mono ? t - T.start_mono : 0;
}

/* ---- a trace ---- */

static void region_free(void)
{
	tr_region_unmap(T.region.shm);
	T.region.shm = NULL;
}

/* Creates the region, the trace file and the writer with the header, and
 * starts the drain.  Called before any other thread can record, or with
 * the lock held.  false after one line on stderr when say. */
static bool new_trace(const char *want, bool say)
{
	pid_t pid = getpid();
	int memfd = -1, fd = -1;
	T.region.shm = tr_region_create(&memfd);
	if (T.region.shm)
		fd = tr_open_trace(want, pid, T.path, sizeof(T.path));
	if (fd < 0) {
		if (say)
			tr_say("cannot create trace %s: %s; not tracing", want, strerrordesc_np(errno));
		goto out_region;
	}
	snprintf(T.region.shm->path, sizeof(T.region.shm->path), "%s", T.path);
	ssize_t en = readlink("/proc/self/exe", T.region.shm->exe, sizeof(T.region.shm->exe) - 1);
	T.region.shm->exe[en > 0 ? en : 0] = 0;
	size_t acap = TF_MAX_BLOB;
	char *args = tr_mmap_alloc(NULL, acap);
	size_t alen = args ? tr_read_small_file("/proc/self/cmdline", args, acap) : 0;
	T.clock = T.cfg.fine_clock ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE;
	T.start_mono = clock_ns(T.clock);
	T.next_poll = 0;
	const char *clock = T.cfg.fine_clock ? "CLOCK_MONOTONIC" : "CLOCK_MONOTONIC_COARSE";
	tf_header h = {
	    .pid = (uint64_t)pid,
	    .ppid = (uint64_t)getppid(),
	    .start_real_ns = clock_ns(CLOCK_REALTIME),
	    .start_mono_ns = T.start_mono,
	    .page_size = (uint64_t)sysconf(_SC_PAGESIZE),
	    .pointer_size = sizeof(void *),
	    .clock = {clock, strlen(clock)},
	    .tool_version = {ARENATRACE_VERSION, strlen(ARENATRACE_VERSION)},
	    .exe = {T.region.shm->exe, strlen(T.region.shm->exe)},
	    .argv = {args, alen},
	    .python = {T.python ? T.python : "", T.python ? strlen(T.python) : 0},
	    .exec_from = {T.exec_from, strlen(T.exec_from)},
	    .fork_from = {T.fork_from, strlen(T.fork_from)},
	    .fork_at = T.fork_at,
	};
	T.region.cur = 0;
	tf_sink sink = {tr_region_swap, &T.region};
	tf_writer_opts o = {.fd = -1, .sink = &sink, .mem = &tr_mem};
	int rc = tf_writer_create(&T.w, &o, &h);
	tr_mmap_free(NULL, args);
	if (rc < 0) {
		if (say)
			tr_say("cannot start trace %s: %s; not tracing", T.path, tf_strerror(rc));
		goto out_file;
	}
	if (!tr_region_start_drain(T.region.shm, memfd, fd, T.cfg.drain, T.cfg.registry)) {
		if (say)
			tr_say("cannot start %s for trace %s: %s; not tracing", T.cfg.drain, T.path,
			       strerrordesc_np(errno));
		goto out_writer;
	}
	close(fd);
	close(memfd);
	if (T.exec_from[0]) /* the trace before the exec points here (FORMAT.md §1.2) */
		tf_link_append(T.exec_from, T.path);
	T.pid = pid;
	T.gen++;
	T.nthreads = 0;
	T.nnames = 0;
	T.exec_from[0] = 0; /* a forked child does not continue that program */
	return true;
out_writer:
	tf_writer_free(T.w);
	T.w = NULL;
out_file:
	close(fd);
	unlink(T.path);
out_region:
	if (memfd >= 0)
		close(memfd);
	region_free();
	return false;
}

static void say_write_error(const char *why)
{
	tr_say("cannot write trace %s: %s; tracing stopped", T.path, why);
}

/* Stops recording after a write error: one line, the program runs on. */
static __attribute__((noinline, cold)) void fail_locked(int rc)
{
	if (!tr_on)
		return;
	__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
	int e = T.region.shm ? __atomic_load_n(&T.region.shm->error, __ATOMIC_ACQUIRE) : 0;
	if (rc == TF_E_IO && !e)
		tr_say("trace %s: the drain process is gone; tracing stopped", T.path);
	else
		say_write_error(e ? strerrordesc_np(e) : tf_strerror(rc));
}

/* ---- records ---- */

static int put_raw(tf_record *rec)
{
	return tf_writer_put(T.w, rec);
}

/* The calling thread's small id, announcing it on first use. */
static uint32_t new_thread_locked(void);
static inline uint32_t thread_id_locked(void)
{
	if (__builtin_expect(tls_tid && tls_gen == T.gen, 1))
		return tls_tid;
	return new_thread_locked();
}

static __attribute__((noinline)) uint32_t new_thread_locked(void)
{
	tls_tid = ++T.nthreads;
	tls_gen = T.gen;
	char name[TR_COMM_LEN + 1] = {0};
	prctl(PR_GET_NAME, name, 0, 0, 0);
	tf_record rec = {.kind = TF_THREAD, .thread = tls_tid, .time = now()};
	rec.u.thread = (tf_thread){tls_tid, (uint64_t)syscall(SYS_gettid), {name, strlen(name)}};
	int rc = put_raw(&rec);
	if (rc < 0)
		fail_locked(rc);
	if (T.nnames < sizeof(T.names) / sizeof(T.names[0])) {
		T.names[T.nnames].thread = pthread_self();
		T.names[T.nnames].tid = tls_tid;
		T.names[T.nnames++].gen = T.gen;
	}
	return tls_tid;
}

uint32_t tr_thread_id_locked(void)
{
	return thread_id_locked();
}

/* A forked child's first record: its own trace starts now. */
static __attribute__((noinline, cold)) int child_trace_locked(void)
{
	bool ok = new_trace(T.want, false);
	if (!ok) {
		__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
		return 0;
	}
	tls_owner = T.gen; /* this thread owns the child's trace */
	T.poll_due = 1;    /* its module map, once the lock is released */
	return 1;
}

/* Whether records are being written (a forked child's trace starts on its
 * first record). */
static inline int writing_locked(void)
{
	if (!tr_on)
		return 0;
	if (__builtin_expect(!T.w, 0))
		return child_trace_locked();
	return 1;
}

/* Schedules the module-map poll every TR_MODULE_POLL_MS of event time. */
static inline uint64_t stamp(void)
{
	uint64_t t = now();
	if (__builtin_expect(t >= T.next_poll, 0)) {
		T.next_poll = t + TR_MODULE_POLL_MS * NS_PER_MS;
		T.poll_due = 1;
	}
	return t;
}

/* After the lock is released: the module map, when a poll is due (it
 * stays due while this thread is inside the loader). */
static __attribute__((noinline, cold)) void poll_now(void)
{
	if (!__atomic_exchange_n(&T.poll_due, 0, __ATOMIC_RELAXED) || !tr_poll_safe)
		return; /* without the shim's check (unit tests): only the other polls */
	if (!tr_poll_safe()) {
		__atomic_store_n(&T.poll_due, 1, __ATOMIC_RELAXED); /* at the next record */
		return;
	}
	tr_modules_poll_try();
}

static inline void after_unlock(void)
{
	if (__builtin_expect(__atomic_load_n(&T.poll_due, __ATOMIC_RELAXED), 0))
		poll_now();
}

/* Stamps time (and thread, for events) and writes the record. */
static inline void stamp_put_locked(tf_record *rec, int event)
{
	if (event)
		rec->thread = thread_id_locked();
	rec->time = stamp();
	int rc = put_raw(rec);
	if (__builtin_expect(rc < 0, 0))
		fail_locked(rc);
}

void tr_put_locked(tf_record *rec)
{
	if (writing_locked())
		stamp_put_locked(rec, tf_kind_is_event(rec->kind));
}

void tr_put(tf_record *rec)
{
	int lk = tr_lock();
	tr_put_locked(rec);
	tr_unlock(lk);
	after_unlock();
}

/* The hot path: the event goes to the writer's fast path as its parts. */
static inline __attribute__((always_inline)) void event_locked(tf_kind kind, tf_alloc *a,
							       void **ips, int nips)
{
	if (!writing_locked())
		return;
	if (kind == TF_PY_OBJ_FREE && tr_stacks_codes && a->addr && tr_pystack_maybe_code(a->addr))
		tr_stacks_code_freed(a->addr + tr_pyobj_header);
	a->stack = nips ? tr_stacks_intern(ips, nips, put_raw) : 0;
	uint32_t tid = thread_id_locked();
	int rc = tf_writer_put_alloc(T.w, kind, tid, stamp(), a);
	if (__builtin_expect(rc < 0, 0))
		fail_locked(rc);
}

void tr_event_locked(tf_kind kind, tf_alloc *a, void **ips, int nips)
{
	event_locked(kind, a, ips, nips);
}

void tr_event(tf_kind kind, tf_alloc *a, void **ips, int nips)
{
	int e = errno;
	int lk = lock_fast();
	event_locked(kind, a, ips, nips);
	unlock_fast(lk);
	after_unlock();
	errno = e;
}

void tr_after_unlock(void)
{
	after_unlock();
}

void tr_thread_renamed(pthread_t thread, const char *name)
{
	int lk = tr_lock();
	for (unsigned i = 0; tr_on && T.w && i < T.nnames; i++) {
		if (T.names[i].gen != T.gen || !pthread_equal(T.names[i].thread, thread))
			continue;
		tf_record rec = {.kind = TF_THREAD_NAME};
		rec.u.thread = (tf_thread){T.names[i].tid, 0, {name, strnlen(name, RENAME_MAX)}};
		tr_put_locked(&rec);
		break;
	}
	tr_unlock(lk);
}

/* ---- start, finish, fork, exec ---- */

static bool start(const tr_config *c, const char *python_version)
{
	T.cfg = *c;
	T.python = python_version;
	char want[PATH_MAX], rel[PATH_MAX];
	if (c->output[0])
		snprintf(rel, sizeof(rel), "%s", c->output);
	else
		tr_default_output(rel, sizeof(rel), getpid());
	if (!tr_absolute_path(rel, want, sizeof(want))) {
		tr_say("trace name %s is too long; not tracing", rel);
		return false;
	}
	/* every process of the run names its trace from this one, wherever it
	 * changes directory to */
	static char out_entry[sizeof("ARENATRACE_OUTPUT=") + PATH_MAX];
	tr_env_replace("ARENATRACE_OUTPUT", want, out_entry, sizeof(out_entry));
	const char *from = tr_env_get("ARENATRACE_EXEC_FROM");
	snprintf(T.exec_from, sizeof(T.exec_from), "%s", from ? from : "");
	tr_env_remove("ARENATRACE_EXEC_FROM");
	if (!c->follow_fork)
		tr_env_untrace(); /* children and exec'd programs run untraced */
	find_vdso_clock(); /* once: a forked child inherits it */
	if (!new_trace(want, true))
		return false;
	lock_reset();
	__atomic_store_n(&tr_on, 1, __ATOMIC_RELEASE);
	tr_modules_rescan();
	return true;
}

bool tr_start(const tr_config *c, const char *python_version)
{
	bool ok = start(c, python_version);
	__atomic_store_n(&tr_started, 1, __ATOMIC_RELEASE); /* from now on, not counted */
	return ok;
}

void tr_finish(unsigned clean, int exit_status)
{
	if (tr_recording() && T.pid == getpid() && T.w)
		tr_modules_poll();
	int lk = tr_lock();
	bool wait = false;
	if (tr_on && T.pid == getpid()) {
		if (T.w) {
			T.region.shm->exit_status = exit_status;
			__atomic_store_n(&T.region.shm->end_clean, (int32_t)clean, __ATOMIC_RELEASE);
			uint64_t dropped = __atomic_load_n(&early, __ATOMIC_RELAXED);
			int rc = tf_writer_finish(T.w, clean, exit_status, dropped);
			if (rc < 0)
				fail_locked(rc);
			wait = rc == 0;
		}
		__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
	}
	tr_unlock(lk);
	if (wait) {
		tr_region_wait_done(T.region.shm);
		int e = __atomic_load_n(&T.region.shm->error, __ATOMIC_ACQUIRE);
		if (e) /* the drain failed on the last frames */
			say_write_error(strerrordesc_np(e));
	}
	if (T.w && T.pid == getpid() && !tr_on) {
		tf_writer_free(T.w);
		T.w = NULL;
		region_free();
	}
}

static __thread int fork_token;

/* The lock is held from here until the fork returns, so the events this
 * trace holds now are exactly those before the fork: the child's header
 * names them (fork_from, fork_at), and replay runs them before the
 * child's own.  A process with no trace of its own yet (a child before its
 * first record) keeps what it inherited: its state is still that. */
void tr_fork_prepare(void)
{
	fork_token = tr_lock();
	if (tr_on && T.w && T.pid == getpid()) {
		tf_writer_stats st;
		tf_writer_get_stats(T.w, &st);
		T.fork_at = st.events;
		snprintf(T.fork_from, sizeof(T.fork_from), "%s", T.path);
	}
}

void tr_fork_parent(void)
{
	tr_unlock(fork_token);
}

void tr_fork_child(void)
{
	/* The lock is held (tr_fork_prepare) and this is the only thread.  The
	 * parent's region is left as it is (the parent and its drain own it);
	 * this process only drops its own mapping of it. */
	if (!tr_on) {
		lock_reset();
		return;
	}
	if (T.w) {
		tf_writer_free(T.w); /* the writer's own memory; the sets are the region's */
		T.w = NULL;
	}
	region_free();
	tr_stacks_reset();
	tr_modules_reset();
	early = 0; /* the parent's trace counted them */
	T.pid = getpid();
	if (!T.cfg.follow_fork || !tr_child_trace_name(T.path, T.pid, T.want, sizeof(T.want))) {
		__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
		lock_reset();
		if (!T.cfg.follow_fork)
			tr_env_untrace();
		return;
	}
	T.gen++;    /* the parent's thread ids and lock owner are void */
	lock_reset(); /* this thread owns the lock; the trace starts at the first record */
}

void tr_note_fork(pid_t child)
{
	if (child <= 0 || !tr_recording())
		return;
	char path[PATH_MAX];
	int lk = tr_lock();
	if (!T.cfg.follow_fork || !tr_child_trace_name(T.path, child, path, sizeof(path)))
		path[0] = 0;
	tf_record rec = {.kind = TF_FORK};
	rec.u.fork = (tf_fork){(uint64_t)child, {path, strlen(path)}};
	tr_put_locked(&rec);
	tr_unlock(lk);
	after_unlock();
}

const char *tr_before_exec(void)
{
	/* a vfork child shares our memory: leave the parent's trace alone */
	if (!tr_recording() || getpid() != T.pid)
		return NULL;
	bool had = T.w != NULL;
	tr_finish(TF_END_EXEC, 0);
	return had ? T.path : NULL;
}

/* ---- exit ---- */

static void on_exit_handler(int status, void *arg)
{
	(void)arg;
	T.exit_status = status;
	T.exited = true;
}

void tr_install_exit_handler(void)
{
	on_exit(on_exit_handler, NULL);
}

void tr_at_unload(void)
{
	tr_finish(T.exited ? TF_END_EXIT : TF_END_OTHER, T.exited ? T.exit_status : 0);
}

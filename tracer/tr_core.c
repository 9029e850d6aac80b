/*
 * tr_core.c - the tracer core: trace file and writer, the global lock,
 * threads, time, the flusher thread, fork/exec/exit handling.
 *
 * File naming: the trace goes to ARENATRACE_OUTPUT, or by default to
 * arenatrace.<prog>.<pid>.atr in the current directory.  An existing file
 * is never overwritten: if the name is taken, <stem>.<pid>.atr is tried,
 * then <stem>.<pid>.<n>.atr.  A forked child writes <stem>.<childpid>.atr
 * (same rule); an exec'd program starts again from ARENATRACE_OUTPUT,
 * which is taken, so it also gets <stem>.<pid>[.n].atr.  Each trace's
 * path is appended to ARENATRACE_REGISTRY when set (the record launcher
 * reads it to print the paths).  Files are created mode 0600.
 *
 * Durability: a full buffer is written at once by the thread that filled
 * it; every TR_FLUSH_MS the flusher thread compresses and writes what is
 * buffered, unless a frame was written since it last looked (then what is
 * buffered is younger than one period).  So nothing waits longer than two
 * periods, and a busy program is not held up by the flusher holding the
 * lock while it compresses.  At exit the END record is written from the
 * library's destructor, with the status an on_exit handler saw.
 */
#include "tr_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef ARENATRACE_VERSION
#define ARENATRACE_VERSION "0.1.0"
#endif

__thread int tr_busy __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_tid __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_gen __attribute__((tls_model("initial-exec")));

static struct {
	int lock;                /* spinlock: 0 free, 1 held */
	tr_config cfg;
	tf_writer *w;
	int fd;
	pid_t pid;               /* the process this writer belongs to */
	uint32_t gen;            /* bumped per trace: invalidates thread ids */
	uint32_t nthreads;
	clockid_t clock;
	uint64_t start_mono;
	uint64_t dropped;
	char path[PATH_MAX];
	const char *python;      /* version string, or NULL */
	int flusher_running;     /* pid the flusher thread runs in, 0 if none */
	int exit_status;
	bool exited;
	struct {
		pthread_t thread;
		uint32_t tid;
		uint32_t gen;
	} names[256];            /* pthread_t -> small id, for renames */
	unsigned nnames;
} T = {.fd = -1};

/* ---- memory: anonymous mappings, never the traced heap ---- */

void *tr_mmap_alloc(void *ctx, size_t size)
{
	(void)ctx;
	size_t total = size + 16;
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)p = total;
	return (char *)p + 16;
}

void tr_mmap_free(void *ctx, void *ptr)
{
	(void)ctx;
	if (!ptr)
		return;
	char *base = (char *)ptr - 16;
	munmap(base, *(size_t *)base);
}

const tf_mem tr_mem = {tr_mmap_alloc, tr_mmap_free, NULL};

void tr_say(const char *fmt, ...)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "arenatrace: ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t k = write(2, buf, (size_t)n);
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
 * checks req.  Anyone else (the flusher thread, the exit path on another
 * thread) takes the spinlock, raises req, runs membarrier
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
	bool membarrier;
} L;
static __thread uint32_t tls_owner __attribute__((tls_model("initial-exec"))); /* == T.gen */
static __thread bool tls_flusher __attribute__((tls_model("initial-exec")));

static void spin_until_free(int *word)
{
	for (unsigned spins = 0; __atomic_load_n(word, __ATOMIC_ACQUIRE);)
		if (++spins < 64)
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
	} else if (tls_owner != T.gen && !tls_flusher) {
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
	L.membarrier = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	L.multi = L.settled = !L.membarrier;
	tls_owner = T.gen;
}

int tr_on; /* recording (atomic); read by tr_recording() in every wrapper */

/* ---- configuration ---- */

static bool env_flag(const char *name, bool dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	return !(v[0] == '0' || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"));
}

void tr_config_from_env(tr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->stacks = env_flag("ARENATRACE_STACKS", true);
	c->follow_fork = env_flag("ARENATRACE_FOLLOW_FORK", true);
	const char *py = getenv("ARENATRACE_PYTHON");
	c->python = !(py && !strcmp(py, "off"));
	const char *clk = getenv("ARENATRACE_CLOCK");
	c->fine_clock = clk && !strcmp(clk, "fine");
	c->depth = TR_DEFAULT_DEPTH;
	const char *d = getenv("ARENATRACE_DEPTH");
	if (d && *d) {
		long v = strtol(d, NULL, 10);
		c->depth = v < 1 ? 1 : v > TR_MAX_DEPTH ? TR_MAX_DEPTH : (unsigned)v;
	}
	const char *o = getenv("ARENATRACE_OUTPUT");
	if (o)
		snprintf(c->output, sizeof(c->output), "%s", o);
	const char *r = getenv("ARENATRACE_REGISTRY");
	if (r)
		snprintf(c->registry, sizeof(c->registry), "%s", r);
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
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now(void)
{
	uint64_t t = clock_ns(T.clock);
	return t > T.start_mono ? t - T.start_mono : 0;
}

/* ---- the trace file ---- */

/* Reads a whole small file (/proc/self/cmdline) into buf; returns length. */
static size_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t k;
	if (fd < 0)
		return 0;
	while (n < cap && ((k = read(fd, buf + n, cap - n)) > 0 || (k < 0 && errno == EINTR)))
		if (k > 0)
			n += (size_t)k;
	close(fd);
	return n;
}

/* snprintf for paths: false if the result did not fit. */
static bool fmt_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fmt_path(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

/* The stem of a trace path: without a trailing ".atr". */
static void stem_of(const char *path, char *stem, size_t cap)
{
	snprintf(stem, cap, "%s", path);
	size_t n = strlen(stem);
	if (n > 4 && !strcmp(stem + n - 4, ".atr"))
		stem[n - 4] = 0;
}

/* Opens a new trace file: `want`, else <stem>.<pid>.atr, else
 * <stem>.<pid>.<n>.atr.  Never overwrites. */
static int open_trace(const char *want, pid_t pid, char *path, size_t cap)
{
	char stem[PATH_MAX];
	stem_of(want, stem, sizeof(stem));
	for (int attempt = 0; attempt < 1000; attempt++) {
		bool fits = attempt == 0   ? fmt_path(path, cap, "%s", want)
			    : attempt == 1 ? fmt_path(path, cap, "%s.%d.atr", stem, (int)pid)
					   : fmt_path(path, cap, "%s.%d.%d.atr", stem, (int)pid,
						      attempt - 1);
		if (!fits) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static void default_output(char *out, size_t cap, pid_t pid)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	const char *prog = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	if (!fmt_path(out, cap, "arenatrace.%s.%d.atr", *prog ? prog : "prog", (int)pid))
		fmt_path(out, cap, "arenatrace.%d.atr", (int)pid);
}

static void register_path(const char *path)
{
	if (!T.cfg.registry[0])
		return;
	int fd = open(T.cfg.registry, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	char line[PATH_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", path);
	ssize_t k = write(fd, line, (size_t)n);
	(void)k;
	close(fd);
}

/* Creates the writer and writes the header.  Called with the lock held
 * or before any other thread can record. */
static bool open_writer(const char *want)
{
	pid_t pid = getpid();
	T.fd = open_trace(want, pid, T.path, sizeof(T.path));
	if (T.fd < 0) {
		tr_say("cannot create trace %s: %s; not tracing", want, strerror(errno));
		return false;
	}
	static char exe[PATH_MAX];
	ssize_t en = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[en > 0 ? en : 0] = 0;
	size_t acap = TF_MAX_BLOB;
	char *args = tr_mmap_alloc(NULL, acap);
	size_t alen = args ? read_file("/proc/self/cmdline", args, acap) : 0;
	T.clock = T.cfg.fine_clock ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE;
	T.start_mono = clock_ns(T.clock);
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
	    .exe = {exe, strlen(exe)},
	    .argv = {args, alen},
	    .python = {T.python ? T.python : "", T.python ? strlen(T.python) : 0},
	};
	tf_writer_opts o = {.fd = T.fd, .mem = &tr_mem};
	int rc = tf_writer_create(&T.w, &o, &h);
	tr_mmap_free(NULL, args);
	if (rc < 0) {
		tr_say("cannot start trace %s: %s; not tracing", T.path, tf_strerror(rc));
		close(T.fd);
		T.fd = -1;
		return false;
	}
	T.pid = pid;
	T.gen++;
	T.nthreads = 0;
	T.nnames = 0;
	T.dropped = 0;
	register_path(T.path);
	return true;
}

/* Stops recording after a write error: one line, the program runs on. */
static __attribute__((noinline, cold)) void fail_locked(int rc)
{
	if (!tr_on)
		return;
	int e = errno;
	__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
	tr_say("cannot write trace %s: %s; tracing stopped",
	       T.path, rc == TF_E_IO ? strerror(e) : tf_strerror(rc));
}

static void close_writer(void)
{
	tf_writer_free(T.w);
	T.w = NULL;
	if (T.fd >= 0)
		close(T.fd);
	T.fd = -1;
}

/* ---- flusher thread ---- */

static uint64_t frames_written(void)
{
	tf_writer_stats st;
	tf_writer_get_stats(T.w, &st);
	return st.frames;
}

static void *flusher(void *arg)
{
	(void)arg;
	tr_busy = 1; /* nothing this thread allocates is the program's */
	tls_flusher = true;
	pid_t me = getpid();
	uint64_t seen = 0; /* frames written when this thread last looked */
	for (;;) {
		struct timespec ts = {0, TR_FLUSH_MS * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (T.pid == me && tr_on)
			tr_modules_poll();
		int lk = tr_lock();
		if (T.pid != me || !tr_on) {
			tr_unlock(lk);
			return NULL;
		}
		if (frames_written() == seen && tf_writer_pending(T.w)) {
			int rc = tf_writer_flush(T.w);
			if (rc < 0)
				fail_locked(rc);
		}
		seen = frames_written();
		tr_unlock(lk);
	}
}

static void start_flusher(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_t th;
	if (pthread_create(&th, &attr, flusher, NULL) == 0)
		T.flusher_running = (int)getpid();
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
	char name[17] = {0};
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

/* Whether records are being written; starts a forked child's flusher on
 * its first record. */
static inline int writing_locked(void)
{
	if (!tr_on)
		return 0;
	if (__builtin_expect(T.flusher_running != T.pid, 0))
		start_flusher();
	return 1;
}

/* Stamps time (and thread, for events) and writes the record. */
static inline void stamp_put_locked(tf_record *rec, int event)
{
	if (event)
		rec->thread = thread_id_locked();
	rec->time = now();
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
}

/* The hot path: the event goes to the writer's fast path as its parts. */
static inline __attribute__((always_inline)) void event_locked(tf_kind kind, tf_alloc *a,
							       void **ips, int nips)
{
	if (!writing_locked())
		return;
	a->stack = nips ? tr_stacks_intern(ips, nips, put_raw) : 0;
	uint32_t tid = thread_id_locked();
	int rc = tf_writer_put_alloc(T.w, kind, tid, now(), a);
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
	errno = e;
}

void tr_thread_renamed(pthread_t thread, const char *name)
{
	int lk = tr_lock();
	for (unsigned i = 0; tr_on && i < T.nnames; i++) {
		if (T.names[i].gen != T.gen || !pthread_equal(T.names[i].thread, thread))
			continue;
		tf_record rec = {.kind = TF_THREAD_NAME};
		rec.u.thread = (tf_thread){T.names[i].tid, 0, {name, strnlen(name, 64)}};
		tr_put_locked(&rec);
		break;
	}
	tr_unlock(lk);
}

/* ---- start, finish, fork, exec ---- */

/* Strips the tracer from the environment so that what this process
 * executes is not traced. */
static void untrace_environment(void)
{
	const char *pre = getenv("LD_PRELOAD");
	if (pre) {
		char keep[4096] = "";
		const char *p = pre;
		while (*p) {
			size_t n = strcspn(p, ": ");
			if (n && !(n >= 16 && !memcmp(p + n - 16, "libarenatrace.so", 16))) {
				size_t k = strlen(keep);
				if (k + n + 2 < sizeof(keep))
					snprintf(keep + k, sizeof(keep) - k, "%s%.*s", k ? ":" : "",
						 (int)n, p);
			}
			p += n + (p[n] != 0);
		}
		if (keep[0])
			setenv("LD_PRELOAD", keep, 1);
		else
			unsetenv("LD_PRELOAD");
	}
}

bool tr_start(const tr_config *c, const char *python_version)
{
	T.cfg = *c;
	T.python = python_version;
	char want[PATH_MAX];
	if (c->output[0])
		snprintf(want, sizeof(want), "%s", c->output);
	else
		default_output(want, sizeof(want), getpid());
	if (!c->follow_fork)
		untrace_environment(); /* children and exec'd programs run untraced */
	find_vdso_clock(); /* once: a forked child inherits it */
	if (!open_writer(want))
		return false;
	lock_reset();
	__atomic_store_n(&tr_on, 1, __ATOMIC_RELEASE);
	tr_modules_rescan();
	int lk = tr_lock();
	int rc = tf_writer_flush(T.w); /* the header is on disk from the start */
	if (rc < 0)
		fail_locked(rc);
	tr_unlock(lk);
	start_flusher();
	return true;
}

void tr_finish(unsigned clean, int exit_status)
{
	if (tr_recording() && T.pid == getpid())
		tr_modules_poll();
	int lk = tr_lock();
	if (tr_on && T.pid == getpid()) {
		int rc = tf_writer_finish(T.w, clean, exit_status, T.dropped);
		if (rc < 0)
			fail_locked(rc);
		__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
		close_writer();
	}
	tr_unlock(lk);
}

static __thread int fork_token;

void tr_fork_prepare(void)
{
	fork_token = tr_lock();
}

void tr_fork_parent(void)
{
	tr_unlock(fork_token);
}

void tr_fork_child(void)
{
	/* The lock is held (tr_fork_prepare) and this is the only thread. */
	if (!tr_on) {
		lock_reset();
		return;
	}
	char stem[PATH_MAX], want[PATH_MAX];
	stem_of(T.path, stem, sizeof(stem));
	close_writer(); /* the parent writes what was buffered */
	__atomic_store_n(&tr_on, 0, __ATOMIC_RELAXED);
	tr_stacks_reset();
	tr_modules_reset();
	if (!T.cfg.follow_fork) {
		lock_reset();
		untrace_environment();
		return;
	}
	bool ok = fmt_path(want, sizeof(want), "%s.%d.atr", stem, (int)getpid()) &&
		  open_writer(want);
	lock_reset(); /* a new generation: this thread owns the child's trace */
	if (ok) {
		__atomic_store_n(&tr_on, 1, __ATOMIC_RELEASE);
		tr_modules_rescan();
	}
}

void tr_note_fork(pid_t child)
{
	if (child <= 0 || !tr_recording())
		return;
	char stem[PATH_MAX], path[PATH_MAX];
	int lk = tr_lock();
	stem_of(T.path, stem, sizeof(stem));
	if (!T.cfg.follow_fork || !fmt_path(path, sizeof(path), "%s.%d.atr", stem, (int)child))
		path[0] = 0;
	tf_record rec = {.kind = TF_FORK};
	rec.u.fork = (tf_fork){(uint64_t)child, {path, strlen(path)}};
	tr_put_locked(&rec);
	tr_unlock(lk);
}

void tr_before_exec(void)
{
	/* a vfork child shares our memory: leave the parent's trace alone */
	if (!tr_recording() || getpid() != T.pid)
		return;
	tr_finish(TF_END_EXEC, 0);
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

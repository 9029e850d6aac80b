/*
 * tr_preload.c - the LD_PRELOAD shim: interposes the malloc family, fork,
 * exec, thread naming, dlclose; everything else is in the core (tr_core.c;
 * the environment an exec'd program gets is made in tr_env.c).
 *
 * Bootstrapping (in this order):
 *  1. The real functions are looked up with dlsym(RTLD_NEXT) on the first
 *     call of any wrapper (resolve()), so an allocator preloaded after us
 *     (jemalloc, tcmalloc) still does the work.  dlsym may itself call
 *     malloc or calloc: while resolving, such calls are served from a
 *     static buffer (boot_buf, zeroed, never reused); free() ignores it and
 *     realloc() moves out of it.
 *  2. Calls before the constructor ran (constructors of libraries
 *     initialised before this one) pass through unrecorded; the end
 *     record counts them as dropped.
 *  3. The constructor reads the configuration, installs the CPython hooks
 *     when it finds an interpreter, registers the fork and exit handlers,
 *     opens the trace and starts recording.
 * Per thread, tr_busy marks "inside the tracer": nested calls (from the
 * real allocator, libunwind, zstd, a signal handler) pass through.
 *
 * Order: a free is recorded before the real free, an allocation after the
 * real call, and realloc holds the tracer's lock across the real call (its
 * old block is released and its new one taken inside it), so the trace
 * never shows a block allocated twice or freed before it was allocated.
 *
 * fork: the child writes its own trace from its first record
 * (tr_fork_child) or, with ARENATRACE_FOLLOW_FORK=0, stops and removes the
 * tracer from its environment.  A child forked while other threads ran
 * must not take a lock one of them held at the fork: the loader's, which
 * dl_iterate_phdr takes (libunwind calls it for frames it has not seen,
 * the module map reads it).  So the prepare handler of such a fork copies
 * the loader's list of objects, and in the child, until it execs, the
 * tracer's own dl_iterate_phdr calls are served from that copy.
 * exec and _exit: the trace gets its END record first, and an exec'd
 * program that is traced is told which trace it continues
 * (ARENATRACE_EXEC_FROM in the environment passed to exec); a failed exec
 * leaves this process untraced from then on.  vfork children never touch
 * the parent's trace (the core checks the pid).
 *
 * Descriptors: the tracer holds none (the drain process writes the trace).
 * libunwind (1.6 and later) tests the addresses it reads on frames it has
 * not seen by writing a byte from them into a pipe it opens on its first
 * unwind, and remembers that pipe's numbers.  A pipe of its own would be a
 * descriptor the program can see, and one it closed and reused would have
 * libunwind read and write the program's files.  So inside the tracer
 * (while it unwinds) pipe() and pipe2() hand libunwind two numbers no
 * descriptor can have (negative), read() of the first says "nothing yet"
 * and a write() or syscall(SYS_write) to the second tests the address with
 * process_vm_readv on this process instead: the same answer, no
 * descriptor.
 */
#define UNW_LOCAL_ONLY
#include "tr_internal.h"
#include "tr_modules.h"
#include "tr_env.h"
#include "tr_python.h"
#include "tr_pystack.h"
#include "tr_ucache.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/single_threaded.h>
#include <unistd.h>
#include <libunwind.h>
#include <malloc.h> /* memalign, pvalloc */

#define EXPORT __attribute__((visibility("default")))

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	pid_t (*fork)(void);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*pthread_setname_np)(pthread_t, const char *);
	int (*prctl)(int, unsigned long, unsigned long, unsigned long, unsigned long);
	void (*_exit)(int) __attribute__((noreturn));
	int (*dlclose)(void *);
	int (*pipe)(int[2]);
	int (*pipe2)(int[2], int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	long (*syscall)(long, ...);
	int (*dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
} real;

/* ---- bootstrap ---- */

#define BOOT_SIZE (256 << 10) /* what dlsym may allocate while resolving */
#define BOOT_ALIGN 16         /* malloc's alignment */
#define BOOT_PAGE 4096        /* valloc's and pvalloc's */
static _Alignas(64) char boot_buf[BOOT_SIZE];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t n, size_t align)
{
	size_t at = (boot_used + align - 1) & ~(align - 1);
	if (at + n > sizeof(boot_buf))
		return NULL;
	boot_used = at + n;
	return boot_buf + at;
}

static inline bool is_boot(const void *p)
{
	return (const char *)p >= boot_buf && (const char *)p < boot_buf + sizeof(boot_buf);
}

#define LOOKUP(name) (real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name))

static bool resolve(void)
{
	if (__atomic_load_n(&real.free, __ATOMIC_ACQUIRE))
		return true;
	if (resolving)
		return false; /* dlsym is allocating: boot_alloc serves it */
	resolving = 1;
	LOOKUP(malloc), LOOKUP(calloc), LOOKUP(realloc), LOOKUP(reallocarray);
	LOOKUP(posix_memalign), LOOKUP(aligned_alloc), LOOKUP(memalign);
	LOOKUP(valloc), LOOKUP(pvalloc), LOOKUP(fork), LOOKUP(execve), LOOKUP(execvpe);
	LOOKUP(fexecve), LOOKUP(pthread_setname_np), LOOKUP(prctl), LOOKUP(_exit);
	LOOKUP(dlclose), LOOKUP(pipe), LOOKUP(pipe2), LOOKUP(dl_iterate_phdr);
	LOOKUP(read), LOOKUP(write), LOOKUP(syscall);
	void (*f)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	__atomic_store_n(&real.free, f, __ATOMIC_RELEASE);
	resolving = 0;
	return real.free != NULL;
}

/* ---- stacks ---- */

static uintptr_t self_lo, self_hi; /* this library's code */

/* [lo, hi) of the executable segments of the object loaded at base. */
typedef struct code_range {
	uintptr_t base, lo, hi;
} code_range;

static int find_code(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	code_range *r = arg;
	if (info->dlpi_addr != r->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (!r->lo || lo < r->lo)
			r->lo = lo;
		if (hi > r->hi)
			r->hi = hi;
	}
	return 1;
}

static int depth = TR_DEFAULT_DEPTH;
static bool want_stacks = true, want_native = true, want_python = true;
static __thread int unwinding __attribute__((tls_model("initial-exec"))); /* in libunwind */


static inline bool in_self(uintptr_t ip)
{
	return ip >= self_lo && ip < self_hi;
}

/* A full unwind into buf: the number of the caller's frames (at most
 * depth), which start at buf + *skip, past the tracer's own. */
static inline __attribute__((always_inline)) int full_unwind(void **buf, int *skip)
{
	unwinding = 1;
	int k = unw_backtrace(buf, depth + TR_CAPTURE_SKIP);
	unwinding = 0;
	int s = 0;
	while (s < k && in_self((uintptr_t)buf[s]))
		s++;
	*skip = s;
	k -= s;
	return k > depth ? depth : k > 0 ? k : 0;
}

/* ARENATRACE_STACK_CACHE=check: a hit unwound in full as well. */
static __attribute__((noinline, cold)) void check_hit(void *const *ips, int n)
{
	void *buf[TR_CAPTURE_SLOTS];
	int skip, k = full_unwind(buf, &skip);
	tr_ucache_checked(k == n && !memcmp(buf + skip, ips, (size_t)n * sizeof(*ips)));
}

/* Inlined into the wrappers, so that the unwinder starts in the wrapper
 * itself: one frame of the tracer's own to step over, not two.  A stack
 * seen just before from the same place comes from tr_ucache.c instead,
 * once the stack's memory shows it unchanged; for that the wrapper gets a
 * frame pointer (TR_UKEY_HERE). */
static inline __attribute__((always_inline)) void **capture_from(const tr_ukey *from, void **buf,
								int *n)
{
	*n = 0;
	if (!want_stacks)
		return buf;
	int skip = 0;
	if (want_native) {
		bool cacheable = tr_ucache_mode != TR_UCACHE_OFF && !in_self(from->ra);
		int k = cacheable ? tr_ucache_get(from, buf, depth) : -1;
		if (k >= 0 && __builtin_expect(tr_ucache_mode == TR_UCACHE_CHECK, 0)) {
			check_hit(buf, k);
		} else if (k < 0) {
			k = full_unwind(buf, &skip);
			if (cacheable) {
				unwinding = 1; /* learning a stack unwinds it again */
				tr_ucache_put(from, buf + skip, k);
				unwinding = 0;
			}
		}
		*n = k;
	}
	if (want_python && __atomic_load_n(&tr_pystacks, __ATOMIC_ACQUIRE))
		*n = tr_pystack_merge(buf + skip, *n, depth);
	return buf + skip;
}

/* The key is read only when stacks are recorded. */
#define capture(buf, n) (want_stacks ? capture_from(&TR_UKEY_HERE(), buf, n) : (*(n) = 0, (buf)))

void **tr_capture(const tr_ukey *from, void **buf, int *n)
{
	return capture_from(from, buf, n);
}

/* The loader's code, and libc's dl_iterate_phdr, which holds the loader's
 * lock while it runs its callback: a thread with a frame in either may
 * hold that lock. */
static uintptr_t ld_lo, ld_hi, dip_lo, dip_hi;

/* tr_poll_safe: whether no frame of this thread is in the loader.  Once
 * per poll (every TR_MODULE_POLL_MS, and at the next records while the answer
 * is no), so a full unwind costs nothing here. */
static bool outside_loader(void)
{
	void *buf[TR_MAX_DEPTH];
	unwinding = 1;
	int k = unw_backtrace(buf, TR_MAX_DEPTH);
	unwinding = 0;
	for (int i = 0; i < k; i++) {
		uintptr_t ip = (uintptr_t)buf[i];
		if ((ip >= ld_lo && ip < ld_hi) || (ip >= dip_lo && ip < dip_hi))
			return false;
	}
	return k < TR_MAX_DEPTH; /* deeper than that: not sure */
}

static void find_loader(void)
{
	Dl_info di;
	const ElfW(Sym) *sym = NULL;
	code_range r = {(uintptr_t)getauxval(AT_BASE), 0, 0}; /* where the kernel put ld.so */
	if (r.base) {
		real.dl_iterate_phdr(find_code, &r);
		ld_lo = r.lo, ld_hi = r.hi;
	}
	if (dladdr1((void *)real.dl_iterate_phdr, &di, (void **)&sym, RTLD_DL_SYMENT) && sym &&
	    sym->st_size) {
		dip_lo = (uintptr_t)di.dli_saddr;
		dip_hi = dip_lo + sym->st_size;
	}
	if (ld_hi && dip_hi)
		tr_poll_safe = outside_loader;
}

/* ---- the malloc family ---- */

/* Whether a call goes straight to the real function: the tracer's own
 * (tr_busy), or made while nothing is recorded.  The program's calls
 * before tracing started are counted (tr_unrecorded). */
static inline bool pass_through(void)
{
	if (__builtin_expect(!tr_busy && tr_recording(), 1))
		return false;
	if (!tr_busy)
		tr_unrecorded();
	return true;
}
#define PASS_THROUGH pass_through()

/* glibc's free and realloc start by loading the block's header, a cache
 * miss when the program has not touched the block lately: starting that
 * load before recording overlaps the miss with the tracer's work (on churn,
 * CPU time 0.57 s -> 0.51 s).  A prefetch never faults, whatever p is. */
static inline void prefetch_header(const void *p)
{
	__builtin_prefetch((const void *)((uintptr_t)p - sizeof(size_t))); /* p may be NULL */
}

static void record(tf_kind kind, tf_alloc *a, void **ips, int n)
{
	tr_event(kind, a, ips, n);
}

/* Each of malloc, calloc, realloc and free starts with tr_python_look()
 * (tr_internal.h): while CPython starts, the tracer's CPython hooks look
 * whether pre-initialisation replaced the allocator domains they wrapped. */

EXPORT void *malloc(size_t n)
{
	if (!resolve())
		return boot_alloc(n, BOOT_ALIGN);
	tr_python_look();
	if (PASS_THROUGH)
		return real.malloc(n);
	tr_busy = 1;
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	void *p = real.malloc(n);
	record(TF_MALLOC, &(tf_alloc){.addr = (uintptr_t)p, .size = n}, ips, k);
	tr_busy = 0;
	return p;
}

EXPORT void *calloc(size_t nmemb, size_t size)
{
	if (!resolve()) {
		size_t total;
		if (__builtin_mul_overflow(nmemb, size, &total))
			return NULL;
		return boot_alloc(total, BOOT_ALIGN);
	}
	tr_python_look();
	if (PASS_THROUGH)
		return real.calloc(nmemb, size);
	tr_busy = 1;
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	void *p = real.calloc(nmemb, size);
	record(TF_CALLOC, &(tf_alloc){.addr = (uintptr_t)p, .nmemb = nmemb, .size = size}, ips, k);
	tr_busy = 0;
	return p;
}

EXPORT void free(void *p)
{
	if (is_boot(p) || (!resolve() && !real.free))
		return;
	tr_python_look_free();
	if (PASS_THROUGH) {
		real.free(p);
		return;
	}
	prefetch_header(p);
	tr_busy = 1;
	record(TF_FREE, &(tf_alloc){.addr = (uintptr_t)p}, NULL, 0);
	real.free(p);
	tr_busy = 0;
}

/* Moves a block out of the bootstrap buffer (its size is not kept: copy
 * what can be copied without reading past the buffer). */
static void *from_boot(void *old, size_t n)
{
	void *p = real.malloc(n);
	size_t avail = (size_t)(boot_buf + sizeof(boot_buf) - (char *)old);
	if (p)
		memcpy(p, old, n < avail ? n : avail);
	return p;
}

/* realloc and reallocarray: the lock is held across the real call. */
static void *realloc_common(tf_kind kind, void *old, size_t nmemb, size_t size)
{
	prefetch_header(old);
	tr_busy = 1;
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	int lk = tr_lock();
	void *p = kind == TF_REALLOC ? real.realloc(old, size) : real.reallocarray(old, nmemb, size);
	int e = errno;
	tr_event_locked(kind,
			&(tf_alloc){.addr = (uintptr_t)p, .old = (uintptr_t)old, .size = size,
				    .nmemb = kind == TF_REALLOC ? 0 : nmemb},
			ips, k);
	tr_unlock(lk);
	tr_after_unlock();
	errno = e;
	tr_busy = 0;
	return p;
}

EXPORT void *realloc(void *old, size_t n)
{
	if (!resolve()) {
		void *p = boot_alloc(n, BOOT_ALIGN);
		if (p && old)
			memcpy(p, old, n); /* both in boot_buf; old is at most n bytes back */
		return p;
	}
	if (is_boot(old))
		return from_boot(old, n);
	tr_python_look();
	if (PASS_THROUGH)
		return real.realloc(old, n);
	return realloc_common(TF_REALLOC, old, 0, n);
}

EXPORT void *reallocarray(void *old, size_t nmemb, size_t size)
{
	size_t total;
	if (!resolve() || is_boot(old)) {
		if (__builtin_mul_overflow(nmemb, size, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc(old, total);
	}
	if (PASS_THROUGH)
		return real.reallocarray(old, nmemb, size);
	return realloc_common(TF_REALLOCARRAY, old, nmemb, size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (!resolve()) {
		void *p = boot_alloc(size, align < BOOT_ALIGN ? BOOT_ALIGN : align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (PASS_THROUGH)
		return real.posix_memalign(out, align, size);
	tr_busy = 1;
	void *buf[TR_CAPTURE_SLOTS];
	int k;
	void **ips = capture(buf, &k);
	int rc = real.posix_memalign(out, align, size);
	record(TF_POSIX_MEMALIGN,
	       &(tf_alloc){.addr = rc ? 0 : (uintptr_t)*out, .align = align, .size = size,
			   .ret = (uint64_t)rc},
	       ips, k);
	tr_busy = 0;
	return rc;
}

#define ALIGNED_WRAPPER(name, KIND)                                                        \
	EXPORT void *name(size_t align, size_t size)                                      \
	{                                                                                  \
		if (!resolve())                                                            \
			return boot_alloc(size, align < BOOT_ALIGN ? BOOT_ALIGN : align);  \
		if (PASS_THROUGH)                                                          \
			return real.name(align, size);                                     \
		tr_busy = 1;                                                               \
		void *buf[TR_CAPTURE_SLOTS];                                               \
		int k;                                                                     \
		void **ips = capture(buf, &k);                                             \
		void *p = real.name(align, size);                                          \
		record(KIND, &(tf_alloc){.addr = (uintptr_t)p, .align = align, .size = size}, \
		       ips, k);                                                            \
		tr_busy = 0;                                                               \
		return p;                                                                  \
	}

ALIGNED_WRAPPER(aligned_alloc, TF_ALIGNED_ALLOC)
ALIGNED_WRAPPER(memalign, TF_MEMALIGN)

#define PAGE_WRAPPER(name, KIND)                                                           \
	EXPORT void *name(size_t size)                                                    \
	{                                                                                  \
		if (!resolve())                                                            \
			return boot_alloc(size, BOOT_PAGE);                                \
		if (PASS_THROUGH)                                                          \
			return real.name(size);                                            \
		tr_busy = 1;                                                               \
		void *buf[TR_CAPTURE_SLOTS];                                               \
		int k;                                                                     \
		void **ips = capture(buf, &k);                                             \
		void *p = real.name(size);                                                 \
		record(KIND, &(tf_alloc){.addr = (uintptr_t)p, .size = size}, ips, k);    \
		tr_busy = 0;                                                               \
		return p;                                                                  \
	}

PAGE_WRAPPER(valloc, TF_VALLOC)
PAGE_WRAPPER(pvalloc, TF_PVALLOC)

/* ---- processes ---- */

EXPORT pid_t fork(void)
{
	resolve();
	pid_t pid = real.fork();
	if (pid > 0 && !tr_busy) {
		int e = errno;
		tr_busy = 1;
		tr_note_fork(pid);
		tr_busy = 0;
		errno = e;
	}
	return pid;
}

/* The END record; returns the envp to exec with. */
static char *const *before_exec(char *const envp[], tr_exec_env *mem)
{
	mem->envp = NULL;
	if (tr_busy)
		return envp;
	int e = errno;
	tr_busy = 1;
	const char *from = tr_before_exec();
	char *const *use = tr_exec_env_make(envp, from, mem);
	tr_busy = 0;
	errno = e;
	return use;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	resolve();
	tr_exec_env mem;
	int rc = real.execve(path, argv, before_exec(envp, &mem));
	tr_exec_env_free(&mem);
	return rc;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	resolve();
	tr_exec_env mem;
	int rc = real.execvpe(file, argv, before_exec(envp, &mem));
	tr_exec_env_free(&mem);
	return rc;
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	resolve();
	tr_exec_env mem;
	int rc = real.fexecve(fd, argv, before_exec(envp, &mem));
	tr_exec_env_free(&mem);
	return rc;
}

/* execl, execlp, execle: collect the arguments, then as above. */
#define COLLECT_ARGS(arg0, envp_out)                                                       \
	va_list ap;                                                                        \
	size_t argc = 1;                                                                   \
	va_start(ap, arg0);                                                                \
	while (va_arg(ap, char *))                                                         \
		argc++;                                                                    \
	va_end(ap);                                                                        \
	char **argv = __builtin_alloca((argc + 1) * sizeof(char *));                       \
	argv[0] = (char *)arg0;                                                            \
	va_start(ap, arg0);                                                                \
	for (size_t i = 1; i <= argc; i++)                                                 \
		argv[i] = va_arg(ap, char *);                                              \
	envp_out;                                                                          \
	va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(arg, (void)0);
	return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(arg, (void)0);
	return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char **envp;
	COLLECT_ARGS(arg, envp = va_arg(ap, char **));
	return execve(path, argv, envp);
}

/* _exit skips exit handlers and destructors: the END record is written
 * here (in the process that owns the trace: a vfork child has another pid
 * and leaves it alone). */
static void before_exit(int status)
{
	if (tr_busy || !tr_recording())
		return;
	tr_busy = 1;
	tr_finish(TF_END_EXIT, status);
}

EXPORT void _exit(int status)
{
	resolve();
	before_exit(status);
	real._exit(status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	resolve();
	before_exit(status);
	real._exit(status);
	__builtin_unreachable();
}

/* ---- modules ---- */

static void modules_now(void)
{
	if (tr_busy || !tr_recording())
		return;
	int e = errno;
	tr_busy = 1;
	tr_modules_poll();
	tr_busy = 0;
	errno = e;
}

/* The module map is polled (tracer/README.md); dlclose brings it up to
 * date before the object goes, so an object loaded since the last poll is
 * in the trace, and after, so its unload is in the trace before another
 * object can be loaded where it was.  dlclose, unlike dlopen, does not
 * depend on who calls it. */
EXPORT int dlclose(void *handle)
{
	resolve();
	modules_now();
	int rc = real.dlclose(handle);
	modules_now();
	return rc;
}

/* ---- descriptors and the loader, inside the tracer ---- */

/* libunwind's address-test pipe, inside the tracer (see the top of the
 * file): two numbers no descriptor has. */
enum { FAKE_RD = -1000, FAKE_WR = -1001 };

static int fake_pipe(int fds[2])
{
	fds[0] = FAKE_RD;
	fds[1] = FAKE_WR;
	return 0;
}

/* What writing n bytes from p into the pipe would say: n, or -1 EFAULT
 * when they are not all readable.  errno is cleared on success:
 * libunwind loops while errno is EINTR, whatever the call returned. */
#define PROBE_MAX 16 /* bytes of an address test, at most (libunwind writes 1) */

static ssize_t fake_write(const void *p, size_t n)
{
	char buf[PROBE_MAX];
	if (n > sizeof(buf))
		n = sizeof(buf);
	struct iovec local = {buf, n}, remote = {(void *)p, n};
	ssize_t k = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (k == (ssize_t)n) {
		errno = 0;
		return k;
	}
	errno = EFAULT;
	return -1;
}

EXPORT int pipe2(int fds[2], int flags)
{
	resolve();
	return unwinding ? fake_pipe(fds) : real.pipe2(fds, flags);
}

EXPORT int pipe(int fds[2])
{
	resolve();
	return unwinding ? fake_pipe(fds) : real.pipe(fds);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (__builtin_expect(fd == FAKE_RD, 0) && unwinding) {
		errno = EAGAIN; /* the pipe is empty: it is there */
		return -1;
	}
	if (__builtin_expect(!real.read, 0) && !resolve())
		return syscall(SYS_read, fd, buf, n);
	return real.read(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (__builtin_expect(fd == FAKE_WR, 0) && unwinding)
		return fake_write(buf, n);
	if (__builtin_expect(!real.write, 0) && !resolve())
		return syscall(SYS_write, fd, buf, n);
	return real.write(fd, buf, n);
}

/* syscall(2) passes its six argument registers on, as glibc's does. */
EXPORT long syscall(long number, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (__builtin_expect(number == SYS_write && (int)a[0] == FAKE_WR, 0) && unwinding)
		return fake_write((const void *)a[1], (size_t)a[2]);
	if (__builtin_expect(!real.syscall, 0) && !resolve())
		return -1;
	return real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The loader's list of objects as the prepare handler of a fork from a
 * multi-threaded process copied it: the child's tracer reads it instead of
 * taking the loader's lock, which another thread may have held at the
 * fork.  Entries point into the loader's data, which the child has too. */
static struct {
	struct dl_phdr_info *v; /* mmap'd */
	size_t n, cap;
	bool taken;             /* by the prepare handler of the fork under way */
} snap;
static bool snap_child;     /* this process is such a child and has not exec'd */
#define SNAP_FIRST 256      /* objects the first copy has room for */

static int snap_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)arg;
	if (snap.n == snap.cap) {
		size_t cap = snap.cap ? snap.cap * 2 : SNAP_FIRST;
		struct dl_phdr_info *v = tr_mmap_alloc(NULL, cap * sizeof(*v));
		if (!v)
			return 1;
		if (snap.v)
			memcpy(v, snap.v, snap.n * sizeof(*v));
		tr_mmap_free(NULL, snap.v);
		snap.v = v, snap.cap = cap;
	}
	memset(&snap.v[snap.n], 0, sizeof(snap.v[0]));
	memcpy(&snap.v[snap.n++], info, size < sizeof(*info) ? size : sizeof(*info));
	return 0;
}

EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
	resolve();
	if (snap_child && tr_busy) {
		for (size_t i = 0; i < snap.n; i++) {
			int rc = cb(&snap.v[i], sizeof(snap.v[i]), data);
			if (rc)
				return rc;
		}
		return 0;
	}
	return real.dl_iterate_phdr(cb, data);
}

/* ---- thread names ---- */

EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
	resolve();
	int rc = real.pthread_setname_np(thread, name);
	if (rc == 0 && !tr_busy && tr_recording()) {
		tr_busy = 1;
		tr_thread_renamed(thread, name);
		tr_busy = 0;
	}
	return rc;
}

EXPORT int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
	unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
	va_end(ap);
	resolve();
	int rc = real.prctl(option, a2, a3, a4, a5);
	if (rc == 0 && option == PR_SET_NAME && !tr_busy && tr_recording()) {
		int e = errno;
		char name[TR_COMM_LEN + 1] = {0};
		strncpy(name, (const char *)a2, TR_COMM_LEN);
		tr_busy = 1;
		tr_thread_renamed(pthread_self(), name);
		tr_busy = 0;
		errno = e;
	}
	return rc;
}

/* ---- main: the exit status ---- */

/* Exit handlers run in the reverse order of registration, and the one that
 * runs the libraries' destructors (_dl_fini) is registered by
 * __libc_start_main after the constructors ran.  So the handler that keeps
 * the exit status is registered when main starts: it then runs after the
 * program's own handlers and before the destructors, the last of which
 * (ours) writes the END record. */
typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int main_wrapper(int argc, char **argv, char **envp)
{
	int busy = tr_busy;
	tr_busy = 1;
	tr_install_exit_handler();
	tr_busy = busy;
	return real_main(argc, argv, envp);
}

EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	__typeof__(&__libc_start_main) next =
	    (__typeof__(&__libc_start_main))dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ---- constructor and destructor ---- */

static void at_prepare(void)
{
	snap.taken = false;
	if (!__libc_single_threaded && tr_recording() && !tr_busy) {
		tr_busy = 1;
		snap.n = 0;
		snap.taken = real.dl_iterate_phdr(snap_one, NULL) == 0;
		tr_busy = 0;
	}
	tr_fork_prepare();
}

static void at_parent(void)
{
	tr_fork_parent();
}

static void at_child(void)
{
	int busy = tr_busy;
	tr_busy = 1;
	snap_child = snap_child || snap.taken;
	tr_fork_child();
	tr_busy = busy;
}

/* arenatrace-drain in the directory of the library (the build tree, or
 * lib/arenatrace/ of an installed tree). */
static void drain_beside(const char *lib, char *out, size_t cap)
{
	char *real_lib = lib ? realpath(lib, NULL) : NULL;
	const char *slash = real_lib ? strrchr(real_lib, '/') : NULL;
	if (slash)
		snprintf(out, cap, "%.*s/arenatrace-drain", (int)(slash - real_lib), real_lib);
	else
		snprintf(out, cap, "arenatrace-drain");
	free(real_lib);
}

__attribute__((constructor)) static void tr_init(void)
{
	if (!resolve())
		return;
	tr_busy = 1;
	Dl_info self = {0};
	if (dladdr((void *)tr_capture, &self)) {
		code_range r = {(uintptr_t)self.dli_fbase, 0, 0};
		dl_iterate_phdr(find_code, &r);
		self_lo = r.lo, self_hi = r.hi;
	}
	find_loader();
	tr_config c;
	tr_config_from_env(&c);
	if (!c.drain[0])
		drain_beside(self.dli_fname, c.drain, sizeof(c.drain));
	want_stacks = c.stacks;
	want_native = c.native_stacks;
	want_python = c.python_stacks;
	depth = (int)c.depth;
	tr_ucache_setup();
	/* libunwind sets itself up at its first call, opening its (fake) pipe */
	unwinding = 1;
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	unwinding = 0;
	const char *py = c.python ? tr_python_setup() : NULL;
	pthread_atfork(at_prepare, at_parent, at_child);
	tr_start(&c, py);
	tr_busy = 0;
}

__attribute__((destructor)) static void tr_fini(void)
{
	tr_busy = 1;
	tr_at_unload();
	tr_ucache_report();
}

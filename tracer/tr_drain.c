/*
 * tr_drain.c - arenatrace-drain: compresses and writes the trace of one
 * traced process (the layout and the protocol are in tr_shm.h).
 *
 *   arenatrace-drain PID [REGISTRY]
 *   descriptor 3: the memfd shared with process PID; 4: its trace file
 *
 * The traced process starts it orphaned (tracer/tr_region.c): nobody's
 * child in the program (no SIGCHLD, nothing for the program to wait for),
 * and it moves to a session of its own (a signal to the program's process
 * group does not reach it).  Signals stay blocked, as the process started
 * it.  Once it holds the region and a pidfd for the process it says so
 * (drain_pid), which the process waits for.  It learns that the process is
 * gone from the pidfd, so a crash or SIGKILL still leaves every complete
 * record in the file.
 *
 * Exit status: 0 when the trace was written, 1 when it could not be.
 */
#include "tr_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS TR_HEARTBEAT_MS /* the longest sleep between two looks at the process */

static tr_shm *shm;
static int trace_fd = TR_TRACE_FD;
static const char *registry;
static pid_t pid;
static tf_framer *framer;
static bool started;       /* the first frame (with the magic) is written */
static int error;          /* errno of the first failed write */
static uint64_t events;    /* event records written: their tags counted */
static bool is_event[256];
static uint32_t done_len[TR_SHM_SETS][TF_NSTREAMS]; /* of each set, already in frames */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void futex_wait(uint32_t *word, uint32_t seen, unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

/* ---- the registry ---- */

/* s with tab, newline and '%' written as %09, %0a, %25. */
static void escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 4 < cap; s++) {
		if (*s == '\t' || *s == '\n' || *s == '%')
			n += (size_t)snprintf(out + n, cap - n, "%%%02x", (unsigned char)*s);
		else
			out[n++] = *s;
	}
	out[n] = 0;
}

static void registry_line(const char *line)
{
	if (!registry)
		return;
	int fd = open(registry, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k = write(fd, line, strlen(line));
	(void)k;
	close(fd);
}

static void registry_begin(void)
{
	static char path[PATH_MAX * 3], line[sizeof(path) + 64];
	escape(path, sizeof(path), shm->path);
	snprintf(line, sizeof(line), "B\t%d\t%d\t%s\n", (int)pid, (int)getpid(), path);
	registry_line(line);
}

static void registry_end(const char how[256], const char count[32])
{
	static char path[PATH_MAX * 3], exe[PATH_MAX * 3], line[sizeof(path) * 2 + 512];
	escape(path, sizeof(path), shm->path);
	escape(exe, sizeof(exe), shm->exe);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	snprintf(line, sizeof(line), "E\t%d\t%s\t%s\t%.3f\t%s\t%s\n", (int)pid, how, count, cpu,
		 path, exe);
	registry_line(line);
}

/* ---- frames ---- */

/* The first error ends the drain; the process stops tracing when it sees it. */
static void fail(int e)
{
	error = e;
	__atomic_store_n(&shm->error, e, __ATOMIC_RELEASE);
}

static void write_all(const uint8_t *p, size_t n)
{
	while (n && !error) {
		ssize_t k = write(trace_fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			fail(k == 0 ? ENOSPC : errno);
			return;
		}
		p += k;
		n -= (size_t)k;
	}
}

/* Writes what set k holds complete beyond what is written already. */
static void write_complete(unsigned k)
{
	tr_shm_set *s = &shm->set[k];
	uint32_t len[TF_NSTREAMS], part[TF_NSTREAMS];
	const uint8_t *from[TF_NSTREAMS], *z;
	tf_commit_read(&s->commit, len);
	if (len[TF_S_TAGS] <= done_len[k][TF_S_TAGS] || error)
		return; /* no record since the last frame */
	for (int i = 0; i < TF_NSTREAMS; i++) {
		if (len[i] < done_len[k][i] || len[i] > s->cap[i]) {
			fail(EPROTO); /* cannot happen with a sane process */
			return;
		}
		from[i] = (const uint8_t *)shm + s->off[i] + done_len[k][i];
		part[i] = len[i] - done_len[k][i];
	}
	long n = tf_framer_compress(framer, !started, from, part, &z);
	if (n < 0) {
		fail(ENOMEM);
		return;
	}
	write_all(z, (size_t)n);
	for (uint32_t i = 0; i < part[TF_S_TAGS]; i++)
		events += is_event[from[TF_S_TAGS][i]];
	memcpy(done_len[k], len, sizeof(len));
	started = true;
}

/* Set k is written: back to the process, with an empty commit. */
static void give_back(unsigned k)
{
	tr_shm_set *s = &shm->set[k];
	uint64_t seq = s->commit.seq + 1;
	memset(s->commit.len[seq & 1], 0, sizeof(s->commit.len[0]));
	__atomic_store_n(&s->commit.seq, seq, __ATOMIC_RELEASE);
	memset(done_len[k], 0, sizeof(done_len[k]));
	s->last = 0;
	__atomic_store_n(&s->state, TR_SET_FREE, __ATOMIC_RELEASE);
	futex_wake(&s->state);
}

static bool process_gone(int pidfd)
{
	if (pidfd < 0) /* no pidfd (an old kernel): whether the pid is still there */
		return kill(pid, 0) < 0 && errno == ESRCH;
	struct pollfd p = {pidfd, POLLIN, 0};
	return poll(&p, 1, 0) > 0;
}

/* Writes set *k if the process handed it over, gives it back and moves *k
 * on.  Whether it did; *last when the set ended the trace. */
static bool take_ready(unsigned *k, bool *last)
{
	tr_shm_set *s = &shm->set[*k];
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != TR_SET_READY)
		return false;
	write_complete(*k);
	*last = s->last;
	give_back(*k);
	*k = (*k + 1) % TR_SHM_SETS;
	return true;
}

/* The loop: sets in order, cuts, and the end.  Returns how it ended. */
static const char *drain(int pidfd)
{
	unsigned k = 0;
	bool last = false;
	uint64_t last_cut = now_ms();
	for (;;) {
		__atomic_add_fetch(&shm->heartbeat, 1, __ATOMIC_RELAXED);
		uint32_t bell = __atomic_load_n(&shm->bell, __ATOMIC_ACQUIRE);
		if (error) /* the process stops tracing when it sees the error */
			return NULL;
		if (take_ready(&k, &last)) {
			last_cut = now_ms();
			if (last)
				return NULL;
			continue;
		}
		uint32_t state = __atomic_load_n(&shm->set[k].state, __ATOMIC_ACQUIRE);
		if (process_gone(pidfd)) {
			/* sets handed over just before the end come first, in order */
			while (take_ready(&k, &last))
				if (last)
					return NULL;
			if (__atomic_load_n(&shm->set[k].state, __ATOMIC_ACQUIRE) == TR_SET_FILLING)
				write_complete(k);
			return "killed";
		}
		if (state == TR_SET_FILLING && now_ms() - last_cut >= TR_CUT_MS) {
			write_complete(k);
			last_cut = now_ms();
		}
		futex_wait(&shm->bell, bell, WAIT_MS);
	}
}

static void how_ended(char *how, size_t cap, const char *killed)
{
	int clean = __atomic_load_n(&shm->end_clean, __ATOMIC_ACQUIRE);
	if (error)
		snprintf(how, cap, "error: cannot write the trace: %s", strerrordesc_np(error));
	else if (killed || clean < 0)
		snprintf(how, cap, "killed");
	else if (clean == TF_END_EXIT)
		snprintf(how, cap, "exit %d", (int)shm->exit_status);
	else if (clean == TF_END_EXEC)
		snprintf(how, cap, "exec");
	else
		snprintf(how, cap, "other");
}

int main(int argc, char **argv)
{
	if (argc < 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fputs("usage: arenatrace-drain PID [REGISTRY] (started by libarenatrace.so)\n", stderr);
		return 2;
	}
	registry = argc > 2 && argv[2][0] ? argv[2] : NULL;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct stat sb, tb;
	if (fstat(TR_SHM_FD, &sb) < 0 || fstat(trace_fd, &tb) < 0 || !S_ISREG(tb.st_mode))
		return 1;
	void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, TR_SHM_FD, 0);
	if (p == MAP_FAILED)
		return 1;
	shm = p;
	if (shm->magic != TR_SHM_MAGIC || shm->size != (uint64_t)sb.st_size ||
	    shm->pid != (uint32_t)pid || shm->nsets != TR_SHM_SETS ||
	    tr_shm_layout(NULL) > shm->size)
		return 1;
	if (tf_framer_create(&framer, 0, 0, NULL) < 0) /* its buffer grows with the frames */
		return 1;
	for (unsigned t = 0; t < 256; t++)
		is_event[t] = tf_kind_is_event(t);
	setsid();
	close(TR_SHM_FD);
	__atomic_store_n(&shm->drain_pid, (uint32_t)getpid(), __ATOMIC_RELEASE);
	futex_wake(&shm->drain_pid); /* the process waits for it */
	registry_begin();
	const char *killed = drain(pidfd);
	close(trace_fd);
	char how[256], count[32] = "-";
	how_ended(how, sizeof(how), killed);
	if (!error)
		snprintf(count, sizeof(count), "%llu", (unsigned long long)events);
	registry_end(how, count);
	__atomic_store_n(&shm->done, error ? TR_DONE_FAILED : TR_DONE_OK, __ATOMIC_RELEASE);
	futex_wake(&shm->done);
	return error ? 1 : 0;
}

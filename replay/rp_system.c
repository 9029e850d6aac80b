/*
 * rp_system.c - `replay --system` (rp_system.h): the replay's side, which
 * names blocks by small ids and sends the requests down a socket, and the
 * allocator's process, `arenatrace __system`, which makes them with its
 * own malloc, realloc and free and measures what its heap holds.
 *
 * A request is three words: op | id << 2, the size asked for, and the
 * block's size before (a realloc touches only what it adds; a free takes
 * it off the live bytes).  After the last request the replay shuts its
 * side for writing; the process then sends back one rp_sys_result.
 *
 * The process writes one byte per page of every block, as a program
 * filling it would, so that the heap's pages are resident.  It samples its
 * memory every 4096 requests, before a free when the live bytes have grown
 * by 1/64 since the last sample (so the moment the live bytes peak is
 * caught), and at the end; nothing it does between two requests allocates.
 */
#include "rp_system.h"


#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SYS_ALLOC, SYS_REALLOC, SYS_FREE };
#define SYS_FD 3             /* the socket, in the allocator's process */
#define MSG_WORDS (3 * 2730) /* a buffer of requests: 64 KiB */
#define SAMPLE_EVERY 4096    /* requests */
#define PAGE 4096u           /* the stride of the bytes written into a block */

/* What the allocator's process sends back. */
typedef struct rp_sys_result {
	char allocator[64];
	uint64_t ops;
	double ns_per_op;
	uint64_t heap_peak, heap_end, rss_start, rss_peak, rss_end;
} rp_sys_result;

struct rp_sys {
	pid_t pid;
	int fd;
	bool broken;        /* a send failed: the process is gone (rp_sys_end says why) */
	uint64_t next_id;   /* ids handed out: 1 .. next_id - 1 */
	uint64_t *free_ids; /* ids of freed blocks, reused last in first out */
	size_t nfree, cap_free;
	size_t nbuf;
	uint64_t buf[MSG_WORDS];
};

/* ---- the replay's side ---- */

static void flush(rp_sys *s)
{
	const char *p = (const char *)s->buf;
	size_t left = s->nbuf * sizeof(uint64_t);
	s->nbuf = 0;
	while (left && !s->broken) {
		ssize_t n = send(s->fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->broken = true;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
}

static void put(rp_sys *s, unsigned op, uint64_t id, uint64_t n, uint64_t old_n)
{
	if (s->nbuf + 3 > MSG_WORDS)
		flush(s);
	s->buf[s->nbuf++] = (uint64_t)op | id << 2;
	s->buf[s->nbuf++] = n;
	s->buf[s->nbuf++] = old_n;
}

int rp_sys_start(rp_sys **out, char *msg, size_t cap)
{
	*out = NULL;
	rp_sys *s = calloc(1, sizeof(*s));
	int sv[2];
	if (!s) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(msg, cap, "cannot make a socket: %s", strerror(errno));
		free(s);
		return -1;
	}
	s->pid = fork();
	if (s->pid == 0) { /* the allocator's process: its socket at SYS_FD, the rest closed */
		if (sv[1] == SYS_FD ? fcntl(SYS_FD, F_SETFD, 0) < 0 : dup2(sv[1], SYS_FD) < 0)
			_exit(127);
		char *argv[] = {"arenatrace", "__system", NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(sv[1]);
	if (s->pid < 0) {
		snprintf(msg, cap, "cannot start the allocator's process: %s", strerror(errno));
		close(sv[0]);
		free(s);
		return -1;
	}
	s->fd = sv[0];
	s->next_id = 1;
	*out = s;
	return 0;
}

uint64_t rp_sys_alloc(rp_sys *s, uint64_t n)
{
	if (n == UINT64_MAX)
		return 0; /* an overflowing calloc: nothing to ask for */
	uint64_t id = s->nfree ? s->free_ids[--s->nfree] : s->next_id++;
	put(s, SYS_ALLOC, id, n, 0);
	return id;
}

uint64_t rp_sys_realloc(rp_sys *s, uint64_t id, uint64_t old_n, uint64_t n)
{
	if (!id)
		return rp_sys_alloc(s, n);
	if (n == UINT64_MAX)
		return id; /* nothing asked: the block stays as it was */
	put(s, SYS_REALLOC, id, n, old_n);
	return id;
}

void rp_sys_free(rp_sys *s, uint64_t id, uint64_t old_n)
{
	if (!id)
		return;
	put(s, SYS_FREE, id, 0, old_n);
	if (s->nfree == s->cap_free) {
		size_t cap = s->cap_free ? 2 * s->cap_free : 1024;
		uint64_t *p = realloc(s->free_ids, cap * sizeof(*p));
		if (!p)
			return; /* the id is not reused: a higher one comes next */
		s->free_ids = p;
		s->cap_free = cap;
	}
	s->free_ids[s->nfree++] = id;
}

int rp_sys_end(rp_sys *s, rp_system *out, char *msg, size_t cap)
{
	flush(s);
	shutdown(s->fd, SHUT_WR);
	rp_sys_result res;
	size_t got = 0;
	while (got < sizeof(res)) {
		ssize_t n = read(s->fd, (char *)&res + got, sizeof(res) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(s->fd);
	int st = 0;
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	int rc = 0;
	if (WIFSIGNALED(st)) {
		snprintf(msg, cap, "the allocator's process was killed by signal %d", WTERMSIG(st));
		rc = -1;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) || got != sizeof(res)) {
		snprintf(msg, cap, "the allocator's process failed (exit status %d)",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		rc = -1;
	} else {
		res.allocator[sizeof(res.allocator) - 1] = 0;
		snprintf(out->allocator, sizeof(out->allocator), "%s", res.allocator);
		out->ops = res.ops;
		out->ns_per_op = res.ns_per_op;
		out->heap_peak = res.heap_peak;
		out->heap_end = res.heap_end;
		out->rss_start = res.rss_start;
		out->rss_peak = res.rss_peak;
		out->rss_end = res.rss_end;
	}
	free(s->free_ids);
	free(s);
	return rc;
}

/* ---- the allocator's process ---- */

/* VmRSS and RssAnon of this process, in bytes, read without allocating. */
static void resident(uint64_t *rss, uint64_t *anon)
{
	char buf[4096];
	*rss = *anon = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *p;
	if ((p = strstr(buf, "\nVmRSS:")))
		*rss = strtoull(p + 7, NULL, 10) << 10;
	if ((p = strstr(buf, "\nRssAnon:")))
		*anon = strtoull(p + 9, NULL, 10) << 10;
}

typedef struct child {
	void **tbl;          /* blocks by id, a mapping of its own */
	uint64_t cap, max_id;
	uint64_t anon0;      /* anonymous resident bytes before the first request */
	uint64_t live, sampled_live;
	uint64_t ticks;      /* TSC ticks inside the allocator's calls */
	rp_sys_result res;
} child;

/* Room for id in the table; false when it cannot grow. */
static bool room(child *c, uint64_t id)
{
	if (id < c->cap)
		return true;
	uint64_t cap = c->cap * 2 > id ? c->cap * 2 : id + 1;
	if (cap > (UINT64_MAX >> 4))
		return false;
	void *p = mremap(c->tbl, c->cap * sizeof(void *), cap * sizeof(void *), MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return false;
	c->tbl = p;
	c->cap = cap;
	return true;
}

/* The heap: anonymous resident memory beyond the start, less the table's
 * pages (ids are handed out densely, so every page up to the highest
 * one's was written). */
static void sample(child *c)
{
	uint64_t rss, anon;
	resident(&rss, &anon);
	uint64_t table = c->max_id ? (c->max_id * sizeof(void *) / PAGE + 1) * PAGE : 0;
	uint64_t heap = anon > c->anon0 + table ? anon - c->anon0 - table : 0;
	if (heap > c->res.heap_peak)
		c->res.heap_peak = heap;
	if (rss > c->res.rss_peak)
		c->res.rss_peak = rss;
	c->res.heap_end = heap;
	c->res.rss_end = rss;
	c->sampled_live = c->live;
}

static void touch(char *p, uint64_t from, uint64_t n)
{
	for (uint64_t i = from; i < n; i += PAGE)
		p[i] = 1;
}

/* One request; false for one that names no block this process can keep. */
static bool serve(child *c, const uint64_t *m)
{
	const unsigned op = (unsigned)(m[0] & 3);
	const uint64_t id = m[0] >> 2, n = m[1], old_n = m[2];
	if (!id || !room(c, id))
		return false;
	if (id > c->max_id)
		c->max_id = id;
	/* the moment the live bytes peak: before they drop */
	if (op != SYS_ALLOC && n < old_n + 1 && c->live > c->sampled_live + c->sampled_live / 64)
		sample(c);
	void *p = NULL;
	uint64_t t0 = __builtin_ia32_rdtsc();
	switch (op) {
	case SYS_ALLOC:
		p = malloc(n ? n : 1);
		break;
	case SYS_REALLOC:
		p = realloc(c->tbl[id], n ? n : 1);
		break;
	default:
		free(c->tbl[id]);
	}
	c->ticks += __builtin_ia32_rdtsc() - t0;
	if (op == SYS_FREE) {
		c->tbl[id] = NULL;
	} else if (p) { /* a failed realloc keeps its block */
		c->tbl[id] = p;
		touch(p, op == SYS_REALLOC ? old_n : 0, n);
	}
	c->live += (op == SYS_FREE ? 0 : n) - (op == SYS_ALLOC ? 0 : old_n);
	if (++c->res.ops % SAMPLE_EVERY == 0)
		sample(c);
	return true;
}

int rp_sys_serve(char *msg, size_t cap)
{
	msg[0] = '\0';
	static uint64_t in[MSG_WORDS];
	child c = {.cap = 1u << 16};
	Dl_info info;
	const char *name = dladdr((void *)malloc, &info) && info.dli_fname ? info.dli_fname : "?";
	const char *base = strrchr(name, '/');
	snprintf(c.res.allocator, sizeof(c.res.allocator), "%s", base ? base + 1 : name);
	c.tbl = mmap(NULL, c.cap * sizeof(void *), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c.tbl == MAP_FAILED) {
		snprintf(msg, cap, "__system: no memory for the block table");
		return -1;
	}
	memset(in, 0, sizeof(in)); /* its pages resident before the start */
	uint64_t rss;
	resident(&rss, &c.anon0);
	c.res.rss_start = c.res.rss_peak = rss;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const uint64_t tsc0 = __builtin_ia32_rdtsc();
	size_t have = 0; /* bytes in `in` */
	int rc = 0;
	for (;;) {
		ssize_t n = read(SYS_FD, (char *)in + have, sizeof(in) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 || have ? 1 : 0; /* EOF between requests is the end */
			break;
		}
		have += (size_t)n;
		size_t whole = have / (3 * sizeof(uint64_t));
		for (size_t k = 0; k < whole && rc == 0; k++)
			if (!serve(&c, &in[3 * k]))
				rc = 1;
		if (rc)
			break;
		have -= whole * 3 * sizeof(uint64_t);
		memmove(in, (char *)in + whole * 3 * sizeof(uint64_t), have);
	}
	sample(&c); /* the end, before the blocks go back */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	const uint64_t ticks = __builtin_ia32_rdtsc() - tsc0;
	if (ticks && c.res.ops)
		c.res.ns_per_op = (double)c.ticks * (ns / (double)ticks) / (double)c.res.ops;
	/* the blocks back, for leak checkers */
	for (uint64_t id = 1; id <= c.max_id; id++)
		free(c.tbl[id]);
	munmap(c.tbl, c.cap * sizeof(void *));
	if (rc) {
		snprintf(msg, cap, "__system: a request this process cannot make (a corrupt stream)");
		return -1;
	}
	const char *p = (const char *)&c.res;
	for (size_t left = sizeof(c.res); left;) {
		ssize_t n = write(SYS_FD, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			msg[0] = '\0'; /* the replay is gone: nobody to tell */
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

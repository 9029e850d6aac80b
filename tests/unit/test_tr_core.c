/*
 * test_tr_core.c - the tracer core linked directly, without LD_PRELOAD
 * (so it also runs under ASan and UBSan): stack interning; recording from
 * several threads at once (the owner's lock-free path, the switch to the
 * spinlock, sets handed to the drain process while others fill) read back
 * complete and in per-thread order; and the order across threads: blocks
 * freed by other threads than their allocator's and addresses reused
 * across threads come back in an order with no block allocated twice.
 */
#include "tr_internal.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- stacks ---- */

static tf_record seen[64];
static int nseen;
static uint64_t next_id = 1;

static int fake_put(tf_record *rec)
{
	rec->u.node.id = next_id++;
	seen[nseen++] = *rec;
	return 0;
}

static void test_stacks_intern(void **state)
{
	(void)state;
	void *a[] = {(void *)0x30, (void *)0x20, (void *)0x10}; /* innermost first */
	void *b[] = {(void *)0x40, (void *)0x20, (void *)0x10};
	tr_stacks_reset();
	next_id = 1, nseen = 0;
	assert_int_equal(tr_stacks_intern(a, 3, fake_put), 3);
	assert_int_equal(nseen, 3);
	assert_int_equal(seen[0].u.node.ip, 0x10); /* the root is the outermost frame */
	assert_int_equal(seen[0].u.node.parent, 0);
	assert_int_equal(seen[2].u.node.parent, 2);
	assert_int_equal(tr_stacks_intern(a, 3, fake_put), 3); /* cached */
	assert_int_equal(tr_stacks_intern(b, 3, fake_put), 4); /* shares 0x10 and 0x20 */
	assert_int_equal(nseen, 4);
	assert_int_equal(seen[3].u.node.parent, 2);
	assert_int_equal(tr_stacks_intern(a, 3, fake_put), 3); /* from the table */
	assert_int_equal(tr_stacks_intern(a + 1, 2, fake_put), 2); /* a prefix is a node */
	assert_int_equal(nseen, 4);
	void *d[] = {(void *)0x30, (void *)0x25, (void *)0x10}; /* a's leaf ip, another parent */
	assert_int_equal(tr_stacks_intern(d, 3, fake_put), 6);
	assert_int_equal(nseen, 6);
	assert_int_equal(tr_stacks_intern(a, 3, fake_put), 3);
	assert_int_equal(tr_stacks_intern(d, 3, fake_put), 6);
	assert_int_equal(tr_stacks_intern(a + 1, 2, fake_put), 2);
	assert_int_equal(tr_stacks_intern(a, 2, fake_put), 8); /* 0x30 under a new root 0x20 */
	assert_int_equal(nseen, 8);
	/* many distinct stacks: the table grows and keeps every node */
	void *c[2];
	for (uintptr_t i = 0; i < 20000; i++) {
		c[0] = (void *)(0x100000 + i), c[1] = (void *)0x10;
		nseen = 0;
		uint64_t id = tr_stacks_intern(c, 2, fake_put);
		assert_int_equal(id, 9 + i);
	}
	c[0] = (void *)0x100000;
	assert_int_equal(tr_stacks_intern(c, 2, fake_put), 9);
	tr_stacks_reset();
	next_id = 1, nseen = 0;
	assert_int_equal(tr_stacks_intern(a, 3, fake_put), 3); /* numbered afresh */
	assert_int_equal(nseen, 3);
	tr_stacks_reset();
}

/* Random stacks against the node records written: each leaf handed out
 * must be the node whose path to the root is the stack, and no (parent, ip)
 * may be written twice.  The stacks share outer frames with the one before
 * in every way a thread's do (a few inner frames changed, many changed,
 * deeper, shallower, an old stack again), so every way of finding a stack
 * is taken: the thread's last one, from the last one's nodes (a deep stack
 * with a few inner frames changed), the whole-stack table, node by node. */
#define ORACLE_MAX 400000
#define ORACLE_SLOTS_LOG 19 /* more slots than nodes: the probes end */
static struct {
	uint64_t parent, ip;
} oracle[ORACLE_MAX + 1];
static uint64_t oracle_n;
static uint32_t oracle_by[1u << ORACLE_SLOTS_LOG]; /* (parent, ip) -> id, open addressing */

static int oracle_put(tf_record *rec)
{
	assert_int_equal(rec->kind, TF_STACK);
	assert_true(oracle_n < ORACLE_MAX);
	assert_true(rec->u.node.parent <= oracle_n); /* its parent came first */
	uint64_t h = (rec->u.node.parent * 0x9E3779B97F4A7C15ull) ^ rec->u.node.ip;
	uint32_t at = (uint32_t)(h * 0x9E3779B97F4A7C15ull >> (64 - ORACLE_SLOTS_LOG));
	for (; oracle_by[at]; at = (at + 1) & ((1u << ORACLE_SLOTS_LOG) - 1)) { /* no node written twice */
		uint32_t o = oracle_by[at];
		assert_false(oracle[o].parent == rec->u.node.parent && oracle[o].ip == rec->u.node.ip);
	}
	oracle_by[at] = (uint32_t)(oracle_n + 1);
	rec->u.node.id = ++oracle_n;
	oracle[oracle_n].parent = rec->u.node.parent;
	oracle[oracle_n].ip = rec->u.node.ip;
	return 0;
}

static void test_stacks_random_against_records(void **state)
{
	(void)state;
	tr_stacks_reset();
	oracle_n = 0;
	memset(oracle_by, 0, sizeof(oracle_by));
	uint64_t rng = 0x2545F4914F6CDD1Dull;
#define RND(k) (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, (int)(rng % (uint64_t)(k)))
	void *cur[TR_MAX_DEPTH], *kept[16][TR_MAX_DEPTH];
	int n = 0, kept_n[16] = {0};
	for (int step = 0; step < 20000; step++) {
		const int how = RND(10);
		if (how < 6) { /* a few inner frames replaced */
			int drop = RND(n + 1 < 5 ? n + 1 : 5), add = RND(n > 40 ? 1 : 5); /* depth about 40 at most */
			n -= drop;
			while (add-- && n < TR_MAX_DEPTH) {
				memmove(cur + 1, cur, (size_t)n * sizeof(*cur));
				cur[0] = (void *)(uintptr_t)(0x1000 + 16 * RND(12)); /* few ips: nodes recur */
				n++;
			}
		} else if (how < 8) { /* most of the stack replaced, up to the whole depth */
			int keep = RND(n < 20 ? n + 1 : 20), depth = keep + 9 + RND(12);
			if (step == 19999)
				depth = TR_MAX_DEPTH; /* once, the deepest a stack can be */
			memmove(cur + (depth - keep), cur + (n - keep), (size_t)keep * sizeof(*cur));
			for (int i = 0; i < depth - keep; i++)
				cur[i] = (void *)(uintptr_t)(0x1000 + 16 * RND(12));
			n = depth;
		} else if (how < 9) { /* one kept earlier, again */
			int k = RND(16);
			memcpy(cur, kept[k], (size_t)kept_n[k] * sizeof(*cur));
			n = kept_n[k];
		} else { /* kept for later */
			int k = RND(16);
			memcpy(kept[k], cur, (size_t)n * sizeof(*cur));
			kept_n[k] = n;
		}
		if (!n)
			continue;
		uint64_t id = tr_stacks_intern(cur, n, oracle_put);
		assert_true(id >= 1 && id <= oracle_n);
		for (int i = 0; i < n; i++) { /* the path from the leaf up is the stack */
			assert_true(id >= 1);
			assert_int_equal(oracle[id].ip, (uint64_t)(uintptr_t)cur[i]);
			id = oracle[id].parent;
		}
		assert_int_equal(id, 0);
	}
#undef RND
	assert_true(oracle_n > 1000); /* the stacks were varied enough to add nodes throughout */
	tr_stacks_reset();
}

/* ---- recording from threads ---- */

#define NTHREADS 4
#define PER_THREAD 20000

static void *worker(void *arg)
{
	uintptr_t base = (uintptr_t)arg << 32;
	for (uintptr_t i = 0; i < PER_THREAD; i++) {
		tf_alloc a = {.addr = base + 16 * (i + 1), .size = i % 500};
		tr_event(TF_MALLOC, &a, NULL, 0);
		tr_event(TF_FREE, &(tf_alloc){.addr = a.addr}, NULL, 0);
	}
	return NULL;
}

static void test_threads_record_in_order(void **state)
{
	(void)state;
	char dir[] = "/tmp/tr-core-XXXXXX";
	assert_non_null(mkdtemp(dir));
	tr_config c;
	memset(&c, 0, sizeof(c));
	c.stacks = false;
	c.follow_fork = true;
	c.depth = 1;
	snprintf(c.output, sizeof(c.output), "%s/t.atr", dir);
	const char *b = getenv("ARENATRACE_BUILD"); /* tests/run.sh sets it */
	snprintf(c.drain, sizeof(c.drain), "%s/arenatrace-drain", b ? b : "build");
	assert_true(tr_start(&c, NULL));
	worker((void *)1); /* the owner alone: the lock-free path */
	pthread_t th[NTHREADS];
	for (uintptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(i + 2));
	worker((void *)(NTHREADS + 2)); /* the owner again, now with others */
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	tr_finish(TF_END_EXIT, 0);
	assert_false(tr_recording());

	tf_reader *r;
	char err[256];
	assert_int_equal(tf_reader_open_file(&r, c.output, err, sizeof(err)), 0);
	uint64_t next[NTHREADS + 3] = {0}, events = 0;
	tf_record rec;
	int rc;
	bool live[NTHREADS + 3] = {0};
	while ((rc = tf_reader_next(r, &rec)) == 1) {
		if (rec.kind != TF_MALLOC && rec.kind != TF_FREE)
			continue;
		events++;
		unsigned who = (unsigned)(rec.u.alloc.addr >> 32);
		uint64_t i = ((rec.u.alloc.addr & 0xffffffffu) / 16) - 1;
		assert_true(who >= 1 && who < NTHREADS + 3);
		/* each worker's events arrive complete and in its program order */
		if (rec.kind == TF_MALLOC) {
			assert_false(live[who]);
			assert_int_equal(i, next[who]);
			assert_int_equal(rec.u.alloc.size, i % 500);
			live[who] = true;
		} else {
			assert_true(live[who]);
			assert_int_equal(i, next[who]);
			live[who] = false;
			next[who]++;
		}
	}
	assert_int_equal(rc, 0);
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	assert_true(st.complete);
	assert_int_equal(events, (NTHREADS + 2) * PER_THREAD * 2);
	tf_reader_free(r);
	unlink(c.output);
	rmdir(dir);
}

/* ---- the order across threads ----
 *
 * A few addresses go round the threads: thread i "allocates" an address
 * from its pool and hands the block to thread i + 1, which "frees" it into
 * the pool of thread i + 2.  They record as the preload shim does: an
 * allocation once the address is taken, a free before the address goes
 * on.  So every free is of another thread's block and every allocation
 * reuses an address another thread freed, the moment it was passed on:
 * the trace is consistent only if the records of all threads are in one
 * order, the order the calls were made in (per-thread order is not
 * enough). */

#define XT_THREADS 4
#define XT_FREES 80000
#define XT_BLOCKS 32

static struct {
	pthread_mutex_t mu;
	uintptr_t pool[XT_THREADS][XT_BLOCKS], inbox[XT_THREADS][XT_BLOCKS];
	int npool[XT_THREADS], ninbox[XT_THREADS];
	int frees; /* taken from an inbox */
} xt = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void xt_put(uintptr_t (*to)[XT_BLOCKS], int *n, int who, uintptr_t a)
{
	pthread_mutex_lock(&xt.mu);
	to[who][n[who]++] = a;
	pthread_mutex_unlock(&xt.mu);
}

static void *xt_worker(void *arg)
{
	int me = (int)(uintptr_t)arg, next = (me + 1) % XT_THREADS;
	for (;;) {
		uintptr_t a = 0, victim = 0;
		pthread_mutex_lock(&xt.mu);
		bool done = xt.frees >= XT_FREES;
		if (!done && xt.ninbox[me]) {
			victim = xt.inbox[me][--xt.ninbox[me]];
			xt.frees++;
		} else if (!done && xt.npool[me]) {
			a = xt.pool[me][--xt.npool[me]];
		}
		pthread_mutex_unlock(&xt.mu);
		if (done)
			return NULL;
		if (a) { /* the address is this thread's, then recorded */
			tr_event(TF_MALLOC, &(tf_alloc){.addr = a, .size = 16}, NULL, 0);
			xt_put(xt.inbox, xt.ninbox, next, a);
		} else if (victim) { /* recorded, then the address goes on */
			tr_event(TF_FREE, &(tf_alloc){.addr = victim}, NULL, 0);
			xt_put(xt.pool, xt.npool, next, victim);
		} else {
			sched_yield();
		}
	}
}

/* tr_start into a fresh directory; the trace's path in c->output. */
static void start_trace(tr_config *c, char *dir)
{
	assert_non_null(mkdtemp(dir));
	memset(c, 0, sizeof(*c));
	c->stacks = false;
	c->follow_fork = true;
	c->depth = 1;
	snprintf(c->output, sizeof(c->output), "%s/t.atr", dir);
	const char *b = getenv("ARENATRACE_BUILD"); /* tests/run.sh sets it */
	snprintf(c->drain, sizeof(c->drain), "%s/arenatrace-drain", b ? b : "build");
	assert_true(tr_start(c, NULL));
}

static void test_threads_global_order(void **state)
{
	(void)state;
	char dir[] = "/tmp/tr-core-XXXXXX";
	tr_config c;
	for (int i = 0; i < XT_BLOCKS; i++)
		xt_put(xt.pool, xt.npool, i % XT_THREADS, 0x1000 + 16 * (uintptr_t)i);
	start_trace(&c, dir);
	pthread_t th[XT_THREADS];
	for (uintptr_t i = 0; i < XT_THREADS; i++)
		pthread_create(&th[i], NULL, xt_worker, (void *)i);
	for (int i = 0; i < XT_THREADS; i++)
		pthread_join(th[i], NULL);
	tr_finish(TF_END_EXIT, 0);

	tf_reader *r;
	char err[256];
	assert_int_equal(tf_reader_open_file(&r, c.output, err, sizeof(err)), 0);
	uint32_t owner[XT_BLOCKS] = {0}, freer[XT_BLOCKS] = {0}; /* thread ids; 0: none */
	uint64_t allocs = 0, frees = 0, cross_frees = 0, cross_reuses = 0;
	tf_record rec;
	int rc;
	while ((rc = tf_reader_next(r, &rec)) == 1) {
		if (rec.kind != TF_MALLOC && rec.kind != TF_FREE)
			continue;
		size_t k = (rec.u.alloc.addr - 0x1000) / 16;
		assert_true(k < XT_BLOCKS);
		if (rec.kind == TF_MALLOC) {
			assert_int_equal(owner[k], 0); /* never over a live block */
			allocs++;
			cross_reuses += freer[k] && freer[k] != rec.thread;
			owner[k] = rec.thread;
		} else {
			assert_int_not_equal(owner[k], 0); /* never a block not allocated */
			frees++;
			cross_frees += owner[k] != rec.thread;
			freer[k] = rec.thread;
			owner[k] = 0;
		}
	}
	assert_int_equal(rc, 0);
	tf_reader_free(r);
	/* not vacuous: every free is of another thread's block, every
	 * allocation past the first round at an address another thread freed */
	assert_int_equal(frees, XT_FREES);
	assert_int_equal(cross_frees, XT_FREES);
	assert_true(cross_reuses >= allocs - XT_BLOCKS);
	unlink(c.output);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stacks_intern),
	    cmocka_unit_test(test_stacks_random_against_records),
	    cmocka_unit_test(test_threads_record_in_order),
	    cmocka_unit_test(test_threads_global_order),
	};
	return cmocka_run_group_tests_name("tr_core", tests, NULL, NULL);
}

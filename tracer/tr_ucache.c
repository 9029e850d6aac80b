/*
 * tr_ucache.c - reusing an unwound native stack when the stack's memory
 * shows it has not changed.
 *
 * Most allocations come from a stack seen just before: a loop calls
 * malloc from the same place, at the same depth.  Unwinding it again
 * (libunwind's unw_backtrace: a context save and a table lookup a frame)
 * was most of what a stack costs.  Each thread keeps up to 64 stacks here
 * (16 sets of 4, in a table of its own mapped at its first stack and
 * unmapped when it exits), each under its key (tr_ukey: the return address
 * into the function that called the tracer, and the caller's stack
 * pointer), with the places in the stack that unwinding it read: where
 * each frame's return address is kept, and where the rbp of each frame
 * whose CFA may come from rbp is.  When the key matches and every one of
 * those words still holds what it held, unwinding again would start from
 * the same registers, read the same words at the same places, and find the
 * same frames:
 *  - a frame whose CFA is its stack pointer plus a constant has the same
 *    CFA, since its stack pointer is the inner frame's CFA;
 *  - a frame whose CFA is rbp-based has the same rbp: the key's (then
 *    compared too), or one read from a checked slot.  Whether a CFA may be
 *    rbp-based is judged from rbp when the stack is learnt (rbp_based):
 *    code without a frame pointer keeps data in rbp;
 *  - a frame that realigned its stack (gcc's DRAP: the CFA read from
 *    rbp - 8) has that word checked too, whenever it held the CFA when the
 *    stack was learnt.
 * A frame whose return address is not in memory (a signal frame) or any
 * other surprise while learning leaves the stack uncached.  What is not
 * covered: a CFA computed from another register (hand-written unwind
 * tables), and an unwinder that stopped on reading a zero return address
 * that is no longer zero; both are beyond what compilers emit for a call
 * site.
 *
 * A stack is learnt (unwound a second time, frame by frame, with
 * unw_step, to find those places) only once its key has come a few times
 * while the thread kept it, and only while the thread's hits pay for its
 * learning (UC_LEARN_AFTER and below): stacks that do not repeat cost
 * little more than before (a table lookup, a learn now and then).
 *
 * One key may have several stacks: the interpreter's allocator calls the
 * hook from one place for all objects, and callers at one depth give it
 * one stack pointer.  So a stack that fails its check stays while another
 * of its key's is learnt (a key's entries are all checked, and a hit is
 * one whose every word matched); after UC_GIVE_UP failures in a row, with
 * no other stack of its key met meanwhile, a stack goes: if it was never
 * hit since it was learnt, its key is given up for its next UC_RETRY
 * misses (its stacks do not repeat).
 *
 * ARENATRACE_STACK_CACHE=0 turns the cache off; =check:FILE unwinds every
 * hit in full too and appends "pid P hits N wrong M" to FILE at exit (the
 * tests' proof that a hit is always the stack the unwinder gives).
 */
#define UNW_LOCAL_ONLY
#include "tr_ucache.h"
#include "tr_internal.h"

#include "tr_env.h"

#include <fcntl.h>
#include <libunwind.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UC_SETS 16     /* a thread keeps UC_SETS * UC_WAYS stacks */
#define UC_WAYS 4
/* Deeper stacks are not kept.  The default depth: a Python before 3.11
 * calls its eval loop again for every Python call, so that a dozen Python
 * calls make some 50 C frames (tests/e2e/test_stack_cache.sh: with 32, none
 * of such a program's stacks was kept, and it ran 25% slower). */
#define UC_FRAMES 64
#define UC_EXTRA 12    /* rbp slots and realigned frames' words a stack checks */
#define UC_GIVE_UP 3   /* failed checks in a row before a stack goes */
#define UC_RETRY 255   /* for so many of its misses */
/* Learning a stack costs what about a hundred hits save: measured on
 * gcc's cc1, 26 us a learn (1.5 us a frame: libunwind's slow path finds
 * each frame's unwind table anew) against 370 ns a full unwind (19 ns a
 * frame) that a hit saves less its checks.  So a key is learnt only the
 * UC_LEARN_AFTER-th time it comes, and a thread learns on credit: a learn
 * costs UC_LEARN_COST, a hit earns UC_HIT, a key that could be learnt but
 * is not earns 2, so that a thread whose stacks stop repeating learns once
 * in some 12,800 such keys (0.5% of their unwinding), and one whose stacks
 * repeat, as often as they pay. */
#define UC_LEARN_AFTER 4
#define UC_HIT 256
#define UC_LEARN_COST (100 * UC_HIT)
#define UC_BUDGET (8 * UC_LEARN_COST)  /* what a thread may spend ahead */
#define UC_SAVINGS (56 * UC_LEARN_COST) /* what it may earn ahead */

enum { EMPTY, SEEN, READY, GIVEN_UP };

/* The words checked are at offsets from the key's stack pointer: they are
 * all in the frames above it. */
typedef struct {
	tr_ukey key;
	uint32_t used;     /* the thread's tick when last used: the oldest is replaced */
	uint8_t state, fails, n, nextra;
	uint8_t seen;      /* times the key came while SEEN, or GIVEN_UP */
	uint8_t need_bp;   /* a frame's CFA may depend on the key's rbp */
	uint32_t at[UC_FRAMES];   /* where ips[i] is kept (i >= 1) */
	uint32_t xat[UC_EXTRA];   /* where the extra words are */
	uintptr_t ips[UC_FRAMES];
	uintptr_t xval[UC_EXTRA]; /* and what they hold */
} entry;

typedef struct {
	entry e[UC_SETS][UC_WAYS];
} table;

static __thread struct {
	int busy;    /* inside get or put (enter, leave) */
	int dead;    /* the thread is exiting: its table is gone */
	uint32_t tick;
	int64_t spent; /* learning's cost less what was earned: at most UC_BUDGET */
	table *t;
} U __attribute__((tls_model("initial-exec")));

int tr_ucache_mode = TR_UCACHE_ON;

/* A thread's table goes when it exits (the key's destructor; the
 * destructors' later allocations unwind in full). */
static pthread_key_t table_key;

static void table_drop(void *t)
{
	U.t = NULL;
	U.dead = 1;
	tr_mmap_free(NULL, t);
}

static inline entry *set_of(table *t, const tr_ukey *k)
{
	uint64_t h = (k->ra ^ (k->sp >> 4)) * 0x9e3779b97f4a7c15ull;
	return t->e[h >> 60];
}

static inline bool key_is(const entry *e, const tr_ukey *k)
{
	return e->key.ra == k->ra && e->key.sp == k->sp;
}

/* The key's entry that is not (yet, or any longer) a stack to check: SEEN
 * before GIVEN_UP; NULL when it has none. */
static inline entry *learner(const tr_ukey *k)
{
	entry *set = set_of(U.t, k), *given_up = NULL;
	for (int i = 0; i < UC_WAYS; i++)
		if (key_is(&set[i], k)) {
			if (set[i].state == SEEN)
				return &set[i];
			if (set[i].state == GIVEN_UP)
				given_up = &set[i];
		}
	return given_up;
}

/* A signal handler that allocates while this thread is in get or put
 * finds busy set, and unwinds in full: it never sees an entry half
 * written, nor changes the one being read. */
static inline bool enter(void)
{
	if (U.busy)
		return false;
	U.busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return true;
}

static inline void leave(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	U.busy = 0;
}

/* Whether the words e checks hold what they held when it was learnt. */
__attribute__((no_sanitize("address"))) static inline bool matches(const entry *e,
								  const tr_ukey *k)
{
	bool same = !e->need_bp || e->key.bp == k->bp;
	for (unsigned i = 1; i < e->n; i++)
		same &= *(const volatile uintptr_t *)(k->sp + e->at[i]) == e->ips[i];
	for (unsigned i = 0; i < e->nextra; i++)
		same &= *(const volatile uintptr_t *)(k->sp + e->xat[i]) == e->xval[i];
	return same;
}

/* The words read are the caller's stack frames, above the wrapper's.  A
 * READY entry's seen: whether it was hit since it was learnt. */
__attribute__((no_sanitize("address"))) int tr_ucache_get(const tr_ukey *k, void **ips, int max)
{
	if (!enter())
		return -1;
	entry *set = U.t ? set_of(U.t, k) : NULL, *e = NULL;
	for (int i = 0; set && i < UC_WAYS && !e; i++)
		if (set[i].state == READY && key_is(&set[i], k) && matches(&set[i], k))
			e = &set[i];
	if (!e) { /* none of the key's stacks: each counts a failure */
		for (int i = 0; set && i < UC_WAYS; i++)
			if (set[i].state == READY && key_is(&set[i], k) && ++set[i].fails >= UC_GIVE_UP) {
				set[i].state = set[i].seen ? EMPTY : GIVEN_UP;
				set[i].seen = 0;
			}
		leave();
		return -1;
	}
	e->fails = 0;
	e->seen = 1;
	e->used = ++U.tick;
	if (U.spent > -UC_SAVINGS)
		U.spent -= UC_HIT;
	unsigned n = e->n;
	if ((int)n > max)
		n = (unsigned)max;
	memcpy(ips, e->ips, n * sizeof(*ips));
	leave();
	return (int)n;
}

/* A word to check, at addr (in the frames above k->sp). */
static bool add(entry *e, const tr_ukey *k, uintptr_t addr, uintptr_t val)
{
	if (addr < k->sp || addr - k->sp > UINT32_MAX)
		return false;
	uint32_t at = (uint32_t)(addr - k->sp);
	for (unsigned i = 0; i < e->nextra; i++)
		if (e->xat[i] == at)
			return e->xval[i] == val;
	if (e->nextra == UC_EXTRA)
		return false;
	e->xat[e->nextra] = at;
	e->xval[e->nextra++] = val;
	return true;
}

/* Whether a frame's CFA may be rbp-based: rbp a little below it (a frame
 * pointer is the CFA - 16), or the word under rbp holding it (a realigned
 * frame).  Code without a frame pointer keeps data in rbp, which then
 * need not match for the stack to be the same. */
static bool rbp_based(uintptr_t rbp, uintptr_t cfa)
{
	return rbp < cfa && cfa - rbp <= 512 && rbp % sizeof(uintptr_t) == 0;
}

/* Unwinds again from here, frame by frame, to the frame the key names and
 * on through ips[1..n), noting where each frame's return address and rbp
 * were read from.  false (nothing kept) on any frame it cannot vouch for. */
__attribute__((noinline, no_sanitize("address"))) static bool learn(entry *e, const tr_ukey *k,
								   void *const *ips, int n)
{
	unw_context_t uc;
	unw_cursor_t c;
	if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
		return false;
	unw_word_t ip = 0, sp = 0, bp = 0;
	for (int steps = 0;; steps++) {
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0)
			return false;
		if (ip == k->ra)
			break;
		if (steps > TR_CAPTURE_SKIP + 4 || unw_step(&c) <= 0)
			return false;
	}
	if (unw_get_reg(&c, UNW_REG_SP, &sp) < 0 || unw_get_reg(&c, UNW_X86_64_RBP, &bp) < 0 ||
	    sp != k->sp || bp != k->bp)
		return false;
	/* frame i: its stack pointer, its rbp and where that was read from
	 * (0: still the key's) */
	uintptr_t sps[UC_FRAMES], rbps[UC_FRAMES], rbp_at[UC_FRAMES];
	sps[0] = sp, rbps[0] = bp, rbp_at[0] = 0;
	uintptr_t hi = k->sp; /* the highest word read: the stack from k->sp to it is mapped */
	e->nextra = 0;
	e->need_bp = 0;
	for (int i = 1; i < n; i++) {
		unw_save_loc_t loc;
		if (unw_step(&c) <= 0 || unw_get_reg(&c, UNW_REG_IP, &ip) < 0 ||
		    ip != (uintptr_t)ips[i] || unw_get_reg(&c, UNW_REG_SP, &sp) < 0 ||
		    unw_get_reg(&c, UNW_X86_64_RBP, &bp) < 0)
			return false;
		sps[i] = sp, rbps[i] = bp;
		/* the return address: in memory, in the program's frames */
		if (unw_get_save_loc(&c, UNW_REG_IP, &loc) < 0 || loc.type != UNW_SLT_MEMORY ||
		    loc.u.addr < k->sp || loc.u.addr % sizeof(uintptr_t) ||
		    *(uintptr_t *)loc.u.addr != ip || loc.u.addr - k->sp > UINT32_MAX)
			return false;
		e->at[i] = (uint32_t)(loc.u.addr - k->sp);
		if (loc.u.addr > hi)
			hi = loc.u.addr;
		/* rbp: saved in a program frame, or still the key's (saved in
		 * the tracer's frames, or in its register); else unknown (1) */
		rbp_at[i] = 1;
		if (unw_get_save_loc(&c, UNW_X86_64_RBP, &loc) == 0 && loc.type == UNW_SLT_MEMORY) {
			if (loc.u.addr >= k->sp && loc.u.addr % sizeof(uintptr_t) == 0 &&
			    *(uintptr_t *)loc.u.addr == bp)
				rbp_at[i] = loc.u.addr;
			else if (loc.u.addr < k->sp && bp == k->bp)
				rbp_at[i] = 0;
		}
	}
	/* the rbp of every frame whose CFA may come from it, and a realigned
	 * frame's word under rbp */
	for (int i = 0; i + 1 < n; i++) {
		uintptr_t cfa = sps[i + 1], w = rbps[i] - sizeof(uintptr_t);
		bool drap = rbps[i] % sizeof(uintptr_t) == 0 && w >= k->sp && w <= hi &&
			    *(uintptr_t *)w == cfa;
		if (!drap && !rbp_based(rbps[i], cfa))
			continue;
		if (rbp_at[i] == 1)
			return false;
		if (rbp_at[i] == 0)
			e->need_bp = 1;
		else if (rbp_at[i] > hi || !add(e, k, rbp_at[i], rbps[i]))
			return false;
		if (drap && !add(e, k, w, cfa))
			return false;
	}
	for (int i = 0; i < n; i++)
		e->ips[i] = (uintptr_t)ips[i];
	e->n = (uint8_t)n;
	return true;
}

static void put(const tr_ukey *k, void *const *ips, int n)
{
	if (!U.t) { /* the thread's first stack */
		if (U.dead || !(U.t = tr_mmap_alloc(NULL, sizeof(table))))
			return;
		pthread_setspecific(table_key, U.t);
	}
	entry *e = learner(k);
	if (!e) { /* a new stack: remembered, learnt if its key comes again */
		entry *set = set_of(U.t, k);
		e = &set[0];
		for (int i = 1; i < UC_WAYS && e->state != EMPTY; i++)
			if (set[i].state == EMPTY || set[i].used < e->used)
				e = &set[i];
		e->key = *k;
		e->state = SEEN;
		e->fails = 0;
		e->seen = 1;
		e->used = ++U.tick;
		return;
	}
	e->used = ++U.tick;
	if (e->state == GIVEN_UP && ++e->seen == UC_RETRY) { /* another try, after a while */
		e->state = SEEN;
		e->fails = 0;
		e->seen = 0;
	}
	if (e->state != SEEN)
		return;
	if (e->seen < UC_LEARN_AFTER - 1) {
		e->seen++;
		return;
	}
	if (U.spent + UC_LEARN_COST > UC_BUDGET) {
		U.spent -= 2;
		return;
	}
	U.spent += UC_LEARN_COST;
	e->key.bp = k->bp;
	e->state = learn(e, k, ips, n) ? READY : GIVEN_UP;
	e->fails = 0;
	e->seen = 0;
}

void tr_ucache_put(const tr_ukey *k, void *const *ips, int n)
{
	if (n <= 0 || n > UC_FRAMES || (uintptr_t)ips[0] != k->ra || !enter())
		return;
	put(k, ips, n);
	leave();
}

static uint64_t hits, wrong;
static char check_file[PATH_MAX];

void tr_ucache_checked(bool same)
{
	__atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED);
	if (!same)
		__atomic_add_fetch(&wrong, 1, __ATOMIC_RELAXED);
}

void tr_ucache_setup(void)
{
	/* pthread_setspecific allocates for keys past the first 32: without
	 * one of those, no cache */
	if (pthread_key_create(&table_key, table_drop) != 0) {
		tr_ucache_mode = TR_UCACHE_OFF;
		return;
	}
	if (table_key >= 32) {
		pthread_key_delete(table_key);
		tr_ucache_mode = TR_UCACHE_OFF;
		return;
	}
	const char *v = tr_env_get("ARENATRACE_STACK_CACHE");
	if (!v || !*v)
		return;
	if (!strncmp(v, "check:", 6) && v[6]) {
		snprintf(check_file, sizeof(check_file), "%s", v + 6);
		tr_ucache_mode = TR_UCACHE_CHECK;
	} else if (v[0] == '0' || !strcmp(v, "off")) {
		tr_ucache_mode = TR_UCACHE_OFF;
	}
}

void tr_ucache_report(void)
{
	if (tr_ucache_mode != TR_UCACHE_CHECK)
		return;
	int fd = open(check_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[96];
	int len = snprintf(line, sizeof(line), "pid %d hits %llu wrong %llu\n", (int)getpid(),
			   (unsigned long long)__atomic_load_n(&hits, __ATOMIC_RELAXED),
			   (unsigned long long)__atomic_load_n(&wrong, __ATOMIC_RELAXED));
	ssize_t k = write(fd, line, (size_t)len);
	(void)k;
	close(fd);
}

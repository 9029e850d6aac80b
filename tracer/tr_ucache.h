/*
 * tr_ucache.h - a per-thread cache of unwound native stacks, each checked
 * against the stack's memory before it is reused (tr_ucache.c).
 */
#ifndef TR_UCACHE_H
#define TR_UCACHE_H

#include <stdbool.h>
#include <stdint.h>

/* Where a wrapper was called from: the return address into its caller,
 * the caller's stack pointer after the return, and the caller's rbp
 * (compared only for stacks whose CFA may come from it).  A wrapper built
 * with a frame pointer reads all three off its frame. */
typedef struct tr_ukey {
	uintptr_t ra, sp, bp;
} tr_ukey;

/* A compound literal (an lvalue: &TR_UKEY_HERE() is fine), read in the
 * function that calls it, which thereby gets a frame pointer. */
#define TR_UKEY_HERE()                                                                      \
	((tr_ukey){(uintptr_t)__builtin_return_address(0),                                  \
		   (uintptr_t)__builtin_frame_address(0) + 2 * sizeof(uintptr_t),           \
		   *(const uintptr_t *)__builtin_frame_address(0)})

/* ARENATRACE_STACK_CACHE: 1 (default) on, 0 off, check: every hit is also
 * unwound in full and compared (the tests' mode; a mismatch is counted). */
extern int tr_ucache_mode __attribute__((visibility("hidden")));
enum { TR_UCACHE_OFF, TR_UCACHE_ON, TR_UCACHE_CHECK };

/* The stack last unwound from key, into ips (innermost first, at most
 * max frames), when the memory it was read from still says the same:
 * its number of frames, else -1. */
int tr_ucache_get(const tr_ukey *key, void **ips, int max);

/* After a full unwind from key gave ips[0..n) (the caller's frames only,
 * truncated at the recording depth or not): remembers key; once a key has
 * come a few times (and the thread's hits pay for it), unwinds again frame
 * by frame to learn which stack words get must check. */
void tr_ucache_put(const tr_ukey *key, void *const *ips, int n);

/* Reads ARENATRACE_STACK_CACHE (at start); appends the check mode's line
 * to its file (at exit). */
void tr_ucache_setup(void);
void tr_ucache_report(void);

/* In check mode, after a hit: whether its full unwind was the same. */
void tr_ucache_checked(bool same);

#endif

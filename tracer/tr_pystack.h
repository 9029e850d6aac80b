/*
 * tr_pystack.h - Python frames in the call stacks of a CPython process
 * (tr_pystack.c): read from the thread's own frame chain, merged into the
 * native stack, and their code objects described for py_code records.
 */
#ifndef ARENATRACE_TR_PYSTACK_H
#define ARENATRACE_TR_PYSTACK_H

#include "tf.h"

#include <stdbool.h>
#include <stdint.h>

/* Nonzero once tr_pystack_setup found the interpreter's frames readable. */
extern int tr_pystacks __attribute__((visibility("hidden")));

/* Whether the OBJ block the tracer sees freed at `block` may be a code
 * object (the caller then asks the stack table, tr_stacks_code_freed, at
 * block + tr_pyobj_header).  Under CPython's debug hooks the tracer sees
 * their blocks, which start with two words of their own before the
 * object, and the hooks fill a block with dead bytes before freeing it:
 * then every block may be.  Otherwise the object is still whole when its
 * block is freed, and its type says. */
extern uintptr_t tr_pycode_type __attribute__((visibility("hidden")));
extern unsigned tr_pyobj_header __attribute__((visibility("hidden")));
static inline bool tr_pystack_maybe_code(uint64_t block)
{
	return tr_pyobj_header || (tr_pycode_type && *(const uintptr_t *)(uintptr_t)(block + 8) ==
							 tr_pycode_type);
}

/* For CPython 3.minor, after the allocator hooks are in (tr_python.c).
 * false (and no Python frames) for a version, or a build, whose layout the
 * tracer does not know (tr_pylayout.h). */
bool tr_pystack_setup(int minor);

/* frames[0..n) is the caller's native stack, innermost first, with room
 * for depth entries; rewrites it as the hybrid stack: each native frame of
 * the evaluation loop replaced by the Python frames it runs (FORMAT.md
 * §5.5), at most depth frames, the innermost.  n may be 0 (no native
 * stack: the Python frames only).  Returns the new count.  Reads only the
 * calling thread's own frames; allocates nothing, takes no lock. */
int tr_pystack_merge(void **frames, int n, int depth);

/* A Python frame as stacks hold it inside the tracer: the top bit, the
 * code object's address / 16 and the instruction's offset in 2-byte code
 * units (clamped below 2^20: 2 MiB of bytecode). */
#define TR_PYF_BIT (1ull << 63)
#define TR_PYF_UNITS 20
static inline uint64_t tr_pyf(uintptr_t code, uint64_t units)
{
	if (units >= (1u << TR_PYF_UNITS))
		units = (1u << TR_PYF_UNITS) - 1;
	return TR_PYF_BIT | (uint64_t)(code >> 4) << TR_PYF_UNITS | units;
}
static inline bool tr_is_pyf(uint64_t f)
{
	return f & TR_PYF_BIT;
}
static inline uintptr_t tr_pyf_code(uint64_t f)
{
	return (uintptr_t)((f & ~TR_PYF_BIT) >> TR_PYF_UNITS) << 4;
}
static inline uint64_t tr_pyf_offset(uint64_t f) /* in bytes */
{
	return (f & ((1u << TR_PYF_UNITS) - 1)) * 2;
}

/* The fields of a py_code record for the live code object at code (its
 * strings point into the object, or into buffers of this file that the
 * next call reuses: call it under tr_lock).  false when code does not
 * look like a code object. */
bool tr_pystack_code(uintptr_t code, tf_py_code *out);

#endif

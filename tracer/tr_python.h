/*
 * tr_python.h - the CPython hooks (tr_python.c) as the preload shim calls
 * them.
 */
#ifndef ARENATRACE_TR_PYTHON_H
#define ARENATRACE_TR_PYTHON_H

/* Detects CPython and installs the allocator hooks; returns the version
 * string ("3.12.1") or NULL when this is not a CPython 3.8+ process. */
const char *tr_python_setup(void);

/* Nonzero from tr_python_setup until CPython's allocator domains are
 * final: pre-initialisation (PYTHONMALLOC, -X dev) may replace the ones
 * the constructor wrapped, and allocates only through the malloc family
 * meanwhile.  While it is, the malloc, calloc, realloc and free wrappers
 * call tr_python_settle() first, which wraps the new domains before the
 * interpreter's first request (tracer/README.md, CPython).  It needs no
 * lock and allocates nothing.  Nonzero again from the end of each
 * Py_FinalizeEx to the next initialisation's first request, which may
 * find the domains reset (TR_WATCH_REINIT). */
extern int tr_python_watch;
void tr_python_settle(void);
static inline void tr_python_look(void)
{
	if (__builtin_expect(__atomic_load_n(&tr_python_watch, __ATOMIC_RELAXED), 0))
		tr_python_settle();
}
/* The same, from free: there only the start's watch is kept.  The second
 * one, from the end of Py_FinalizeEx to the next initialisation
 * (TR_WATCH_REINIT, tr_python.c), must not look from a free: CPython 3.12
 * frees then the very lock PyMem_GetAllocator takes. */
enum { TR_WATCH_SETTLE = 1, TR_WATCH_REINIT = 2 };
static inline void tr_python_look_free(void)
{
	if (__builtin_expect(__atomic_load_n(&tr_python_watch, __ATOMIC_RELAXED) & TR_WATCH_SETTLE,
			     0))
		tr_python_settle();
}

#endif

/*
 * tr_pylayout.h - where CPython 3.8 to 3.13 keep what the tracer reads of
 * a thread's Python frames: byte offsets into the interpreter's private
 * structures, one row per minor version (x86-64 and other LP64 builds,
 * release builds: no Py_TRACE_REFS).
 *
 * The interpreter exports no function that gives a frame's code and
 * instruction without side effects on every version (3.11+'s
 * PyEval_GetFrame creates frame objects), so the tracer reads the frame
 * chain itself, as py-spy and austin do from outside.  The numbers are
 * offsetof() of the version's own headers; tests/e2e/test_pylayout.sh
 * compiles a probe against the headers of every interpreter installed and
 * compares its output with this table (tests/tools/pylayout_print.c).
 *
 * The chain, per version:
 *  - 3.8 to 3.10: tstate->frame is the innermost PyFrameObject; f_back links
 *    outwards; f_lasti is the last instruction's offset (bytes up to 3.9,
 *    code units in 3.10).  Each frame runs in an evaluation loop of its own.
 *  - 3.11, 3.12: tstate->cframe->current_frame is the innermost
 *    _PyInterpreterFrame; previous links outwards; prev_instr points at the
 *    last instruction in the code's co_code_adaptive.  Calls from Python to
 *    Python run in the caller's evaluation loop: in 3.11 the first frame of
 *    a loop has is_entry set; in 3.12 each loop pushes a frame owned by the
 *    C stack (owner FRAME_OWNED_BY_CSTACK) before its first.
 *  - 3.13: tstate->current_frame; f_executable (the code object) and
 *    instr_ptr (the instruction executing) replace f_code and prev_instr.
 */
#ifndef ARENATRACE_TR_PYLAYOUT_H
#define ARENATRACE_TR_PYLAYOUT_H

#include <stdint.h>

enum {
	TR_LASTI_BYTES = 1, /* f_lasti in bytes (3.8, 3.9) */
	TR_LASTI_UNITS = 2, /* f_lasti in 2-byte code units (3.10) */
	TR_LASTI_PTR = 3,   /* a pointer into co_code_adaptive (3.11+) */
};

#define TR_PYL_NONE 0xffff  /* a field this version does not have */
#define TR_FRAME_OWNED_BY_CSTACK 3 /* 3.12+ */

typedef struct tr_pylayout {
	uint8_t minor;        /* 3.minor */
	uint8_t lasti_kind;   /* TR_LASTI_* */
	uint8_t lines_format; /* TF_PYLINES_* of the code's line table */
	uint16_t ts_frame;    /* PyThreadState: frame (3.8-3.10), cframe (3.11,
			       * 3.12), current_frame (3.13) */
	uint16_t cf_current;  /* _PyCFrame: current_frame (3.11, 3.12) */
	uint16_t f_back;      /* f_back / previous */
	uint16_t f_code;      /* f_code / f_executable */
	uint16_t f_lasti;     /* f_lasti / prev_instr / instr_ptr */
	uint16_t f_is_entry;  /* 3.11: is_entry (a bool) */
	uint16_t f_owner;     /* 3.12+: owner (a char) */
	uint16_t co_filename, co_name, co_qualname, co_firstlineno;
	uint16_t co_lines;    /* co_lnotab (3.8, 3.9), co_linetable (3.10+) */
	uint16_t co_code;     /* co_code_adaptive (3.11+) */
	uint16_t str_ascii;   /* sizeof(PyASCIIObject): where a compact ASCII string's bytes are */
	uint16_t str_compact; /* sizeof(PyCompactUnicodeObject): a compact non-ASCII string's */
} tr_pylayout;

/* Common to all six: PyObject's ob_type, PyUnicode's length and state,
 * PyBytes' size and bytes. */
#define TR_OB_TYPE 8
#define TR_STR_LENGTH 16
#define TR_STR_STATE 32 /* interned:2 kind:3 compact:1 ascii:1, from bit 0 */
#define TR_BYTES_SIZE 16
#define TR_BYTES_DATA 32

#define N_ TR_PYL_NONE
static const tr_pylayout tr_pylayouts[] = {
    /* minor lasti lines  ts  cf  back code lasti entry owner  file name qual first lines code  ascii compact */
    {8, TR_LASTI_BYTES, 1, 24, N_, 24, 32, 104, N_, N_, 104, 112, N_, 40, 120, N_, 48, 72},
    {9, TR_LASTI_BYTES, 1, 24, N_, 24, 32, 104, N_, N_, 104, 112, N_, 40, 120, N_, 48, 72},
    {10, TR_LASTI_UNITS, 2, 24, N_, 24, 32, 96, N_, N_, 104, 112, N_, 40, 120, N_, 48, 72},
    {11, TR_LASTI_PTR, 3, 56, 8, 48, 32, 56, 68, N_, 112, 120, 128, 72, 136, 184, 48, 72},
    {12, TR_LASTI_PTR, 3, 56, 0, 8, 0, 56, N_, 70, 112, 120, 128, 68, 136, 192, 40, 56},
    {13, TR_LASTI_PTR, 3, 72, N_, 8, 0, 56, N_, 70, 112, 120, 128, 68, 136, 200, 40, 56},
};
#undef N_

/* 3.12+: which obmalloc state (heap) a request is for, as pymalloc's
 * get_state() finds it: the current thread state's interpreter's.  In 3.12
 * the state is inside PyInterpreterState (obmalloc), and an interpreter
 * made with use_main_obmalloc (Py_RTFLAGS_USE_MAIN_OBMALLOC in its
 * feature_flags: legacy subinterpreters) uses the main interpreter's; from
 * 3.13 obmalloc is a pointer, to the main interpreter's state for those.
 * The main interpreter is _PyRuntime._main_interpreter; new interpreters
 * are put at the head of _PyRuntime.interpreters, so head is the main
 * interpreter exactly while no other exists (or none has existed yet). */
typedef struct tr_pyheap_layout {
	uint8_t minor;
	uint8_t state_ptr;         /* interp->obmalloc is a pointer (3.13), not the state (3.12) */
	uint32_t rt_interp_head;   /* _PyRuntimeState: interpreters.head */
	uint32_t rt_main_interp;   /* _PyRuntimeState: _main_interpreter */
	uint32_t ts_interp;        /* PyThreadState: interp */
	uint32_t is_feature_flags; /* PyInterpreterState: feature_flags (unsigned long) */
	uint32_t is_obmalloc;      /* PyInterpreterState: obmalloc */
} tr_pyheap_layout;

#define TR_RTFLAGS_USE_MAIN_OBMALLOC (1ul << 5) /* 3.12, 3.13 */

static const tr_pyheap_layout tr_pyheaps[] = {
    /* minor ptr  head   main  interp flags obmalloc */
    {12, 0, 40, 76392, 16, 1712, 3960},
    {13, 1, 632, 88352, 16, 8440, 10800},
};

static inline const tr_pyheap_layout *tr_pyheap_of(int minor)
{
	for (unsigned i = 0; i < sizeof(tr_pyheaps) / sizeof(tr_pyheaps[0]); i++)
		if (tr_pyheaps[i].minor == minor)
			return &tr_pyheaps[i];
	return 0;
}

static inline const tr_pylayout *tr_pylayout_of(int minor)
{
	for (unsigned i = 0; i < sizeof(tr_pylayouts) / sizeof(tr_pylayouts[0]); i++)
		if (tr_pylayouts[i].minor == minor)
			return &tr_pylayouts[i];
	return 0;
}

#endif

/*
 * tf_pyline.h - source lines of Python frames, resolved offline.  A
 * py_code record carries a code object's first line and its line table as
 * the interpreter's own bytes; a frame carries the byte offset of its
 * instruction.  tf_pyline() turns the two into the line the interpreter
 * itself would report.  Pure: no allocation, no state, any input.
 */
#ifndef ARENATRACE_TF_PYLINE_H
#define ARENATRACE_TF_PYLINE_H

#include <stddef.h>
#include <stdint.h>

/* How a py_code record's line table is encoded: the interpreter's own bytes. */
enum tf_pylines {
	TF_PYLINES_NONE = 0,   /* no table: every offset is the first line */
	TF_PYLINES_LNOTAB = 1, /* CPython 3.8 and 3.9: co_lnotab */
	TF_PYLINES_310 = 2,    /* CPython 3.10: co_linetable */
	TF_PYLINES_311 = 3,    /* CPython 3.11, 3.12, 3.13: co_linetable (the location table) */
};

/* The source line of the instruction at byte offset `offset` of a code
 * object whose first line is first_line and whose line table is
 * table[0..len): what the interpreter's own PyCode_Addr2Line(code, offset)
 * answers.  A negative offset (a frame that has not started: f_lasti -1)
 * is the first line, as there.  -1 where the interpreter has no line:
 * 3.10+ entries with no line, offsets past the end of a 3.10+ table, and
 * formats this library does not know.  Never reads outside table[0..len)
 * (table may be NULL when len is 0); malformed or truncated tables give an
 * answer (or -1), never a crash, never a hang.  Time is linear in len. */
int64_t tf_pyline(unsigned format, const uint8_t *table, size_t len, int64_t first_line,
		  int64_t offset);

#endif

/*
 * tf_pyline.c - the line of a Python instruction from its code object's
 * line table, one decoder per encoding CPython has used since 3.8.  Each
 * gives what that interpreter's PyCode_Addr2Line(code, offset) answers
 * for a byte offset into the code; tests/e2e/test_pylines.sh checks that
 * against the real interpreters, offset by offset.  A negative offset (a
 * frame that has not started yet) is the first line in every version.
 *
 * CPython 3.8 and 3.9, co_lnotab (TF_PYLINES_LNOTAB).  Byte pairs: an
 * unsigned byte that moves the bytecode offset forward, then a signed byte
 * (two's complement, -128..127) added to the line.  Starting from offset 0
 * and the first line, a pair's line change takes effect at the offset the
 * pair moves to; the lookup stops at the first pair that moves past the
 * wanted offset.  Larger steps are split: (255, 0) pairs for long runs of
 * code, (0, ±n) pairs for long jumps in lines.  No offset is without a
 * line: offsets past the table keep its last line, an odd last byte is not
 * a pair.
 *
 * CPython 3.10, co_linetable (TF_PYLINES_310).  Byte pairs again, but
 * each pair is a range of code: the unsigned byte is the range's length in
 * bytes (0..254), the signed byte the line change from the previous range,
 * and -128 there means "this range has no line" (the running line stays
 * as it was, for the next range).  Ranges of length 0 only carry line
 * changes.  An offset past the last range has no line.  The interpreter
 * reads an odd last byte as a range whose line byte is the terminating NUL
 * of its bytes object: a change of 0, which is what is answered here too.
 *
 * CPython 3.11 to 3.13, the location table (TF_PYLINES_311).  Entries of
 * variable size; an entry's first byte has bit 7 set, no later byte of an
 * entry has.  That byte holds a code in bits 3..6 and, in bits 0..2, the
 * entry's length in 2-byte code units, minus one.  By code:
 *   0-9    short form: same line as before; one more byte of columns.
 *   10-12  one-line form: line + (code - 10); two bytes of columns.
 *   13     no columns: line + a signed varint.
 *   14     long form: line + a signed varint, then three varints (end
 *          line, column, end column) that do not matter here.
 *   15     no location: this range has no line; the running line stays.
 * A varint is 6-bit groups, least significant first, bit 6 set on every
 * group but the last; a signed varint keeps the sign in bit 0 of that
 * number (value >> 1, negated when bit 0 is set).  The interpreter finds
 * each next entry by skipping to the next byte with bit 7 set, not by the
 * size its code implies, and so does this decoder.  An offset past the
 * last entry has no line.
 *
 * Malformed tables: every read is bounded by the table's length; a read
 * one byte past it sees 0, as the interpreter's readers see its NUL
 * terminator (which ends a varint), and nothing reads further.  Varint
 * groups from bit 32 on are dropped (the interpreter keeps a varint in an
 * unsigned int, and shifts past it are undefined there), so at most six
 * groups are read: a table of entries whose varints run on to its end is
 * not read once per entry, as the interpreter would.  Line sums wrap at 64
 * bits instead of overflowing.  Each step consumes at least one byte and
 * reads a few more at most, so a lookup takes time linear in len.
 */
#include "tf_pyline.h"

#define LNOTAB_NO_LINE (-128) /* 3.10: a range's line byte when it has no line */
#define LOC_UNIT 2            /* 3.11+: bytes per code unit, the entries' length unit */
#define LOC_ENTRY 0x80u       /* 3.11+: the bit that starts an entry */
#define LOC_ONE_LINE0 10      /* 3.11+ codes (above) */
#define LOC_NO_COLUMNS 13
#define LOC_LONG 14
#define LOC_NONE 15
#define VARINT_MORE 0x40u /* a varint group with more to come */
#define VARINT_BITS 32    /* the interpreter's unsigned int */

/* byte i of the table, 0 past its end (what CPython finds at its NUL) */
static unsigned at(const uint8_t *t, size_t len, size_t i)
{
	return i < len ? t[i] : 0;
}

/* a byte as the interpreter's signed char */
static int sbyte(unsigned b)
{
	return b < 128 ? (int)b : (int)b - 256;
}

/* line + delta, wrapping at 64 bits (only garbage tables get there) */
static int64_t add_line(int64_t line, int64_t delta)
{
	return (int64_t)((uint64_t)line + (uint64_t)delta);
}

static int64_t line_lnotab(const uint8_t *t, size_t len, int64_t line, uint64_t offset)
{
	uint64_t addr = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > offset)
			break;
		line = add_line(line, sbyte(t[i + 1]));
	}
	return line;
}

static int64_t line_310(const uint8_t *t, size_t len, int64_t line, uint64_t offset)
{
	uint64_t end = 0;   /* where the current range ends */
	int64_t found = -1; /* the current range's line */
	for (size_t i = 0; end <= offset; i += 2) {
		if (i >= len)
			return -1;
		end += t[i];
		int delta = sbyte(at(t, len, i + 1));
		if (delta == LNOTAB_NO_LINE) {
			found = -1;
		} else {
			line = add_line(line, delta);
			found = line;
		}
	}
	return found;
}

/* the varint at t[i]: its groups up to bit 32 (later ones would be
 * dropped, and where it ends does not matter: the next entry is found by
 * its bit 7) */
static uint32_t varint(const uint8_t *t, size_t len, size_t i)
{
	uint32_t v = 0;
	for (unsigned shift = 0; shift < VARINT_BITS; shift += 6) {
		unsigned b = at(t, len, i++);
		v |= (uint32_t)(b & 63) << shift;
		if (!(b & VARINT_MORE))
			break;
	}
	return v;
}

static int64_t svarint(const uint8_t *t, size_t len, size_t i)
{
	uint32_t u = varint(t, len, i);
	return u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

/* the line change of the 3.11+ entry that starts at t[i] */
static int64_t loc_delta(const uint8_t *t, size_t len, size_t i)
{
	unsigned code = (t[i] >> 3) & 15;
	switch (code) {
	case LOC_NO_COLUMNS:
	case LOC_LONG: return svarint(t, len, i + 1);
	case LOC_ONE_LINE0:
	case LOC_ONE_LINE0 + 1:
	case LOC_ONE_LINE0 + 2: return code - LOC_ONE_LINE0;
	default: return 0; /* the short forms, no location */
	}
}

static int64_t line_311(const uint8_t *t, size_t len, int64_t line, uint64_t offset)
{
	uint64_t end = 0;
	int64_t found = -1;
	size_t i = 0;
	while (end <= offset) {
		if (i >= len)
			return -1;
		line = add_line(line, loc_delta(t, len, i));
		found = t[i] >> 3 == (LOC_ENTRY >> 3 | LOC_NONE) ? -1 : line;
		end += ((t[i] & 7u) + 1) * LOC_UNIT;
		do
			i++;
		while (i < len && !(t[i] & LOC_ENTRY));
	}
	return found;
}

int64_t tf_pyline(unsigned format, const uint8_t *table, size_t len, int64_t first_line,
		  int64_t offset)
{
	if (!table)
		len = 0;
	if (format > TF_PYLINES_311)
		return -1;
	if (offset < 0 || format == TF_PYLINES_NONE)
		return first_line;
	uint64_t at_byte = (uint64_t)offset;
	switch (format) {
	case TF_PYLINES_LNOTAB: return line_lnotab(table, len, first_line, at_byte);
	case TF_PYLINES_310: return line_310(table, len, first_line, at_byte);
	default: return line_311(table, len, first_line, at_byte);
	}
}

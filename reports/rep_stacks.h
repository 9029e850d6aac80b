/*
 * rep_stacks.h - symbolized call stacks for the replay's outputs: the glue
 * between the replay engine's observer (rp_replay.h), the text sinks
 * (rep_text.h) and the symbolizer (rep_sym.h).
 */
#ifndef ARENATRACE_REP_STACKS_H
#define ARENATRACE_REP_STACKS_H

#include "rep.h"
#include "rep_sym.h"
#include "rp_measures.h"
#include "tf.h"

#include <stdio.h>

/* For the observer's on_module, with a rep_sym *: feeds module and
 * module_unload records, stamped with the stack nodes read so far. */
void rep_stacks_on_module(const tf_record *rec, uint64_t nodes, void *ctx);
/* For the observer's on_py_code, with a rep_sym *: keeps the py_code record. */
void rep_stacks_on_py_code(const tf_record *rec, void *ctx);

/* A rep_stack_printer (rep_text.h) with a rep_sym * as ctx: the pinning
 * stack's frames, one a line ("      FUNCTION at FILE:LINE", inlined frames
 * marked), leaf first, at most REP_STACKS_LINES lines. */
#define REP_STACKS_LINES 12
void rep_stacks_print(FILE *f, const rp_pin *pin, void *ctx);

/* A rep_frame_namer (rep.h) over a symbolizer, for the report sinks: each
 * frame as rep_frame_format writes it, "(inlined)" after inlined ones. */
typedef struct rep_namer {
	rep_sym *sym;
	char buf[REP_SYM_MAX_FRAMES][REP_FRAME_MAX];
	struct rep_named *named; /* each resolved address's lines, formatted once */
} rep_namer;
/* The lines given stay valid until rep_namer_clear (those of an address
 * kept once, out of memory until the next call). */
int rep_stacks_namer(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max);
/* Frees the lines the namer keeps (not nm itself, nor its symbolizer). */
void rep_namer_clear(rep_namer *nm);
/* A rep_py_describer (rep.h) over the same rep_namer: a Python frame's
 * function, file, line and origin from the symbolizer's py_code records. */
bool rep_stacks_describe(void *ctx, uint64_t frame, rep_pyframe *out);

#endif

/*
 * rep_stacks.c - symbolized call stacks for the replay's outputs (see
 * rep_stacks.h): module and py_code records fed to rep_sym as the replay
 * reads them,
 * and the frames of a stack resolved through it, for the terminal summary
 * and for the report sinks' namer.
 *
 * Every frame is resolved at its stack's leaf node id (the stamp rule of
 * rep_sym.h); a symbolizer out of memory leaves frames as addresses,
 * never fails the replay.
 */
#include "rep_stacks.h"

#include <inttypes.h>
#include <stdio.h>

void rep_stacks_on_module(const tf_record *rec, uint64_t nodes, void *ctx)
{
	rep_sym *s = ctx;
	/* out of memory: the module's frames stay addresses, nothing worse */
	if (rec->kind == TF_MODULE)
		(void)rep_sym_load(s, &rec->u.module, nodes);
	else if (rec->kind == TF_MODULE_UNLOAD)
		(void)rep_sym_unload(s, rec->u.module_unload, nodes);
}

void rep_stacks_on_py_code(const tf_record *rec, void *ctx)
{
	/* out of memory: the code's frames are unknown Python frames, nothing worse */
	if (rec->kind == TF_PY_CODE)
		(void)rep_sym_py_code(ctx, &rec->u.py_code);
}

void rep_stacks_print(FILE *f, const rp_pin *pin, void *ctx)
{
	rep_sym *s = ctx;
	char line[1024];
	int lines = 0;
	for (int k = 0; k < RP_PIN_FRAMES && pin->frames[k]; k++) {
		const rep_frame *fr;
		/* the leaf's stamp for every frame: the whole stack was live then */
		int n = rep_sym_resolve(s, pin->frames[k], pin->stack, &fr);
		for (int i = 0; i < n; i++) {
			if (lines++ == REP_STACKS_LINES) {
				fputs("        ...\n", f);
				return;
			}
			rep_frame_format(&fr[i], line, sizeof(line));
			fprintf(f, "        %s%s\n", line, fr[i].inlined ? " (inlined)" : "");
		}
		if (n < 0)
			fprintf(f, "        0x%" PRIx64 "\n", pin->frames[k]);
	}
}

int rep_stacks_namer(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max)
{
	rep_namer *nm = ctx;
	const rep_frame *fr;
	int n = rep_sym_resolve(nm->sym, ip, leaf, &fr);
	if (n > max)
		n = max;
	if (n > REP_SYM_MAX_FRAMES)
		n = REP_SYM_MAX_FRAMES;
	for (int i = 0; i < n; i++) {
		int len = rep_frame_format(&fr[i], nm->buf[i], sizeof(nm->buf[i]));
		if (fr[i].inlined && len >= 0 && (size_t)len < sizeof(nm->buf[i]))
			snprintf(nm->buf[i] + len, sizeof(nm->buf[i]) - (size_t)len, " (inlined)");
		lines[i] = nm->buf[i];
	}
	return n < 0 ? 0 : n;
}

bool rep_stacks_describe(void *ctx, uint64_t frame, rep_pyframe *out)
{
	rep_namer *nm = ctx;
	const rep_frame *fr;
	if (!tf_is_py_frame(frame) || rep_sym_resolve(nm->sym, frame, UINT64_MAX, &fr) < 1 ||
	    (!fr->file && !fr->function))
		return false;
	*out = (rep_pyframe){fr->file, fr->function, fr->line, fr->origin};
	return true;
}

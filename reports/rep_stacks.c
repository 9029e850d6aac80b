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

#include "u64map.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* An address's lines, formatted: n of them, each NUL-ended, one after
 * the other in text. */
typedef struct named_lines {
	int n;
	char text[];
} named_lines;

/* The lines of resolved addresses, by the frames rep_sym_resolve gave
 * (kept until rep_sym_free, one array an address: a key for as long). */
struct rep_named {
	u64map map; /* frames -> named_lines */
};

/* The lines of frames fr (n), formatted as rep_stacks_namer gives them,
 * into buf; their count. */
static int format_lines(const rep_frame *fr, int n, char buf[][REP_FRAME_MAX])
{
	for (int i = 0; i < n; i++) {
		int len = rep_frame_format(&fr[i], buf[i], REP_FRAME_MAX);
		if (fr[i].inlined && len >= 0 && (size_t)len < REP_FRAME_MAX)
			snprintf(buf[i] + len, REP_FRAME_MAX - (size_t)len, " (inlined)");
	}
	return n;
}

/* fr's lines kept (n of them, in buf), or NULL out of memory. */
static const named_lines *keep_lines(rep_namer *nm, const rep_frame *fr, int n,
				     char buf[][REP_FRAME_MAX])
{
	if (!nm->named && (nm->named = calloc(1, sizeof(*nm->named))))
		u64map_init(&nm->named->map, 1, &u64map_heap);
	if (!nm->named)
		return NULL;
	size_t bytes = 0;
	for (int i = 0; i < n; i++)
		bytes += strlen(buf[i]) + 1;
	named_lines *l = malloc(sizeof(*l) + bytes);
	uint64_t *v = l ? u64map_insert(&nm->named->map, (uintptr_t)fr) : NULL;
	if (!v) {
		free(l);
		return NULL;
	}
	l->n = n;
	char *at = l->text;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(buf[i]) + 1;
		memcpy(at, buf[i], len);
		at += len;
	}
	v[0] = (uintptr_t)l;
	return l;
}

int rep_stacks_namer(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max)
{
	rep_namer *nm = ctx;
	const rep_frame *fr;
	int n = rep_sym_resolve(nm->sym, ip, leaf, &fr);
	if (n <= 0)
		return 0;
	if (n > REP_SYM_MAX_FRAMES)
		n = REP_SYM_MAX_FRAMES;
	const uint64_t *v = nm->named ? u64map_find(&nm->named->map, (uintptr_t)fr) : NULL;
	const named_lines *l = v ? (const named_lines *)(uintptr_t)v[0] : NULL;
	if (!l && !(l = keep_lines(nm, fr, format_lines(fr, n, nm->buf), nm->buf))) {
		for (int i = 0; i < n && i < max; i++) /* out of memory: nm->buf's, for now */
			lines[i] = nm->buf[i];
		return n < max ? n : max;
	}
	const char *at = l->text;
	int k = 0;
	for (; k < l->n && k < max; k++) {
		lines[k] = at;
		at += strlen(at) + 1;
	}
	return k;
}

void rep_namer_clear(rep_namer *nm)
{
	if (!nm || !nm->named)
		return;
	size_t pos = 0;
	uint64_t key, *v;
	while (u64map_next(&nm->named->map, &pos, &key, &v))
		free((void *)(uintptr_t)v[0]);
	u64map_clear(&nm->named->map);
	free(nm->named);
	nm->named = NULL;
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

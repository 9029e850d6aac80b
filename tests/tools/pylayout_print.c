/*
 * pylayout_print.c - prints the tracer's table of CPython frame layouts
 * (tracer/tr_pylayout.h) for one minor version, a "name value" line per
 * field, in the form tests/tools/pylayout_probe.c prints the offsets it
 * takes from that version's own headers.  tests/e2e/test_pylayout.sh
 * compares the two.
 *
 * usage: pylayout-print MINOR   (exit 1: the tracer has no row for it)
 */
#include "tr_pylayout.h"

#include <stdio.h>
#include <stdlib.h>

static void field(const char *name, unsigned v)
{
	if (v != TR_PYL_NONE)
		printf("%s %u\n", name, v);
}

int main(int argc, char **argv)
{
	const tr_pylayout *l = argc == 2 ? tr_pylayout_of(atoi(argv[1])) : NULL;
	if (!l)
		return 1;
	printf("lasti_kind %u\nlines_format %u\n", l->lasti_kind, l->lines_format);
	field("ts_frame", l->ts_frame);
	field("cf_current", l->cf_current);
	field("f_back", l->f_back);
	field("f_code", l->f_code);
	field("f_lasti", l->f_lasti);
	field("f_is_entry", l->f_is_entry);
	field("f_owner", l->f_owner);
	field("co_filename", l->co_filename);
	field("co_name", l->co_name);
	field("co_qualname", l->co_qualname);
	field("co_firstlineno", l->co_firstlineno);
	field("co_lines", l->co_lines);
	field("co_code", l->co_code);
	field("str_ascii", l->str_ascii);
	field("str_compact", l->str_compact);
	printf("ob_type %u\nstr_length %u\nstr_state %u\nbytes_size %u\nbytes_data %u\n", TR_OB_TYPE,
	       TR_STR_LENGTH, TR_STR_STATE, TR_BYTES_SIZE, TR_BYTES_DATA);
	printf("frame_owned_by_cstack %u\n", TR_FRAME_OWNED_BY_CSTACK);
	const tr_pyheap_layout *h = tr_pyheap_of(l->minor);
	if (h)
		printf("heap_state_ptr %u\nrt_interp_head %u\nrt_main_interp %u\nts_interp %u\n"
		       "is_feature_flags %u\nis_obmalloc %u\nuse_main_obmalloc %lu\n",
		       h->state_ptr, h->rt_interp_head, h->rt_main_interp, h->ts_interp,
		       h->is_feature_flags, h->is_obmalloc, TR_RTFLAGS_USE_MAIN_OBMALLOC);
	return 0;
}

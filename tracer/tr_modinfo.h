/*
 * tr_modinfo.h - one loaded object as the fields of a MODULE record
 * (FORMAT.md §5.1): load bias, path, GNU build-id, PT_LOAD segments.  No
 * state and no allocation: the tracer's module map and the symbolizer's
 * tests describe objects the same way.
 */
#ifndef ARENATRACE_TR_MODINFO_H
#define ARENATRACE_TR_MODINFO_H

#include "tf.h"

#include <limits.h>
#include <link.h>
#include <stdbool.h>

typedef struct tr_modinfo {
	uint64_t base;                 /* load bias (dlpi_addr) */
	char path[PATH_MAX];
	uint8_t build_id[64];
	size_t build_id_len;           /* 0: no GNU build-id note */
	uint8_t segments[64 * 3 * 10]; /* varint triples vaddr, memsz, flags; up to 64 segments */
	size_t segments_len;
} tr_modinfo;

/* Fills d from one dl_iterate_phdr entry; exe: the entry is the main
 * program, whose path comes from /proc/self/exe. */
void tr_modinfo_read(const struct dl_phdr_info *info, bool exe, tr_modinfo *d);

/* d as a module record numbered id; it points into d. */
tf_module tr_modinfo_record(const tr_modinfo *d, uint64_t id);

#endif

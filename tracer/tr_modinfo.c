/*
 * tr_modinfo.c - one loaded object as a MODULE record's fields (see
 * tr_modinfo.h): the build-id from its PT_NOTE segments, the PT_LOAD
 * segments as varints.
 */
#include "tr_modinfo.h"

#include <elf.h>
#include <string.h>
#include <unistd.h>

#define VARINT_MAX 10 /* bytes of a varint, at most (tf_put_varint) */

static void read_build_id(const struct dl_phdr_info *info, tr_modinfo *d)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*n);
			const char *desc = name + ((n->n_namesz + 3) & ~3u);
			const char *next = desc + ((n->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
			    n->n_descsz <= sizeof(d->build_id)) {
				memcpy(d->build_id, desc, n->n_descsz);
				d->build_id_len = n->n_descsz;
				return;
			}
			p = next;
		}
	}
}

void tr_modinfo_read(const struct dl_phdr_info *info, bool exe, tr_modinfo *d)
{
	memset(d, 0, sizeof(*d));
	d->base = info->dlpi_addr;
	if (exe) {
		ssize_t k = readlink("/proc/self/exe", d->path, sizeof(d->path) - 1);
		d->path[k > 0 ? k : 0] = 0;
	} else {
		strncpy(d->path, info->dlpi_name ? info->dlpi_name : "", sizeof(d->path) - 1);
	}
	read_build_id(info, d);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || d->segments_len + 3 * VARINT_MAX > sizeof(d->segments))
			continue;
		d->segments_len += tf_put_varint(d->segments + d->segments_len, ph->p_vaddr);
		d->segments_len += tf_put_varint(d->segments + d->segments_len, ph->p_memsz);
		d->segments_len += tf_put_varint(d->segments + d->segments_len, ph->p_flags);
	}
}

tf_module tr_modinfo_record(const tr_modinfo *d, uint64_t id)
{
	return (tf_module){id, d->base, {d->path, strlen(d->path)},
			   {(const char *)d->build_id, d->build_id_len},
			   {(const char *)d->segments, d->segments_len}};
}

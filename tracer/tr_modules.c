/*
 * tr_modules.c - the module map: every loaded object with its load base,
 * PT_LOAD segments and GNU build-id (FORMAT.md §5.1), rescanned after
 * dlopen and dlclose so the trace holds MODULE and MODULE_UNLOAD records.
 *
 * dl_iterate_phdr runs without tr_lock (it takes the loader lock), the
 * records are written under it.
 */
#include "tr_internal.h"

#include <elf.h>
#include <stddef.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULES 4096

typedef struct mod {
	uint64_t base;
	uint64_t id;
	uint32_t name_hash;
	bool seen; /* found by the current scan */
} mod;

typedef struct scan_entry {
	uint64_t base;
	uint32_t name_hash;
	char path[PATH_MAX];
	uint8_t build_id[64];
	size_t build_id_len;
	uint8_t segments[64 * 3 * 10];
	size_t segments_len;
} scan_entry;

static struct {
	mod *known; /* tr_mmap_alloc'd, MAX_MODULES entries */
	size_t nknown;
	uint64_t next_id;
} M;

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static void read_build_id(const struct dl_phdr_info *info, scan_entry *e)
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
			    n->n_descsz <= sizeof(e->build_id)) {
				memcpy(e->build_id, desc, n->n_descsz);
				e->build_id_len = n->n_descsz;
				return;
			}
			p = next;
		}
	}
}

typedef struct scan {
	scan_entry *v;
	size_t n, cap;
} scan;

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	scan *s = arg;
	if (s->n == s->cap)
		return 1;
	scan_entry *e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->base = info->dlpi_addr;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	if (!*name && s->n == 1) { /* the executable */
		ssize_t k = readlink("/proc/self/exe", e->path, sizeof(e->path) - 1);
		e->path[k > 0 ? k : 0] = 0;
	} else {
		strncpy(e->path, name, sizeof(e->path) - 1);
	}
	e->name_hash = hash_str(e->path);
	read_build_id(info, e);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || e->segments_len + 30 > sizeof(e->segments))
			continue;
		e->segments_len += tf_put_varint(e->segments + e->segments_len, ph->p_vaddr);
		e->segments_len += tf_put_varint(e->segments + e->segments_len, ph->p_memsz);
		e->segments_len += tf_put_varint(e->segments + e->segments_len, ph->p_flags);
	}
	return 0;
}

void tr_modules_rescan(void)
{
	if (!tr_recording())
		return;
	scan s = {.cap = MAX_MODULES};
	s.v = tr_mmap_alloc(NULL, s.cap * sizeof(scan_entry));
	if (!s.v)
		return;
	dl_iterate_phdr(on_object, &s);
	int lk = tr_lock();
	if (!M.known)
		M.known = tr_mmap_alloc(NULL, MAX_MODULES * sizeof(mod));
	for (size_t k = 0; M.known && k < M.nknown; k++)
		M.known[k].seen = false;
	for (size_t i = 0; M.known && i < s.n; i++) {
		scan_entry *e = &s.v[i];
		size_t k = 0;
		while (k < M.nknown && !(M.known[k].base == e->base && M.known[k].name_hash == e->name_hash))
			k++;
		if (k < M.nknown) {
			M.known[k].seen = true;
			continue;
		}
		if (M.nknown == MAX_MODULES)
			break;
		M.known[M.nknown++] = (mod){e->base, ++M.next_id, e->name_hash, true};
		tf_record rec = {.kind = TF_MODULE};
		rec.u.module = (tf_module){M.next_id, e->base, {e->path, strlen(e->path)},
					   {(const char *)e->build_id, e->build_id_len},
					   {(const char *)e->segments, e->segments_len}};
		tr_put_locked(&rec);
	}
	for (size_t k = 0; M.known && k < M.nknown;) {
		if (M.known[k].seen) {
			k++;
			continue;
		}
		tf_record rec = {.kind = TF_MODULE_UNLOAD};
		rec.u.module_unload = M.known[k].id;
		tr_put_locked(&rec);
		M.known[k] = M.known[--M.nknown];
	}
	tr_unlock(lk);
	tr_mmap_free(NULL, s.v);
}

/* A new trace (fork child) lists every module again.  Under tr_lock. */
void tr_modules_reset(void)
{
	M.nknown = 0;
	M.next_id = 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	uint64_t *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1; /* the counters are the same in every entry: stop */
}

void tr_modules_poll(void)
{
	static uint64_t last[2];
	uint64_t now[2] = {0, 0};
	dl_iterate_phdr(read_counters, now);
	if (now[0] == last[0] && now[1] == last[1] && M.nknown)
		return;
	last[0] = now[0];
	last[1] = now[1];
	tr_modules_rescan();
}

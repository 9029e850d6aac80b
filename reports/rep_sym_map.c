/*
 * rep_sym_map.c - the symbolizer's module map: the `module` and
 * `module_unload` records fed with their stamps, and which module held an
 * address at a stamp (rep_sym.h says the rules).
 *
 * A module is kept as its absolute segment ranges; modules of one file
 * (the same recorded path and build-id) share one sym_file, so one libdw
 * session and one cache whatever the bases it was loaded at.  Records are
 * never dropped: an unload only closes the module's stamp range, so a
 * stack recorded before it still resolves.
 */
#include "rep_sym_internal.h"

#include <stdlib.h>
#include <string.h>

/* The file of a module record: the same path and build-id share one. */
static int file_of(rep_sym *s, const tf_module *m, size_t *idx)
{
	size_t plen = m->path.len < SYM_MAX_NAME ? m->path.len : SYM_MAX_NAME;
	size_t blen = m->build_id.len <= SYM_MAX_BUILD_ID ? m->build_id.len : 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		const sym_file *f = &s->files[i];
		if (f->path_len == plen && (!plen || !memcmp(f->path, m->path.ptr, plen)) &&
		    f->build_id_len == blen && (!blen || !memcmp(f->build_id, m->build_id.ptr, blen))) {
			*idx = i;
			return REP_OK;
		}
	}
	if (!sym_grow((void **)&s->files, &s->cap_files, s->nfiles, sizeof(sym_file)))
		return REP_E_NOMEM;
	sym_file *f = &s->files[s->nfiles];
	sym_file_init(f);
	if (!(f->path = strndup(plen ? m->path.ptr : "", plen)))
		return REP_E_NOMEM;
	/* a NUL inside the recorded path ends it: it names no file anyway */
	const char *slash = strrchr(f->path, '/');
	f->name = slash ? slash + 1 : f->path;
	f->path_len = plen;
	if (blen)
		memcpy(f->build_id, m->build_id.ptr, blen);
	f->build_id_len = blen;
	*idx = s->nfiles++;
	s->st.files++;
	return REP_OK;
}

int rep_sym_load(rep_sym *s, const tf_module *m, uint64_t stamp)
{
	if (!s || !m)
		return REP_E_ARG;
	s->st.modules++;
	sym_mod md = {.id = m->id, .base = m->base, .loaded = stamp, .unloaded = UINT64_MAX};
	const uint8_t *p = (const uint8_t *)m->segments.ptr, *end = p + m->segments.len;
	while (p < end && md.nsegs < SYM_MAX_SEGS) {
		uint64_t vaddr, memsz, flags;
		if (!tf_get_varint(&p, end, &vaddr) || !tf_get_varint(&p, end, &memsz) ||
		    !tf_get_varint(&p, end, &flags))
			return REP_OK; /* malformed: cover nothing */
		uint64_t lo = m->base + vaddr;
		if (!memsz || lo + memsz < lo)
			continue;
		md.seg_lo[md.nsegs] = lo;
		md.seg_hi[md.nsegs++] = lo + memsz;
	}
	if (!md.nsegs)
		return REP_OK;
	int rc = file_of(s, m, &md.file);
	if (rc < 0)
		return rc;
	if (!sym_grow((void **)&s->mods, &s->cap_mods, s->nmods, sizeof(sym_mod)))
		return REP_E_NOMEM;
	s->mods[s->nmods++] = md;
	return REP_OK;
}

int rep_sym_unload(rep_sym *s, uint64_t id, uint64_t stamp)
{
	if (!s)
		return REP_E_ARG;
	for (size_t i = s->nmods; i-- > 0;)
		if (s->mods[i].id == id && s->mods[i].unloaded == UINT64_MAX) {
			s->mods[i].unloaded = stamp;
			break;
		}
	return REP_OK;
}

static bool mod_holds(const sym_mod *md, uint64_t ip)
{
	for (int k = 0; k < md->nsegs; k++)
		if (ip >= md->seg_lo[k] && ip < md->seg_hi[k])
			return true;
	return false;
}

/* The module holding ip at stamp: the latest one loaded that covers it,
 * else the first one loaded after it (its record came late). */
const sym_mod *sym_mod_at(const rep_sym *s, uint64_t ip, uint64_t stamp)
{
	const sym_mod *later = NULL;
	for (size_t i = s->nmods; i-- > 0;) {
		const sym_mod *md = &s->mods[i];
		if (!mod_holds(md, ip))
			continue;
		if (md->loaded < stamp && stamp <= md->unloaded)
			return md;
		if (md->loaded >= stamp)
			later = md;
	}
	return later;
}

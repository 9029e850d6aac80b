/*
 * rep_sym.c - symbolization of recorded return addresses with elfutils
 * libdw (rep_sym.h says what and with which time rules).
 *
 * One libdwfl session per distinct module file (path and build-id), opened
 * when the first address inside it is asked for and reported at bias 0:
 * an address is looked up as (ip - 1 - the module's load bias), its
 * address in the file.  The same file loaded again, at another base,
 * shares the session and the cache.  Separate debug info is found by
 * libdw's standard callback (build-id links under each absolute directory
 * of the path, then .gnu_debuglink names), with the user's directories
 * put first.
 *
 * Inlined frames: the chain of scopes holding the address, from the
 * innermost out to its DW_TAG_subprogram; each DW_TAG_inlined_subroutine a
 * frame whose location is the line table's for the innermost one and the
 * DW_AT_call_file/line of the one inside it for the others.  The
 * subprogram comes from an index of each compilation unit's subprogram
 * ranges, built the first time an address falls in that unit, and the
 * chain from a descent through its children that hold the address: libdw's
 * dwarf_getscopes walks the whole unit for every address (milliseconds in
 * a large one), which made a report of a Python program's trace spend
 * seconds here.  An address no indexed subprogram holds (a nested
 * function, one defined inside a class) is looked up with dwarf_getscopes
 * and dwarf_getscopes_die as before.  Names of C functions need no
 * qualification, so only C++ (and other) units pay for the walk to the
 * namespaces and classes around a declaration, once per declaration.
 *
 * Demangling uses __cxa_demangle from libstdc++ (the Itanium ABI's own
 * demangler, on every system that has g++ or runs C++ programs), rather
 * than libiberty, which Debian ships only as a static archive of binutils
 * internals.
 *
 * References: elfutils libdwfl.h and libdw.h; DWARF 5 §3.3.8 (inlined
 * subroutines); the Itanium C++ ABI §5.1 (mangling) and §3.4 (demangler).
 */
#include "rep_sym.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libstdc++'s demangler (cxxabi.h is C++ only). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define MAX_SEGS 16      /* PT_LOAD segments kept per module */
#define MAX_WARNINGS 64  /* warnings kept; more are counted */
#define MAX_NAME 4096    /* longer names and paths are cut */

const char *rep_strerror(int err)
{
	switch (err) {
	case REP_OK:
		return "success";
	case REP_E_NOMEM:
		return "out of memory";
	case REP_E_ARG:
		return "invalid argument";
	case REP_E_IO:
		return "cannot write";
	case REP_E_NOT_OURS:
		return "files that no report wrote";
	default:
		return "unknown error";
	}
}

enum { FILE_UNOPENED, FILE_READ, FILE_BAD };

/* A subprogram's address range [lo, hi) in its unit (one per range). */
typedef struct sub_range {
	Dwarf_Addr lo, hi;
	Dwarf_Die die;
} sub_range;

/* The subprogram ranges of one compilation unit, sorted by lo. */
typedef struct cu_index {
	Dwarf_Off cu1;      /* the unit DIE's offset + 1; 0 = empty slot */
	sub_range *r;
	size_t n;
	Dwarf_Addr longest; /* the longest range: bounds the backward search */
} cu_index;

/* A declaration's qualified name, by the DIE's address in the debug data. */
typedef struct name_entry {
	const void *die; /* NULL = empty slot */
	const char *name;
} name_entry;

typedef struct sym_file {
	char *path;           /* as recorded, cut at a NUL or MAX_NAME */
	size_t path_len;      /* bytes of the recorded path compared (before the cut) */
	const char *name;     /* its last component, for module+offset */
	uint8_t build_id[64]; /* as recorded */
	size_t build_id_len;
	int state;            /* FILE_*: FILE_BAD frames are module+offset */
	Dwfl *dwfl;           /* FILE_READ: the session holding the one module */
	Dwfl_Module *mod;
	cu_index *cus;        /* open addressing by unit offset, power-of-two capacity */
	size_t cap_cus, n_cus;
} sym_file;

typedef struct sym_mod {
	uint64_t id, base;
	uint64_t seg_lo[MAX_SEGS], seg_hi[MAX_SEGS]; /* absolute [lo, hi) of each segment */
	int nsegs;
	uint64_t loaded, unloaded; /* stamps: covers loaded < t <= unloaded */
	size_t file;               /* index in files */
} sym_mod;

/* A resolved address: key (file index + 1, address in the file), or
 * (0, the address) outside every module. */
typedef struct sym_entry {
	uint64_t file1, addr;
	rep_frame *frames; /* malloc'd, n of them; never moves */
	uint32_t n;
	bool used;
} sym_entry;

/* Interned strings, in chunks that never move. */
typedef struct str_chunk {
	struct str_chunk *next;
	size_t used, cap;
	char data[];
} str_chunk;

struct rep_sym {
	Dwfl_Callbacks cb;
	char *debuginfo_path; /* what cb.debuginfo_path points to */
	sym_file *files;
	size_t nfiles, cap_files;
	sym_mod *mods;
	size_t nmods, cap_mods;
	sym_entry *tab; /* open addressing, power-of-two capacity */
	size_t cap_tab, used_tab;
	const char **strs; /* intern set, power-of-two capacity */
	size_t cap_strs, used_strs;
	str_chunk *chunks;
	char *warnings[MAX_WARNINGS];
	bool walk_units;   /* rep_sym_opts.walk_units */
	name_entry *names; /* qualified names, open addressing, power-of-two capacity */
	size_t cap_names, used_names;
	rep_sym_stats st;
};

/* ---- small helpers ---- */

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
	return h ^ (h >> 31);
}

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* The four tables below (interned strings, qualified names, unit indexes,
 * resolved addresses) are open addressing at most half full, empty slots
 * all zero bytes.  home gives where a used slot's probe starts in a table
 * of mask + 1 slots, EMPTY for an empty slot. */
#define EMPTY SIZE_MAX
typedef size_t (*home_fn)(const void *slot, size_t mask);

/* Room for one more entry in a table of *cap slots holding used: the
 * table itself, or a new one of twice as many slots (first when it has
 * none) with the old one's entries moved in; NULL without memory (the
 * table stays as it was). */
static void *table_room(void *table, size_t *cap, size_t used, size_t first, size_t size,
			home_fn home)
{
	if ((used + 1) * 2 <= *cap)
		return table;
	size_t ncap = *cap ? *cap * 2 : first;
	char *t = calloc(ncap, size);
	if (!t)
		return NULL;
	for (size_t i = 0; i < *cap; i++) {
		const char *e = (const char *)table + i * size;
		size_t j = home(e, ncap - 1);
		if (j == EMPTY)
			continue;
		while (home(t + j * size, ncap - 1) != EMPTY)
			j = (j + 1) & (ncap - 1);
		memcpy(t + j * size, e, size);
	}
	free(table);
	*cap = ncap;
	return t;
}

static size_t str_home(const void *slot, size_t mask)
{
	const char *str = *(const char *const *)slot;
	return str ? hash_str(str, strlen(str)) & mask : EMPTY;
}

/* The interned copy of s[0..n) (cut to MAX_NAME), or NULL without memory. */
static const char *intern(rep_sym *s, const char *str, size_t n)
{
	if (n > MAX_NAME)
		n = MAX_NAME;
	const char **t = table_room(s->strs, &s->cap_strs, s->used_strs, 256, sizeof(*t), str_home);
	if (!t)
		return NULL;
	s->strs = t;
	size_t j = hash_str(str, n) & (s->cap_strs - 1);
	for (; s->strs[j]; j = (j + 1) & (s->cap_strs - 1))
		if (!strncmp(s->strs[j], str, n) && s->strs[j][n] == 0)
			return s->strs[j];
	str_chunk *c = s->chunks;
	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > 65536 ? n + 1 : 65536;
		if (!(c = malloc(sizeof(*c) + cap)))
			return NULL;
		*c = (str_chunk){s->chunks, 0, cap};
		s->chunks = c;
	}
	char *p = c->data + c->used;
	memcpy(p, str, n);
	p[n] = 0;
	c->used += n + 1;
	s->strs[j] = p;
	s->used_strs++;
	return p;
}

static void warn(rep_sym *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(rep_sym *s, const char *fmt, ...)
{
	size_t i = s->st.warnings++;
	if (i >= MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s->warnings[i], fmt, ap) < 0)
		s->warnings[i] = NULL;
	va_end(ap);
}

/* ---- create, free ---- */

int rep_sym_create(rep_sym **out, const rep_sym_opts *o)
{
	*out = NULL;
	rep_sym_opts none = {0};
	if (!o)
		o = &none;
	if (o->ndebug_dirs < 0 || o->ndebug_dirs > REP_SYM_MAX_DIRS)
		return REP_E_ARG;
	rep_sym *s = calloc(1, sizeof(*s));
	if (!s)
		return REP_E_NOMEM;
	/* the user's directories first (absolute: libdw looks up build-ids only
	 * under absolute ones), then libdw's default ":.debug:/usr/lib/debug" */
	size_t len = 64;
	for (int i = 0; i < o->ndebug_dirs; i++)
		len += strlen(o->debug_dirs[i]) + PATH_MAX + 2;
	if (!(s->debuginfo_path = malloc(len))) {
		free(s);
		return REP_E_NOMEM;
	}
	size_t at = 0;
	for (int i = 0; i < o->ndebug_dirs; i++) {
		char abs[PATH_MAX];
		const char *d = realpath(o->debug_dirs[i], abs) ? abs : o->debug_dirs[i];
		at += (size_t)snprintf(s->debuginfo_path + at, len - at, "%s:", d);
	}
	snprintf(s->debuginfo_path + at, len - at, ":.debug:/usr/lib/debug");
	s->cb = (Dwfl_Callbacks){
	    .find_elf = dwfl_build_id_find_elf,
	    .find_debuginfo = dwfl_standard_find_debuginfo,
	    .section_address = dwfl_offline_section_address,
	    .debuginfo_path = &s->debuginfo_path,
	};
	if (!o->debuginfod)
		unsetenv("DEBUGINFOD_URLS");
	s->walk_units = o->walk_units;
	*out = s;
	return REP_OK;
}

void rep_sym_free(rep_sym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nfiles; i++) {
		sym_file *f = &s->files[i];
		for (size_t j = 0; j < f->cap_cus; j++)
			free(f->cus[j].r);
		free(f->cus);
		if (f->dwfl)
			dwfl_end(f->dwfl);
		free(f->path);
	}
	free(s->names);
	for (size_t i = 0; i < s->cap_tab; i++)
		free(s->tab[i].frames);
	for (str_chunk *c = s->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < MAX_WARNINGS; i++)
		free(s->warnings[i]);
	free(s->files), free(s->mods), free(s->tab), free(s->strs);
	free(s->debuginfo_path);
	free(s);
}

/* ---- the module map ---- */

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* The file of a module record: the same path and build-id share one. */
static int file_of(rep_sym *s, const tf_module *m, size_t *idx)
{
	size_t plen = m->path.len < MAX_NAME ? m->path.len : MAX_NAME;
	size_t blen = m->build_id.len <= 64 ? m->build_id.len : 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		const sym_file *f = &s->files[i];
		if (f->path_len == plen && (!plen || !memcmp(f->path, m->path.ptr, plen)) &&
		    f->build_id_len == blen && (!blen || !memcmp(f->build_id, m->build_id.ptr, blen))) {
			*idx = i;
			return REP_OK;
		}
	}
	if (!grow((void **)&s->files, &s->cap_files, s->nfiles, sizeof(sym_file)))
		return REP_E_NOMEM;
	sym_file *f = &s->files[s->nfiles];
	memset(f, 0, sizeof(*f));
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
	while (p < end && md.nsegs < MAX_SEGS) {
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
	if (!grow((void **)&s->mods, &s->cap_mods, s->nmods, sizeof(sym_mod)))
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
static const sym_mod *mod_at(const rep_sym *s, uint64_t ip, uint64_t stamp)
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

/* ---- reading a module's file ---- */

static void open_file(rep_sym *s, sym_file *f)
{
	f->state = FILE_BAD;
	if (f->path[0] != '/') {
		warn(s, "%s: not a file on disk (recorded without a path); its frames are shown "
			"as module+offset",
		     f->path[0] ? f->path : "(unnamed module)");
		return;
	}
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		warn(s, "%s: cannot open it (%s); its frames are shown as module+offset", f->path,
		     strerror(errno));
		return;
	}
	s->st.opened++;
	Dwfl *d = dwfl_begin(&s->cb);
	if (!d) {
		close(fd);
		warn(s, "%s: libdw: %s; its frames are shown as module+offset", f->path,
		     dwfl_errmsg(-1));
		return;
	}
	dwfl_report_begin(d);
	Dwfl_Module *mod = dwfl_report_elf(d, f->name, f->path, fd, 0, true);
	if (!mod) {
		close(fd); /* consumed only on success */
		warn(s, "%s: not a readable ELF file (%s); its frames are shown as module+offset",
		     f->path, dwfl_errmsg(-1));
		dwfl_end(d);
		return;
	}
	dwfl_report_end(d, NULL, NULL);
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (f->build_id_len &&
	    (n != (int)f->build_id_len || !bits || memcmp(bits, f->build_id, f->build_id_len))) {
		warn(s, "%s: its build-id differs from the recorded one (the file changed since the "
			"trace was recorded); its frames are shown as module+offset",
		     f->path);
		dwfl_end(d);
		return;
	}
	f->dwfl = d;
	f->mod = mod;
	f->state = FILE_READ;
}

/* ---- resolving one address ---- */

/* Demangled (C++ names start with _Z) and interned. */
static const char *fn_name(rep_sym *s, const char *raw)
{
	if (!raw || !*raw)
		return NULL;
	if (raw[0] == '_' && raw[1] == 'Z') {
		int status = -1;
		char *d = __cxa_demangle(raw, NULL, NULL, &status);
		if (d && status == 0) {
			const char *r = intern(s, d, strlen(d));
			free(d);
			return r;
		}
		free(d);
	}
	return intern(s, raw, strlen(raw));
}

/* The DIE that declares die's name: through DW_AT_abstract_origin and
 * DW_AT_specification (a few steps; a loop in bad DWARF ends there). */
static void declaration_of(Dwarf_Die *die, Dwarf_Die *out)
{
	*out = *die;
	for (int i = 0; i < 8; i++) {
		Dwarf_Attribute at;
		Dwarf_Die next;
		if (!dwarf_attr(out, DW_AT_abstract_origin, &at) &&
		    !dwarf_attr(out, DW_AT_specification, &at))
			return;
		if (!dwarf_formref_die(&at, &next))
			return;
		*out = next;
	}
}

/* Whether die belongs to a C unit, whose names have no namespaces or
 * classes around them. */
static bool in_c_unit(Dwarf_Die *die)
{
	Dwarf_Die cu;
	if (!dwarf_diecu(die, &cu, NULL, NULL))
		return false;
	switch (dwarf_srclang(&cu)) {
	case DW_LANG_C89:
	case DW_LANG_C:
	case DW_LANG_C99:
	case DW_LANG_C11:
		return true;
	}
	return false;
}

static size_t name_home(const void *slot, size_t mask)
{
	const name_entry *e = slot;
	return e->die ? mix((uintptr_t)e->die, 0) & mask : EMPTY;
}

/* The cache slot of a declaration's qualified name (empty if not cached
 * yet), or NULL when the cache cannot grow (the name is then not kept). */
static name_entry *name_slot(rep_sym *s, const void *die)
{
	name_entry *t = table_room(s->names, &s->cap_names, s->used_names, 256, sizeof(*t),
				   name_home);
	if (!t)
		return NULL;
	s->names = t;
	size_t i = mix((uintptr_t)die, 0) & (s->cap_names - 1);
	while (s->names[i].die && s->names[i].die != die)
		i = (i + 1) & (s->cap_names - 1);
	return &s->names[i];
}

/* A subprogram's or inlined subroutine's name: the linkage name,
 * demangled, else DW_AT_name qualified with the namespaces and classes
 * around its declaration (GCC gives no linkage name to functions that
 * exist only inlined). */
static const char *die_name(rep_sym *s, Dwarf_Die *die)
{
	Dwarf_Attribute at;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &at));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &at));
	if (n)
		return fn_name(s, n);
	if (!(n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &at))))
		return NULL;
	Dwarf_Die decl, *scopes = NULL;
	declaration_of(die, &decl);
	name_entry *cached = name_slot(s, decl.addr);
	if (cached && cached->die)
		return cached->name;
	int ns = in_c_unit(&decl) ? 0 : dwarf_getscopes_die(&decl, &scopes);
	char q[MAX_NAME];
	size_t len = 0;
	for (int i = ns - 1; i >= 1; i--) { /* outermost first; scopes[0] is decl */
		int tag = dwarf_tag(&scopes[i]);
		const char *sn = dwarf_diename(&scopes[i]);
		if (sn && (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			   tag == DW_TAG_structure_type || tag == DW_TAG_union_type)) {
			int k = snprintf(q + len, sizeof(q) - len, "%s::", sn);
			if (k > 0 && (size_t)k < sizeof(q) - len)
				len += (size_t)k;
		}
	}
	free(scopes);
	snprintf(q + len, sizeof(q) - len, "%s", n);
	const char *name = intern(s, q, strlen(q));
	if (cached && name) {
		*cached = (name_entry){decl.addr, name};
		s->used_names++;
	}
	return name;
}

/* The call site of an inlined subroutine: file and line in its caller. */
static void call_site(rep_sym *s, Dwarf_Die *inl, Dwarf_Die *cu, const char **file,
		      unsigned *line)
{
	Dwarf_Attribute at;
	Dwarf_Word fidx = 0, ln = 0;
	Dwarf_Files *files;
	size_t nfiles;
	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &at), &ln) == 0)
		*line = ln <= UINT_MAX ? (unsigned)ln : 0;
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &at), &fidx) == 0 &&
	    dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && fidx < nfiles) {
		const char *f = dwarf_filesrc(files, fidx, NULL, NULL);
		if (f)
			*file = intern(s, f, strlen(f));
	}
}

/* The function symbol covering a (ELF symbols: .symtab, else .dynsym). */
static const char *symbol_at(rep_sym *s, Dwfl_Module *mod, uint64_t a)
{
	GElf_Sym sym;
	GElf_Off off;
	const char *n = dwfl_module_addrinfo(mod, a, &off, &sym, NULL, NULL, NULL);
	int type = n ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
	if (!n || (type != STT_FUNC && type != STT_GNU_IFUNC) || off >= sym.st_size)
		return NULL; /* a sizeless label or a data symbol says nothing of the code */
	const char *ver = strchr(n, '@'); /* "__libc_start_main@@GLIBC_2.34": no version */
	if (ver) {
		char plain[MAX_NAME];
		snprintf(plain, sizeof(plain), "%.*s", (int)(ver - n), n);
		return fn_name(s, plain);
	}
	return fn_name(s, n);
}

/* ---- the scopes holding an address ---- */

#define MAX_SCOPES 64 /* nesting followed below a subprogram */
#define MAX_IMPORT_DEPTH 8

static bool index_add(cu_index *x, size_t *cap, Dwarf_Die *die)
{
	Dwarf_Addr base, lo, hi;
	for (ptrdiff_t off = 0; (off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0;) {
		if (lo >= hi)
			continue;
		if (!grow((void **)&x->r, cap, x->n, sizeof(sub_range)))
			return false;
		x->r[x->n++] = (sub_range){lo, hi, *die};
		if (hi - lo > x->longest)
			x->longest = hi - lo;
	}
	return true;
}

/* Collects the subprograms among parent's children: at unit level and in
 * namespaces, modules and imported (partial) units. */
static bool index_walk(cu_index *x, size_t *cap, Dwarf_Die *parent, int imports)
{
	Dwarf_Die child, unit;
	Dwarf_Attribute at;
	if (dwarf_child(parent, &child) != 0)
		return true;
	do {
		bool ok = true;
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
			ok = index_add(x, cap, &child);
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
			ok = index_walk(x, cap, &child, imports);
			break;
		case DW_TAG_imported_unit: /* bounded: bad DWARF may import in a loop */
			if (imports < MAX_IMPORT_DEPTH &&
			    dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &at), &unit))
				ok = index_walk(x, cap, &unit, imports + 1);
			break;
		}
		if (!ok)
			return false;
	} while (dwarf_siblingof(&child, &child) == 0);
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const sub_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	Dwarf_Off p = dwarf_dieoffset((Dwarf_Die *)&x->die), q = dwarf_dieoffset((Dwarf_Die *)&y->die);
	return (p > q) - (p < q);
}

static size_t cu_home(const void *slot, size_t mask)
{
	const cu_index *e = slot;
	return e->cu1 ? mix(e->cu1, 1) & mask : EMPTY;
}

/* The index of a unit, built on first use; NULL when out of memory. */
static cu_index *index_of(sym_file *f, Dwarf_Die *cu)
{
	const Dwarf_Off off1 = dwarf_dieoffset(cu) + 1;
	cu_index *t = table_room(f->cus, &f->cap_cus, f->n_cus, 64, sizeof(*t), cu_home);
	if (!t)
		return NULL;
	f->cus = t;
	size_t i = mix(off1, 1) & (f->cap_cus - 1);
	while (f->cus[i].cu1 && f->cus[i].cu1 != off1)
		i = (i + 1) & (f->cap_cus - 1);
	cu_index *x = &f->cus[i];
	if (x->cu1 == off1)
		return x;
	cu_index n = {.cu1 = off1};
	size_t cap = 0;
	if (!index_walk(&n, &cap, cu, 0)) {
		free(n.r);
		return NULL;
	}
	qsort(n.r, n.n, sizeof(*n.r), range_cmp);
	*x = n;
	f->n_cus++;
	return x;
}

/* The subprogram holding pc (the first in DIE order if ranges overlap). */
static Dwarf_Die *subprogram_at(cu_index *x, Dwarf_Addr pc)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) { /* the first range starting after pc */
		size_t mid = lo + (hi - lo) / 2;
		if (x->r[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	Dwarf_Die *best = NULL;
	Dwarf_Off best_off = 0;
	for (size_t i = lo; i-- > 0 && pc - x->r[i].lo < x->longest;) {
		if (pc >= x->r[i].hi)
			continue;
		Dwarf_Off o = dwarf_dieoffset(&x->r[i].die);
		if (!best || o < best_off)
			best = &x->r[i].die, best_off = o;
	}
	return best;
}

static bool scope_tag(int tag)
{
	return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
	       tag == DW_TAG_try_block || tag == DW_TAG_catch_block || tag == DW_TAG_with_stmt;
}

/* The scopes holding pc, innermost first, down from the subprogram the
 * unit's index gives; -1 when it gives none (the caller asks libdw). */
static int scope_chain(sym_file *f, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die *out)
{
	cu_index *x = index_of(f, cu);
	Dwarf_Die *sub = x ? subprogram_at(x, pc) : NULL;
	if (!sub)
		return -1;
	Dwarf_Die path[MAX_SCOPES], child;
	int n = 0;
	path[n++] = *sub;
	while (n < MAX_SCOPES && dwarf_child(&path[n - 1], &child) == 0) {
		bool deeper = false;
		do {
			if (scope_tag(dwarf_tag(&child)) && dwarf_haspc(&child, pc) > 0) {
				path[n++] = child;
				deeper = true;
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!deeper)
			break;
	}
	for (int i = 0; i < n; i++)
		out[i] = path[n - 1 - i];
	return n;
}

/* Fills out[] for address a of an opened file; returns the frame count
 * (0: nothing known). */
static int describe(rep_sym *s, sym_file *f, uint64_t a, rep_frame *out)
{
	const char *src = NULL;
	unsigned line = 0;
	Dwfl_Line *dl = dwfl_module_getsrc(f->mod, a);
	int ln = 0;
	const char *sf = dl ? dwfl_lineinfo(dl, NULL, &ln, NULL, NULL, NULL) : NULL;
	if (sf && ln > 0) {
		src = intern(s, sf, strlen(sf));
		line = (unsigned)ln;
	}
	const char *sym = symbol_at(s, f->mod, a);
	int n = 0;
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(f->mod, a, &bias);
	Dwarf_Die *scopes = NULL, *found = NULL, path[MAX_SCOPES], *chain = path;
	int nchain = !cu ? 0 : s->walk_units ? -1 : scope_chain(f, cu, a - bias, path);
	if (nchain < 0) { /* no indexed subprogram: libdw walks the unit */
		int nscopes = dwarf_getscopes(cu, a - bias, &scopes);
		nchain = nscopes > 0 ? dwarf_getscopes_die(&scopes[0], &found) : 0;
		chain = found;
	}
	for (int i = 0; i < nchain && n < REP_SYM_MAX_FRAMES; i++) {
		int tag = dwarf_tag(&chain[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		rep_frame *fr = &out[n++];
		fr->function = die_name(s, &chain[i]);
		fr->file = src;
		fr->line = line;
		if (tag == DW_TAG_subprogram) {
			if (sym)
				fr->function = sym; /* the symbol's name is the full one */
			break;
		}
		fr->inlined = true;
		call_site(s, &chain[i], cu, &src, &line);
	}
	free(scopes);
	free(found);
	if (n == 0 && (sym || src)) {
		out[0].function = sym;
		out[0].file = src;
		out[0].line = line;
		n = 1;
	}
	return n;
}

static sym_entry *slot_of(rep_sym *s, uint64_t file1, uint64_t addr)
{
	size_t i = mix(file1, addr) & (s->cap_tab - 1);
	while (s->tab[i].used && !(s->tab[i].file1 == file1 && s->tab[i].addr == addr))
		i = (i + 1) & (s->cap_tab - 1);
	return &s->tab[i];
}

static size_t entry_home(const void *slot, size_t mask)
{
	const sym_entry *e = slot;
	return e->used ? mix(e->file1, e->addr) & mask : EMPTY;
}

static bool tab_grow(rep_sym *s)
{
	sym_entry *t = table_room(s->tab, &s->cap_tab, s->used_tab, 1024, sizeof(*t), entry_home);
	if (!t)
		return false;
	s->tab = t;
	return true;
}

int rep_sym_resolve(rep_sym *s, uint64_t ip, uint64_t stamp, const rep_frame **frames)
{
	*frames = NULL;
	if (!s)
		return REP_E_ARG;
	const sym_mod *md = ip ? mod_at(s, ip, stamp) : NULL;
	uint64_t file1 = md ? md->file + 1 : 0, addr = md ? ip - md->base : ip;
	if (!tab_grow(s))
		return REP_E_NOMEM;
	sym_entry *e = slot_of(s, file1, addr);
	if (e->used) {
		s->st.cache_hits++;
		*frames = e->frames;
		return (int)e->n;
	}
	rep_frame buf[REP_SYM_MAX_FRAMES];
	memset(buf, 0, sizeof(buf));
	int n = 0;
	if (md) {
		sym_file *f = &s->files[md->file];
		if (f->state == FILE_UNOPENED)
			open_file(s, f);
		if (f->state == FILE_READ && addr)
			n = describe(s, f, addr - 1, buf);
	}
	if (n == 0)
		n = 1; /* module+offset, or the plain address */
	for (int i = 0; i < n; i++) {
		buf[i].module = md ? s->files[md->file].path : NULL;
		buf[i].offset = addr;
	}
	rep_frame *keep = malloc((size_t)n * sizeof(*keep));
	if (!keep)
		return REP_E_NOMEM;
	memcpy(keep, buf, (size_t)n * sizeof(*keep));
	*e = (sym_entry){file1, addr, keep, (uint32_t)n, true};
	s->used_tab++;
	s->st.lookups++;
	*frames = keep;
	return n;
}

/* ---- output ---- */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int rep_frame_format(const rep_frame *f, char *buf, size_t len)
{
	char where[MAX_NAME + 32];
	if (f->module)
		snprintf(where, sizeof(where), "%s+0x%" PRIx64, base_name(f->module), f->offset);
	else
		snprintf(where, sizeof(where), "0x%" PRIx64, f->offset);
	if (f->file) /* a function without a name still has its line */
		return snprintf(buf, len, "%s at %s:%u", f->function ? f->function : where,
				base_name(f->file), f->line);
	if (f->function)
		return snprintf(buf, len, "%s (%s)", f->function, where);
	return snprintf(buf, len, "%s", where);
}

const char *rep_sym_warning(const rep_sym *s, size_t i)
{
	return s && i < MAX_WARNINGS && i < s->st.warnings ? s->warnings[i] : NULL;
}

void rep_sym_get_stats(const rep_sym *s, rep_sym_stats *st)
{
	*st = s->st;
}

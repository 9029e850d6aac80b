/*
 * rep_sym_dwarf.c - the symbolizer's reading of module files with elfutils
 * libdw: an address in a file to its function, source line and inlined
 * frames (rep_sym.h says what and with which time rules).
 *
 * One libdwfl session per distinct module file (path and build-id), opened
 * when the first address inside it is asked for and reported at bias 0:
 * an address is looked up as (ip - 1 - the module's load bias), its
 * address in the file.  The same file loaded again, at another base,
 * shares the session and the cache.  Separate debug info is found by
 * libdw's standard callback, set up by rep_sym_create (build-id links
 * under each absolute directory of the path, then .gnu_debuglink names),
 * with the user's directories put first.
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
 * References: elfutils libdwfl.h and libdw.h; DWARF 5 §3.3.8 (inlined
 * subroutines).
 */
#include "rep_sym_internal.h"

#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DECL_STEPS 8 /* origins and specifications followed to a declaration */

/* The words of a unit index's record in sym_file.cus: its cu_index. */
enum { CU_R, CU_N, CU_LONGEST, CU_WORDS };

/* ---- reading a module's file ---- */

void sym_file_init(sym_file *f)
{
	memset(f, 0, sizeof(*f));
	u64map_init(&f->cus, CU_WORDS, &u64map_heap);
}

void sym_file_close(sym_file *f)
{
	size_t pos = 0;
	uint64_t off, *v;
	while (u64map_next(&f->cus, &pos, &off, &v))
		free((sub_range *)(uintptr_t)v[CU_R]);
	u64map_clear(&f->cus);
	free(f->fns);
	f->fns = NULL;
	f->nfns = 0;
	f->fns_state = 0;
	if (f->dwfl)
		dwfl_end(f->dwfl);
	f->dwfl = NULL;
	f->mod = NULL;
}

void sym_open_file(rep_sym *s, sym_file *f)
{
	f->state = FILE_BAD;
	if (f->path[0] != '/') {
		sym_warn(s,
		         "%s: not a file on disk (recorded without a path); its frames are shown "
		         "as module+offset",
		         f->path[0] ? f->path : "(unnamed module)");
		return;
	}
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sym_warn(s, "%s: cannot open it (%s); its frames are shown as module+offset",
		         f->path, strerror(errno));
		return;
	}
	s->st.opened++;
	Dwfl *d = dwfl_begin(&s->cb);
	if (!d) {
		close(fd);
		sym_warn(s, "%s: libdw: %s; its frames are shown as module+offset", f->path,
		         dwfl_errmsg(-1));
		return;
	}
	dwfl_report_begin(d);
	Dwfl_Module *mod = dwfl_report_elf(d, f->name, f->path, fd, 0, true);
	if (!mod) {
		close(fd); /* consumed only on success */
		sym_warn(s,
		         "%s: not a readable ELF file (%s); its frames are shown as module+offset",
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
		sym_warn(s,
			 "%s: its build-id differs from the recorded one (the file changed since the "
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

/* The DIE that declares die's name: through DW_AT_abstract_origin and
 * DW_AT_specification (a few steps; a loop in bad DWARF ends there). */
static void declaration_of(Dwarf_Die *die, Dwarf_Die *out)
{
	*out = *die;
	for (int i = 0; i < MAX_DECL_STEPS; i++) {
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
		return sym_fn_name(s, n);
	if (!(n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &at))))
		return NULL;
	Dwarf_Die decl, *scopes = NULL;
	declaration_of(die, &decl);
	const uint64_t key = (uintptr_t)decl.addr;
	const uint64_t *cached = u64map_find(&s->names, key);
	if (cached)
		return (const char *)(uintptr_t)cached[0];
	int ns = in_c_unit(&decl) ? 0 : dwarf_getscopes_die(&decl, &scopes);
	char q[SYM_MAX_NAME];
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
	const char *name = sym_intern(s, q, strlen(q));
	uint64_t *keep = name ? u64map_insert(&s->names, key) : NULL;
	if (keep) /* else the name is not kept, and found again next time */
		keep[0] = (uintptr_t)name;
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
			*file = sym_intern(s, f, strlen(f));
	}
}

/* ---- function symbols ----
 *
 * libdw finds the symbol of an address by reading the whole symbol table
 * each time (dwfl_module_addrinfo): with libpython's 10,000 symbols that
 * was a quarter of a report's time.  So the sized function symbols of a
 * file are sorted by address once, the first time one is asked for, and
 * found by binary search.  The symbol of an address is the one whose range
 * holds it and starts last; of those starting there, the shortest, then a
 * global one before a weak one before a local one, then the first in the
 * table (libdw has rules of its own for aliases; any of them names the
 * same code). */

typedef struct sym_fn {
	uint64_t lo, hi;  /* [lo, hi) */
	uint64_t end_max; /* the largest hi of this entry and all before it */
	const char *name; /* in the file's string table, alive with its Dwfl */
	uint32_t rank;    /* binding: 0 global, 1 weak, 2 local */
	uint32_t index;   /* in the symbol table */
} sym_fn;

static int fn_order(const void *x, const void *y)
{
	const sym_fn *a = x, *b = y;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static void build_fns(sym_file *f)
{
	f->fns_state = -1;
	int n = dwfl_module_getsymtab(f->mod);
	if (n <= 1)
		return;
	sym_fn *t = malloc((size_t)n * sizeof(*t));
	if (!t)
		return;
	size_t k = 0;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(f->mod, i, &sym, &addr, &shndx, NULL, NULL);
		const int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
		if (!name || !name[0] || !sym.st_size || sym.st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC) || addr + sym.st_size < addr)
			continue;
		t[k++] = (sym_fn){addr, addr + sym.st_size, 0, name,
				  bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2, (uint32_t)i};
	}
	qsort(t, k, sizeof(*t), fn_order);
	for (size_t i = 0; i < k; i++)
		t[i].end_max = i && t[i - 1].end_max > t[i].hi ? t[i - 1].end_max : t[i].hi;
	f->fns = t;
	f->nfns = k;
	f->fns_state = 1;
}

/* The entry for a (fn_order's first among those starting last), or NULL. */
static const sym_fn *fn_at(const sym_file *f, uint64_t a)
{
	size_t lo = 0, hi = f->nfns; /* the first entry starting after a: lo */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->fns[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	const sym_fn *best = NULL;
	for (size_t i = lo; i-- > 0 && f->fns[i].end_max > a;) {
		const sym_fn *e = &f->fns[i];
		if (best && e->lo < best->lo)
			break; /* starts earlier than the one found */
		if (a < e->hi)
			best = e; /* of equal starts, the earlier entry sorts first */
	}
	return best;
}

/* The function symbol covering a (ELF symbols: .symtab, else .dynsym). */
static const char *symbol_at(rep_sym *s, sym_file *f, uint64_t a)
{
	const char *n;
	if (!f->fns_state)
		build_fns(f);
	if (f->fns_state > 0) {
		const sym_fn *e = fn_at(f, a);
		n = e ? e->name : NULL;
	} else { /* no memory for the table: libdw's own search */
		GElf_Sym sym;
		GElf_Off off;
		n = dwfl_module_addrinfo(f->mod, a, &off, &sym, NULL, NULL, NULL);
		int type = n ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
		if (!n || (type != STT_FUNC && type != STT_GNU_IFUNC) || off >= sym.st_size)
			return NULL; /* a sizeless label or a data symbol says nothing of the code */
	}
	if (!n)
		return NULL;
	const char *ver = strchr(n, '@'); /* "__libc_start_main@@GLIBC_2.34": no version */
	if (ver) {
		char plain[SYM_MAX_NAME];
		snprintf(plain, sizeof(plain), "%.*s", (int)(ver - n), n);
		return sym_fn_name(s, plain);
	}
	return sym_fn_name(s, n);
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
		if (!sym_grow((void **)&x->r, cap, x->n, sizeof(sub_range)))
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

/* The index of a unit, built on first use, into *x; false when out of
 * memory. */
static bool index_of(sym_file *f, Dwarf_Die *cu, cu_index *x)
{
	const uint64_t off = dwarf_dieoffset(cu);
	const uint64_t *v = u64map_find(&f->cus, off);
	if (v) {
		*x = (cu_index){(sub_range *)(uintptr_t)v[CU_R], v[CU_N], v[CU_LONGEST]};
		return true;
	}
	cu_index n = {0};
	size_t cap = 0;
	uint64_t *keep;
	if (!index_walk(&n, &cap, cu, 0) || !(keep = u64map_insert(&f->cus, off))) {
		free(n.r);
		return false;
	}
	qsort(n.r, n.n, sizeof(*n.r), range_cmp);
	keep[CU_R] = (uintptr_t)n.r;
	keep[CU_N] = n.n;
	keep[CU_LONGEST] = n.longest;
	*x = n;
	return true;
}

/* The subprogram holding pc (the first in DIE order if ranges overlap). */
static Dwarf_Die *subprogram_at(const cu_index *x, Dwarf_Addr pc)
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
	cu_index x;
	Dwarf_Die *sub = index_of(f, cu, &x) ? subprogram_at(&x, pc) : NULL;
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
int sym_describe(rep_sym *s, sym_file *f, uint64_t a, rep_frame *out)
{
	const char *src = NULL;
	unsigned line = 0;
	Dwfl_Line *dl = dwfl_module_getsrc(f->mod, a);
	int ln = 0;
	const char *sf = dl ? dwfl_lineinfo(dl, NULL, &ln, NULL, NULL, NULL) : NULL;
	if (sf && ln > 0) {
		src = sym_intern(s, sf, strlen(sf));
		line = (unsigned)ln;
	}
	const char *sym = symbol_at(s, f, a);
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

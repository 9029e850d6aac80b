/*
 * rep_sym_internal.h - what the symbolizer's files share (private to
 * reports/rep_sym*.c; users include rep_sym.h):
 *
 *   rep_sym.c        the handle, its tables and interned strings, the cache
 *                    of resolved addresses, demangling, frame formatting
 *   rep_sym_map.c    the module map: which module held an address at a stamp
 *   rep_sym_dwarf.c  reading a module's file with libdw: functions, lines,
 *                    inlined frames
 *   rep_sym_py.c     Python frames: the py_code records, their lines, the
 *                    origin of their files
 *
 * Invariants: every string a frame points to is interned in the handle's
 * chunks, which never move or shrink until rep_sym_free; files[] and
 * mods[] only grow (a module's `file` index stays valid); the tables are
 * u64maps (common/u64map.h), whose records move when a table grows, so
 * none is held across an insert into its table.
 */
#ifndef ARENATRACE_REP_SYM_INTERNAL_H
#define ARENATRACE_REP_SYM_INTERNAL_H

#include "rep_sym.h"
#include "u64map.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYM_MAX_SEGS 16      /* PT_LOAD segments kept per module */
#define SYM_MAX_WARNINGS 64  /* warnings kept; more are counted */
#define SYM_MAX_NAME 4096    /* longer names and paths are cut */
#define SYM_MAX_BUILD_ID 64  /* bytes of a build-id kept; a longer one is ignored */

enum { FILE_UNOPENED, FILE_READ, FILE_BAD };

/* A subprogram's address range [lo, hi) in its unit (one per range). */
typedef struct sub_range {
	Dwarf_Addr lo, hi;
	Dwarf_Die die;
} sub_range;

/* The subprogram ranges of one compilation unit, sorted by lo (kept as the
 * words of its record in sym_file.cus, rep_sym_dwarf.c). */
typedef struct cu_index {
	sub_range *r;
	size_t n;
	Dwarf_Addr longest; /* the longest range: bounds the backward search */
} cu_index;

typedef struct sym_file {
	char *path;           /* as recorded, cut at a NUL or SYM_MAX_NAME */
	size_t path_len;      /* bytes of the recorded path compared (before the cut) */
	const char *name;     /* its last component, for module+offset */
	uint8_t build_id[SYM_MAX_BUILD_ID]; /* as recorded */
	size_t build_id_len;
	int state;            /* FILE_*: FILE_BAD frames are module+offset */
	Dwfl *dwfl;           /* FILE_READ: the session holding the one module */
	Dwfl_Module *mod;
	u64map cus;           /* unit indexes by the unit DIE's offset (rep_sym_dwarf.c) */
	struct sym_fn *fns;   /* its sized function symbols by address, once one is asked for */
	size_t nfns;
	int fns_state;        /* 0 not built, 1 built, -1 could not be (libdw looks each up) */
} sym_file;

typedef struct sym_mod {
	uint64_t id, base;
	uint64_t seg_lo[SYM_MAX_SEGS], seg_hi[SYM_MAX_SEGS]; /* absolute [lo, hi) of each segment */
	int nsegs;
	uint64_t loaded, unloaded; /* stamps: covers loaded < t <= unloaded */
	size_t file;               /* index in files */
} sym_mod;

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
	u64map tab;  /* resolved addresses by a hash of their key (rep_sym.c) */
	u64map strs; /* interned strings by a hash of their bytes (rep_sym.c) */
	str_chunk *chunks;
	char *warnings[SYM_MAX_WARNINGS];
	bool walk_units; /* rep_sym_opts.walk_units */
	u64map names;    /* qualified names by the declaration DIE's address: 1 word,
	                  * the interned name */
	u64map codes;    /* py_code records by id (rep_sym_py.c) */
	rep_sym_stats st;
};

/* ---- arrays and strings (rep_sym.c) ---- */

/* Room for element n in the array *p of *cap elements of size bytes:
 * doubles it (16 first) when full; false without memory. */
bool sym_grow(void **p, size_t *cap, size_t n, size_t size);

/* The interned copy of s[0..n) (cut to SYM_MAX_NAME), or NULL without memory. */
const char *sym_intern(rep_sym *s, const char *str, size_t n);
/* A function's name demangled (C++ names start with _Z) and interned; NULL
 * for none. */
const char *sym_fn_name(rep_sym *s, const char *raw);
/* A copy of p[0..n) in the handle's chunks (no cut, not shared), or NULL
 * without memory; n may be 0. */
const void *sym_keep(rep_sym *s, const void *p, size_t n);
/* Keeps a warning (rep_sym_warning); counted beyond SYM_MAX_WARNINGS. */
void sym_warn(rep_sym *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the module map (rep_sym_map.c) ---- */

/* The module holding ip at stamp, or NULL. */
const sym_mod *sym_mod_at(const rep_sym *s, uint64_t ip, uint64_t stamp);

/* ---- Python frames (rep_sym_py.c) ---- */

/* The empty table of py_code records. */
void sym_py_init(rep_sym *s);
/* The frame of tf_py_frame value `frame`, into *out (zeroed by the
 * caller): known from its py_code record, or an unknown Python frame. */
void sym_py_describe(const rep_sym *s, uint64_t frame, rep_frame *out);
/* rep_frame_format of a Python frame. */
int sym_py_format(const rep_frame *f, char *buf, size_t len);

/* ---- libdw (rep_sym_dwarf.c) ---- */

/* Opens f's file (state FILE_READ) or says why not (FILE_BAD, a warning). */
void sym_open_file(rep_sym *s, sym_file *f);
/* Fills out[] (REP_SYM_MAX_FRAMES) for address a in f's file, opened;
 * returns the frame count (0: nothing known).  module and offset are the
 * caller's to fill. */
int sym_describe(rep_sym *s, sym_file *f, uint64_t a, rep_frame *out);
/* A new file's fields: all zero, its unit indexes an empty map. */
void sym_file_init(sym_file *f);
/* Frees what reading f's file took (the session, the unit indexes). */
void sym_file_close(sym_file *f);

#endif

/*
 * rep_sym.h - symbolization of a trace's return addresses, offline, from
 * the module map the trace recorded (FORMAT.md §5.1 `module` and
 * `module_unload`), with elfutils libdw.
 *
 * A frame is resolved to its function (C++ demangled), the source file and
 * line when debug info exists, and the functions inlined at that point,
 * innermost first.  Without debug info or symbols a frame is the module
 * and the offset in it (`libfoo.so+0x1a2b`); outside every module it is
 * the plain address.  The files are read where the trace says they were:
 * a module whose file is missing, or whose GNU build-id differs from the
 * recorded one, gets one warning and module+offset frames.  Each distinct
 * address is resolved once and kept until the handle is freed.
 *
 * Python frames (tf_py_frame, traces/tf_record.h) are resolved from the
 * trace's py_code records (FORMAT.md §5.5), which rep_sym_py_code keeps:
 * the code's function (its qualified name when the record has one), file
 * and the line of the frame's instruction (tf_pyline).  Code ids are never
 * reused in a file, so these need no stamp.
 *
 * Module records and addresses carry a *stamp*: any number that does not
 * decrease along the record stream.  The replay uses the count of stack
 * nodes read so far when feeding modules, and a stack's leaf node id when
 * resolving its frames (the whole stack was live when its leaf was
 * recorded, so every frame's module was loaded then).  A module fed at
 * stamp L and unloaded at stamp U covers the stamps L < t <= U.  The
 * tracer notices dlopen and dlclose by polling, so a module record may
 * come a little after the first stacks inside it: an address that no
 * module covered at its stamp goes to the module loaded next after it.
 */
#ifndef ARENATRACE_REP_SYM_H
#define ARENATRACE_REP_SYM_H

#include "tf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors of the reports: negative codes, one table (rep_strerror). */
typedef enum rep_err {
	REP_OK = 0,
	REP_E_NOMEM = -1, /* out of memory */
	REP_E_ARG = -2,   /* invalid argument */
	REP_E_IO = -3,    /* a report file could not be written (errno says why) */
	REP_E_NOT_OURS = -4, /* the directory holds files no earlier report wrote */
} rep_err;

const char *rep_strerror(int err);

typedef struct rep_sym rep_sym;

#define REP_SYM_MAX_DIRS 16   /* --debug-dir entries */
#define REP_SYM_MAX_FRAMES 16 /* frames per address: the function and what is inlined in it */

typedef struct rep_sym_opts {
	/* extra directories for separate debug info, searched before the
	 * standard ones: DIR/.build-id/xx/yyyy.debug and, by the file's
	 * .gnu_debuglink name, DIR/<the file's directory>/NAME and DIR/NAME */
	const char *debug_dirs[REP_SYM_MAX_DIRS];
	int ndebug_dirs;
	/* false (default): DEBUGINFOD_URLS is removed from this process's
	 * environment, so libdw never fetches debug info over the network */
	bool debuginfod;
	/* true: every address is looked up by libdw's walk of its whole unit
	 * (dwarf_getscopes), not through the per-unit subprogram index; much
	 * slower, the same frames: the reference the index is tested against */
	bool walk_units;
} rep_sym_opts;

/* Where a Python frame's file is, told by its path alone (rep_py_origin). */
typedef enum rep_origin {
	REP_ORIGIN_NONE,    /* not a Python frame, or one whose code is unknown */
	REP_ORIGIN_PROGRAM, /* the program's own files (and code it compiled: <string>, <stdin>) */
	REP_ORIGIN_STDLIB,  /* the standard library: under lib/pythonX.Y/, or <frozen ...> */
	REP_ORIGIN_SITE,    /* installed packages: under site-packages/ or dist-packages/ */
} rep_origin;

/* An origin as the reports write it: "program", "stdlib", "site-packages", "unknown". */
static inline const char *rep_origin_name(rep_origin o)
{
	static const char *const names[] = {"unknown", "program", "stdlib", "site-packages"};
	return o <= REP_ORIGIN_SITE ? names[o] : names[0];
}

/* One frame of a resolved address.  Strings live until rep_sym_free. */
typedef struct rep_frame {
	const char *function; /* demangled name; a Python function's qualified name; NULL
			       * when unknown */
	const char *file;     /* source file as the debug info names it, a Python code's
			       * co_filename; NULL without */
	unsigned line;        /* its line, 0 without */
	bool inlined;         /* inlined into the next frame (the one further out) */
	bool python;          /* a Python frame: function, file and line from its py_code
			       * record (all NULL and 0 when the trace has no record of
			       * its code: an unknown Python frame); no module */
	rep_origin origin;    /* a Python frame's file: rep_py_origin */
	uint64_t code;        /* a Python frame's py_code id */
	const char *module;   /* path of the module holding the address; NULL outside every module */
	uint64_t offset;      /* return address - the module's load bias (the address in
			       * the file, what `addr2line -e MODULE` takes after - 1);
			       * outside every module, the address itself; a Python
			       * frame's instruction offset in its code */
} rep_frame;

typedef struct rep_sym_stats {
	uint64_t modules;    /* module records fed */
	uint64_t files;      /* distinct module files (path and build-id) */
	uint64_t opened;     /* of those, opened through libdw */
	uint64_t lookups;    /* distinct addresses resolved (each once) */
	uint64_t cache_hits; /* rep_sym_resolve calls answered from the cache */
	uint64_t warnings;   /* warnings issued (rep_sym_warning) */
} rep_sym_stats;

/* A new symbolizer; o may be NULL.  *out belongs to the caller: rep_sym_free. */
int rep_sym_create(rep_sym **out, const rep_sym_opts *o);
/* Frees everything, frames and warnings included.  NULL is a no-op. */
void rep_sym_free(rep_sym *s);

/* A `module` record at stamp (copied).  Records with no segments, or
 * segments that do not decode, cover no address and are kept for nothing. */
int rep_sym_load(rep_sym *s, const tf_module *m, uint64_t stamp);
/* A `module_unload` record at stamp; unknown ids are ignored. */
int rep_sym_unload(rep_sym *s, uint64_t id, uint64_t stamp);
/* A `py_code` record (copied).  A second record of an id already kept (a
 * damaged trace) is ignored. */
int rep_sym_py_code(rep_sym *s, const tf_py_code *c);
/* Forgets the module and py_code records fed, for a replay that feeds a
 * trace again from its start (the files opened, their libdw sessions and
 * the addresses resolved in them stay: they do not depend on where a
 * module was loaded).  NULL is a no-op. */
void rep_sym_forget_records(rep_sym *s);

/* Resolves one recorded return address at stamp (UINT64_MAX: the modules
 * loaded last).  Return addresses point after their call, so ip - 1 is
 * looked up (the tracer records callers of the allocator, never an
 * interrupted instruction).  *frames gets the frames, innermost first (the
 * inlined ones, then the function they were inlined into), valid until
 * rep_sym_free.  Returns their number (>= 1) or REP_E_NOMEM.  A Python
 * frame (tf_is_py_frame(ip)) is one frame, marked python, whatever the
 * stamp. */
int rep_sym_resolve(rep_sym *s, uint64_t ip, uint64_t stamp, const rep_frame **frames);

/* "ns::f(int) at f.cc:12", "f (libx.so+0x1a2b)", "libx.so+0x1a2b" or
 * "0x7f0012345678"; a Python frame "app/db.py:42 in Store.get" (its file
 * as recorded, "?" for a line the code has none for), or "unknown Python
 * frame (code 7, offset 30)"; cut to len (snprintf's return value). */
int rep_frame_format(const rep_frame *f, char *buf, size_t len);

/* Where a Python file is, by its path (co_filename) alone: site-packages/
 * or dist-packages/ anywhere in it is an installed package (before the
 * standard library's test: they live under it); a directory lib/pythonX.Y/
 * (lib64/, a free-threaded X.Yt/, a zipped lib/pythonXY.zip/) or a name
 * <frozen ...> the standard library; "" unknown; anything else (relative
 * paths, <string>, <stdin>) the program's own. */
rep_origin rep_py_origin(const char *path);

/* Warnings so far (a module file missing, a build-id that differs), each
 * a line without newline; i < stats.warnings (at most 64 are kept). */
const char *rep_sym_warning(const rep_sym *s, size_t i);
void rep_sym_get_stats(const rep_sym *s, rep_sym_stats *st);

#endif
